"""Follow the main speaker's face through a video: detect, verify with the mesh, track, smooth.

Per frame the tracker first runs the face mesh on a region predicted from the previous frame's
landmarks (cheap, and it ignores every other face). When that fails it searches around the last
position with the detectors, and after ``max_misses`` failed frames it searches the whole frame
again (whole-frame passes of both BlazeFace models plus overlapping tiles, so that small faces in
large frames are found). Every candidate is verified by the mesh's face score, which rejects the
detectors' false positives. Frames where no face is found are reported, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from .blazeface import BlazeFace, Detection, box_iou, weighted_nms
from .mesh import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, FaceMesh, Roi, eye_angle
from .smoothing import OneEuroFilter


class DetectorKind(StrEnum):
    """Face detectors the tracker can use to (re)acquire a face."""

    #: both MediaPipe BlazeFace models (short range + full range) plus tiles for small faces
    BLAZEFACE = "blazeface"
    #: only the short-range model on the whole frame (fastest; faces must fill much of the frame)
    BLAZEFACE_SHORT = "blazeface_short"


@dataclass
class TrackerConfig:
    """How faces are found and followed. Defaults suit talking-head video."""

    #: detector used to acquire and re-acquire the face
    detector: DetectorKind = DetectorKind.BLAZEFACE
    #: minimum BlazeFace score of a candidate
    min_detection_score: float = 0.5
    #: minimum face-mesh presence score to keep following a face
    min_face_score: float = 0.5
    #: minimum face-mesh presence score to accept a new detector candidate (real faces score ~1.0;
    #: this rejects face-like patterns the detectors fire on)
    min_acquire_score: float = 0.9
    #: frames a lost face is searched for near its last position before a whole-frame search
    max_misses: int = 10
    #: a shot cut: the mean absolute change, in grey levels, of a grid of about 32x18 pixels sampled from
    #: the frame, from the previous frame (steady and handheld shots: at most 12; a cut: about 70). A
    #: face lost at a cut is searched for in the whole frame at once (in the new shot it is elsewhere,
    #: or it is someone else's); 0 = never
    cut_threshold: float = 20.0
    #: a face lost for longer than ``max_misses`` frames and found again within this many seconds of
    #: when it was last seen, where it was (its centre within half its size of the old one, its size
    #: within 1.5x), with no shot cut in between, continues its track: most likely the same person,
    #: who turned away or was covered for a while. Anything else starts a new track; 0 = never rejoin
    rejoin_seconds: float = 5.0
    #: One-Euro smoothing of box and landmarks (min cut-off in Hz, speed coefficient); smooth=False disables
    smooth: bool = True
    smoothing_min_cutoff: float = 1.5
    smoothing_beta: float = 3.0
    #: the mesh's region of interest is the face box enlarged this many times
    roi_scale: float = 1.5
    #: threads for the TFLite runtime
    num_threads: int = 1
    #: frame rate assumed when frames come without timestamps
    fallback_fps: float = 25.0


@dataclass
class FaceObservation:
    """The tracked face in one frame (or its absence)."""

    index: int
    time: float
    found: bool
    #: [x0, y0, x1, y1] of the (smoothed) landmarks in pixels, None when not found
    box: np.ndarray | None = None
    #: [468, 3] (smoothed) mesh landmarks: x, y in pixels, z relative depth
    landmarks: np.ndarray | None = None
    #: the mesh's face-presence score
    score: float = 0.0
    #: "tracked" (mesh on the predicted region), "detected" (a detector found it), or "none"
    method: str = "none"
    #: raw detector candidates considered in this frame (for previews)
    candidates: list[Detection] = field(default_factory=list)
    #: which track the face belongs to: a new number whenever the tracker starts afresh with a
    #: whole-frame search (the first face, a face found after a shot cut, or after a long loss
    #: somewhere else or later than ``TrackerConfig.rejoin_seconds``), when it may be someone else; a
    #: face found again where it was lost, soon, in the same shot, keeps its number; -1 when not found
    track: int = -1

    def to_json(self, landmarks: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "time": round(self.time, 4),
            "found": self.found,
            "score": round(self.score, 4),
            "method": self.method,
            "track": self.track,
            "box": None if self.box is None else [round(float(v), 2) for v in self.box],
        }
        if landmarks:
            # x, y (pixels) and z (relative depth): the mesh engine fits the head pose in 3D from them
            out["landmarks"] = None if self.landmarks is None else np.round(self.landmarks[:, :3], 2).tolist()
        return out


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])


class FaceTracker:
    """Stateful tracker of one face; feed frames in order with :meth:`update` or :meth:`track`."""

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        short_range_model: str | Path | None = None,
        full_range_model: str | Path | None = None,
        mesh_model: str | Path | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        cfg = self.config
        if short_range_model is None or mesh_model is None or full_range_model is None:
            from ..assets.store import asset_path

            short_range_model = short_range_model or asset_path("blazeface_short")
            full_range_model = full_range_model or asset_path("blazeface_full")
            mesh_model = mesh_model or asset_path("face_mesh")
        self.short = BlazeFace(short_range_model, "short", cfg.min_detection_score, num_threads=cfg.num_threads)
        self.full = (
            BlazeFace(full_range_model, "full", cfg.min_detection_score, num_threads=cfg.num_threads)
            if DetectorKind(cfg.detector) is DetectorKind.BLAZEFACE
            else None
        )
        self.mesh = FaceMesh(mesh_model, num_threads=cfg.num_threads)
        self._box_filter = OneEuroFilter(cfg.smoothing_min_cutoff, cfg.smoothing_beta)
        self._landmark_filter = OneEuroFilter(cfg.smoothing_min_cutoff, cfg.smoothing_beta)
        #: tracks started so far (never reset: numbers stay distinct)
        self._tracks = 0
        self.reset()

    # ----------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget the current face (the next frame starts a whole-frame search)."""
        self._landmarks: np.ndarray | None = None  # raw landmarks of the last found frame
        self._misses = 0
        self._index = 0
        self._thumb: np.ndarray | None = None
        self._track = -1
        #: the face lost for long that a new face may continue: (its box, when it was last seen, its track)
        self._lost: tuple[np.ndarray, float, int] | None = None
        self._seen = 0.0
        self._box_filter.reset()
        self._landmark_filter.reset()

    # ----------------------------------------------------------------- detection

    def candidates(self, rgb: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[Detection]:
        """All detector candidates in the frame (or a region of it), merged by weighted NMS."""
        h, w = rgb.shape[:2]
        if region is None:
            region = (0, 0, w, h)
        x0, y0, x1, y1 = region
        found: list[Detection] = list(self.short(rgb, region))
        if self.full is not None:
            found += self.full(rgb, region)
            rw, rh = x1 - x0, y1 - y0
            tile = max(128, min(rw, rh) // 2)
            if max(rw, rh) > 1.5 * tile:  # small faces in a large picture: overlapping tiles
                stride = tile // 2
                for ty in _starts(rh, tile, stride):
                    for tx in _starts(rw, tile, stride):
                        found += self.short(rgb, (x0 + tx, y0 + ty, x0 + tx + tile, y0 + ty + tile))
        if not found:
            return []
        boxes = np.stack([d.box for d in found])
        scores = np.array([d.score for d in found])
        kps = np.stack([d.keypoints for d in found])
        return weighted_nms(boxes, scores, kps, 0.3)

    def _verify(self, rgb: np.ndarray, det: Detection) -> tuple[np.ndarray, float] | None:
        angle = eye_angle(det.keypoints[0], det.keypoints[1])
        roi = Roi(*det.center, size=det.size * self.config.roi_scale, angle=angle)
        landmarks, score = self.mesh(rgb, roi)
        if score < self.config.min_acquire_score:
            return None
        # a second pass on the landmark-based region (tighter, rotation-corrected) must agree
        refined, score2 = self.mesh(rgb, self._roi_from_landmarks(landmarks))
        if score2 < self.config.min_acquire_score:
            return None
        return refined, score2

    def _roi_from_landmarks(self, landmarks: np.ndarray) -> Roi:
        angle = eye_angle(landmarks[RIGHT_EYE_OUTER, :2], landmarks[LEFT_EYE_OUTER, :2])
        return Roi.around(landmarks[:, :2], self.config.roi_scale, angle)

    def _acquire(
        self, rgb: np.ndarray, region: tuple[int, int, int, int] | None, near: np.ndarray | None
    ) -> tuple[np.ndarray, float, list[Detection]] | None:
        cands = self.candidates(rgb, region)
        best: tuple[float, np.ndarray, float] | None = None
        for det in sorted(cands, key=lambda d: -d.score)[:6]:
            verified = self._verify(rgb, det)
            if verified is None:
                continue
            landmarks, score = verified
            box = _box_of(landmarks)
            size = max(box[2] - box[0], box[3] - box[1])
            if near is not None:  # re-acquisition: prefer the face closest to where it was
                rank = -float(np.hypot(*((box[:2] + box[2:]) / 2 - (near[:2] + near[2:]) / 2))) / max(size, 1.0)
            else:  # first acquisition: the main speaker is the most prominent face
                rank = size * score
            if best is None or rank > best[0]:
                best = (rank, landmarks, score)
        if best is None:
            return None
        return best[1], best[2], cands

    # ----------------------------------------------------------------- tracking

    def update(self, rgb: np.ndarray, time: float | None = None) -> FaceObservation:
        """Process the next frame (RGB uint8) and return the face found in it, if any."""
        cfg = self.config
        index = self._index
        self._index += 1
        t = float(time) if time is not None else index / cfg.fallback_fps
        h, w = rgb.shape[:2]
        landmarks: np.ndarray | None = None
        score = 0.0
        method = "none"
        cands: list[Detection] = []

        if self._landmarks is not None:
            tracked, s = self.mesh(rgb, self._roi_from_landmarks(self._landmarks))
            if s >= cfg.min_face_score and _plausible(tracked, self._landmarks):
                landmarks, score, method = tracked, s, "tracked"
        cut = self._cut(rgb)
        if cut:
            self._lost = None  # a new shot: a face found from now on starts a new track
        if landmarks is None:
            last_box = _box_of(self._landmarks) if self._landmarks is not None else None
            if last_box is not None and self._misses < cfg.max_misses and not cut:
                size = max(last_box[2] - last_box[0], last_box[3] - last_box[1])
                cx, cy = (last_box[:2] + last_box[2:]) / 2
                r = 1.5 * size
                region = (
                    int(max(0, cx - r)),
                    int(max(0, cy - r)),
                    int(min(w, cx + r)),
                    int(min(h, cy + r)),
                )
                got = (
                    self._acquire(rgb, region, last_box)
                    if region[2] - region[0] > 8 and region[3] - region[1] > 8
                    else None
                )
            else:
                if last_box is not None:  # lost for too long, or at a shot cut: start afresh
                    thumb, lost = self._thumb, None if cut else (last_box, self._seen, self._track)
                    self.reset()
                    self._index, self._thumb, self._lost = index + 1, thumb, lost
                got = self._acquire(rgb, None, None)
                if got is not None:
                    if self._rejoins(got[0], t):
                        self._track = self._lost[2]  # type: ignore[index]
                    else:
                        self._tracks += 1
                        self._track = self._tracks
                    self._lost = None
            if got is not None:
                landmarks, score, cands = got
                method = "detected"

        if landmarks is None:
            self._misses += 1
            return FaceObservation(index, t, False, score=score, method="none", candidates=cands)

        self._misses = 0
        self._landmarks = landmarks
        self._seen = t
        box = _box_of(landmarks)
        size = float(max(box[2] - box[0], box[3] - box[1]))
        if cfg.smooth:
            box = self._box_filter(box, t, scale=size)
            smoothed = self._landmark_filter(landmarks[:, :2].reshape(-1), t, scale=size).reshape(-1, 2)
            landmarks = np.column_stack([smoothed, landmarks[:, 2]])
        return FaceObservation(
            index, t, True, box=box, landmarks=landmarks, score=score, method=method, candidates=cands,
            track=self._track,
        )  # fmt: skip

    def _rejoins(self, landmarks: np.ndarray, t: float) -> bool:
        """Whether a face found by a whole-frame search continues the track lost for long (see
        ``TrackerConfig.rejoin_seconds``)."""
        if self._lost is None or not 0 <= t - self._lost[1] <= self.config.rejoin_seconds:
            return False
        old, new = self._lost[0], _box_of(landmarks)
        old_size = max(old[2] - old[0], old[3] - old[1], 1.0)
        new_size = max(new[2] - new[0], new[3] - new[1], 1.0)
        moved = float(np.hypot(*((new[:2] + new[2:]) / 2 - (old[:2] + old[2:]) / 2)))
        return moved <= 0.5 * old_size and 1 / 1.5 <= new_size / old_size <= 1.5

    def _cut(self, rgb: np.ndarray) -> bool:
        """Whether this frame starts a new shot (see ``TrackerConfig.cut_threshold``)."""
        if self.config.cut_threshold <= 0:
            return False
        h, w = rgb.shape[:2]
        # every (h/18)th row and (w/32)th column: a cut changes most of them, and sampling costs nothing
        small = rgb[:: max(h // 18, 1), :: max(w // 32, 1)].astype(np.float32)
        thumb = small.mean(axis=2) if small.ndim == 3 else small
        previous, self._thumb = self._thumb, thumb
        return previous is not None and float(np.abs(thumb - previous).mean()) > self.config.cut_threshold

    def track(self, frames: Iterable[Any]) -> Iterator[FaceObservation]:
        """Track through frames: objects with ``.rgb`` and ``.time`` (media.Frame) or bare RGB arrays."""
        for frame in frames:
            if isinstance(frame, np.ndarray):
                yield self.update(frame)
            else:
                yield self.update(frame.rgb, getattr(frame, "time", None))


def _plausible(new: np.ndarray, old: np.ndarray) -> bool:
    """Reject a tracked mesh that jumped or collapsed (e.g. slid onto another face)."""
    a, b = _box_of(new[:, :2]), _box_of(old[:, :2])
    size_new = max(a[2] - a[0], a[3] - a[1])
    size_old = max(b[2] - b[0], b[3] - b[1])
    if size_old <= 0 or not 0.5 < size_new / size_old < 2.0:
        return False
    return float(box_iou(a, b[None])[0]) > 0.1


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts
