"""World identities: real portraits (tracked, neutral, closed mouth), rejections with reasons,
procedural faces (deterministic per seed, found by the tracker), the identity pool, the warp helper."""

from __future__ import annotations

import numpy as np
import pytest

from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.world.identities import (
    DEFAULT_SIZE,
    FACE_FRACTION,
    Identity,
    identity_pool,
    measure_pose,
    real_identities,
    rejected_real_identities,
)
from wav2lip_emotion.world.procedural_faces import procedural_identity, vary_shape, warp_to_landmarks


@pytest.fixture(scope="module")
def reals() -> list[Identity]:
    return real_identities()


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    return FaceTracker()


def _found(tracker: FaceTracker, ident: Identity) -> None:
    tracker.reset()
    obs = tracker.update(ident.image)
    assert obs.found, ident.name
    assert obs.score >= 0.9, (ident.name, obs.score)


def _well_formed(ident: Identity) -> None:
    assert ident.image.shape == (DEFAULT_SIZE, DEFAULT_SIZE, 3) and ident.image.dtype == np.uint8
    assert ident.landmarks.shape == (468, 3)
    xy = ident.landmarks[:, :2]
    assert (xy >= 0).all() and (xy < DEFAULT_SIZE).all(), ident.name
    x0, y0, x1, y1 = ident.box
    assert abs(max(x1 - x0, y1 - y0) / DEFAULT_SIZE - FACE_FRACTION) < 0.1, ident.name  # face ~60% of the side
    assert ident.score >= 0.9 and ident.mouth_closed, ident.name
    assert ident.base_expression.get("neutral", 0.0) >= 0.5, (ident.name, ident.base_expression)


def test_real_identities_are_usable_neutral_starts(reals: list[Identity], tracker: FaceTracker) -> None:
    assert reals, "no real identity accepted"
    names = [r.name for r in reals]
    assert len(set(names)) == len(names)
    assert "real_grace_hopper" in names
    for ident in reals:
        assert ident.real and ident.name.startswith("real_") and ident.source
        _well_formed(ident)
        assert abs(measure_pose(ident.landmarks).yaw) <= 20
        _found(tracker, ident)
    grace = next(r for r in reals if r.name == "real_grace_hopper")
    assert grace.gender == "female" and grace.public_domain and grace.source == "grace_hopper"


def test_real_identities_are_copies_in_a_fixed_order(reals: list[Identity]) -> None:
    again = real_identities()
    assert [r.name for r in again] == [r.name for r in reals]
    again[0].image[:] = 0  # callers may scribble on their copy
    assert real_identities()[0].image.any()


def test_rejections_have_reasons() -> None:
    rejected = rejected_real_identities()
    assert rejected == rejected_real_identities()
    assert all(isinstance(src, str) and src and isinstance(why, str) and why for src, why in rejected)
    reasons = dict(rejected)
    assert "not neutral" in reasons["astronaut"] and "happy" in reasons["astronaut"]  # a smiling base
    assert "head turned" in reasons["feat_disgust"]
    small = [src for src, why in rejected if src.startswith("dlib_faces/") and "too small" in why]
    assert len(small) >= 20  # most PASCAL VOC faces are ~40 px


def test_procedural_identity_is_deterministic_and_tracked(tracker: FaceTracker) -> None:
    a, b, c = procedural_identity(3), procedural_identity(3), procedural_identity(4)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.landmarks, b.landmarks)
    assert a.name == "proc_0003" and not a.real and a.source.startswith("procedural:3:real_")
    assert c.name == "proc_0004" and not np.array_equal(a.image, c.image)
    for ident in (a, c):
        _well_formed(ident)
        _found(tracker, ident)


def test_identity_pool_order_and_counts(reals: list[Identity]) -> None:
    n_real = len(reals)
    pool = identity_pool(n_real + 2, seed=10)
    assert [p.name for p in pool[:n_real]] == [r.name for r in reals]
    assert [p.name for p in pool[n_real:]] == ["proc_0010", "proc_0011"]
    assert [p.real for p in pool] == [True] * n_real + [False, False]
    assert [p.name for p in identity_pool(2, seed=5, real=False)] == ["proc_0005", "proc_0006"]
    assert [p.name for p in identity_pool(1, procedural=False)] == [reals[0].name]
    assert identity_pool(0) == []
    with pytest.raises(ConfigError):
        identity_pool(n_real + 1, procedural=False)
    with pytest.raises(ConfigError):
        identity_pool(1, real=False, procedural=False)


def test_warp_to_landmarks_identity_and_shift() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    pts = rng.uniform(10, 50, (30, 2))
    assert np.array_equal(warp_to_landmarks(img, pts, pts), img)
    shifted = warp_to_landmarks(img, pts, pts + np.array([5.0, 0.0]))  # everything moves 5 px right
    assert np.abs(shifted[:, 10:70].astype(int) - img[:, 5:65].astype(int)).max() <= 1


def test_vary_shape(reals: list[Identity]) -> None:
    lm = reals[0].landmarks
    assert np.allclose(vary_shape(lm, {}), lm[:, :2])
    wide = vary_shape(lm, {"face_width": 0.1})
    assert np.ptp(wide[:, 0]) > np.ptp(lm[:, 0]) * 1.05
    with pytest.raises(ConfigError):
        vary_shape(lm, {"ear_size": 0.1})
