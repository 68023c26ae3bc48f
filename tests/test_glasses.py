"""Glasses: the ring evidence, the points held under a frame, and the mesh engine keeping a frame unbent."""

from __future__ import annotations

import numpy as np
import pytest

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.glasses import (
    ANGLES,
    GlassesEvidence,
    GlassesSampler,
    default_rings,
    glasses_evidence,
    glasses_in_clip,
    glasses_note,
    held_points,
)
from wav2lip_emotion.faces.occluders import LEFT_EYE, LIPS_OUTER, RIGHT_EYE
from wav2lip_emotion.media import VideoReader, read_image, write_image
from wav2lip_emotion.translation.config import TranslateConfig
from wav2lip_emotion.translation.mesh_engine import MeshEngine

CHIN = 152


@pytest.fixture(scope="module")
def grace() -> tuple[np.ndarray, np.ndarray]:
    """Grace Hopper's photo (thick cat-eye frames) and its landmarks."""
    rgb = read_image(asset_path("grace_hopper"))
    obs = FaceTracker().update(rgb, 0.0)
    assert obs.landmarks is not None
    return rgb, obs.landmarks.astype(np.float64)


@pytest.fixture(scope="module")
def bare(clip) -> tuple[np.ndarray, np.ndarray]:
    """single_face's first frame (no glasses) and its landmarks."""
    with VideoReader(clip) as reader:
        rgb = next(iter(reader)).rgb.copy()
    obs = FaceTracker().update(rgb, 0.0)
    assert obs.landmarks is not None
    return rgb, obs.landmarks.astype(np.float64)


def _iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[list(LEFT_EYE), :2].mean(0) - lm[list(RIGHT_EYE), :2].mean(0)))


def _box(points: np.ndarray, dx: float, dy: float) -> tuple[slice, slice]:
    pad = np.array([dx, dy])
    x0, y0 = np.floor(points.min(0) - pad).astype(int)
    x1, y1 = np.ceil(points.max(0) + pad).astype(int)
    return slice(y0, y1), slice(x0, x1)


def test_a_thick_frame_is_seen_and_a_bare_face_is_not(grace, bare):
    found = glasses_evidence(*grace)
    assert found.found(), found.describe()
    assert found.rings.shape == (2, len(ANGLES))
    # the ring lies around the eye, not on it: beyond the eye's half-width sideways, within the band
    assert (found.rings > 0.12).all() and (found.rings < 0.62).all()
    assert found.asymmetry < 0.06  # the frame is the same on both sides
    none = glasses_evidence(*bare)
    assert not none.found(), none.describe()
    assert none.strength < found.strength / 2


def test_evidence_over_a_clip_is_the_median_of_its_frames():
    a = GlassesEvidence(1.0, 0.02, np.full((2, len(ANGLES)), 0.3))
    b = GlassesEvidence(0.2, 0.10, np.full((2, len(ANGLES)), 0.5))
    c = GlassesEvidence(0.8, 0.04, np.full((2, len(ANGLES)), 0.4))
    clip = glasses_in_clip([a, b, c])
    assert clip is not None and clip.frames == 3
    assert clip.strength == pytest.approx(0.8) and clip.asymmetry == pytest.approx(0.04)
    assert np.allclose(clip.rings, 0.4)
    assert glasses_in_clip([]) is None


def test_the_sampler_looks_at_every_nth_face(grace):
    sampler = GlassesSampler(every=3)
    for i in range(7):
        sampler(i, *grace)
    assert len(sampler.evidence) == 3  # faces 0, 3, 6
    verdict = sampler.verdict()
    assert verdict is not None and verdict.frames == 3 and verdict.found()
    flat = np.zeros((468, 3))  # a degenerate mesh is skipped, not an error in the middle of a clip
    GlassesSampler(every=1)(0, grace[0], flat)
    with pytest.raises(ValueError, match="coincide"):
        glasses_evidence(grace[0], flat)


def test_held_points_hold_the_eyes_and_free_the_mouth(grace):
    _, lm = grace
    held = held_points(lm, default_rings())
    assert held.shape == (468,) and held.min() >= 0.0 and held.max() <= 1.0
    assert (held[list(RIGHT_EYE + LEFT_EYE)] == 1.0).all()
    assert (held[list(LIPS_OUTER)] == 0.0).all() and held[CHIN] == 0.0
    # the same in any similarity frame (a fit's local shape): scaled, turned and moved
    turn = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    moved = lm[:, :2] @ turn.T * 0.01 + 5.0
    assert np.allclose(held_points(moved, default_rings()), held)


