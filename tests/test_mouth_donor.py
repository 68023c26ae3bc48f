"""A calm mouth borrowed from another frame of the clip, for a smile sent to a destination that does not
smile (translation/mouth_donor.py): on single_face.mp4, whose first second is calm and whose rest is a
broad smile with teeth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.expression.fit import FIT_AUS
from wav2lip_emotion.faces import FaceCrop, FaceTracker
from wav2lip_emotion.media import VideoReader, VideoWriter, read_image
from wav2lip_emotion.perception import load_emotion_model
from wav2lip_emotion.perception.crops import CLASSIFIER_CROP
from wav2lip_emotion.translation.mesh_engine import MeshEngine, _target_openings
from wav2lip_emotion.translation.mesh_run import _read_donors, track_faces
from wav2lip_emotion.translation.mouth_donor import (
    CALM_BELOW,
    MAX_EXTRA_OPENING,
    SMILE_FULL,
    choose_donors,
    inner_opening,
)


@pytest.fixture(scope="module")
def clip() -> dict:
    """All 72 frames of single_face (640x360: 50 MB), tracked."""
    with VideoReader(asset_path("single_face")) as reader:
        decoded = list(reader)
    landmarks, valid, times, _ = track_faces(decoded)
    assert valid.all()
    return {"frames": [f.rgb for f in decoded], "landmarks": landmarks, "valid": valid, "times": times}


def _planned(clip: dict, to: str, frames: slice = slice(None)):
    engine = MeshEngine(to)
    plan = engine.plan(clip["landmarks"][frames], clip["valid"][frames], clip["times"][frames])
    return engine, plan


def _with_donors(plan, clip: dict) -> None:
    for j in plan.mouth.frames:  # what the pipeline's _read_donors does, from the frames in memory
        plan.mouth.keep(j, clip["frames"][j], plan.placement[j])


def _opening(rgb: np.ndarray) -> float:
    """The inner-lip opening (pixels) of the face re-tracked on ``rgb``."""
    landmarks = FaceTracker().update(rgb, 0.0).landmarks
    return float(landmarks[14, 1] - landmarks[13, 1])


def test_smiling_frames_borrow_a_calm_frames_mouth(clip):
    engine, plan = _planned(clip, "neutral")
    donors = plan.mouth
    assert donors is not None
    smile = plan.fit.expression[:, FIT_AUS.index("AU12")]
    assert donors.frames and all(smile[j] < CALM_BELOW for j in donors.frames)
    assert np.all(donors.weight[smile >= SMILE_FULL + 0.05] > 0.9)
    assert np.all(donors.weight[:12] == 0.0)  # the calm start keeps its own mouth (the smile starts at 20)
    _with_donors(plan, clip)
    # only the pixels around each donor's mouth are kept, not its frame (on this 640x360 frame, a box
    # of about 1.5 inter-ocular distances, a tenth of the frame)
    h, w = clip["frames"][0].shape[:2]
    assert all(img.shape[0] < h / 2 and img.shape[1] < w / 3 for img, _ in donors.images.values())
    i = 60
    source, lm = clip["frames"][i], clip["landmarks"][i]
    borrowed, _ = engine.edit(source, lm, plan, i)
    plan.mouth = None
    warped_only, _ = engine.edit(source, lm, plan, i)
    # the warp alone keeps the teeth between narrowed lips (re-tracked: 18 px open -> 6 px); the
    # borrowed calm mouth is closed (2 px)
    assert _opening(source) > 12
    assert _opening(warped_only) > 0.25 * _opening(source)
    assert _opening(borrowed) < 0.15 * _opening(source)
    # outside the mouth's neighbourhood the two edits are the same
    far = np.ones(source.shape[:2], bool)
    (x0, y0), (x1, y1) = lm[:, :2].min(0), lm[:, :2].max(0)
    far[int(y0 + 0.55 * (y1 - y0)) : int(y1) + 1, int(x0) : int(x1) + 1] = False
    assert np.array_equal(borrowed[far], warped_only[far])


def test_a_smile_sent_to_neutral_loses_its_happiness_for_the_judge(clip):
    """face-api's mean p(happy) over the smiling frames falls by at least 0.3 (the warp alone: by less
    than 0.1: the teeth kept it happy)."""
    judge = load_emotion_model("faceapi").eval()
    col = judge.classes.index("happy")
    engine, plan = _planned(clip, "neutral")
    _with_donors(plan, clip)
    smiling = range(36, 72, 4)

    def p_happy(edit: bool, donors: bool = True) -> float:
        crops = []
        for i in smiling:
            rgb, lm = clip["frames"][i], clip["landmarks"][i]
            if edit:
                saved = plan.mouth
                plan.mouth = saved if donors else None
                rgb = engine.edit(rgb, lm, plan, i)[0]
                plan.mouth = saved
            crops.append(FaceCrop.from_box(np.r_[lm[:, :2].min(0), lm[:, :2].max(0)], CLASSIFIER_CROP).extract(rgb))
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            return float(judge(batch)[:, col].mean())

    source, borrowed, warped_only = p_happy(False), p_happy(True), p_happy(True, donors=False)
    assert source > 0.8
    assert source - warped_only < 0.1
    assert source - borrowed >= 0.3, (source, borrowed)


@pytest.mark.parametrize("to", ["happy", "contempt", "surprised", "fear"])
def test_no_mouth_is_borrowed_for_a_destination_that_smiles_or_opens_the_mouth(clip, to):
    assert _planned(clip, to)[1].mouth is None


def test_no_mouth_is_borrowed_without_a_calm_frame_or_from_a_photo(clip, tmp_path):
    assert _planned(clip, "sad", slice(36, 72))[1].mouth is None  # the smile alone: no calm frame
    assert _planned(clip, "sad", slice(60, 61))[1].mouth is None  # one frame: a photo
    photo = read_image(asset_path("astronaut"))  # a smile with teeth
    out = tmp_path / "calm.png"
    result = wav2lip_emotion.translate(asset_path("astronaut"), out, "neutral", progress=False)
    assert not any("borrowed" in note for note in result.notes)
    assert read_image(out).shape == photo.shape


def test_a_donor_never_opens_lips_that_the_edit_keeps_closed(clip):
    """A calm mouth may be less open than the frame's edit aims at (a smile's parted lips closed), but
    never more open by over MAX_EXTRA_OPENING: lent to closed lips, an open mouth would move them in
    silence. Here the smiling frames 40-55 are made to aim at lips closed tighter than any calm frame's."""
    _, plan = _planned(clip, "neutral")
    fit = plan.fit
    opening = inner_opening(fit.local)
    aims = _target_openings(plan)
    calm = np.flatnonzero(fit.expression[:, FIT_AUS.index("AU12")] < CALM_BELOW)
    aims[40:56] = opening[calm].min() - 2 * MAX_EXTRA_OPENING
    donors = choose_donors(fit, plan.intensity, aims)
    assert donors is not None
    lending = np.flatnonzero(donors.weight > 0)
    assert np.all(opening[donors.donor[lending]] <= aims[lending] + MAX_EXTRA_OPENING)
    assert np.all(donors.weight[40:56] == 0.0) and np.all(donors.donor[40:56] == -1)
    assert (donors.weight[56:] > 0.9).sum() > 8  # the others still borrow
    # no smiling frame that a calm frame could serve: no donors at all
    assert choose_donors(fit, plan.intensity, np.full_like(aims, opening[calm].min() - 1.0)) is None


