"""Hands: MediaPipe's palm detector and hand-landmark model, decoded in NumPy and followed through a video.

A full search runs the palm detector (192 px letterboxed input, SSD anchors, weighted non-maximum
suppression, as :mod:`.blazeface` does for faces) on the frame or on a region of it; each palm gives a
rotated square around the whole hand (the palm box enlarged 2.6 times and moved towards the fingers,
turned so the wrist -> middle-finger direction points up), on which the landmark model gives 21 points
and a hand-presence score. On the next frame the hand is followed from its own landmarks (a square 2x
their extent) and only the landmark model runs; the palm detector runs again every ``search_every``
frames while fewer than ``max_hands`` hands are followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from .blazeface import Detection, box_iou, ssd_anchors, weighted_nms
from .tflite import TFLiteModel

#: MediaPipe's palm-detection SSD set-up (192 px input, 4 layers, 2 anchors per cell: 24x24x2 + 12x12x6)
PALM_INPUT = 192
PALM_STRIDES = (8, 16, 16, 16)
PALM_ANCHORS_PER_LAYER = 2
#: the palm detector's 7 keypoints: 0 = wrist centre, 2 = middle-finger knuckle (their line gives the roll)
PALM_WRIST, PALM_MIDDLE = 0, 2
PALM_KEYPOINTS = 7
#: the hand region from a palm: the palm box this many times larger, moved this share of its height
#: towards the fingers (the palm box covers the palm only)
PALM_TO_HAND_SCALE = 2.6
PALM_TO_HAND_SHIFT = 0.5
#: the hand region from the previous frame's landmarks: 2x their extent, 0.1 of it towards the fingers
TRACK_SCALE = 2.0
TRACK_SHIFT = 0.1
#: landmark indices: wrist, middle-finger knuckle, and the points the tracking region is built from
#: (the wrist and the two lowest joints of each finger: stable when the fingers bend)
WRIST, MIDDLE_MCP = 0, 9
TRACK_POINTS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
NUM_LANDMARKS = 21


@dataclass(frozen=True)
class Hand:
    """One hand in image pixels."""

    #: [21, 2] x, y in pixels (MediaPipe's order: wrist, thumb 1-4, index 5-8, middle 9-12, ring, pinky)
    landmarks: np.ndarray
    #: the landmark model's hand-presence probability
    score: float
    #: [x0, y0, x1, y1] of the landmarks
    box: np.ndarray

    def hull(self) -> np.ndarray:
        """The convex hull of the landmarks, [K, 2] float32 pixels."""
        return cv2.convexHull(self.landmarks.astype(np.float32))[:, 0]


@dataclass
class HandConfig:
    """How hands are found and followed."""

    #: minimum palm-detector score of a candidate (MediaPipe's default)
    min_palm_score: float = 0.5
    #: minimum hand-presence score to keep following a hand (MediaPipe's default)
    min_presence: float = 0.5
    #: minimum hand-presence score to accept a new hand from a palm (real hands score ~0.99 on the
    #: test photos; this rejects the palm detector's false positives on textures, which score 0.5-0.7)
    min_acquire_presence: float = 0.9
    #: hands followed at most
    max_hands: int = 2
    #: frames between palm searches while fewer than ``max_hands`` hands are followed (1 = every frame;
    #: the palm detector costs several times the landmark model)
    search_every: int = 5
    #: threads for the TFLite runtime
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.max_hands < 1:
            raise ConfigError(f"HandConfig.max_hands must be at least 1, got {self.max_hands}")
        if self.search_every < 1:
            raise ConfigError(f"HandConfig.search_every must be at least 1, got {self.search_every}")


def palm_anchors() -> np.ndarray:
    """The palm detector's 2016 anchor centres [N, 2] in [0, 1] (fixed anchor size 1)."""
    return ssd_anchors(PALM_INPUT, PALM_STRIDES, PALM_ANCHORS_PER_LAYER)


