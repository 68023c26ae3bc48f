"""Occluders in front of a tracked face: hands, and anything unlike the face's own skin.

:class:`OccluderDetector` gives, per frame, a soft mask (1 = occluded) over a region of the frame, for
an edit of the face to fade out where something covers it. Two cues:

* **hands**: :class:`~.hands.HandDetector` (MediaPipe palm detector + hand landmarks), searched for
  around the face and followed from frame to frame; each hand's landmark hull, slightly enlarged.
* **colour**: a model of *this* face's skin in CIE Lab (a quadratic function of the position on the
  face plus a Gaussian of the rest), learnt from the pixels inside the face-mesh hull but away from its
  outline, the eyes, brows, lips and nostrils, and updated slowly over the clip. Inside the hull, a
  connected blob of pixels far from that model (a microphone, a glasses frame, a composited object,
  hair across the face) is an occluder when enough of it lies on skin ground (outside the eyes, brows,
  lips, nostrils and the outline band): those are unlike skin too but belong to the face, so there
  only pixels of the blob's own colour, near and connected to its skin part, are flagged, never a
  feature on its own. Small blobs (pores, a mole, a highlight) are ignored.

Everything colour-related runs on the face resampled to at most ``work_size`` pixels, so the cost does
not grow with the face (a few ms per frame; docs/faces.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from .hands import Hand, HandConfig, HandDetector, check_rgb

# MediaPipe face-mesh regions (indices of the 468-point topology): each region is taken as the convex
# hull of its points. "right" is the subject's right (the left of the picture).
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
#: under the nose tip: both nostrils and the alar creases
NOSTRILS = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)
#: the face's own features that are unlike skin
FEATURES = {
    "lips": LIPS_OUTER,
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "right_brow": RIGHT_BROW,
    "left_brow": LEFT_BROW,
    "nostrils": NOSTRILS,
}
NUM_MESH_POINTS = 468


@dataclass
class OccluderConfig:
    """What counts as an occluder. Lengths are shares of the face size (the larger side of the
    landmarks' box), so the settings hold for any resolution."""

    #: look for hands (MediaPipe palm detector + hand landmarks) around the face
    hands: bool = True
    #: look for blobs unlike this face's skin inside the face-mesh hull
    colour: bool = True
    #: the colour cue works on the face resampled to at most this many pixels: one pixel there is 1-2 px
    #: of a 100-250 px face, fine enough for a microphone or a glasses frame, and the cost stays fixed
    work_size: int = 112
    #: a blob must hold pixels this far (Mahalanobis distance from the skin model) on skin ground: skin,
    #: shading included, rarely goes beyond 4 (a Gaussian has 1 pixel in 10^5 beyond 5.5; real skin
    #: has heavier tails: deep wrinkles and pores reach 5), while the tests' pasted grey, coloured and
    #: textured patches lie 10-40 away (median)
    seed_distance: float = 5.5
    #: ... and it extends over its connected pixels beyond this distance (an object's softer edges,
    #: its shading, its anti-aliased rim). The skin model learns only from pixels within it.
    grow_distance: float = 3.5
    #: a blob counts when at least this share of the face hull is far from the skin (at seed_distance)
    #: on skin ground. Measured on the test faces: skin's own blobs (moles, pores, glints, deep wrinkles)
    #: hold at most 0.4% (Grace Hopper's wrinkles), hair over a temple 0.5-1%, glasses rims or a headset
    #: microphone 1-2%, the tests' pasted objects more
    min_blob: float = 0.006
    #: a blob overlapping the previous frame's occluders needs only this share of ``min_blob``
    hysteresis: float = 0.3
    #: margin around the eyes, brows, lips and nostrils that counts as feature, not skin ground
    #: (eyelashes, eye shadow, lip liner, the landmarks' own error of a few percent)
    feature_margin: float = 0.04
    #: inside a feature, an occluder's pixels are flagged only this close to its part on skin ground: a
    #: microphone across the mouth corner is covered, the lips it touches are not flagged as a whole
    feature_reach: float = 0.1
    #: band along the hull's outline that is neither learnt from nor counted for a blob: the mesh hull
    #: reaches the hairline and the cheek's silhouette, where hair and background show through
    edge_margin: float = 0.06
    #: where a blob continues into a feature or the outline band, a pixel must be within this
    #: Mahalanobis distance of the blob's own colours (their Gaussian, each channel's deviation at
    #: least ``blob_colour_floor`` Lab levels): a dark microphone over the lips is followed, the red
    #: lips are not
    blob_colour_distance: float = 3.0
    blob_colour_floor: float = 8.0
    #: when less than this share of the skin ground is within ``grow_distance`` of the skin model, the
    #: model is stale (the light changed) and is fitted afresh on the frame (measured: 86-100% within on
    #: the clean test faces, 74-97% with an object pasted on)
    refit_below: float = 0.6
    #: weight of the current frame in the skin model (0.1 = a time constant of about 10 frames: follows
    #: lighting changes, not an occluder that stays a while, whose pixels are never learnt)
    learning_rate: float = 0.1
    #: hands' landmark hulls are enlarged this much (landmarks sit inside the fingers' outline)
    hand_margin: float = 0.04
    #: hands are searched for in a square this many times the face size around the face
    hand_search_scale: float = 2.5
    #: frames between palm searches (a palm search costs 13-16 ms on the development machine; each
    #: followed hand costs a landmark pass, ~8 ms, every frame)
    hand_search_every: int = 5
    #: the final mask is dilated this much ...
    dilate: float = 0.015
    #: ... then feathered with a Gaussian of this sigma (the mask is 0.5 at the dilated edge)
    feather: float = 0.015
    #: threads for the TFLite runtime
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.work_size < 16:
            raise ConfigError(f"OccluderConfig.work_size must be at least 16, got {self.work_size}")
        if not 0.0 < self.grow_distance <= self.seed_distance:
            raise ConfigError(
                f"OccluderConfig needs 0 < grow_distance <= seed_distance, got {self.grow_distance} and "
                f"{self.seed_distance}"
            )
        if not 0.0 < self.learning_rate <= 1.0:
            raise ConfigError(f"OccluderConfig.learning_rate must be in (0, 1], got {self.learning_rate}")


def check_landmarks(landmarks: object) -> np.ndarray:
    """Face-mesh landmarks as a float64 [468, 2] array, or a one-line ConfigError naming the problem."""
    if not isinstance(landmarks, np.ndarray):
        raise ConfigError(f"landmarks must be a numpy array [468, 2|3], got {type(landmarks).__name__}")
    if landmarks.ndim != 2 or landmarks.shape[0] != NUM_MESH_POINTS or landmarks.shape[1] not in (2, 3):
        raise ConfigError(f"landmarks must be [468, 2] or [468, 3] face-mesh points, got shape {landmarks.shape}")
    pts = landmarks[:, :2].astype(np.float64)
    if not np.isfinite(pts).all():
        raise ConfigError("landmarks hold NaN or infinite values")
    return pts


def check_region(region: object) -> tuple[int, int, int, int]:
    """``region`` as four ints (x0, y0, x1, y1) with x1 > x0 and y1 > y0, or a one-line ConfigError."""
    try:
        x0, y0, x1, y1 = (int(v) for v in region)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(f"region must be four integers (x0, y0, x1, y1), got {region!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise ConfigError(f"region {(x0, y0, x1, y1)} is empty (needs x1 > x0 and y1 > y0)")
    return x0, y0, x1, y1


def _disk(radius: float) -> np.ndarray:
    r = max(1, round(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _fill(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """uint8 mask of the convex hull of ``points`` (pixel coordinates of the mask)."""
    out = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    cv2.fillConvexPoly(out, hull, 1, lineType=cv2.LINE_8, shift=4)
    return out


def _basis(uv: np.ndarray) -> np.ndarray:
    """Quadratic monomials [N, 6] of face-normalised positions ``uv`` [N, 2]."""
    u, v = uv[:, 0], uv[:, 1]
    return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])


class SkinModel:
    """This face's skin in CIE Lab: a smooth (quadratic) function of the position on the face, which
    absorbs the lighting's gradient and the skin's own regional tones (redder cheeks, a paler
    forehead), and a Gaussian of what is left over. Positions enter as :func:`_basis` rows."""

    def __init__(self, coef: np.ndarray, cov: np.ndarray) -> None:
        self.coef = coef  # [6, 3]
        self.cov = cov  # [3, 3]
        self._inv = np.linalg.inv(cov)

    @classmethod
    def fit(cls, basis: np.ndarray, lab: np.ndarray, trim: float) -> SkinModel | None:
        """Fit robustly to pixels ``lab`` [N, 3] at ``basis`` [N, 6]: a median/MAD start, then three
        refits, each leaving out the pixels beyond Mahalanobis ``trim``. None when too few are left."""
        if len(lab) < 50:
            return None
        median = np.median(lab, axis=0)
        mad = np.median(np.abs(lab - median), axis=0) * 1.4826
        coef = np.zeros((6, 3))
        coef[0] = median
        model = cls(coef, np.diag(np.maximum(mad, 1.0) ** 2))
        for _ in range(3):
            keep = model.distance2(basis, lab) < trim * trim
            if keep.sum() < 50:
                return None
            model = cls._of(basis[keep], lab[keep])
        return model

    @classmethod
    def _of(cls, basis: np.ndarray, lab: np.ndarray) -> SkinModel:
        """Least squares (normal equations, 6x6) and the covariance of the residuals."""
        coef = np.linalg.solve(basis.T @ basis + np.eye(6) * 1e-6, basis.T @ lab)
        resid = lab - basis @ coef
        cov = resid.T @ resid / max(len(resid) - 6, 1) + np.eye(3)  # +1 level^2: quantisation, flat patches
        return cls(coef, cov)

    def blend(self, basis: np.ndarray, lab: np.ndarray, keep: np.ndarray, rate: float) -> SkinModel:
        """This model moved ``rate`` of the way to the fit of the ``keep`` pixels."""
        if keep.sum() < 50:
            return self
        new = SkinModel._of(basis[keep], lab[keep])
        return SkinModel((1 - rate) * self.coef + rate * new.coef, (1 - rate) * self.cov + rate * new.cov)

    def distance2(self, basis: np.ndarray, lab: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances [N] of pixels ``lab`` [N, 3] at ``basis`` [N, 6] from the skin."""
        d = lab - basis @ self.coef
        return ((d @ self._inv) * d).sum(axis=1)


class OccluderDetector:
    """Per-frame occluder masks for one tracked face through one clip (feed frames in order;
    :meth:`reset` between clips)."""

    def __init__(self, config: OccluderConfig | None = None, *, hand_detector: HandDetector | None = None) -> None:
        self.config = config or OccluderConfig()
        cfg = self.config
        self.hand_detector = hand_detector
        if cfg.hands and hand_detector is None:
            self.hand_detector = HandDetector(
                HandConfig(search_every=cfg.hand_search_every, num_threads=cfg.num_threads)
            )
        #: the hands found in the last frame (image pixels)
        self.hands: list[Hand] = []
        self.reset()

    def reset(self) -> None:
        """Forget the clip: the skin model and the followed hands."""
        self.skin: SkinModel | None = None
        self.hands = []
        #: the last frame's distances to the skin model inside the face hull (work pixels; for figures)
        self.last_distance: np.ndarray | None = None
        self._previous: np.ndarray | None = None  # last frame's flagged pixels in face units
        if self.hand_detector is not None:
            self.hand_detector.reset()

    def mask(self, rgb: np.ndarray, landmarks: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
        """float32 [y1 - y0, x1 - x0] in [0, 1] over ``region`` (x0, y0, x1, y1, frame pixels; it may
        reach outside the frame): 1 where something covers the face of ``landmarks`` ([468, 2|3] image
        pixels, the tracked face mesh) in ``rgb`` (HxWx3 uint8), soft-edged."""
        rgb = check_rgb(rgb)
        pts = check_landmarks(landmarks)
        x0, y0, x1, y1 = check_region(region)
        cfg = self.config
        h, w = rgb.shape[:2]
        face = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0))
        rw, rh = x1 - x0, y1 - y0
        scale = min(1.0, cfg.work_size / face)
        cw, ch = max(1, round(rw * scale)), max(1, round(rh * scale))
        sx, sy = cw / rw, ch / rh
        unit = face * scale  # the face size in work pixels

        hard = np.zeros((ch, cw), np.uint8)
        if cfg.colour:
            self._colour(rgb, pts, (x0, y0, x1, y1), (sx, sy), unit, hard)
        if cfg.hands and self.hand_detector is not None:
            cx, cy = (pts.min(axis=0) + pts.max(axis=0)) / 2
            r = face * cfg.hand_search_scale / 2
            search = (int(max(0, cx - r)), int(max(0, cy - r)), int(min(w, cx + r)), int(min(h, cy + r)))
            self.hands = self.hand_detector.detect(rgb, search)
            for hand in self.hands:
                hull = (hand.hull() - [x0, y0]) * [sx, sy]
                one = _fill((ch, cw), hull)
                hard |= cv2.dilate(one, _disk(cfg.hand_margin * unit))
        if not hard.any():
            return np.zeros((rh, rw), np.float32)
        soft = cv2.dilate(hard, _disk(cfg.dilate * unit)).astype(np.float32)
        sigma = max(0.7, cfg.feather * unit)
        soft = cv2.GaussianBlur(soft, (0, 0), sigma)
        out = cv2.resize(soft, (rw, rh), interpolation=cv2.INTER_LINEAR)
        return np.clip(out, 0.0, 1.0, out=out)

    # ----------------------------------------------------------------- the colour cue

    def _colour(
        self,
        rgb: np.ndarray,
        pts: np.ndarray,
        region: tuple[int, int, int, int],
        scale: tuple[float, float],
        unit: float,
        hard: np.ndarray,
    ) -> None:
        """Flag blobs unlike the skin model in ``hard`` (the region at work scale); update the model."""
        cfg = self.config
        x0, y0, x1, y1 = region
        sx, sy = scale
        h, w = rgb.shape[:2]
        # the face window: the landmarks' box (a margin for rounding), inside the frame and the region
        fx0, fy0 = np.floor(pts.min(axis=0)) - 2
        fx1, fy1 = np.ceil(pts.max(axis=0)) + 2
        fx0, fy0 = max(fx0, 0, x0), max(fy0, 0, y0)
        fx1, fy1 = min(fx1, w, x1), min(fy1, h, y1)
        # ... in work pixels of the region canvas
        wx0, wy0 = int(np.floor((fx0 - x0) * sx)), int(np.floor((fy0 - y0) * sy))
        wx1, wy1 = int(np.ceil((fx1 - x0) * sx)), int(np.ceil((fy1 - y0) * sy))
        wx1, wy1 = min(wx1, hard.shape[1]), min(wy1, hard.shape[0])
        if wx1 - wx0 < 4 or wy1 - wy0 < 4:
            return  # the face is (almost) outside the region or the frame
        # the frame pixels of that window (to the nearest whole pixel: under a work pixel), resampled
        # area-averaged (no aliasing; pores smoothed away)
        ix0, iy0 = max(0, int(x0 + wx0 / sx)), max(0, int(y0 + wy0 / sy))
        ix1, iy1 = min(w, int(np.ceil(x0 + wx1 / sx))), min(h, int(np.ceil(y0 + wy1 / sy)))
        if ix1 - ix0 < 4 or iy1 - iy0 < 4:
            return
        win_shape = (wy1 - wy0, wx1 - wx0)
        small = cv2.resize(rgb[iy0:iy1, ix0:ix1], (win_shape[1], win_shape[0]), interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float64)

        local = (pts - [ix0, iy0]) * [win_shape[1] / (ix1 - ix0), win_shape[0] / (iy1 - iy0)]
        hull = _fill(win_shape, local)
        if not hull.any():
            return
        features = np.zeros(win_shape, np.uint8)
        for idx in FEATURES.values():
            features |= _fill(win_shape, local[list(idx)])
        features = cv2.dilate(features, _disk(cfg.feature_margin * unit))
        inner = cv2.erode(hull, _disk(cfg.edge_margin * unit))
        ground = (inner > 0) & (features == 0)  # skin ground: where the skin is learnt and blobs are counted

        inside = hull > 0
        # positions in face units, centred on the landmarks' box: the skin model's coordinates
        centre = (local.min(axis=0) + local.max(axis=0)) / 2
        ys, xs = np.nonzero(inside)
        basis = _basis((np.column_stack([xs, ys]) - centre) / unit)
        lab_in = lab[ys, xs]
        on_ground = ground[ys, xs]
        d2 = None if self.skin is None else self.skin.distance2(basis, lab_in)
        if d2 is None or np.mean(d2[on_ground] < cfg.grow_distance**2) < cfg.refit_below:
            # the first frame, or the skin no longer fits (the light changed): fit afresh on this frame
            self.skin = SkinModel.fit(basis[on_ground], lab_in[on_ground], cfg.grow_distance)
            if self.skin is None:
                return
            d2 = self.skin.distance2(basis, lab_in)
        d = np.zeros(win_shape, np.float64)
        d[ys, xs] = np.sqrt(d2)
        weak = d > cfg.grow_distance
        # blobs are found on skin ground only: the features and the outline band are unlike skin by
        # nature, and blobs joined through them would spread along them
        blobs = (weak & ground).astype(np.uint8)
        flagged = np.zeros(win_shape, bool)
        if blobs.any():
            count, labels = cv2.connectedComponents(blobs, connectivity=8)
            seeds = (d > cfg.seed_distance) & ground
            votes = np.bincount(labels[seeds], minlength=count)
            votes[0] = 0
            reach = _disk(cfg.feature_reach * unit)
            # the features and the outline band, where a blob may continue
            beyond = weak & inside & ~ground
            need = max(1.0, cfg.min_blob * float(inside.sum()))
            accept = votes >= need
            if self._previous is not None:
                # hysteresis: a blob that overlaps last frame's occluders needs fewer far pixels, so
                # an occluder near the threshold does not blink on and off from frame to frame
                before = np.zeros(win_shape, np.uint8)
                px = np.round(self._previous * unit + centre).astype(int)
                ok = (px[:, 0] >= 0) & (px[:, 0] < win_shape[1]) & (px[:, 1] >= 0) & (px[:, 1] < win_shape[0])
                before[px[ok, 1], px[ok, 0]] = 1
                before = cv2.dilate(before, _disk(0.02 * unit)) > 0
                overlap = np.bincount(labels[before], minlength=count)
                sizes = np.bincount(labels.ravel(), minlength=count)
                accept |= (votes >= cfg.hysteresis * need) & (overlap >= 0.3 * sizes)
            accept[0] = False
            for k in np.flatnonzero(accept):
                blob = labels == k
                flagged |= blob
                # ... only near its skin part, through pixels of its own colour, connected to it: a
                # microphone across the mouth corner is followed over the lips, the lips are not taken
                zone = beyond & (cv2.dilate(blob.astype(np.uint8), reach) > 0)
                if not zone.any():
                    continue
                colours = lab[blob & seeds]
                mean = colours.mean(axis=0)
                cov = np.cov(colours, rowvar=False) if len(colours) > 3 else np.zeros((3, 3))
                inv = np.linalg.inv(cov + np.eye(3) * cfg.blob_colour_floor**2)
                diff = lab[zone] - mean
                like = np.zeros(win_shape, np.uint8)
                like[zone] = ((diff @ inv) * diff).sum(axis=1) < cfg.blob_colour_distance**2
                if not like.any():
                    continue
                like |= blob.astype(np.uint8)
                n, parts = cv2.connectedComponents(like, connectivity=8)
                touching = np.zeros(n, bool)
                touching[parts[blob]] = True
                touching[0] = False
                flagged |= touching[parts]
            if flagged.any():
                hard[wy0:wy1, wx0:wx1] |= flagged.astype(np.uint8)
        # learn from this frame's skin ground within grow_distance of the model: an occluder's pixels are
        # never learnt (learning those between grow_distance and seed_distance lets a glasses frame or a
        # microphone widen the model, which then takes in more of it, until it is absorbed). Flagged
        # pixels are not left out as such: a false alarm on skin would shrink the model, which would
        # flag more skin, and so on. The model settles within ~100 frames (measured on a repeated
        # frame: its spread shrinks by at most 4%, and no clean test face gets flagged).
        keep = on_ground & (d2 < cfg.grow_distance**2)
        self.skin = self.skin.blend(basis, lab_in, keep, cfg.learning_rate)
        # this frame's occluders in face units (for the next frame's hysteresis)
        fy, fx = np.nonzero(flagged)
        self._previous = (np.column_stack([fx, fy]) - centre) / unit if fy.size else None
        self.last_distance = d
