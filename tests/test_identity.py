"""Face identity: dlib's 128-d descriptor on real photos, box conversion, no-face errors, video means."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import ConfigError, MediaError
from wav2lip_emotion.media import VideoReader, read_image
from wav2lip_emotion.perception.identity import (
    DESCRIPTOR_SIZE,
    SAME_PERSON_THRESHOLD,
    FaceIdentity,
    distance,
    dlib_rect_from_box,
    dlib_rect_from_landmarks,
    identity_distance,
    same_person,
)

_MODELS = ("dlib_face_recognition", "dlib_landmarks_68")


@pytest.fixture(scope="module")
def ident() -> FaceIdentity:
    # `make test` fetches the dlib models (asset group "test"); asset_path fetches them otherwise
    for name in _MODELS:
        asset_path(name)
    return FaceIdentity()


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: read_image(asset_path(name)) for name in ("astronaut", "grace_hopper", "feat_happy")}


def _scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    return cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------------------ pure helpers


def test_threshold_and_distance():
    assert SAME_PERSON_THRESHOLD == 0.6
    a = np.zeros(DESCRIPTOR_SIZE)
    b = np.zeros(DESCRIPTOR_SIZE)
    b[0] = 0.3
    b[1] = 0.4
    assert distance(a, b) == pytest.approx(0.5)
    assert same_person(a, b) and not same_person(a, b * 2)
    with pytest.raises(ConfigError, match="different lengths"):
        distance(a, np.zeros(5))


def test_mesh_box_to_dlib_rectangle():
    # height 200 -> a square of side 188, centre (150, 200 - 4)
    assert dlib_rect_from_box([100, 100, 200, 300]) == (56, 102, 244, 290)
    for bad in ([1, 2, 3], [0, 0, 0, 10], [0, 0, np.nan, 10], "box"):
        with pytest.raises(ConfigError):
            dlib_rect_from_box(bad)


def test_rectangle_from_landmarks_is_square_around_eyes_and_mouth():
    pts = np.zeros((68, 2))
    pts[36:48] = (100.0, 100.0)  # eyes' centre
    pts[48:68] = (100.0, 200.0)  # mouth's centre: 100 px below
    left, top, right, bottom = dlib_rect_from_landmarks(pts)
    # a square of side 2.21 x the eye-mouth distance (up to rounding to whole pixels)
    assert right - left == pytest.approx(221, abs=1) and bottom - top == pytest.approx(221, abs=1)
    assert (left + right) / 2 == pytest.approx(100, abs=1)
    assert top < 100 and bottom > 200


# ------------------------------------------------------------------------------ real photos


def test_descriptor_shape(ident, photos):
    d = ident.descriptor(photos["astronaut"])
    assert d.shape == (DESCRIPTOR_SIZE,) and d.dtype == np.float64
    assert np.all(np.isfinite(d)) and 0.1 < np.linalg.norm(d) < 10


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "feat_happy"])
def test_same_photo_flipped_or_rescaled_is_the_same_person(ident, photos, name):
    rgb = photos[name]
    d = ident.descriptor(rgb)
    flipped = ident.descriptor(np.ascontiguousarray(rgb[:, ::-1]))
    smaller = ident.descriptor(_scaled(rgb, 0.6))
    assert distance(d, flipped) < 0.3
    assert distance(d, smaller) < 0.3


def test_different_people_are_far_apart(ident, photos):
    assert ident.identity_distance(photos["astronaut"], photos["grace_hopper"]) > SAME_PERSON_THRESHOLD
    assert identity_distance(photos["astronaut"], photos["grace_hopper"], ident) > SAME_PERSON_THRESHOLD


def test_given_box_equals_found_box(ident, photos):
    rgb = photos["grace_hopper"]
    found = ident.find_face(rgb)
    assert found is not None and found[1] == "mesh"
    assert distance(ident.descriptor(rgb), ident.descriptor(rgb, np.array(found[0]))) < 1e-9
    marks = ident.landmarks(rgb)
    assert marks.shape == (68, 2)
    x0, y0, x1, y1 = found[0]
    assert np.all((marks[:, 0] > x0 - 10) & (marks[:, 0] < x1 + 10) & (marks[:, 1] > y0) & (marks[:, 1] < y1 + 10))


def test_hog_detector_agrees_with_the_tracker(ident, photos):
    hog = FaceIdentity(detector="hog")
    rgb = photos["feat_happy"]
    assert distance(hog.descriptor(rgb), ident.descriptor(rgb)) < 0.15


def test_no_face_is_a_clear_error(ident):
    blank = np.full((240, 320, 3), 128, np.uint8)
    with pytest.raises(MediaError, match=r"^no face found in image$"):
        ident.descriptor(blank)
    with pytest.raises(MediaError, match="no face found in the second image"):
        ident.identity_distance(read_image(asset_path("astronaut")), blank)
    with pytest.raises(MediaError, match=r"no face found in blank\.png"):
        FaceIdentity(detector="hog").descriptor(blank, what="blank.png")


def test_bad_inputs(ident):
    with pytest.raises(MediaError, match="uint8"):
        ident.descriptor(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(MediaError, match="HxWx3"):
        ident.descriptor(np.zeros((64, 64, 2), np.uint8))
    with pytest.raises(ConfigError, match="unknown face detector"):
        FaceIdentity(detector="cnn")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no such dlib model file"):
        FaceIdentity("/nonexistent/shape_predictor.dat").descriptor(np.zeros((64, 64, 3), np.uint8), [0, 0, 9, 9])


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"bad\.dat: not a dlib shape_predictor model"):
        FaceIdentity(bad).descriptor(np.zeros((64, 64, 3), np.uint8), [0, 0, 9, 9])


# ------------------------------------------------------------------------------ frame sequences


def test_mean_descriptor_over_frames_and_boxes(ident, photos):
    rgb = photos["astronaut"]
    blank = np.zeros_like(rgb)
    frames = [rgb, blank, np.ascontiguousarray(rgb[:, ::-1])]
    found = ident.descriptors(frames, every=1)
    assert found.shape == (2, DESCRIPTOR_SIZE)  # the blank frame is skipped
    mean = ident.mean_descriptor(frames, every=1)
    assert np.allclose(mean, found.mean(axis=0))
    assert distance(mean, ident.descriptor(rgb)) < 0.2
    assert ident.descriptors(frames, every=2).shape == (2, DESCRIPTOR_SIZE)  # frames 0 and 2

    box = np.array(ident.find_face(rgb)[0])
    given = ident.descriptors([rgb, blank], boxes=[box, None], every=1)
    assert given.shape == (1, DESCRIPTOR_SIZE)
    assert distance(given[0], ident.descriptor(rgb)) < 1e-9
    with pytest.raises(ConfigError, match="frames and boxes differ in number"):
        ident.descriptors([rgb, blank], boxes=[box], every=1)
    with pytest.raises(MediaError, match=r"no face found in clip.mp4 \(none in any of its 2 sampled frames\)"):
        ident.mean_descriptor([blank, blank], every=1, what="clip.mp4")
    with pytest.raises(ConfigError, match="every must be >= 1"):
        ident.mean_descriptor([rgb], every=0)


def test_mean_descriptor_of_a_real_clip(ident):
    with VideoReader(asset_path("single_face")) as reader:
        frames = list(reader)
    mean = ident.mean_descriptor(frames, every=10)
    assert mean.shape == (DESCRIPTOR_SIZE,)
    # the clip's person, smiling or not, stays close to the clip's own mean and to its first frame
    assert distance(mean, ident.descriptor(frames[0].rgb)) < 0.3
    assert distance(mean, ident.descriptor(frames[-1].rgb)) < 0.3
