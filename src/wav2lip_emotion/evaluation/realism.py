"""Is an edited face still a realistic face? Realism metrics against the untouched source, and verdicts.

The emotion judge is fooled by texture and dlib's identity ignores blur, so a blurred, blotchy or
disfigured output can pass every other check. These metrics look at the pixels of the face itself,
always **relative to the source video** (the untouched input, whose camera, compression and lighting
the output inherits), frame by frame:

* **sharpness ratio**: variance of the Laplacian inside the face mask (the convex hull of the 468-point
  mesh, eroded so that the face's outline does not count), at the video's own resolution, output over
  source;
* **flicker ratio**: mean absolute grey-level change from one frame to the next inside the face mask,
  output over source. The previous frame is first warped onto the current one by the similarity
  transform that maps its mesh onto the current mesh, so a moving head is no flicker; what is left is the
  face's own motion (the source has the same) plus anything that shimmers. A translation keeps the
  source's frames and head pose, so its frames are aligned and masked with the **source's** mesh
  (``align_to``): both videos are then measured the same way, and the ratio is the change of the
  pixels alone. Aligning an output with its own re-tracked mesh would add the tracker's jitter on the
  edited face (twice the source's on movie-hello) and hide a face that shakes on a steady head;
* **FD to source**: Frechet distance of the output's face-crop features to the source clip's own (the
  evaluation's feature extractor: face-api's expression features, or FID's Inception with ``--inception``;
  :func:`~wav2lip_emotion.evaluation.fid.frechet_from_features`);
* **BRISQUE**: the no-reference image-quality score of the ``brisque`` package (its features and its SVR
  model, trained on the LIVE database; lower is better, 0..100) of the face region, output and source,
  and their difference;
* **mesh score**: the face mesh's own face-presence score on the output against the source, and the
  share of the source's face frames where the output still has a face.

Per-frame values come from :class:`RealismAccumulator` (fed by
:func:`~wav2lip_emotion.evaluation.measure.measure_video` as it tracks, so each video is decoded once and
measured once, source included). :func:`realism_scores` pairs two videos' values frame by frame;
:mod:`.verdicts` judges them: :func:`~.verdicts.realism_verdict` applies :class:`~.verdicts.RealismThresholds`,
and :func:`~.verdicts.edit_verdict` joins it with the emotion gain and the kept lip movement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError

#: bump when a realism measurement changes, so cached measurements are redone
REALISM_VERSION = 2
#: margin of the face region around the mesh's box, as a fraction of the box's longer side. Everything
#: is measured at the video's own resolution (no resampling, which would itself blur or alias): the
#: output and its source have the same size, so their numbers compare like with like
REGION_PADDING = 0.05
#: the face mask is eroded by this fraction of the face's size: the face's outline against the
#: background (hair, collar, a moving background) is not the face's own texture
MASK_ERODE = 0.04
#: BRISQUE on every k-th frame (15-60 ms a face on one core; quality changes slowly over a video), on
#: the face region shrunk to at most this many pixels a side (its cost grows with the area)
QUALITY_EVERY = 5
QUALITY_MAX_SIDE = 256


# ------------------------------------------------------------------------------------ pure functions


def gray(rgb: np.ndarray) -> np.ndarray:
    """Luma of an RGB uint8 image as float32 (BT.601 weights, as OpenCV's RGB2GRAY)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def face_region(box: np.ndarray, shape: tuple[int, ...], padding: float = REGION_PADDING) -> tuple[int, int, int, int]:
    """Integer frame rectangle (x0, y0, x1, y1) around a face box [x0, y0, x1, y1], grown by ``padding`` x
    its longer side and clipped to a frame of ``shape``."""
    h, w = shape[:2]
    side = float(max(box[2] - box[0], box[3] - box[1]))
    x0, y0 = max(0, math.floor(box[0] - padding * side)), max(0, math.floor(box[1] - padding * side))
    x1, y1 = min(w, math.ceil(box[2] + padding * side)), min(h, math.ceil(box[3] + padding * side))
    return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)