def decode_palms(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float, iou: float = 0.3
) -> list[Detection]:
    """Palm detections in the unit square of the model input, merged by weighted NMS, best first.

    ``raw_boxes`` [.., N, 18]: centre offset, width, height, then 7 keypoint offsets, all in input pixels
    relative to the anchor centre; ``raw_scores`` [.., N] logits (clipped to +-100, as MediaPipe does).
    """
    n = len(anchors)
    raw_boxes = np.asarray(raw_boxes, np.float64).reshape(n, -1)
    logits = np.clip(np.asarray(raw_scores, np.float64).reshape(n), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    reg = raw_boxes[keep] / PALM_INPUT
    a = anchors[keep].astype(np.float64)
    cx, cy = reg[:, 0] + a[:, 0], reg[:, 1] + a[:, 1]
    w, h = reg[:, 2], reg[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = reg[:, 4 : 4 + 2 * PALM_KEYPOINTS].reshape(-1, PALM_KEYPOINTS, 2) + a[:, None, :]
    return weighted_nms(boxes, scores[keep], kps, iou)


@dataclass(frozen=True)
class HandRoi:
    """A rotated square in image pixels where a hand is looked for: centre, side, and ``up``, the image
    direction (radians, ``atan2(dy, dx)`` with y down) of wrist -> fingers, which points up in the crop."""

    cx: float
    cy: float
    size: float
    up: float

    def rotation(self) -> np.ndarray:
        """2x2 matrix turning image offsets into crop offsets (``up`` becomes (0, -1))."""
        t = -np.pi / 2 - self.up
        c, s = np.cos(t), np.sin(t)
        return np.array([[c, -s], [s, c]])

    def affine(self, out_size: int) -> np.ndarray:
        """2x3 matrix mapping image pixels into an ``out_size`` square crop of this region."""
        rot = self.rotation() * (out_size / self.size)
        centre = np.array([self.cx, self.cy])
        return np.column_stack([rot, out_size / 2 - rot @ centre])


def _up_roi(points: np.ndarray, up: np.ndarray, scale: float, shift: float) -> HandRoi:
    """The square around ``points`` in the frame where ``up`` (an image direction) points up, ``scale``
    times their extent, moved ``shift`` of their height along ``up``."""
    rot = HandRoi(0.0, 0.0, 1.0, float(np.arctan2(up[1], up[0]))).rotation()
    centre = points.mean(axis=0)
    local = (points - centre) @ rot.T
    lo, hi = local.min(axis=0), local.max(axis=0)
    mid = (lo + hi) / 2 - np.array([0.0, shift * (hi[1] - lo[1])])
    centre = centre + mid @ rot  # rot is orthonormal: its transpose turns back
    side = float(max(hi - lo)) * scale
    return HandRoi(float(centre[0]), float(centre[1]), max(side, 8.0), float(np.arctan2(up[1], up[0])))


def palm_roi(palm: Detection) -> HandRoi:
    """The rotated square around the whole hand of a palm detection (image pixels)."""
    up = palm.keypoints[PALM_MIDDLE] - palm.keypoints[PALM_WRIST]
    a = float(np.arctan2(up[1], up[0]))
    x0, y0, x1, y1 = palm.box
    w, h = x1 - x0, y1 - y0
    # as MediaPipe: sized on the axis-aligned palm box whatever the roll, moved towards the fingers
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + PALM_TO_HAND_SHIFT * h * np.array([np.cos(a), np.sin(a)])
    return HandRoi(float(centre[0]), float(centre[1]), max(float(max(w, h)) * PALM_TO_HAND_SCALE, 8.0), a)


def landmarks_roi(landmarks: np.ndarray) -> HandRoi:
    """The rotated square where the hand of ``landmarks`` [21, 2+] is looked for in the next frame."""
    pts = np.asarray(landmarks, np.float64)[:, :2]
    return _up_roi(pts[list(TRACK_POINTS)], pts[MIDDLE_MCP] - pts[WRIST], TRACK_SCALE, TRACK_SHIFT)


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])


