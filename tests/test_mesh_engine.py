"""The mesh engine: intensity schedules, the expression fit, the fold-free warp, and translate on real
clips and photos (short clips cut from the real media assets)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli import main
from wav2lip_emotion.errors import ConfigError, MediaError, TranslationError
from wav2lip_emotion.expression.action_units import REAL_PROTOTYPES
from wav2lip_emotion.expression.fit import FIT_AUS, fit_expression, umeyama
from wav2lip_emotion.expression.intensity import IntensitySchedule
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.warp import backward_map, flipped_triangles, fold_guard, fold_guard_frames, triangulate
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video, read_image, write_image
from wav2lip_emotion.translation import TranslateConfig
from wav2lip_emotion.translation.mesh_engine import PASTE_SCALE, MeshEngine, steady_landmarks
from wav2lip_emotion.translation.mesh_run import track_faces

FRAMES = 24  # the ``clip`` fixture's (tests/conftest.py)


# --------------------------------------------------------------------------- fixtures (and ``clip``: conftest)


@pytest.fixture(scope="module")
def track(clip) -> dict:
    with VideoReader(clip) as reader:
        decoded = list(reader)  # 24 frames
    landmarks, valid, times, _ = track_faces(decoded)
    return {"frames": [f.rgb for f in decoded], "landmarks": landmarks, "valid": valid, "times": times}


@pytest.fixture(scope="module")
def smile_frame() -> tuple[np.ndarray, np.ndarray]:
    """Frame 60 of single_face (a broad smile) and its landmarks."""
    tracker = FaceTracker()
    with VideoReader(asset_path("single_face")) as reader:
        for f in reader:
            obs = tracker.update(f.rgb, f.time)
            if f.index == 60:
                return f.rgb, obs.landmarks
    raise AssertionError("single_face has fewer than 61 frames")


# --------------------------------------------------------------------------- intensity


def test_intensity_numbers_levels_and_schedules():
    assert float(IntensitySchedule.parse(0.4)(3.0)) == pytest.approx(0.4)
    assert float(IntensitySchedule.parse("1.5")(0.0)) == pytest.approx(1.5)
    assert float(IntensitySchedule.parse("level1")(0.0)) == pytest.approx(1 / 3)
    assert float(IntensitySchedule.parse(2)(0.0)) == pytest.approx(2 / 3)  # a MEAD level, as before
    assert float(IntensitySchedule.parse(None)(0.0)) == 1.0
    s = IntensitySchedule.parse("0s:0,2s:1,5.5s:1,6s:0")
    v = s(np.array([0.0, 1.0, 2.0, 3.0, 5.5, 5.75, 6.0, 9.0]))
    assert v == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    t = np.linspace(0, 2, 201)
    ramp = s(t)
    assert np.all(np.diff(ramp) >= 0)
    # smooth easing: no jump in slope at the keyframes (slope ~0 at both ends)
    assert ramp[1] - ramp[0] < 1e-3 and ramp[-1] - ramp[-2] < 1e-3
    assert s.peak == 1.0 and not s.is_constant


@pytest.mark.parametrize(
    ("text", "match"),
    [("1.6", "0..1.5"), ("-0.1", "0..1.5"), ("happy", "not a number"), ("2s:1,1s:0", "increase"), ("1s", "number")],
)
def test_bad_intensities_are_config_errors(text, match):
    with pytest.raises(ConfigError, match=match):
        IntensitySchedule.parse(text)


def test_engine_selection_rules(tmp_path):
    assert TranslateConfig(to="happy").engine_for() == "mesh"
    assert TranslateConfig(to="happy").engine_for(translator_given=True) == "model"
    assert TranslateConfig(to="happy", checkpoint=tmp_path / "g.safetensors").engine_for() == "model"
    assert TranslateConfig(to="happy", intensity="1.2").intensity == pytest.approx(1.2)
    with pytest.raises(ConfigError, match="learned engine"):
        TranslateConfig(to="happy", engine="mesh", checkpoint=tmp_path / "g.safetensors")
    with pytest.raises(ConfigError, match="mesh engine"):
        TranslateConfig(to="happy", engine="model", intensity="0s:0,1s:1")
    with pytest.raises(ConfigError, match="engine must be"):
        TranslateConfig(to="happy", engine="magic")


# --------------------------------------------------------------------------- geometry


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(30, 3))
    angle = 0.4
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pts = (2.5 * ref @ rot.T + [10, -4, 1])[None]
    s, r, t = umeyama(ref, pts)
    assert s[0] == pytest.approx(2.5)
    assert r[0] == pytest.approx(rot, abs=1e-9)
    assert t[0] == pytest.approx([10, -4, 1])


def test_fit_recovers_a_known_expression_and_keeps_speech(track):
    """A real face with a smile added by the basis, and a jaw opening: the fit finds the smile as
    expression and the opening as speech, not the other way round."""
    lm0 = track["landmarks"][0]
    base = fit_expression(lm0[None], np.array([True]), np.array([0.0]))
    n = 12
    lms = np.repeat(lm0[None], n, 0).astype(np.float64)
    smile = np.r_[np.zeros(6), np.ones(6)] * 0.8
    jaw = np.abs(np.sin(np.arange(n))) * 0.08
    for i in range(n):
        local = base.basis["AU12"] * smile[i] + base.speech_basis["jaw"] * jaw[i]
        lms[i, :, :2] += base.pose.to_image(0, local)
    fit = fit_expression(lms, np.ones(n, bool), np.arange(n) / 30, smoothing_seconds=0.0)
    au12 = fit.expression[:, FIT_AUS.index("AU12")]
    assert au12[8:].mean() - au12[:4].mean() == pytest.approx(0.8, abs=0.15)
    assert np.corrcoef(fit.jaw, jaw)[0, 1] > 0.95


def test_fold_guard_never_lets_a_triangle_flip():
    rng = np.random.default_rng(1)
    src = np.concatenate([rng.uniform(10, 90, size=(60, 2)), [[0, 0], [0, 100], [100, 0], [100, 100]]])
    dst = src.copy()
    dst[:60] += rng.normal(scale=15, size=(60, 2))  # wild motion: many triangles would flip
    tris = triangulate(src)
    assert flipped_triangles(src, dst, tris) > 0
    guard = fold_guard(src, dst, tris)
    assert guard.would_flip > 0 and guard.damped > 0
    assert flipped_triangles(src, guard.dst, tris) == 0
    # and the map is the identity where nothing moves
    mx, my = backward_map(src, src, tris, (0, 0, 100, 100))
    xs, ys = np.meshgrid(np.arange(100), np.arange(100))
    assert np.abs(mx - xs).max() < 1e-3 and np.abs(my - ys).max() < 1e-3


def test_fold_guard_of_many_frames_guards_each_as_if_alone():
    """The plan guards a clip's frames together (fold_guard_frames); each frame comes out the same to
    the bit as its own call, whether it folds for many rounds, a few or not at all."""
    rng = np.random.default_rng(7)
    src0 = np.concatenate([rng.uniform(10, 90, size=(60, 2)), [[0, 0], [0, 100], [100, 0], [100, 100]]])
    tris = triangulate(src0)
    srcs, dsts = [], []
    for scale in (15.0, 0.0, 2.0, 30.0, 6.0):  # wild, still, gentle, wilder, some folds
        src = src0 + rng.normal(scale=0.5, size=src0.shape)
        dst = src.copy()
        dst[:60] += rng.normal(scale=scale, size=(60, 2))
        srcs.append(src)
        dsts.append(dst)
    together = fold_guard_frames(np.stack(srcs), np.stack(dsts), tris)
    rounds = []
    for src, dst, got in zip(srcs, dsts, together, strict=True):
        alone = fold_guard(src, dst, tris)
        assert np.array_equal(got.dst, alone.dst)
        assert (got.damped, got.would_flip, got.flipped) == (alone.damped, alone.would_flip, 0)
        rounds.append(alone.would_flip)
    assert rounds[1] == 0 and max(rounds) > 10  # frames that stop at once and frames that fold a lot


def test_fold_guard_evens_out_a_fold_instead_of_stopping_the_motion():
    """A face moved as a whole, with one point pulled across its neighbours: the guard spreads that
    point's extra motion over its neighbourhood, so the whole keeps moving; points that do not move stay."""
    xs, ys = np.meshgrid(np.arange(10.0, 91.0, 10.0), np.arange(10.0, 91.0, 10.0))
    inner = np.stack([xs.ravel(), ys.ravel()], 1)
    src = np.concatenate([inner, [[0, 0], [0, 100], [100, 0], [100, 100]]])
    dst = src.copy()
    dst[: len(inner)] += (4.0, 0.0)
    pulled = 40  # the middle point
    dst[pulled] += (25.0, 0.0)  # past its right-hand neighbour
    tris = triangulate(src)
    assert flipped_triangles(src, dst, tris) > 0
    guard = fold_guard(src, dst, tris)
    assert guard.flipped == 0 and flipped_triangles(src, guard.dst, tris) == 0
    motion = guard.dst - src
    assert np.array_equal(guard.dst[len(inner) :], src[len(inner) :])  # the fixed corners
    assert motion[:pulled, 0].min() > 3.0 and motion[pulled + 1 : len(inner), 0].min() > 3.0
    assert 4.0 < motion[pulled, 0] < 29.0  # the pulled point keeps part of its extra motion
    # halving alone would have stopped the neighbourhood
    halved = fold_guard(src, dst, tris, evening=0)
    assert (np.linalg.norm(halved.dst - src, axis=1)[: len(inner)] < 3.0).sum() > 0