@pytest.mark.parametrize("to", ["surprised", "sad"])
def test_glasses_on_keep_the_frame_unbent_and_still_edit_the_rest(grace, to):
    rgb, lm = grace
    evidence = glasses_evidence(rgb, lm)
    iod = _iod(lm)
    eyes = _box(lm[list(RIGHT_EYE + LEFT_EYE), :2], 0.15 * iod, 0.3 * iod)  # the lenses and the rims
    mouth = _box(lm[list(LIPS_OUTER), :2], 5, 5)
    outs = {}
    for mode in ("off", "on"):
        engine = MeshEngine(to, glasses=mode)
        plan = engine.plan(lm[None], np.array([True]), np.array([0.0]), glasses=evidence)
        assert (plan.held is None) == (mode == "off")
        outs[mode], stats = engine.edit(rgb, lm, plan, 0)
        assert stats.flipped == 0
    change = {m: np.abs(o.astype(int) - rgb.astype(int)) for m, o in outs.items()}
    # unheld, the brows and lids drag the frame along (tens of grey levels); held, the frame stays
    assert change["off"][eyes].mean() > 20.0
    assert change["on"][eyes].mean() < 0.2 * change["off"][eyes].mean()
    # ... while the edit goes on around it: the forehead (and sad's mouth) move as before
    assert change["on"].mean() > 0.3 * change["off"].mean()
    assert np.abs(outs["on"][mouth].astype(int) - outs["off"][mouth].astype(int)).mean() < 0.5


def test_auto_holds_only_a_clearly_seen_frame(grace, bare):
    seen, unseen = glasses_evidence(*grace), glasses_evidence(*bare)
    auto, on, off = MeshEngine("sad"), MeshEngine("sad", glasses="on"), MeshEngine("sad", glasses="off")
    assert auto.glasses == "auto"
    assert auto.glasses_rings(seen) is not None
    assert auto.glasses_rings(unseen) is None and auto.glasses_rings(None) is None
    assert off.glasses_rings(seen) is None
    assert on.glasses_rings(unseen) is not None  # asserted by the user: the measured ring is held
    assert np.allclose(on.glasses_rings(None), default_rings())
    # a bare face under auto is planned exactly as with glasses off
    _, lm = bare
    plans = [e.plan(lm[None], np.array([True]), np.array([0.0]), glasses=unseen) for e in (auto, off)]
    assert plans[0].held is None
    assert np.array_equal(plans[0].local_displacement(0), plans[1].local_displacement(0))


def test_bad_glasses_settings_are_one_line_errors(tmp_path, capsys):
    from wav2lip_emotion.cli import main

    with pytest.raises(ConfigError, match="glasses must be one of auto, on, off"):
        TranslateConfig(to="happy", glasses="maybe")
    with pytest.raises(ConfigError, match="glasses must be one of"):
        MeshEngine("happy", glasses="yes")
    out = tmp_path / "out.png"
    with pytest.raises(SystemExit) as err:
        main(["translate", str(asset_path("grace_hopper")), "-o", str(out), "--to", "sad", "--glasses", "maybe"])
    assert err.value.code != 0 and not out.exists()
    assert "--glasses" in capsys.readouterr().err


def test_notes_say_what_was_done_about_glasses(tmp_path, clip, grace):
    import wav2lip_emotion

    photo = tmp_path / "grace.png"
    write_image(photo, grace[0])
    result = wav2lip_emotion.translate(photo, tmp_path / "sad.png", "sad", progress=False)
    assert any(n.startswith("glasses seen (ring strength") for n in result.notes), result.notes
    result = wav2lip_emotion.translate(clip, tmp_path / "sad.mp4", "sad", glasses="on", progress=False)
    assert any(n.startswith("glasses asserted (--glasses on)") for n in result.notes), result.notes
    result = wav2lip_emotion.translate(clip, tmp_path / "sad2.mp4", "sad", progress=False)
    assert not any("glasses" in n for n in result.notes), result.notes  # auto, and none seen: no note
    assert glasses_note("off", None, False) == "glasses: not looked for (--glasses off)"


def test_a_face_track_file_carries_the_glasses_evidence(tmp_path, clip):
    """`faces --json` measures glasses as translate's tracking pass does, so `translate --faces` decides
    the same; an older file without it is read as no evidence, a malformed one is a one-line error."""
    import json

    import wav2lip_emotion
    from wav2lip_emotion.cli.face_report import analyse_faces
    from wav2lip_emotion.translation.face_track import FaceTrackFile

    track = tmp_path / "faces.json"
    summary = analyse_faces(clip, json_out=track)
    data = json.loads(track.read_text())
    evidence = GlassesEvidence.from_json(data["glasses"])
    assert evidence.frames == -(-summary.found // 24) and not evidence.found()
    read = FaceTrackFile(track).glasses
    assert read is not None and read.to_json() == evidence.to_json() == data["glasses"]
    result = wav2lip_emotion.translate(clip, tmp_path / "on.mp4", "sad", faces=track, glasses="on", progress=False)
    assert any(n.startswith("glasses asserted (--glasses on) (ring strength") for n in result.notes), result.notes
    del data["glasses"]
    track.write_text(json.dumps(data))
    assert FaceTrackFile(track).glasses is None
    data["glasses"] = {"strength": 1.0, "asymmetry": 0.0, "rings": [[0.3, 0.3]]}
    track.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"faces\.json: malformed 'glasses' record: rings must be 2 x 72"):
        FaceTrackFile(track)