def check_rgb(rgb: object, what: str = "frame") -> np.ndarray:
    """``rgb`` as an HxWx3 uint8 array, or a one-line ConfigError naming the problem."""
    if not isinstance(rgb, np.ndarray):
        raise ConfigError(f"{what} must be a numpy array (HxWx3 uint8 RGB), got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ConfigError(f"{what} must be HxWx3 RGB, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ConfigError(f"{what} must be uint8 RGB, got dtype {rgb.dtype}")
    return rgb


class HandDetector:
    """Find hands in RGB frames and follow them from frame to frame (feed a clip's frames in order;
    :meth:`reset` between clips)."""

    def __init__(
        self,
        config: HandConfig | None = None,
        *,
        palm_model: str | Path | None = None,
        landmark_model: str | Path | None = None,
    ) -> None:
        self.config = config or HandConfig()
        if palm_model is None or landmark_model is None:
            from ..assets.store import asset_path

            palm_model = palm_model or asset_path("palm_detection")
            landmark_model = landmark_model or asset_path("hand_landmarks")
        self.palm_model = TFLiteModel(palm_model, num_threads=self.config.num_threads)
        self.landmark_model = TFLiteModel(landmark_model, num_threads=self.config.num_threads)
        self.landmark_size = self.landmark_model.input_size[0]
        self.anchors = palm_anchors()
        self.reset()

    def reset(self) -> None:
        """Forget the followed hands (the next frame starts with a palm search)."""
        self._rois: list[HandRoi] = []
        self._since_search = self.config.search_every  # search on the next frame

    # ----------------------------------------------------------------- the two models

    def palms(self, rgb: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[Detection]:
        """One palm-detector pass on the frame or on ``region`` (x0, y0, x1, y1) of it; image pixels."""
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = (0, 0, w, h) if region is None else region
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        crop = rgb[y0:y1, x0:x1]
        ch, cw = crop.shape[:2]
        size = PALM_INPUT
        scale = size / max(ch, cw)
        nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
        resized = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((size, size, 3), np.float32)  # letterbox: black borders, as MediaPipe pads
        px, py = (size - nw) // 2, (size - nh) // 2
        canvas[py : py + nh, px : px + nw] = resized.astype(np.float32) / 255.0
        raw_boxes, raw_scores = self.palm_model(canvas)
        found = decode_palms(raw_boxes, raw_scores, self.anchors, self.config.min_palm_score)
        offset = np.array([px, py], np.float64)
        origin = np.array([x0, y0], np.float64)
        out = []
        for d in found:
            box = (d.box.reshape(2, 2) * size - offset) / scale + origin
            kps = (d.keypoints * size - offset) / scale + origin
            out.append(Detection(box=box.reshape(4), score=d.score, keypoints=kps))
        return out

    def landmarks(self, rgb: np.ndarray, roi: HandRoi) -> tuple[np.ndarray, float]:
        """The landmark model on ``roi``: [21, 3] (x, y image pixels, z relative depth) and hand presence."""
        size = self.landmark_size
        m = roi.affine(size)
        crop = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        raw_landmarks, raw_presence, _handedness, _world = self.landmark_model(crop.astype(np.float32) / 255.0)
        pts = raw_landmarks.reshape(NUM_LANDMARKS, 3).astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = pts[:, 2] * (roi.size / size)
        return np.column_stack([xy, z]), float(np.clip(raw_presence.reshape(-1)[0], 0.0, 1.0))

    # ----------------------------------------------------------------- detection and tracking

    def detect(self, rgb: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[Hand]:
        """The hands in this frame (RGB uint8), best first. Hands followed from the previous frame are
        updated; new ones are searched for in ``region`` (x0, y0, x1, y1; default the whole frame)."""
        check_rgb(rgb)
        cfg = self.config
        hands: list[Hand] = []
        for roi in self._rois:
            hand = self._hand(rgb, roi, cfg.min_presence)
            if hand is not None and not _duplicate(hand, hands):
                hands.append(hand)
        self._since_search += 1
        if len(hands) < cfg.max_hands and self._since_search >= cfg.search_every:
            self._since_search = 0
            for palm in self.palms(rgb, region):
                if len(hands) >= cfg.max_hands:
                    break
                centre = (palm.box[:2] + palm.box[2:]) / 2
                if any(_inside(centre, h.box) for h in hands):
                    continue  # a hand already followed
                hand = self._hand(rgb, palm_roi(palm), cfg.min_acquire_presence)
                if hand is not None and not _duplicate(hand, hands):
                    hands.append(hand)
        hands.sort(key=lambda h: -h.score)
        self._rois = [landmarks_roi(h.landmarks) for h in hands]
        return hands

    def _hand(self, rgb: np.ndarray, roi: HandRoi, min_presence: float) -> Hand | None:
        pts, presence = self.landmarks(rgb, roi)
        if presence < min_presence:
            return None
        xy = pts[:, :2]
        return Hand(landmarks=xy, score=presence, box=_box_of(xy))


def _inside(point: np.ndarray, box: np.ndarray) -> bool:
    return bool(box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3])


def _duplicate(hand: Hand, hands: list[Hand]) -> bool:
    """The same hand found twice (two regions converging on it)."""
    if not hands:
        return False
    return bool((box_iou(hand.box, np.stack([h.box for h in hands])) > 0.5).any())