def test_backward_map_locates_points_like_matplotlibs_trapezoid_map():
    """The vectorised point location gives the same map as matplotlib's trapezoid map on a valid mesh,
    and where placed triangles overlap the highest-numbered one wins."""
    import matplotlib.tri as mtri

    from wav2lip_emotion.faces.warp import _locate

    rng = np.random.default_rng(3)
    src = np.concatenate([rng.uniform(5, 95, size=(80, 2)), [[0, 0], [0, 100], [100, 0], [100, 100]]])
    tris = triangulate(src)
    dst = src.copy()
    dst[:80] += rng.normal(scale=2.0, size=(80, 2))
    dst = fold_guard(src, dst, tris).dst
    gx, gy = np.meshgrid(np.arange(3, 98, 2.0), np.arange(1, 99, 2.0))
    q = np.stack([gx, gy], -1)
    got = _locate(dst, tris, q, (3, 1), 2)
    finder = mtri.TrapezoidMapTriFinder(mtri.Triangulation(dst[:, 0], dst[:, 1], tris))
    want = np.asarray(finder(gx.ravel(), gy.ravel())).reshape(gx.shape)
    # a grid point on an edge may go to either triangle (their affine pieces agree there)
    differ = got != want
    assert differ.mean() < 0.01
    mx, my = backward_map(src, dst, tris, (0, 0, 100, 100))
    assert np.isfinite(mx).all() and np.isfinite(my).all()
    # two overlapping triangles: the later one wins
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    overlap = np.array([[0, 1, 2], [1, 3, 0]], np.int32)
    grid = np.stack(np.meshgrid(np.arange(0, 11, 1.0), np.arange(0, 11, 1.0)), -1)
    index = _locate(pts, overlap, grid, (0, 0), 1)
    assert index[2, 6] == 1 and index[8, 1] == 0 and index[9, 9] == 1