@pytest.mark.parametrize("order", ["calm first", "smile first"])
def test_translate_borrows_the_mouth_whether_the_calm_frames_come_before_or_after(clip, tmp_path, order):
    """The pipeline keeps a donor's mouth as the edit pass decodes it when no frame before it borrows it
    (the calm start); a donor that comes after a frame that borrows it (the clip reversed: the smile
    first) is read before the edit pass. Either way the smiling frames come out with a closed mouth."""
    frames = clip["frames"] if order == "calm first" else clip["frames"][::-1]
    source = tmp_path / "source.mp4"
    with VideoWriter(source, 30, frames[0].shape[1], frames[0].shape[0], crf=12) as writer:
        for rgb in frames:
            writer.write(rgb)
    with VideoReader(source) as reader:
        lms, valid, times, tracks = track_faces(reader)
    plan = MeshEngine("neutral").plan(lms, valid, times, tracks)
    read = _read_donors(source, plan)
    assert read == plan.mouth.frames
    # read before the edit pass: only the donors that some earlier frame borrows
    assert bool(plan.mouth.images) == (order == "smile first")
    out = tmp_path / "calm.mp4"
    result = wav2lip_emotion.translate(source, out, "neutral", progress=False, occluders=False)
    notes = [n for n in result.notes if "borrowed" in n]
    assert len(notes) == 1 and "frame" in notes[0]
    smiling = 60 if order == "calm first" else len(frames) - 1 - 60
    with VideoReader(out) as reader:
        edited = next(f.rgb for f in reader if f.index == smiling)
    assert _opening(edited) < 0.15 * _opening(frames[smiling])


