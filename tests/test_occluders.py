"""Occluder masks on real faces: hands (MediaPipe palm detector + hand landmarks) and the skin-colour cue."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.blazeface import Detection
from wav2lip_emotion.faces.hands import (
    PALM_INPUT,
    Hand,
    HandConfig,
    HandDetector,
    HandRoi,
    decode_palms,
    landmarks_roi,
    palm_anchors,
    palm_roi,
)
from wav2lip_emotion.faces.occluders import FEATURES, OccluderConfig, OccluderDetector
from wav2lip_emotion.media import VideoReader, read_image

Region = tuple[int, int, int, int]


# ----------------------------------------------------------------------------- real faces


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    return FaceTracker()


@pytest.fixture(scope="module")
def hand_detector() -> HandDetector:
    return HandDetector(HandConfig(search_every=1))


@pytest.fixture(scope="module")
def single_face(tracker) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every 6th frame of the neutral -> smiling clip with its tracked mesh (72 frames tracked)."""
    tracker.reset()
    out = []
    with VideoReader(asset_path("single_face")) as reader:
        for i, frame in enumerate(reader):
            obs = tracker.update(frame.rgb, frame.time)
            if i % 6 == 0:
                assert obs.found
                out.append((frame.rgb, obs.landmarks))
    assert len(out) == 12
    return out


def _photo(tracker: FaceTracker, name: str) -> tuple[np.ndarray, np.ndarray]:
    rgb = read_image(asset_path(name))
    tracker.reset()
    obs = tracker.update(rgb)
    assert obs.found, name
    return rgb, obs.landmarks


def _size(lm: np.ndarray) -> float:
    return float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])))


def _region(rgb: np.ndarray, lm: np.ndarray, margin: float = 0.1) -> Region:
    """The landmarks' box with a margin (a share of the face size), inside the frame."""
    s = _size(lm)
    x0, y0 = np.floor(lm[:, :2].min(0) - margin * s).astype(int)
    x1, y1 = np.ceil(lm[:, :2].max(0) + margin * s).astype(int)
    h, w = rgb.shape[:2]
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def _poly(region: Region, points: np.ndarray) -> np.ndarray:
    """Boolean mask over ``region`` of the convex hull of ``points`` (frame pixels)."""
    x0, y0, x1, y1 = region
    out = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(out, cv2.convexHull(np.round(points[:, :2] - [x0, y0]).astype(np.int32)), 1)
    return out > 0


def _features(region: Region, lm: np.ndarray) -> np.ndarray:
    out = np.zeros((region[3] - region[1], region[2] - region[0]), bool)
    for idx in FEATURES.values():
        out |= _poly(region, lm[list(idx)])
    return out


def _flagged(mask: np.ndarray, where: np.ndarray) -> float:
    return float((mask[where] >= 0.5).mean()) if where.any() else 0.0


def test_clean_clip_is_not_flagged(single_face):
    # the whole detector (hands and colour), fed the clip in order as the mesh engine does
    det = OccluderDetector()
    for rgb, lm in single_face:
        region = _region(rgb, lm)
        mask = det.mask(rgb, lm, region)
        assert mask.shape == (region[3] - region[1], region[2] - region[0]) and mask.dtype == np.float32
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        assert _flagged(mask, _poly(region, lm)) < 0.02
        assert _flagged(mask, _features(region, lm)) < 0.002  # the lips (teeth when smiling), eyes, brows
        assert det.hands == []


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "feat_happy", "feat_surprise"])
def test_clean_photos_are_not_flagged(tracker, name):
    rgb, lm = _photo(tracker, name)
    region = _region(rgb, lm)
    mask = OccluderDetector().mask(rgb, lm, region)
    assert _flagged(mask, _poly(region, lm)) < 0.03
    assert _flagged(mask, _features(region, lm)) < 0.002


# ----------------------------------------------------------------------------- composited objects