def test_backward_map_dead_band_keeps_pixels_that_would_move_by_a_fraction():
    """A smooth displacement growing from 0 to 2 px across the region: with a dead band of 0.3 px the
    pixels displaced less than that map exactly to themselves (looked up unblurred), the others move
    0.3 px less, and the map stays continuous and increasing (no fold)."""
    xs, ys = np.meshgrid(np.arange(0.0, 101.0, 10.0), np.arange(0.0, 101.0, 10.0))
    src = np.stack([xs.ravel(), ys.ravel()], 1)
    tris = triangulate(src)
    dst = src.copy()
    dst[:, 0] += 2.0 * src[:, 0] / 100.0  # each column moved right by 0 .. 2 px
    region = (0, 0, 100, 100)
    plain = backward_map(src, dst, tris, region)
    banded = backward_map(src, dst, tris, region, deadband=0.3)
    grid = np.arange(100, dtype=np.float32)[None, :]
    shift, kept = grid - plain[0], grid - banded[0]  # how far each output pixel's source lies to its left
    assert np.abs(banded[1] - np.arange(100)[:, None]).max() < 1e-4
    small = shift < 0.25
    assert small.any() and np.array_equal(banded[0][small], np.broadcast_to(grid, shift.shape)[small])
    large = shift > 0.45
    assert large.any() and np.allclose(kept[large], shift[large] - 0.3, atol=0.02)
    assert np.all(np.diff(banded[0], axis=1) > 0)  # still increasing: no fold, no tear
    assert np.abs(np.diff(kept, axis=1)).max() < 0.05  # continuous


# --------------------------------------------------------------------------- frames


def _plan(track, to, intensity=1.0, source=None):
    engine = MeshEngine(to, intensity=intensity, source=source)
    return engine, engine.plan(track["landmarks"], track["valid"], track["times"])


def test_intensity_zero_returns_the_input_face(track):
    engine, plan = _plan(track, "happy", intensity=0.0)
    for i in (0, 12, 23):
        out, _ = engine.edit(track["frames"][i], track["landmarks"][i], plan, i)
        assert np.array_equal(out, track["frames"][i])