@pytest.mark.parametrize("name", ["feat_happy", "astronaut"])
def test_a_photos_open_smile_keeps_its_mouth_away_from_happy(name):
    """A photo has no calm mouth to borrow: sent to sad, its open smile's corners were pulled down around
    the teeth into a pout. They are now held (85%) while the brows still take the edit; a closed mouth,
    a smiling destination, neutral and a clip are not held."""
    rgb = read_image(asset_path(name))
    lm = FaceTracker().update(rgb, 0.0).landmarks.astype(np.float64)
    one = (lm[None], np.array([True]), np.array([0.0]))
    plan = MeshEngine("sad", glasses="off").plan(*one)
    assert plan.smile_hold is not None
    held = plan.local_displacement(0)
    plan.smile_hold = None
    free = plan.local_displacement(0)
    corners = [61, 291]
    assert np.abs(held[corners]).max() < 0.2 * np.abs(free[corners]).max()
    assert -(held[107, 1] + held[336, 1]) / 2 > 0.1  # the inner brows still rise
    for to in ("happy", "neutral", "surprised", "contempt"):
        assert MeshEngine(to, glasses="off").plan(*one).smile_hold is None, to
    grace = read_image(asset_path("grace_hopper"))  # a closed mouth
    glm = FaceTracker().update(grace, 0.0).landmarks.astype(np.float64)
    assert MeshEngine("sad", glasses="off").plan(glm[None], np.array([True]), np.array([0.0])).smile_hold is None


def test_a_wide_open_smile_is_held_even_where_its_corners_hardly_rise():
    """A wide-open smile's corners hardly rise above its lip midline (AU12 0.13 on this face of dlib's
    group photo 2008_002506.jpg); its width tells it (0.78 IOD corner to corner)."""
    import cv2

    from wav2lip_emotion.expression.fit import FIT_AUS
    from wav2lip_emotion.faces.annotations import dlib_face_boxes

    folder = asset_path("dlib_faces")
    x0, y0, x1, y1 = dlib_face_boxes(folder)["2008_002506.jpg"][0]
    m = 0.6 * (x1 - x0)
    rgb = read_image(folder / "2008_002506.jpg")[int(y0 - m) : int(y1 + m), int(x0 - m) : int(x1 + m)]
    rgb = cv2.resize(rgb, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LANCZOS4)
    lm = FaceTracker().update(rgb, 0.0).landmarks.astype(np.float64)
    plan = MeshEngine("sad", glasses="off").plan(lm[None], np.array([True]), np.array([0.0]))
    assert plan.fit.expression[0, FIT_AUS.index("AU12")] < 0.2
    assert plan.smile_hold is not None and (plan.smile_hold[0][[61, 291]] * plan.smile_hold[1][0]).min() > 0.8


def test_a_clip_that_smiles_throughout_keeps_its_mouth_and_one_with_calm_frames_borrows(clip, tmp_path):
    """single_face's smiling second alone (no calm frame to borrow) sent to sad: its open smile is held,
    steadily (smoothed over 0.3 s, not following the syllables); the whole clip, whose first second is
    calm, borrows the calm mouth where it can and holds nothing there."""
    from wav2lip_emotion.media import VideoWriter

    smiling = tmp_path / "smiling.mp4"
    with VideoReader(asset_path("single_face")) as reader, VideoWriter(smiling, reader.info.fps, 640, 360) as out:
        for f in reader:
            if f.index >= 40:
                out.write(f.rgb)
    for path, borrows in ((smiling, False), (asset_path("single_face"), True)):
        with VideoReader(path, fast_colour=True) as reader:
            landmarks, valid, times, _ = track_faces(reader)
        plan = MeshEngine("sad", glasses="off").plan(landmarks, valid, times)
        assert (plan.mouth is not None) == borrows
        assert plan.smile_hold is not None
        weights, frames = plan.smile_hold
        if borrows:  # where the calm mouth is pasted fully, nothing is held
            full = plan.mouth.weight > 0.99
            assert full.any() and frames[full].max() < 0.05
        else:
            assert frames.min() > 0.5 and np.abs(np.diff(frames)).max() < 0.1  # held throughout, steadily
            assert weights[[61, 291]].min() > 0.8 and weights[[105, 334]].max() == 0.0  # lips, not brows