def _composite(rgb: np.ndarray, lm: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with an object pasted over the face, and the object's pixels (boolean, frame-sized)."""
    s = _size(lm)
    out = rgb.copy()
    where = np.zeros(rgb.shape[:2], np.uint8)

    def box(centre: np.ndarray, w: float, h: float) -> tuple[slice, slice]:
        cx, cy = centre[:2]
        return slice(int(cy - h / 2), int(cy + h / 2)), slice(int(cx - w / 2), int(cx + w / 2))

    if kind == "grey":  # a grey card on the right cheek
        ys, xs = box(lm[50], 0.22 * s, 0.16 * s)
        out[ys, xs] = 128
        where[ys, xs] = 1
    elif kind == "coloured":  # a blue label on the forehead, just above the brows
        ys, xs = box(lm[151], 0.25 * s, 0.12 * s)
        out[ys, xs] = (40, 90, 200)
        where[ys, xs] = 1
    elif kind == "texture":  # a noisy green-brown check on the left cheek
        ys, xs = box(lm[280], 0.22 * s, 0.2 * s)
        h, w = ys.stop - ys.start, xs.stop - xs.start
        yy, xx = np.mgrid[0:h, 0:w]
        check = ((xx // 4 + yy // 4) % 2).astype(np.float32)[..., None]
        noise = np.random.default_rng(0).normal(0, 15, (h, w, 3))
        out[ys, xs] = np.clip(np.array([60, 140, 40]) + check * np.array([150, 60, 100]) + noise, 0, 255)
        where[ys, xs] = 1
    elif kind == "microphone":  # a dark boom from beyond the cheek to just past the left mouth corner
        corner, other = lm[291, :2], lm[61, :2]
        tip = corner + (other - corner) * 0.12
        start = np.array([lm[:, 0].max() + 0.15 * s, corner[1] - 0.12 * s])
        cv2.line(where, tuple(np.round(start).astype(int)), tuple(np.round(tip).astype(int)), 1, int(0.05 * s))
        cv2.circle(where, tuple(np.round(tip).astype(int)), int(0.04 * s), 1, -1)
        out[where > 0] = (25, 25, 28)
    else:  # pragma: no cover
        raise ValueError(kind)
    return out, where > 0


OBJECTS = ["grey", "coloured", "texture", "microphone"]


def _check_object(mask: np.ndarray, obj: np.ndarray, region: Region, lm: np.ndarray) -> None:
    x0, y0, x1, y1 = region
    obj = obj[y0:y1, x0:x1]
    hull = _poly(region, lm)
    assert _flagged(mask, obj & hull) >= 0.9
    # the rest of the face, away from the object (its dilated mask and soft edge), stays mostly unflagged
    # (hair inside the mesh hull, at the temples, may be: a real occluder too)
    far = cv2.dilate(obj.astype(np.uint8), np.ones((int(0.1 * _size(lm)) | 1,) * 2, np.uint8)) == 0
    assert _flagged(mask, hull & far) < 0.05
    assert _flagged(mask, _features(region, lm) & far) < 0.01


@pytest.mark.parametrize("kind", OBJECTS)
def test_object_over_a_face_in_a_clip(single_face, kind):
    # the skin is learnt from the clean frames of the clip, then the object appears
    det = OccluderDetector(OccluderConfig(hands=False))
    for rgb, lm in single_face[:6]:
        det.mask(rgb, lm, _region(rgb, lm))
    for rgb, lm in single_face[6:]:
        frame, obj = _composite(rgb, lm, kind)
        region = _region(rgb, lm)
        _check_object(det.mask(frame, lm, region), obj, region, lm)


@pytest.mark.parametrize("kind", OBJECTS)
def test_object_over_a_face_in_a_single_photo(tracker, kind):
    # no clean frame first: the skin model is fitted robustly on the occluded photo itself
    rgb, lm = _photo(tracker, "astronaut")
    frame, obj = _composite(rgb, lm, kind)
    region = _region(rgb, lm)
    _check_object(OccluderDetector(OccluderConfig(hands=False)).mask(frame, lm, region), obj, region, lm)


def test_microphone_over_the_mouth_corner_leaves_the_lips(single_face):
    rgb, lm = single_face[-1]
    frame, obj = _composite(rgb, lm, "microphone")
    region = _region(rgb, lm)
    mask = OccluderDetector(OccluderConfig(hands=False)).mask(frame, lm, region)
    lips = _poly(region, lm[list(FEATURES["lips"])])
    x0, y0, x1, y1 = region
    assert _flagged(mask, lips & obj[y0:y1, x0:x1]) == 1.0  # the boom is covered where it crosses the lips
    away = cv2.dilate(obj[y0:y1, x0:x1].astype(np.uint8), np.ones((int(0.08 * _size(lm)) | 1,) * 2, np.uint8)) == 0
    assert _flagged(mask, lips & away) == 0.0  # the rest of the lips stays free to move


def test_mask_is_soft_and_slightly_dilated(single_face):
    rgb, lm = single_face[0]
    frame, obj = _composite(rgb, lm, "grey")
    region = _region(rgb, lm)
    mask = OccluderDetector(OccluderConfig(hands=False)).mask(frame, lm, region)
    x0, y0, x1, y1 = region
    obj = obj[y0:y1, x0:x1]
    values = mask[(mask > 0.02) & (mask < 0.98)]
    assert values.size > 0.3 * np.sqrt(obj.sum()) * 4  # a feathered rim all around, not a hard step
    ring = (cv2.dilate(obj.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~obj
    assert _flagged(mask, ring) > 0.9  # one pixel beyond the object is still masked


def test_region_reaching_outside_the_frame(single_face):
    rgb, lm = single_face[0]
    frame, _obj = _composite(rgb, lm, "grey")
    h, w = rgb.shape[:2]
    region = (-40, -30, w // 2 + 60, h + 20)
    mask = OccluderDetector(OccluderConfig(hands=False)).mask(frame, lm, region)
    assert mask.shape == (h + 50, w // 2 + 100)
    assert mask[:25].max() < 0.05 and mask[:, :35].max() < 0.05  # nothing outside the frame
    assert (mask >= 0.5).sum() > 100


@pytest.mark.parametrize("refit_below", [0.6, 0.0])
def test_light_change_is_relearnt(single_face, refit_below):
    det = OccluderDetector(OccluderConfig(hands=False, refit_below=refit_below))
    for rgb, lm in single_face[:4]:
        det.mask(rgb, lm, _region(rgb, lm))
    rgb, lm = single_face[4]
    warmer = np.clip(rgb * np.array([1.0, 0.8, 0.6]), 0, 255).astype(np.uint8)  # a tungsten light comes on
    region = _region(rgb, lm)
    flagged = _flagged(det.mask(warmer, lm, region), _poly(region, lm))
    if refit_below > 0:
        assert flagged < 0.02  # the skin no longer fits: it is fitted afresh on this frame
    else:
        assert flagged > 0.3  # without the refit the whole face would be an occluder


def test_reset_forgets_the_skin(single_face):
    det = OccluderDetector(OccluderConfig(hands=False))
    rgb, lm = single_face[0]
    det.mask(rgb, lm, _region(rgb, lm))
    assert det.skin is not None
    det.reset()
    assert det.skin is None and det.hands == []


# ----------------------------------------------------------------------------- hands on real photos


def test_hands_found_on_a_real_photo(hand_detector):
    # dlib's 2009_004587.jpg: a man with one hand on the woman's shoulder and one on his hip
    rgb = read_image(asset_path("dlib_faces") / "2009_004587.jpg")
    hand_detector.reset()
    hands = hand_detector.detect(rgb)
    assert len(hands) == 2 and all(h.score > 0.9 for h in hands)
    centres = sorted(((h.box[:2] + h.box[2:]) / 2).round().tolist() for h in hands)
    assert np.allclose(centres[0], [83, 454], atol=15)  # on the hip
    assert np.allclose(centres[1], [255, 228], atol=15)  # on the shoulder
    for hand in hands:
        assert hand.landmarks.shape == (21, 2) and hand.hull().shape[1] == 2


def test_hand_followed_without_a_palm_search(monkeypatch):
    rgb = read_image(asset_path("dlib_faces") / "2009_004587.jpg")
    det = HandDetector(HandConfig(search_every=1000))
    first = det.detect(rgb)  # the first frame searches
    assert len(first) == 2

    def no_search(*_args, **_kwargs):  # pragma: no cover - must not be called
        raise AssertionError("palm search while the hands are followed")

    monkeypatch.setattr(det, "palms", no_search)
    second = det.detect(rgb)
    assert len(second) == 2
    for hand in first:
        match = min(second, key=lambda h: float(np.abs(h.box - hand.box).sum()))
        assert np.abs(match.landmarks - hand.landmarks).max() < 8  # the same hand, same landmarks


def test_hand_under_a_face_is_masked(tracker):
    # dlib's 2008_001009.jpg: a girl's clasped hands just below the woman's chin
    rgb = read_image(asset_path("dlib_faces") / "2008_001009.jpg")
    tracker.reset()
    obs = tracker.update(rgb)
    assert obs.found
    lm = obs.landmarks
    s = _size(lm)
    region = _region(rgb, lm, margin=0.6)
    det = OccluderDetector()
    mask = det.mask(rgb, lm, region)
    assert len(det.hands) == 1 and det.hands[0].score > 0.9
    hand_box = det.hands[0].box
    assert hand_box[1] > lm[152, 1] and hand_box[1] - lm[152, 1] < 0.5 * s  # below the chin, close
    assert _flagged(mask, _poly(region, det.hands[0].landmarks)) == 1.0
    # her hair falls over the tail of her left brow (flagged, rightly); the lips and eyes stay free
    for name in ("lips", "left_eye", "right_eye", "nostrils"):
        assert _flagged(mask, _poly(region, lm[list(FEATURES[name])])) == 0.0, name


def test_real_hand_pasted_over_a_face(single_face, hand_detector):
    # the hip hand of 2009_004587.jpg cut out along its landmarks and pasted over the cheek and nose
    src = read_image(asset_path("dlib_faces") / "2009_004587.jpg")
    hand_detector.reset()
    hand = max(hand_detector.detect(src), key=lambda h: h.box[2] - h.box[0])
    cut = np.zeros(src.shape[:2], np.uint8)
    cv2.fillConvexPoly(cut, np.round(hand.hull()).astype(np.int32), 1)
    cut = cv2.dilate(cut, np.ones((9, 9), np.uint8))
    x0, y0, x1, y1 = (hand.box + np.array([-8, -8, 8, 8])).astype(int)
    patch, alpha = src[y0:y1, x0:x1], cut[y0:y1, x0:x1]

    rgb, lm = single_face[0]
    s = _size(lm)
    k = 0.8 * s / patch.shape[1]
    patch = cv2.resize(patch, None, fx=k, fy=k)
    alpha = cv2.resize(alpha, (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    px, py = int(lm[50, 0] - 0.6 * patch.shape[1]), int(lm[50, 1] - 0.3 * patch.shape[0])
    frame = rgb.copy()
    view = frame[py : py + patch.shape[0], px : px + patch.shape[1]]
    view[alpha] = patch[alpha]
    pasted = np.zeros(rgb.shape[:2], bool)
    pasted[py : py + patch.shape[0], px : px + patch.shape[1]] = alpha

    region = _region(rgb, lm)
    det = OccluderDetector(OccluderConfig(colour=False))  # the hand cue alone: skin is not found by colour
    mask = det.mask(frame, lm, region)
    assert len(det.hands) == 1
    rx0, ry0, rx1, ry1 = region
    assert _flagged(mask, pasted[ry0:ry1, rx0:rx1] & _poly(region, lm)) >= 0.9


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "feat_happy", "feat_surprise", "lenna", "takeo"])
def test_no_hand_on_face_photos(hand_detector, name):
    rgb = read_image(asset_path(name))
    hand_detector.reset()
    assert hand_detector.detect(rgb) == []


def test_no_hand_around_faces(hand_detector, single_face, tracker):
    # the palm search as the occluder detector runs it: a square of 2.5 face sizes around the face
    cases = [single_face[0], single_face[-1], _photo(tracker, "feat_happy"), _photo(tracker, "lenna")]
    for rgb, lm in cases:
        c = (lm[:, :2].min(0) + lm[:, :2].max(0)) / 2
        r = 1.25 * _size(lm)
        hand_detector.reset()
        assert hand_detector.detect(rgb, (int(c[0] - r), int(c[1] - r), int(c[0] + r), int(c[1] + r))) == []


# ----------------------------------------------------------------------------- decoding, on constructed outputs


def _raw_palm(offset: tuple[float, float], size: float, up: float) -> np.ndarray:
    """One anchor's 18 raw values: a palm centred ``offset`` input px from ``anchor``, ``size`` px wide,
    its wrist -> middle-knuckle line pointing at ``up`` (image angle)."""
    raw = np.zeros(18, np.float32)
    raw[0:2] = offset
    raw[2:4] = size
    direction = np.array([np.cos(up), np.sin(up)])
    raw[4:6] = np.array(offset) - 0.3 * size * direction  # keypoint 0: wrist
    raw[8:10] = np.array(offset) + 0.3 * size * direction  # keypoint 2: middle-finger knuckle
    return raw


def test_palm_anchors_match_mediapipe():
    anchors = palm_anchors()
    assert anchors.shape == (2016, 2)  # 24x24 cells x 2 + 12x12 cells x 6
    assert np.allclose(anchors[0], [0.5 / 24, 0.5 / 24]) and np.allclose(anchors[1], anchors[0])
    assert np.allclose(anchors[1152], [0.5 / 12, 0.5 / 12]) and np.allclose(anchors[1152:1158], anchors[1152])
    assert np.allclose(anchors[-1], [11.5 / 12, 11.5 / 12])


def test_decode_palms_and_merge_duplicates():
    anchors = palm_anchors()
    boxes = np.zeros((1, 2016, 18), np.float32)
    scores = np.full((1, 2016, 1), -10.0, np.float32)
    k = 1152 + 6 * (5 * 12 + 7)  # a 12x12-grid anchor: cell (row 5, column 7)
    boxes[0, k] = _raw_palm((4.0, -6.0), 40.0, -np.pi / 2)
    scores[0, k] = 3.0
    boxes[0, k + 1] = _raw_palm((6.0, -6.0), 40.0, -np.pi / 2)
    scores[0, k + 1] = 3.0  # the same palm seen by a second anchor: merged, positions averaged
    boxes[0, 10] = _raw_palm((0.0, 0.0), 30.0, 0.0)
    scores[0, 10] = 0.0  # sigmoid 0.5: kept at min_score 0.5, dropped at 0.6
    found = decode_palms(boxes, scores, anchors, min_score=0.5)
    assert len(found) == 2
    palm = found[0]
    assert palm.score == pytest.approx(1 / (1 + np.exp(-3.0)))
    cx, cy = anchors[k] + np.array([5.0, -6.0]) / PALM_INPUT
    half = 20.0 / PALM_INPUT
    assert np.allclose(palm.box, [cx - half, cy - half, cx + half, cy + half], atol=1e-6)
    assert palm.keypoints.shape == (7, 2)
    assert palm.keypoints[2][1] < palm.keypoints[0][1]  # the knuckle above the wrist
    assert len(decode_palms(boxes, scores, anchors, min_score=0.6)) == 1


@pytest.mark.parametrize("up_deg", [-90.0, 0.0, 30.0, 180.0])
def test_palm_region_turns_the_hand_upright(up_deg):
    up = np.radians(up_deg)
    d = np.array([np.cos(up), np.sin(up)])
    centre = np.array([300.0, 200.0])
    palm = Detection(
        box=np.array([280.0, 180.0, 320.0, 220.0]),
        score=0.9,
        keypoints=np.array([centre - 12 * d, [0, 0], centre + 12 * d, [0, 0], [0, 0], [0, 0], [0, 0]]),
    )
    roi = palm_roi(palm)
    assert roi.size == pytest.approx(40 * 2.6)
    assert np.allclose([roi.cx, roi.cy], centre + 0.5 * 40 * d)  # moved towards the fingers
    m = roi.affine(224)
    wrist, knuckle = (np.array([centre - 12 * d, centre + 12 * d]) @ m[:, :2].T) + m[:, 2]
    assert np.allclose(knuckle - wrist, [0, -24 * 224 / roi.size], atol=1e-6)  # straight up in the crop


def test_landmark_region_follows_the_hand():
    # a schematic right hand pointing to the right of the picture (wrist at the left)
    rng = np.random.default_rng(1)
    pts = np.zeros((21, 2))
    pts[0] = [100, 100]
    for finger, dy in enumerate([-30, -15, 0, 15, 30]):
        for joint in range(4):
            pts[1 + 4 * finger + joint] = [130 + 20 * joint + (10 if finger else 0), 100 + dy * (0.6 + 0.15 * joint)]
    pts += rng.normal(0, 0.5, pts.shape)
    roi = landmarks_roi(pts)
    assert isinstance(roi, HandRoi)
    m = roi.affine(224)
    crop = pts @ m[:, :2].T + m[:, 2]
    assert crop[9, 1] < crop[0, 1] - 20 and abs(crop[9, 0] - crop[0, 0]) < 5  # fingers up
    assert (crop > 0).all() and (crop < 224).all()  # the whole hand in the crop


def test_hand_hull_and_box():
    pts = np.array([[10, 10], [50, 12], [30, 60]] + [[30, 30]] * 18, np.float64)
    hand = Hand(landmarks=pts, score=0.99, box=np.array([10.0, 10.0, 50.0, 60.0]))
    assert len(hand.hull()) == 3


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("rgb", "landmarks", "region", "message"),
    [
        (np.zeros((50, 60), np.uint8), None, (0, 0, 10, 10), "frame must be HxWx3 RGB, got shape (50, 60)"),
        (np.zeros((50, 60, 3), np.float32), None, (0, 0, 10, 10), "frame must be uint8 RGB, got dtype float32"),
        ([[1, 2, 3]], None, (0, 0, 10, 10), "frame must be a numpy array"),
        (None, np.zeros((68, 2)), (0, 0, 10, 10), "landmarks must be [468, 2] or [468, 3] face-mesh points"),
        (None, np.full((468, 2), np.nan), (0, 0, 10, 10), "landmarks hold NaN"),
        (None, None, (10, 0, 10, 10), "region (10, 0, 10, 10) is empty"),
        (None, None, (0, 0, 10), "region must be four integers"),
    ],
)
def test_bad_input_is_a_clear_error(single_face, rgb, landmarks, region, message):
    good_rgb, good_lm = single_face[0]
    det = OccluderDetector(OccluderConfig(hands=False))
    with pytest.raises(ConfigError) as err:
        det.mask(good_rgb if rgb is None else rgb, good_lm if landmarks is None else landmarks, region)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="grow_distance <= seed_distance"):
        OccluderConfig(seed_distance=3.0, grow_distance=4.0)
    with pytest.raises(ConfigError, match="search_every must be at least 1"):
        HandConfig(search_every=0)
    with pytest.raises(ConfigError, match="frame must be HxWx3"):
        HandDetector(HandConfig()).detect(np.zeros((4, 4), np.uint8))