@pytest.mark.parametrize("to", ["happy", "sad", "surprised", "angry", "neutral", "fear", "disgusted", "contempt"])
def test_edit_stays_inside_the_face_and_never_flips(track, to):
    engine, plan = _plan(track, to)
    i = 20
    frame = track["frames"][i]
    out, stats = engine.edit(frame, track["landmarks"][i], plan, i)
    assert stats.flipped == 0
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.any(out != frame, axis=2)
    if to != "neutral":
        assert changed.any()
    # nothing changes outside the region around the face, nor outside the grown face outline
    x0, y0, x1, y1 = stats.region or (0, 0, 0, 0)
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()
    from wav2lip_emotion.faces.mesh import FACE_OVAL

    oval = track["landmarks"][i][list(FACE_OVAL), :2]
    centre = oval.mean(0)
    ys, xs = np.nonzero(changed)
    if len(xs):
        r = np.hypot(xs - centre[0], ys - centre[1])
        assert r.max() <= PASTE_SCALE * np.hypot(*(oval - centre).T).max() + 2


def test_happy_lifts_the_mouth_corners_and_sad_lowers_them(track):
    """The target shape: lip corners up (happy) or down (sad) by a visible amount, the mouth opening
    (inner-lip midline gap) kept; and the frame really changes there."""
    i = 4
    frame, lm = track["frames"][i], track["landmarks"][i]
    iod = np.linalg.norm(lm[33, :2] - lm[263, :2])
    for to, sign in (("happy", -1), ("sad", 1)):
        engine, plan = _plan(track, to)
        d = plan.fit.pose.to_image(i, plan.local_displacement(i))
        corners = (d[61, 1] + d[291, 1]) / 2
        assert sign * corners > 0.03 * iod, to
        assert abs(d[14, 1] - d[13, 1]) < 0.02 * iod, to  # the opening is speech: kept
        out, _ = engine.edit(frame, lm, plan, i)
        x, y = np.round(lm[61, :2]).astype(int)
        assert np.abs(out[y - 6 : y + 6, x - 6 : x + 6].astype(int) - frame[y - 6 : y + 6, x - 6 : x + 6]).mean() > 2


@pytest.mark.parametrize("to", ["sad", "surprised", "fear"])
def test_the_nose_keeps_its_length_while_the_brows_and_lips_move(track, to):
    """The edit holds the nose (bridge to the point under the tip, 6 -> 2) for the brow raisers and the
    lower lip's AUs: before, sad lengthened it by 0.125 IOD, surprise by 0.10, fear by 0.09. The brows
    (inner ends, 107 and 336) still rise; the fit keeps its own basis (no hold), so a smiling clip's
    calm frames still read as calm."""
    _, plan = _plan(track, to)
    d = plan.local_displacement(4)  # IOD, face frame, y down
    assert abs(d[2, 1] - d[6, 1]) < 0.04, d[[2, 6]]
    assert -(d[107, 1] + d[336, 1]) / 2 > 0.1  # the inner brows rise
    assert any(not np.allclose(plan.fit.basis[au], plan.fit.edit_basis[au]) for au in ("AU1", "AU15"))
    assert np.array_equal(plan.fit.basis["AU12"], plan.fit.edit_basis["AU12"])


def test_a_stronger_smile_lifts_the_corners_further(track):
    """Above intensity 1 too: the fold guard spreads a fold's motion instead of stopping it, so the lip
    corners, after the guard and its smoothing over the clip, rise further with every step (halving
    alone stopped them at 1.25 on this clip)."""
    from wav2lip_emotion.translation.mesh_engine import _targets, control_points

    i = 12
    lifts = []
    for k in (0.5, 1.0, 1.25, 1.5):
        _, plan = _plan(track, "happy", intensity=k)
        src, dst = _targets(plan, i, plan.placement[i], plan.local_displacement(i))
        dst = src + plan.damping[i][:, None] * (dst - src)
        guarded = fold_guard(src, dst, plan.triangles)
        assert guarded.flipped == 0
        moving = list(control_points(plan.placement[i], float(plan.fit.pose.scale[i]))[1])
        corners = [moving.index(61), moving.index(291)]
        lifts.append(float(-(guarded.dst[corners, 1] - src[corners, 1]).min()))  # the lesser of the two
    assert all(b > a + 0.5 for a, b in itertools.pairwise(lifts)), lifts