def face_region_mask(landmarks: np.ndarray, region: tuple[int, int, int, int], erode: float = MASK_ERODE) -> np.ndarray:
    """bool [y1 - y0, x1 - x0]: inside the convex hull of the 468 mesh points (frame pixels; the full
    mask of faces/crop.py, at the frame's resolution), eroded by ``erode`` x the face's size."""
    x0, y0, x1, y1 = region
    points = np.asarray(landmarks, dtype=np.float64)[:, :2] - (x0, y0)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    size = float(np.ptp(points, axis=0).max())
    k = round(erode * size)
    if k > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return mask.astype(bool)


def laplacian_variance(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian (the 4-neighbour kernel [[0, 1, 0], [1, -4, 1], [0, 1, 0]]) of a grey image
    over the pixels where ``mask`` is true (NaN when fewer than 16): the classic focus measure (Pech-Pacheco
    et al. 2000). Blur lowers it, noise, blotches and block edges raise it."""
    if mask.sum() < 16:
        return math.nan
    lap = cv2.Laplacian(image.astype(np.float32), cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
    return float(np.var(lap[mask], dtype=np.float64))


def aligned_change(
    previous: np.ndarray,
    previous_landmarks: np.ndarray,
    current: np.ndarray,
    current_landmarks: np.ndarray,
    region: tuple[int, int, int, int],
    mask: np.ndarray,
) -> float:
    """Mean absolute grey-level change inside ``mask`` (over ``region`` of the current frame) between the
    ``current`` grey frame and the ``previous`` one warped onto it.

    The warp is the similarity transform (rotation, uniform scale, shift) that best maps the previous
    frame's mesh points onto the current one's (least median of squares, so an opening mouth does not
    drag it): head motion is compensated and only what changed on the face remains. Landmarks are in
    frame pixels. NaN when the transform cannot be estimated.
    """
    src = np.ascontiguousarray(np.asarray(previous_landmarks, dtype=np.float32)[:, :2])
    dst = np.ascontiguousarray(np.asarray(current_landmarks, dtype=np.float32)[:, :2])
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if m is None or mask.sum() < 16:
        return math.nan
    x0, y0, x1, y1 = region
    m = m.copy()
    m[:, 2] -= (x0, y0)  # straight into the region's pixels
    warped = cv2.warpAffine(
        previous.astype(np.float32), m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    here = current[y0:y1, x0:x1].astype(np.float32)
    return float(np.mean(np.abs(here - warped)[mask], dtype=np.float64))


@lru_cache(maxsize=1)
def _brisque_model() -> Any:
    try:
        from brisque import BRISQUE
    except ImportError as exc:  # a broken install; the package is a dependency
        raise ConfigError(f"the brisque package cannot be imported ({exc}); reinstall wav2lip-emotion") from None
    return BRISQUE(url=False)


def brisque_score(rgb: np.ndarray) -> float:
    """BRISQUE (Mittal et al. 2012) of an RGB uint8 image with the ``brisque`` package's features and SVR
    model (shipped in the package; nothing is downloaded). Lower is better, about 0..100.

    This is the package's ``BRISQUE.score`` step by step: its two-scale features, its scaling and its
    SVR. Only the features are turned into plain floats in between, because ``score`` itself fails
    under numpy >= 2.4 (it converts one-element arrays with ``float()``).
    """
    from skimage.color import rgb2gray

    model = _brisque_model()
    image = rgb2gray(np.asarray(rgb)[..., :3])
    half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    features = [*model.calculate_brisque_features(image, 7, 7 / 6), *model.calculate_brisque_features(half, 7, 7 / 6)]
    values = [float(np.asarray(f, dtype=np.float64).reshape(-1)[0]) for f in features]
    return float(model.calculate_image_quality_score(values))


# ------------------------------------------------------------------------------------ per video


@dataclass
class RealismTrack:
    """Per-frame realism values of one video (NaN where not measured)."""

    #: variance of the Laplacian inside the eroded face mask
    sharpness: np.ndarray
    #: mean absolute aligned change to the previous frame inside the face mask (NaN on the first frame
    #: and after a frame without a face)
    flicker: np.ndarray
    #: the face mesh's presence score (0 where no face was found)
    face_score: np.ndarray
    #: BRISQUE of the face region on every ``QUALITY_EVERY``-th frame with a face
    quality: np.ndarray
    #: [N, 468, 2] float32 mesh points in frame pixels and [N, 4] face boxes (NaN where no face): what an
    #: output of this video is aligned with (:class:`RealismAccumulator`'s ``align_to``)
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 468, 2), np.float32))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    #: frames whose flicker was measured in another video's alignment (its source's)
    aligned_to_source: int = 0

    @classmethod
    def empty(cls) -> RealismTrack:
        z = np.zeros(0)
        return cls(z, z.copy(), z.copy(), z.copy())

    @property
    def frames(self) -> int:
        return len(self.sharpness)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "realism_sharpness": self.sharpness,
            "realism_flicker": self.flicker,
            "realism_face_score": self.face_score,
            "realism_quality": self.quality,
            "realism_landmarks": self.landmarks.astype(np.float32),
            "realism_boxes": self.boxes.astype(np.float32),
            "realism_aligned_to_source": np.array(self.aligned_to_source),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RealismTrack:
        if "realism_sharpness" not in arrays:
            return cls.empty()
        return cls(
            np.asarray(arrays["realism_sharpness"], dtype=np.float64),
            np.asarray(arrays["realism_flicker"], dtype=np.float64),
            np.asarray(arrays["realism_face_score"], dtype=np.float64),
            np.asarray(arrays["realism_quality"], dtype=np.float64),
            np.asarray(arrays["realism_landmarks"], dtype=np.float32),
            np.asarray(arrays["realism_boxes"], dtype=np.float32),
            int(arrays["realism_aligned_to_source"]),
        )

    def face(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Frame ``index``'s mesh points and box, or None when it has no face (or is past the end)."""
        if not 0 <= index < len(self.landmarks) or not np.isfinite(self.boxes[index]).all():
            return None
        return self.landmarks[index], self.boxes[index]


class RealismAccumulator:
    """Collects a video's per-frame realism values while it is tracked: call :meth:`add` for every frame,
    in order, with the tracker's landmarks and box (None where no face was found), then :meth:`track`.

    ``align_to``: the source's track, for a video made from it frame by frame with its head pose (a
    translation): the flicker of frame i is then measured with the source's meshes of frames i-1 and i
    (the alignment and the mask) instead of this video's own, wherever the source has both."""

    def __init__(self, *, quality_every: int = QUALITY_EVERY, align_to: RealismTrack | None = None) -> None:
        if quality_every < 0:
            raise ConfigError(f"quality_every must be >= 0 (0 = no BRISQUE), got {quality_every}")
        self.quality_every = quality_every
        self.align_to = align_to
        self._sharpness: list[float] = []
        self._flicker: list[float] = []
        self._score: list[float] = []
        self._quality: list[float] = []
        self._landmarks: list[np.ndarray] = []
        self._boxes: list[np.ndarray] = []
        self._aligned = 0
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # grey frame, its landmarks

    def add(self, rgb: np.ndarray, landmarks: np.ndarray | None, box: np.ndarray | None, score: float) -> None:
        index = len(self._sharpness)
        if landmarks is None or box is None:
            self._sharpness.append(math.nan)
            self._flicker.append(math.nan)
            self._score.append(0.0)
            self._quality.append(math.nan)
            self._landmarks.append(np.full((468, 2), np.nan, np.float32))
            self._boxes.append(np.full(4, np.nan, np.float32))
            self._previous = None
            return
        points = np.asarray(landmarks, dtype=np.float32)[:, :2].copy()
        region = face_region(box, rgb.shape)
        x0, y0, x1, y1 = region
        mask = face_region_mask(landmarks, region)
        grey = gray(rgb)
        self._sharpness.append(laplacian_variance(grey[y0:y1, x0:x1], mask))
        self._flicker.append(self._change(index, grey, points, region, mask))
        self._score.append(float(score))
        sample = self.quality_every > 0 and index % self.quality_every == 0
        self._quality.append(brisque_score(_shrunk(rgb[y0:y1, x0:x1], QUALITY_MAX_SIDE)) if sample else math.nan)
        self._landmarks.append(points)
        self._boxes.append(np.asarray(box, dtype=np.float32)[:4].copy())
        self._previous = (grey, points)

    def _change(
        self, index: int, grey: np.ndarray, points: np.ndarray, region: tuple[int, int, int, int], mask: np.ndarray
    ) -> float:
        if self._previous is None:
            return math.nan
        prev, prev_points = self._previous
        if self.align_to is not None:
            here, before = self.align_to.face(index), self.align_to.face(index - 1)
            if here is not None and before is not None:
                source_region = face_region(here[1], grey.shape)
                source_mask = face_region_mask(here[0], source_region)
                self._aligned += 1
                return aligned_change(prev, before[0], grey, here[0], source_region, source_mask)
        return aligned_change(prev, prev_points, grey, points, region, mask)

    def track(self) -> RealismTrack:
        return RealismTrack(
            np.array(self._sharpness, dtype=np.float64),
            np.array(self._flicker, dtype=np.float64),
            np.array(self._score, dtype=np.float64),
            np.array(self._quality, dtype=np.float64),
            np.array(self._landmarks, dtype=np.float32).reshape(-1, 468, 2),
            np.array(self._boxes, dtype=np.float32).reshape(-1, 4),
            self._aligned,
        )


def _shrunk(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    f = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------------------------ output vs source


@dataclass
class RealismScores:
    """Realism of one output video against its source (NaN where not measured)."""

    #: mean Laplacian variance in the face, output over source (1 = as sharp; < 1 blurred; > 1 noisier)
    sharpness_ratio: float = math.nan
    #: mean aligned frame-to-frame change in the face, output over source (1 = as steady)
    flicker_ratio: float = math.nan
    #: Frechet distance of the output's face-crop features to the source's own
    frechet_source: float = math.nan
    #: mean BRISQUE of the output's and the source's face crops, and output minus source (> 0: worse)
    quality: float = math.nan
    quality_source: float = math.nan
    quality_difference: float = math.nan
    #: mean face-mesh presence score of the output and of the source over their frames with a face
    face_score: float = math.nan
    face_score_source: float = math.nan
    #: share of the source's face frames in which the output has a face too
    faces_kept: float = math.nan
    #: frames compared (both videos have a face)
    frames: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_finite(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first min(len) values of ``a`` and ``b`` as float64, where both are finite."""
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    x, y = paired_finite(a, b)
    if not len(x):
        return math.nan
    den = float(y.mean())
    if den <= 0:
        return 1.0 if float(x.mean()) <= 0 else math.inf
    return float(x.mean()) / den


def realism_scores(
    output: RealismTrack,
    source: RealismTrack,
    *,
    output_features: np.ndarray | None = None,
    source_features: np.ndarray | None = None,
) -> RealismScores:
    """Pair ``output`` with ``source`` frame by frame (the first min(N) frames; only those where both have
    a face count) and compare. Features: [N, D] face-crop features of each for the FD to source."""
    out = RealismScores()
    if output.frames == 0 or source.frames == 0:
        return out
    out.sharpness_ratio = _ratio(output.sharpness, source.sharpness)
    out.flicker_ratio = _ratio(output.flicker, source.flicker)
    q, qs = paired_finite(output.quality, source.quality)
    if len(q):
        out.quality, out.quality_source = float(q.mean()), float(qs.mean())
        out.quality_difference = out.quality - out.quality_source
    n = min(output.frames, source.frames)
    both = (output.face_score[:n] > 0) & (source.face_score[:n] > 0)
    out.frames = int(both.sum())
    source_faces = int((source.face_score[:n] > 0).sum())
    out.faces_kept = out.frames / source_faces if source_faces else math.nan
    if out.frames:
        out.face_score = float(output.face_score[:n][both].mean())
        out.face_score_source = float(source.face_score[:n][both].mean())
    if output_features is not None and source_features is not None and output_features.size and source_features.size:
        from .fid import frechet_from_features

        out.frechet_source = frechet_from_features(output_features, source_features)
    return out
