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
  face's own motion (the source has the same) plus anything that shimmers;
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
:func:`realism_verdict` applies :class:`RealismThresholds`, and :func:`edit_verdict` joins it with the
emotion gain and the kept lip movement (:class:`EditThresholds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError

#: bump when a realism measurement changes, so cached measurements are redone
REALISM_VERSION = 1
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
        )


class RealismAccumulator:
    """Collects a video's per-frame realism values while it is tracked: call :meth:`add` for every frame,
    in order, with the tracker's landmarks and box (None where no face was found), then :meth:`track`."""

    def __init__(self, *, quality_every: int = QUALITY_EVERY) -> None:
        if quality_every < 0:
            raise ConfigError(f"quality_every must be >= 0 (0 = no BRISQUE), got {quality_every}")
        self.quality_every = quality_every
        self._sharpness: list[float] = []
        self._flicker: list[float] = []
        self._score: list[float] = []
        self._quality: list[float] = []
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # grey frame, its landmarks

    def add(self, rgb: np.ndarray, landmarks: np.ndarray | None, box: np.ndarray | None, score: float) -> None:
        index = len(self._sharpness)
        if landmarks is None or box is None:
            self._sharpness.append(math.nan)
            self._flicker.append(math.nan)
            self._score.append(0.0)
            self._quality.append(math.nan)
            self._previous = None
            return
        region = face_region(box, rgb.shape)
        x0, y0, x1, y1 = region
        mask = face_region_mask(landmarks, region)
        grey = gray(rgb)
        self._sharpness.append(laplacian_variance(grey[y0:y1, x0:x1], mask))
        if self._previous is None:
            self._flicker.append(math.nan)
        else:
            prev, prev_landmarks = self._previous
            self._flicker.append(aligned_change(prev, prev_landmarks, grey, landmarks, region, mask))
        self._score.append(float(score))
        sample = self.quality_every > 0 and index % self.quality_every == 0
        self._quality.append(brisque_score(_shrunk(rgb[y0:y1, x0:x1], QUALITY_MAX_SIDE)) if sample else math.nan)
        self._previous = (grey, np.asarray(landmarks)[:, :2].copy())

    def track(self) -> RealismTrack:
        return RealismTrack(
            np.array(self._sharpness, dtype=np.float64),
            np.array(self._flicker, dtype=np.float64),
            np.array(self._score, dtype=np.float64),
            np.array(self._quality, dtype=np.float64),
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


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    x, y = _paired(a, b)
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
    q, qs = _paired(output.quality, source.quality)
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


# ------------------------------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class RealismThresholds:
    """What a person would still accept as the same, real face (docs/evaluation.md, "Realism", has the
    reasoning and the measurements). Each bound leaves room for what a REAL change of expression of the
    same person does to the metric (the world's aligned ground truth and real takes), and none was moved
    to make a constructed case pass or fail."""

    #: fine-detail energy within a factor 2 of the source's, either way. A real change of expression moves
    #: it by up to a factor 1.5 (a smile's creases and teeth appear or vanish: 0.67..1.47 in the world's
    #: aligned truth), a just-visible blur (sigma 0.85 px on a 180 px face) divides it by 3, grain
    #: multiplies it. (The first guess, 0.8..1.5, failed the ideal translation itself: removing a smile
    #: gives 0.67..0.75.)
    min_sharpness_ratio: float = 0.5
    max_sharpness_ratio: float = 2.0
    #: half again as much frame-to-frame change as the source's own motion (speech, blinks) is visible
    #: shimmer or boiling texture; real expression changes stay within 0.79..1.30
    max_flicker_ratio: float = 1.5
    #: BRISQUE points worse than the source: ~10 points is a step between quality grades on its 0..100
    #: scale (a clean image against a mildly blurred or compressed one)
    max_quality_difference: float = 10.0
    #: FD of the face-crop features to the source's own. face-api's features describe the expression,
    #: so a real emotion change moves them too (47..311 between real takes of one person in the world);
    #: only a distance beyond any real change of expression, by a third, is "no longer this face"
    max_frechet_source: float = 400.0
    #: the mesh must still be as sure it sees a face: at most 0.05 below the source's mean score
    max_face_score_drop: float = 0.05
    #: the output keeps a face in at least 95% of the frames where the source has one
    min_faces_kept: float = 0.95


@dataclass(frozen=True)
class EditThresholds:
    """What makes an edit an emotion edit that keeps the speech."""

    #: the judge's p(destination) must rise by 0.2 over the source's: a fifth more probability on the
    #: destination, where an unchanged video gains exactly 0
    min_emotion_gain: float = 0.2
    #: mouth opening still follows the source's (the ideal world translation keeps 0.87; the L1-only
    #: model that draws a smiling mouth which ignores the speech scores 0.20)
    min_mouth_correlation: float = 0.5
    #: below this range of the source's mouth opening (5th..95th percentile, in eye distances) the mouth
    #: hardly moves (a silent clip) and its correlation is noise; the output's opening must then stay
    #: within ``max_still_mouth_change`` of the source's on average instead
    still_mouth_range: float = 0.05
    max_still_mouth_change: float = 0.05


@dataclass(frozen=True)
class Verdict:
    """A pass/fail with every check's outcome, so a failure says why."""

    passed: bool
    #: check name -> passed; checks whose metric was not measured are left out
    checks: dict[str, bool] = field(default_factory=dict)
    #: one line per failed check, e.g. "sharpness ratio 0.41 < 0.8"
    failures: tuple[str, ...] = ()
    #: checks skipped because their metric was not measured
    unmeasured: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.passed


def _judge(items: Sequence[tuple[str, float, bool, str]]) -> Verdict:
    checks: dict[str, bool] = {}
    failures: list[str] = []
    unmeasured: list[str] = []
    for name, value, ok, text in items:
        if isinstance(value, float) and math.isnan(value):
            unmeasured.append(name)
            continue
        checks[name] = bool(ok)
        if not ok:
            failures.append(text)
    return Verdict(not failures, checks, tuple(failures), tuple(unmeasured))


def realism_verdict(s: RealismScores, t: RealismThresholds = RealismThresholds()) -> Verdict:
    """Pass when every measured realism metric is within ``t``; unmeasured ones are listed, not failed."""
    drop = s.face_score_source - s.face_score
    return _judge(
        [
            (
                "sharpness",
                s.sharpness_ratio,
                t.min_sharpness_ratio <= s.sharpness_ratio <= t.max_sharpness_ratio,
                f"sharpness ratio {s.sharpness_ratio:.2f} outside {t.min_sharpness_ratio}..{t.max_sharpness_ratio}",
            ),
            (
                "flicker",
                s.flicker_ratio,
                s.flicker_ratio <= t.max_flicker_ratio,
                f"flicker ratio {s.flicker_ratio:.2f} > {t.max_flicker_ratio}",
            ),
            (
                "quality",
                s.quality_difference,
                s.quality_difference <= t.max_quality_difference,
                f"BRISQUE {s.quality_difference:+.1f} over the source's (max +{t.max_quality_difference:g})",
            ),
            (
                "frechet",
                s.frechet_source,
                s.frechet_source <= t.max_frechet_source,
                f"FD to source {s.frechet_source:.1f} > {t.max_frechet_source:g}",
            ),
            (
                "face_score",
                drop,
                drop <= t.max_face_score_drop,
                f"mesh face score {s.face_score:.3f} vs the source's {s.face_score_source:.3f}",
            ),
            (
                "faces_kept",
                s.faces_kept,
                s.faces_kept >= t.min_faces_kept,
                f"face found in {100 * s.faces_kept:.0f}% of the source's face frames",
            ),
        ]
    )


def lip_movement_kept(
    output_opening: np.ndarray, source_opening: np.ndarray, t: EditThresholds = EditThresholds()
) -> tuple[float, bool]:
    """(mouth-opening correlation with the source, kept?). When the source's mouth hardly moves the
    correlation is noise, so the output's opening must instead stay close to the source's."""
    from .measure import pearson

    corr = pearson(output_opening, source_opening)
    a, b = _paired(np.asarray(output_opening), np.asarray(source_opening))
    if len(b) >= 3:
        lo, hi = np.percentile(b, [5, 95])
        if hi - lo < t.still_mouth_range:
            return corr, bool(np.mean(np.abs(a - b)) <= t.max_still_mouth_change)
    return corr, bool(corr >= t.min_mouth_correlation) if math.isfinite(corr) else False


def edit_verdict(
    realism: Verdict,
    emotion_gain: float,
    lip_kept: bool,
    t: EditThresholds = EditThresholds(),
) -> Verdict:
    """The realistic-edit verdict: the emotion changed (p(destination) rose by ``t.min_emotion_gain``),
    the lip movement was kept, and the face is still realistic (``realism``)."""
    items = [
        (
            "emotion_gain",
            emotion_gain,
            emotion_gain >= t.min_emotion_gain,
            f"emotion gain {emotion_gain:+.2f} < {t.min_emotion_gain}",
        ),
        ("lip_movement", 0.0, lip_kept, "lip movement not kept"),
    ]
    own = _judge(items)
    if math.isnan(emotion_gain):  # no judge reading at all: not an edit anyone can credit
        own = Verdict(False, own.checks, (*own.failures, "emotion gain not measured"), own.unmeasured)
    return Verdict(
        own.passed and realism.passed,
        {**own.checks, **{f"realism.{k}": v for k, v in realism.checks.items()}},
        (*own.failures, *realism.failures),
        (*own.unmeasured, *realism.unmeasured),
    )