def test_neutral_removes_a_smile(smile_frame):
    """On a photo-like single frame of a broad smile, --to neutral pulls the corners down; --from
    happy removes the happy prototype too."""
    frame, lm = smile_frame
    engine = MeshEngine("neutral")
    plan = engine.plan(lm[None], np.array([True]), np.array([0.0]))
    assert plan.fit.resting.get("AU12", 0) > 0.2  # the smile is seen at rest
    # the edit lowers the corners against the lip midline (y grows downwards) and leaves the nose alone
    moved = plan.fit.pose.to_image(0, plan.local_displacement(0))
    lowered = moved[[61, 291], 1].mean() - moved[[13, 14], 1].mean()
    assert lowered > 2.0
    assert np.abs(moved[[1, 4, 98, 327, 129, 358]]).max() < 0.5
    # ... and the pixels show it: the corners re-tracked on the output are lower by at least half of that
    # (the tracker reads part of a mouth's change as the whole face's)
    out, _ = engine.edit(frame, lm, plan, 0)
    obs = FaceTracker().update(out, 0.0)
    before = (lm[61, 1] + lm[291, 1]) / 2 - (lm[13, 1] + lm[14, 1]) / 2
    after = (obs.landmarks[61, 1] + obs.landmarks[291, 1]) / 2 - (obs.landmarks[13, 1] + obs.landmarks[14, 1]) / 2
    assert after - before > 0.5 * lowered
    given = MeshEngine("neutral", source="happy").plan(lm[None], np.array([True]), np.array([0.0]))
    assert given.fit.resting == REAL_PROTOTYPES["happy"]


def test_schedule_changes_only_the_frames_it_names(track):
    engine, plan = _plan(track, "surprised", intensity="0s:0,0.3s:0,0.5s:1")
    for i, t in enumerate(track["times"]):
        out, _ = engine.edit(track["frames"][i], track["landmarks"][i], plan, i)
        if t <= 0.3:
            assert np.array_equal(out, track["frames"][i]), i
        elif t >= 0.5:
            assert not np.array_equal(out, track["frames"][i]), i


def test_a_cut_to_someone_else_is_fitted_apart(track):
    """A clip that cuts from one person to another: the tracker starts a new track at the cut, and the
    engine fits each track on its own. Fitted together, the second person's own shape was taken for an
    expression (the first person's face as neutral), and --to neutral reshaped her face."""
    import types

    import cv2

    from wav2lip_emotion.translation.mesh_engine import ShotPlans, shot_ranges

    h, w = track["frames"][0].shape[:2]
    other = read_image(asset_path("grace_hopper"))
    other = cv2.resize(other, (round(other.shape[1] * h / other.shape[0]), h), interpolation=cv2.INTER_AREA)
    shot = np.full_like(track["frames"][0], 90)
    x = (w - other.shape[1]) // 2
    shot[:, x : x + other.shape[1]] = other
    rgbs = [*track["frames"], *(np.roll(shot, round(2 * np.sin(i / 3)), axis=1) for i in range(12))]
    frames = [types.SimpleNamespace(rgb=rgb, time=i / 30) for i, rgb in enumerate(rgbs)]
    landmarks, valid, times, tracks = track_faces(frames)
    assert valid.all() and len(set(tracks[:24])) == 1 and len(set(tracks[24:])) == 1 and tracks[24] != tracks[0]
    assert shot_ranges(valid, tracks) == [(0, 24), (24, 36)]
    engine = MeshEngine("neutral")
    apart = engine.plan(landmarks, valid, times, tracks)
    together = engine.plan(landmarks, valid, times)
    assert isinstance(apart, ShotPlans) and len(apart.plans) == 2

    def change(plan) -> float:
        return float(np.mean([np.abs(engine.edit(rgbs[i], landmarks[i], plan, i)[0].astype(int) - rgbs[i]).mean()
                              for i in range(24, 36)]))  # fmt: skip

    kept, reshaped = change(apart), change(together)
    assert kept < 0.1 < 0.5 < reshaped  # her neutral face stays as it is


def test_a_face_lost_for_long_and_found_where_it_was_continues_its_track(track):
    """The face is covered for 15 frames (longer than the tracker's 10 misses, so it is found again by
    a whole-frame search) and comes back where it was: the same track, so the engine fits the clip as
    one person. A shot cut during the gap, or rejoining switched off, starts a new track instead."""
    import types

    from wav2lip_emotion.faces import TrackerConfig
    from wav2lip_emotion.translation.mesh_engine import MeshPlan, ShotPlans

    x0, y0 = track["landmarks"][track["valid"]][..., :2].min(axis=(0, 1)).astype(int) - 10
    x1, y1 = track["landmarks"][track["valid"]][..., :2].max(axis=(0, 1)).astype(int) + 10
    covered = []
    for rgb in track["frames"][:15]:
        hidden = rgb.copy()
        hidden[max(y0, 0) : y1, max(x0, 0) : x1] = np.median(rgb.reshape(-1, 3), axis=0).astype(np.uint8)
        covered.append(hidden)
    clip = [*track["frames"], *covered, *track["frames"]]

    def tracked(rgbs, config=None):
        frames = [types.SimpleNamespace(rgb=rgb, time=i / 30) for i, rgb in enumerate(rgbs)]
        return track_faces(frames, FaceTracker(config) if config else None)

    landmarks, valid, times, tracks = tracked(clip)
    assert valid[:24].all() and not valid[24:39].any() and valid[39:].all()  # the cover hides the face
    assert len(set(tracks[valid])) == 1
    assert isinstance(MeshEngine("happy").plan(landmarks, valid, times, tracks), MeshPlan)
    # switched off: a new track, fitted apart
    landmarks, valid, times, tracks = tracked(clip, TrackerConfig(rejoin_seconds=0))
    assert tracks[39] != tracks[0]
    assert isinstance(MeshEngine("happy").plan(landmarks, valid, times, tracks), ShotPlans)
    # a shot cut in the gap (the whole picture changes): whoever comes after it is a new track
    cut = [*track["frames"], *covered[:7], *(255 - f for f in covered[7:]), *track["frames"]]
    tracks = tracked(cut)[3]
    assert tracks[39] != tracks[0]


def test_an_occluder_mask_fades_within_a_shot_and_is_not_carried_into_the_next():
    engine = MeshEngine("happy")
    region, centre = (0, 0, 40, 40), np.array([20.0, 20.0])
    seen = np.zeros((40, 40), np.float32)
    seen[10:20, 10:20] = 1.0
    engine._steady(seen, 5, region, centre, shot=0)
    carried = engine._steady(np.zeros_like(seen), 6, region, centre, shot=0)
    assert carried[15, 15] == pytest.approx(0.8)  # fading where the occluder was
    engine._steady(seen, 7, region, centre, shot=0)
    assert not engine._steady(np.zeros_like(seen), 8, region, centre, shot=8).any()  # a cut at frame 8


# --------------------------------------------------------------------------- translate


def test_silent_clip_translates_with_frames_size_and_no_audio(tmp_path, clip):
    out = tmp_path / "happy.mp4"
    side = tmp_path / "side.mp4"
    result = wav2lip_emotion.translate(clip, out, "happy", side_by_side=side, progress=False)
    info = probe_video(out)
    assert result.engine == "mesh" and result.flipped_triangles == 0
    assert result.frames == FRAMES and result.faces == FRAMES
    assert (info.width, info.height, info.frame_count) == (640, 360, FRAMES)
    assert not info.has_audio and result.audio == "none"
    assert probe_video(side).width == 1280
    assert "mesh engine" in result.describe()


def test_progress_callback_counts_both_passes(tmp_path, clip):
    seen: list[tuple[int, int | None]] = []
    wav2lip_emotion.translate(
        clip, tmp_path / "o.mp4", "sad", progress=False, on_progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (2 * FRAMES, 2 * FRAMES)
    assert [d for d, _ in seen] == list(range(1, 2 * FRAMES + 1))


def test_an_encoder_failure_mid_clip_raises_and_writes_nothing(tmp_path, clip, monkeypatch):
    """Frames are encoded on a second thread: an error there still reaches the caller, in order, and
    neither the output nor the side-by-side video is left behind."""
    from wav2lip_emotion.media import video

    write = video.VideoWriter.write

    def failing(self, rgb):
        if self.frames_written == 5:
            raise MediaError(f"{self.path}: disk full (simulated)")
        write(self, rgb)

    monkeypatch.setattr(video.VideoWriter, "write", failing)
    out, side = tmp_path / "o.mp4", tmp_path / "side.mp4"
    with pytest.raises(MediaError, match="disk full"):
        wav2lip_emotion.translate(clip, out, "happy", side_by_side=side, progress=False)
    assert not out.exists() and not side.exists()
    assert list(tmp_path.iterdir()) == []


def test_prefetched_keeps_order_raises_where_the_error_was_and_stops_early():
    import threading

    from wav2lip_emotion.translation.frame_threads import prefetched

    with prefetched(iter(range(50)), depth=3) as items:
        assert list(items) == list(range(50))

    def broken():
        yield from range(4)
        raise MediaError("frame 4: corrupt (simulated)")

    got = []
    with pytest.raises(MediaError, match="corrupt"), prefetched(broken()) as items:
        got.extend(items)
    assert got == [0, 1, 2, 3]
    before = threading.active_count()
    with prefetched(iter(range(10_000)), depth=2) as items:
        assert next(items) == 0  # leave early: the producing thread is stopped and joined
    assert threading.active_count() <= before and not any(t.name == "mesh-decode" for t in threading.enumerate())


def test_clip_with_audio_keeps_it(tmp_path):
    src = asset_path("movie_hello")
    short = tmp_path / "hello.mp4"
    info = probe_video(src)
    with (
        VideoWriter(short, info.fps, info.width, info.height, audio_from=src) as writer,
        VideoReader(src, max_frames=30) as reader,
    ):
        for f in reader:
            writer.write(f.rgb)
    out = tmp_path / "hello_sad.mp4"
    result = wav2lip_emotion.translate(short, out, "sad", progress=False)
    assert probe_video(out).has_audio and result.audio == "copied"
    assert result.faces == 30


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_photos_come_out_in_their_own_format(tmp_path, suffix):
    photo = tmp_path / f"grace{suffix}"
    write_image(photo, read_image(asset_path("grace_hopper")))
    out = tmp_path / f"grace_happy{suffix}"
    result = wav2lip_emotion.translate(photo, out, "happy", progress=False)
    img = read_image(out)
    assert img.shape == read_image(photo).shape
    assert result.frames == 1 and result.faces == 1
    with pytest.raises(ConfigError, match="name the output"):
        wav2lip_emotion.translate(photo, tmp_path / "grace.mp4", "happy", progress=False)


def test_no_face_and_bad_files_are_one_line_errors_with_no_output(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(TranslationError, match="no face"):
        wav2lip_emotion.translate(blank, tmp_path / "o.png", "happy", progress=False)
    assert not (tmp_path / "o.png").exists()
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    with pytest.raises(MediaError, match=r"notes\.mp4"):
        wav2lip_emotion.translate(fake, tmp_path / "o.mp4", "happy", progress=False)
    assert not (tmp_path / "o.mp4").exists()
    assert main(["translate", str(fake), "-o", str(tmp_path / "o.mp4"), "--to", "happy", "-q"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.mp4" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png", "notes.mp4"]


def test_cli_translate_photo_with_a_schedule_and_help(tmp_path, capsys):
    photo = tmp_path / "astronaut.png"
    write_image(photo, read_image(asset_path("astronaut")))
    out = tmp_path / "calm.png"
    assert main(["translate", str(photo), "-o", str(out), "--to", "neutral", "--intensity", "1", "-q"]) == 0
    assert out.is_file()
    text = capsys.readouterr().out
    assert "resting expression removed" in text
    with pytest.raises(SystemExit):
        main(["translate", "--help"])
    assert "--engine" in capsys.readouterr().out


def test_an_occluder_over_the_face_is_not_warped(track):
    """A microphone-like object composited over a mouth corner of a real frame: without occluder
    detection the happy edit bends it; with it, its pixels come out as they went in, and no smear of
    it is dragged out over the face next to it (the warp takes the pixels above the corner from
    inside the object: pasted as they were, they showed a grey streak, 114 grey pixels around it)."""
    from wav2lip_emotion.faces.occluders import OccluderDetector

    i = 20
    frame = track["frames"][i].copy()
    lm = track["landmarks"][i]
    x, y = np.round(lm[61, :2]).astype(int)
    rng = np.random.default_rng(3)
    patch = (60 + rng.integers(0, 30, size=(26, 34, 1)) * np.array([[[1, 1, 1]]])).astype(np.uint8)
    y0, x0 = y - 13, x - 24
    frame[y0 : y0 + 26, x0 : x0 + 34] = patch
    inner = (slice(y0 + 3, y0 + 23), slice(x0 + 3, x0 + 31))

    bare = MeshEngine("happy")
    plan = bare.plan(track["landmarks"], track["valid"], track["times"])
    bent, _ = bare.edit(frame, lm, plan, i)
    assert np.abs(bent[inner].astype(int) - frame[inner]).max() > 20

    guarded = MeshEngine("happy", occluders=OccluderDetector())
    for j in range(i - 3, i):  # a few frames first, as in a video, to learn the skin
        guarded.edit(track["frames"][j], track["landmarks"][j], plan, j)
    out, stats = guarded.edit(frame, lm, plan, i)
    assert stats.occluded > 0
    assert np.abs(out[inner].astype(int) - frame[inner]).max() <= 2

    def grey(rgb: np.ndarray) -> np.ndarray:  # the object's colours; the skin is reddish
        rgb = rgb.astype(int)
        return (np.abs(rgb[..., 0] - rgb[..., 2]) < 10) & (rgb[..., 0] < 100)

    around = np.zeros(frame.shape[:2], bool)
    around[y0 - 12 : y0 + 38, x0 - 12 : x0 + 46] = True
    around[y0 - 1 : y0 + 27, x0 - 1 : x0 + 35] = False
    assert (grey(bent) & around).sum() > 50  # bent: dragged out over the face
    assert (grey(out) & around).sum() <= (grey(frame) & around).sum() + 5


def test_the_judge_sees_more_of_the_emotion_as_intensity_grows(track):
    """face-api's mean p(happy) over frames of the neutral start of the clip rises with intensity
    0, .25, .5, .75, 1 (each step at least as high as the one before, and clearly higher at 1). This
    used surprise, until the lid folds were held under raised brows: face-api had read the lashes
    smeared up with the brows as wide eyes, and sees little surprise on this face without them
    (docs/mesh_engine.md)."""
    import torch

    from wav2lip_emotion.faces import FaceCrop
    from wav2lip_emotion.perception import load_emotion_model
    from wav2lip_emotion.perception.crops import CLASSIFIER_CROP

    judge = load_emotion_model("faceapi").eval()
    col = judge.classes.index("happy")
    frames = range(0, FRAMES, 4)
    means = []
    for k in (0.0, 0.25, 0.5, 0.75, 1.0):
        engine, plan = _plan(track, "happy", intensity=k)
        crops = []
        for i in frames:
            out, _ = engine.edit(track["frames"][i], track["landmarks"][i], plan, i)
            lm = track["landmarks"][i][:, :2]
            crops.append(FaceCrop.from_box(np.r_[lm.min(0), lm.max(0)], CLASSIFIER_CROP).extract(out))
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            means.append(float(judge(batch)[:, col].mean()))
    assert all(b >= a - 0.01 for a, b in itertools.pairwise(means)), means
    assert means[-1] > means[0] + 0.05, means


# --------------------------------------------------------------------------- temporal steadiness


def test_steady_landmarks_keep_motion_without_lag_and_calm_jitter():
    n = 20
    t = np.arange(n, dtype=np.float64)
    moving = np.zeros((n, 468, 3))
    moving[:, :, 0] = 3.0 * t[:, None] + 1.0
    moving[:, :, 1] = -0.5 * t[:, None]
    valid = np.ones(n, bool)
    valid[9] = False  # a gap splits the clip into two runs
    steady = steady_landmarks(moving, valid)
    assert steady.shape == (n, 468, 3)
    # a steady motion (also at the ends of each run) is kept exactly: nothing trails the face
    assert np.abs(steady - moving)[valid].max() < 1e-9
    jitter = np.random.default_rng(0).normal(size=moving.shape)
    calmed = steady_landmarks(moving + jitter, np.ones(n, bool))
    assert (calmed - moving).std() < 0.7 * jitter.std()
    # a photo (one frame) is its own placement
    assert np.array_equal(steady_landmarks(moving[:1], np.ones(1, bool)), moving[:1])


def test_guard_damping_is_smooth_never_flips_and_does_not_lag_a_schedule_step(track):
    times = track["times"]
    k = 12
    step = f"{times[k - 1]:.4f}s:0,{times[k]:.4f}s:1"
    engine, plan = _plan(track, "surprised", intensity=step)
    _, always = _plan(track, "surprised")
    assert plan.placement is not None and plan.damping is not None
    assert plan.damping.min() >= 0.0 and plan.damping.max() <= 1.0
    for i in range(FRAMES):
        out, stats = engine.edit(track["frames"][i], track["landmarks"][i], plan, i)
        assert stats.flipped == 0
        if i < k:
            assert np.array_equal(out, track["frames"][i])  # the step is not spread backwards
        elif i == k:
            # ... nor delayed: the first edited frame is edited as much as in a clip edited throughout
            full, _ = engine.edit(track["frames"][i], track["landmarks"][i], always, i)
            change = np.abs(out.astype(int) - track["frames"][i]).mean()
            assert change > 0.9 * np.abs(full.astype(int) - track["frames"][i]).mean() > 0
