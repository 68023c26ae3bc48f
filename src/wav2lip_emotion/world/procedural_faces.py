"""Procedural identities: new, photo-real faces made by transforming the real portraits.

Nothing is drawn: every pixel comes from a real photo. A seed picks a **host** among the accepted
real identities (neutral, closed mouth; :func:`~.identities.real_identities`; sharper portraits more
often) and, 4 times in 5, a **donor** among all frontal, evenly lit real portraits
(:func:`~.identities.donor_identities`, whatever their expression). Then:

1. **shape** — the donor's landmarks (aligned to the host's by a similarity) are averaged into the
   host's inner face; the outline stays the host's (its hair and head fit it) and, for a donor that
   is not neutral, so do the mouth and chin. The result is varied in a face-local frame: face width,
   jaw width, chin length, forehead height, eye spacing and size, brow height, nose length and
   width, mouth width (each uniform within +-8..15 %, :data:`SHAPE_RANGES`), and re-framed like a
   real portrait (face box = :data:`~.identities.FACE_FRACTION` of the side, eye line level +-3 deg);
2. **warp** — host and donor are warped onto that shape by a thin-plate spline through their 468
   landmarks plus border anchors (:func:`warp_to_landmarks`: the spline on a 4 px grid, one
   ``cv2.remap``);
3. **blend** — the donor, relit with the host's low frequencies (:func:`relight`: its details under
   the host's light and skin colour), is cross-dissolved into the host inside the eroded, soft face
   oval; not in the eye band when either wears glasses (no ghost frames), not around the mouth and
   chin for a non-neutral donor;
4. **appearance** — skin tone moved towards one of :data:`SKIN_TONES` in Lab (lightness scaled,
   chroma shifted) inside a soft face + ears + neck mask gated by skin likelihood, so eyes, brows,
   glasses, hair and clothes keep their colour; hair, background and clothes get a chroma rotation,
   chroma gain, lightness gain and colour cast, dark hair sometimes lifted towards brown
   (:func:`recolour`);
5. **mirror** by seed. The tracker then runs on the result: the face must be found with a mesh score
   >= 0.9, |yaw| <= 20 deg, a closed mouth and face-api p(neutral) >= 0.5, else the seed's next
   attempt is made (up to :data:`MAX_ATTEMPTS`).

Everything is a function of the seed (``numpy.random.default_rng([seed, attempt])``) and of the real
portraits, so a seed always gives the same pixels on the same machine.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from ..faces.mesh import FACE_OVAL
from .identities import (
    DEFAULT_SIZE,
    FACE_FRACTION,
    Criteria,
    Identity,
    donor_identities,
    expression,
    landmark_box,
    measure_pose,
    real_identities,
    side_light,
    track,
)

# --------------------------------------------------------------------------- mesh regions
EYE_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
BROW_R = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_L = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
NOSE_BOTTOM = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)
NOSE_TIP, NOSE_ROOT, SUBNASALE = 1, 168, 2
EYE_R_OUTER, EYE_L_OUTER = 33, 263
MOUTH_R, MOUTH_L = 61, 291
CHIN, FOREHEAD = 152, 10
JAW_R, JAW_L = 172, 397

#: half-widths of the uniform ranges the shape parameters are drawn from (fractions)
SHAPE_RANGES: dict[str, float] = {
    "face_width": 0.10,
    "jaw_width": 0.12,
    "chin_length": 0.15,
    "upper_face": 0.08,
    "eye_spacing": 0.10,
    "eye_size": 0.12,
    "brow_height": 0.12,
    "nose_length": 0.12,
    "nose_width": 0.15,
    "mouth_width": 0.12,
}

#: attempts per seed before giving up
MAX_ATTEMPTS = 8


# --------------------------------------------------------------------------- warping


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity (rotation, uniform scale, shift) taking points ``src`` to ``dst``."""
    src = np.asarray(src, np.float64)[:, :2]
    dst = np.asarray(dst, np.float64)[:, :2]
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, sv, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag([1.0, d]) @ vt
    scale = (sv * [1.0, d]).sum() / max(a.var(axis=0).sum(), 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64)[:, :2]
    return pts @ m[:, :2].T + m[:, 2]


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    return np.where(r2 > 0, 0.5 * r2 * np.log(np.maximum(r2, 1e-300)), 0.0)


def warp_to_landmarks(
    image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    out_size: tuple[int, int] | None = None,
    *,
    step: int = 4,
    border: str = "similarity",
    border_points: int = 9,
    regularization: float = 1e-7,
) -> np.ndarray:
    """Warp ``image`` so that its points ``src`` [N, 2+] land on ``dst`` [N, 2+] (output pixels).

    A thin-plate spline maps every output pixel back into ``image``; it passes through the given
    point pairs and through ``border_points`` anchors per side of the output border, which follow
    the best similarity src -> dst (so the frame moves rigidly with the face). The spline is
    evaluated on a grid every ``step`` pixels, its displacement interpolated bicubically to every
    pixel, and the image sampled with ``cv2.remap`` (bicubic; outside the image its border
    is repeated: a reflection would mirror necklines into bubbles). ``out_size`` is
    (width, height), default the input's. ``border="fixed"``: the border anchors stay where they are
    (for edits of a face within its own image).
    """
    if border not in ("similarity", "fixed"):
        raise ConfigError(f"border must be 'similarity' or 'fixed', got {border!r}")
    h_in, w_in = image.shape[:2]
    w, h = out_size or (w_in, h_in)
    src = np.asarray(src, np.float64)[:, :2]
    dst = np.asarray(dst, np.float64)[:, :2]
    sim = similarity(src, dst) if border == "similarity" else np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    inv = cv2.invertAffineTransform(sim)
    xs = np.linspace(0, w - 1, border_points)
    ys = np.linspace(0, h - 1, border_points)[1:-1]
    top, bottom = np.stack([xs, np.zeros_like(xs)], 1), np.stack([xs, np.full_like(xs, h - 1)], 1)
    left, right = np.stack([np.zeros_like(ys), ys], 1), np.stack([np.full_like(ys, w - 1), ys], 1)
    anchors = np.concatenate([top, bottom, left, right])
    ctrl = np.concatenate([dst, anchors])
    vals = np.concatenate([src, apply_affine(inv, anchors)])
    # drop points that (nearly) coincide in the output: the spline cannot map one point to two places
    keep = _dedupe(ctrl, 0.5)
    ctrl, vals = ctrl[keep], vals[keep]
    scale = float(max(w, h))
    c = ctrl / scale
    disp = (vals - ctrl) / scale  # interpolate the displacement (output -> input), not the map
    n = len(c)
    d2 = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    big = np.zeros((n + 3, n + 3))
    big[:n, :n] = _tps_kernel(d2) + regularization * np.eye(n)
    big[:n, n] = 1.0
    big[:n, n + 1 :] = c
    big[n, :n] = 1.0
    big[n + 1 :, :n] = c.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = disp
    coef = np.linalg.solve(big, rhs)
    gx = np.arange(0, w + step, step, dtype=np.float64)
    gy = np.arange(0, h + step, step, dtype=np.float64)
    q = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2) / scale
    k = _tps_kernel(((q[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    field = (k @ coef[:n] + coef[n] + q @ coef[n + 1 :]) * scale
    field = field.reshape(len(gy), len(gx), 2).astype(np.float32)
    # grid node j sits at pixel j * step: resample the coarse field exactly onto the pixel grid
    px = np.arange(w, dtype=np.float32) / step
    py = np.arange(h, dtype=np.float32) / step
    mx, my = np.meshgrid(px, py)
    dense = cv2.remap(field, mx, my, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    ix, iy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = ix + dense[..., 0]
    map_y = iy + dense[..., 1]
    out = cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out)


def _dedupe(points: np.ndarray, tol: float) -> np.ndarray:
    keys = np.round(points / tol).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.sort(first)


# --------------------------------------------------------------------------- shape variation


@dataclass(frozen=True)
class FaceFrame:
    """A face-local frame: origin at the nose root, x along the eye line (towards the subject's
    left, image right), y towards the chin; unit = distance between the outer eye corners."""

    origin: np.ndarray
    axes: np.ndarray  # rows: x axis, y axis (image coordinates)
    unit: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame:
        pts = np.asarray(landmarks, np.float64)[:, :2]
        d = pts[EYE_L_OUTER] - pts[EYE_R_OUTER]
        unit = float(np.linalg.norm(d))
        ex = d / unit
        return cls(pts[NOSE_ROOT].copy(), np.stack([ex, np.array([-ex[1], ex[0]])]), unit)

    def to_local(self, pts: np.ndarray) -> np.ndarray:
        return (np.asarray(pts, np.float64)[:, :2] - self.origin) @ self.axes.T / self.unit

    def to_image(self, local: np.ndarray) -> np.ndarray:
        return local * self.unit @ self.axes + self.origin


def _bump(local: np.ndarray, centre: np.ndarray, radius: tuple[float, float]) -> np.ndarray:
    """1 inside half the (elliptic) radius, smoothly down to 0 at the radius."""
    r = np.hypot((local[:, 0] - centre[0]) / radius[0], (local[:, 1] - centre[1]) / radius[1])
    t = np.clip((1.0 - r) / 0.5, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _ramp(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((v - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def vary_shape(landmarks: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """The landmarks [468, 2] moved by the shape parameters (fractions, see :data:`SHAPE_RANGES`)."""
    unknown = set(params) - set(SHAPE_RANGES)
    if unknown:
        raise ConfigError(f"unknown face-shape parameters: {sorted(unknown)}")
    p = {k: float(params.get(k, 0.0)) for k in SHAPE_RANGES}
    frame = FaceFrame.of(landmarks)
    loc = frame.to_local(landmarks)
    x, y = loc[:, 0].copy(), loc[:, 1].copy()
    eye_r, eye_l = loc[list(EYE_R)].mean(axis=0), loc[list(EYE_L)].mean(axis=0)
    eye_w = float(np.ptp(loc[list(EYE_R), 0]) + np.ptp(loc[list(EYE_L), 0])) / 2
    nose_y = float(loc[SUBNASALE, 1])
    mouth = (loc[MOUTH_R] + loc[MOUTH_L]) / 2
    chin_y = float(loc[CHIN, 1])
    top_y = float(loc[FOREHEAD, 1])
    nx, ny = np.zeros(len(loc)), np.zeros(len(loc))
    # whole face wider/narrower, jaw more so below the nose
    nx += x * p["face_width"]
    nx += x * p["jaw_width"] * _ramp(y, nose_y, chin_y)
    # chin: everything below the mouth stretched downwards
    ny += np.clip(y - mouth[1], 0.0, None) * p["chin_length"]
    # forehead: everything above the eyes stretched upwards
    ny += np.clip(y - eye_r[1], None, 0.0) * p["upper_face"] * (top_y < 0)
    # eyes: apart/together and larger/smaller, with their surroundings fading out
    for centre, side in ((eye_r, -1.0), (eye_l, 1.0)):
        around = _bump(loc, centre, (0.55, 0.45))
        nx += side * p["eye_spacing"] * 0.25 * around
        inner = _bump(loc, centre, (0.9 * eye_w, 0.55 * eye_w))
        nx += (x - centre[0]) * p["eye_size"] * inner
        ny += (y - centre[1]) * p["eye_size"] * inner
    # brows up/down
    for brow in (BROW_R, BROW_L):
        c = loc[list(brow)].mean(axis=0)
        ny -= p["brow_height"] * 0.25 * _bump(loc, c, (0.45, 0.2))
    # nose: its lower part moved down (upper lip shortened to compensate), wider/narrower
    nose_w = _bump(loc, np.array([0.0, nose_y * 0.55]), (0.35, nose_y * 0.75))
    ny += np.clip(y, 0.0, nose_y) * p["nose_length"] * nose_w
    tip = _bump(loc, np.array([0.0, nose_y * 0.9]), (0.33, 0.3))
    nx += x * p["nose_width"] * tip
    # mouth wider/narrower about its centre
    mw = float(loc[MOUTH_L, 0] - loc[MOUTH_R, 0])
    mouth_zone = _bump(loc, mouth, (0.75 * mw + 0.1, 0.35))
    nx += (x - mouth[0]) * p["mouth_width"] * mouth_zone
    moved = np.stack([x + nx, y + ny], 1)
    return frame.to_image(moved)


# --------------------------------------------------------------------------- masks and colour


def _poly_mask(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return m.astype(np.float32) / 255.0


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), max(sigma, 0.5))


def face_masks(landmarks: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Float32 masks: ``face`` (the mesh's oval), ``head`` (face + ears + neck, generous),
    ``features`` (eyes, brows, lips, nostrils: where skin statistics are not taken),
    ``eye_band`` (brows to the cheekbones, where glasses sit), ``mouth_zone`` (below the nose,
    between the nasolabial folds, down past the chin)."""
    pts = np.asarray(landmarks, np.float64)[:, :2]
    frame = FaceFrame.of(pts)
    unit = frame.unit
    oval = pts[list(FACE_OVAL)]
    face = _poly_mask(oval, shape)
    centre = oval.mean(axis=0)
    grown = centre + (oval - centre) * 1.12
    # the neck: below the jaw's corners, narrowing a little, down a face height
    loc = frame.to_local(pts)
    jr, jl, chin = loc[JAW_R], loc[JAW_L], loc[CHIN]
    neck = np.array(
        [
            [jr[0] * 0.95, jr[1]],
            [jl[0] * 0.95, jl[1]],
            [jl[0] * 0.8, chin[1] + 1.0],
            [jr[0] * 0.8, chin[1] + 1.0],
        ]
    )
    head = np.maximum(_poly_mask(grown, shape), _poly_mask(frame.to_image(neck), shape))
    feats = np.zeros(shape, np.float32)
    for region in (EYE_R, EYE_L, BROW_R, BROW_L, LIPS_OUTER, NOSE_BOTTOM):
        hull = cv2.convexHull(pts[list(region)].astype(np.float32))[:, 0]
        feats = np.maximum(feats, _poly_mask(hull, shape))
    feats = np.minimum(cv2.dilate(feats, np.ones((3, 3), np.uint8), iterations=max(1, round(unit * 0.06))), 1.0)
    brows = loc[list(BROW_R + BROW_L)]
    top = float(brows[:, 1].min()) - 0.12
    bottom = float(loc[NOSE_TIP, 1]) * 0.85
    xr, xl = float(loc[list(FACE_OVAL), 0].min()), float(loc[list(FACE_OVAL), 0].max())
    band = frame.to_image(np.array([[xr - 0.3, top], [xl + 0.3, top], [xl + 0.3, bottom], [xr - 0.3, bottom]]))
    # the mouth, its surroundings and the chin: below the nose, between the nasolabial folds
    half = float(loc[MOUTH_L, 0] - loc[MOUTH_R, 0]) / 2 + 0.15
    mx = float((loc[MOUTH_R, 0] + loc[MOUTH_L, 0]) / 2)
    top_m = float(loc[SUBNASALE, 1]) + 0.05
    zone = np.array([[mx - half, top_m], [mx + half, top_m], [mx + half, chin[1] + 0.3], [mx - half, chin[1] + 0.3]])
    mouth_zone = _poly_mask(frame.to_image(zone), shape)
    lips = cv2.convexHull(pts[list(LIPS_OUTER)].astype(np.float32))[:, 0]
    mouth_zone = np.maximum(mouth_zone, _poly_mask(lips, shape))
    return {
        "face": face,
        "head": head,
        "features": feats,
        "eye_band": _poly_mask(band, shape),
        "mouth_zone": mouth_zone,
    }


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def skin_stats(lab: np.ndarray, masks: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of Lab over the face's skin (the oval without the features)."""
    eroded = cv2.erode((masks["face"] > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2)
    sel = (eroded > 0) & (masks["features"] < 0.1)
    px = lab[sel] if sel.sum() > 50 else lab[masks["face"] > 0.5]
    # trim the darkest and brightest tenth (shadows, highlights, stray hair)
    lo, hi = np.percentile(px[:, 0], [10, 90])
    core = px[(px[:, 0] >= lo) & (px[:, 0] <= hi)]
    core = core if len(core) > 20 else px
    return core.mean(axis=0), core.std(axis=0) + 1e-3


def skin_likelihood(lab: np.ndarray, mean: np.ndarray, std: np.ndarray, width: float = 3.0) -> np.ndarray:
    """Soft 0..1 map of how skin-like each pixel's colour is (a generous Gaussian in Lab)."""
    spread = np.maximum(std, [6.0, 3.0, 3.0]) * width
    d2 = (((lab - mean) / spread) ** 2 * [0.35, 1.0, 1.0]).sum(-1)
    return np.exp(-0.5 * d2).astype(np.float32)


#: skin tones the seed moves towards (Lab lightness, a, b), light to dark, from the range of real skin
SKIN_TONES = np.array(
    [
        [72.0, 9.0, 16.0],
        [66.0, 12.0, 19.0],
        [60.0, 14.0, 21.0],
        [52.0, 15.0, 22.0],
        [44.0, 14.0, 20.0],
        [36.0, 12.0, 16.0],
    ]
)


@dataclass(frozen=True)
class Appearance:
    #: target skin tone (Lab) and how far to move towards it (0..1)
    skin: tuple[float, float, float]
    skin_amount: float
    #: hair/background: chroma rotation (degrees), chroma gain, lightness gain
    hue: float
    chroma: float
    lightness: float
    #: lift of dark hair towards brown (0: none)
    hair_lift: float
    #: colour cast (Lab a, b) added to hair, background and clothes
    tint: tuple[float, float] = (0.0, 0.0)


def recolour(image: np.ndarray, landmarks: np.ndarray, look: Appearance) -> np.ndarray:
    """Skin tone inside the face/ears/neck (skin-gated), hair and background colour outside."""
    shape = image.shape[:2]
    masks = face_masks(landmarks, shape)
    lab = _lab(image)
    mean, std = skin_stats(lab, masks)
    unit = FaceFrame.of(landmarks).unit
    gate = _soft(skin_likelihood(lab, mean, std), 1.0)
    region = _soft(masks["head"], unit * 0.12)
    skin_w = (region * gate * look.skin_amount)[..., None]
    target = np.array(look.skin, np.float32)
    # lightness scales (keeps the shading), chroma shifts
    gain = np.float32(target[0] / max(float(mean[0]), 1.0))
    new = lab.copy()
    new[..., 0] = lab[..., 0] * (1 + (gain - 1) * skin_w[..., 0])
    new[..., 1:] = lab[..., 1:] + (target[1:] - mean[1:]) * skin_w
    # outside the head: hair, background, clothes
    near = cv2.dilate(
        np.maximum(masks["head"], masks["face"]), np.ones((3, 3), np.uint8), iterations=round(unit * 0.15)
    )
    out_w = ((1.0 - _soft(near, unit * 0.15)) * (1.0 - gate * region))[..., None]
    ang = np.deg2rad(look.hue)
    a, b = new[..., 1].copy(), new[..., 2].copy()
    ra = (np.cos(ang) * a - np.sin(ang) * b) * look.chroma
    rb = (np.sin(ang) * a + np.cos(ang) * b) * look.chroma
    new[..., 1] = a + (ra - a) * out_w[..., 0]
    new[..., 2] = b + (rb - b) * out_w[..., 0]
    new[..., 0] = new[..., 0] * (1 + (look.lightness - 1) * out_w[..., 0])
    new[..., 1] += look.tint[0] * out_w[..., 0]
    new[..., 2] += look.tint[1] * out_w[..., 0]
    if look.hair_lift > 0:  # dark pixels around the head (hair) lifted towards a warm brown
        hair_zone = _soft(
            cv2.dilate(masks["face"], np.ones((3, 3), np.uint8), iterations=round(unit * 0.6)), unit * 0.2
        )
        hair_zone = hair_zone * (1.0 - _soft(masks["face"], unit * 0.05)) * (1.0 - gate)
        dark = np.clip((45.0 - lab[..., 0]) / 25.0, 0.0, 1.0)
        w = hair_zone * dark * look.hair_lift
        new[..., 0] = new[..., 0] + 18.0 * w
        new[..., 1] = new[..., 1] + 6.0 * w
        new[..., 2] = new[..., 2] + 14.0 * w
    return _rgb(new)


def relight(image: np.ndarray, reference: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` with its low frequencies (shading, skin colour; Gaussian ``sigma``, averaged inside
    ``mask`` only) replaced by those of ``reference``: the details of one face under the other's light."""
    m = _soft(mask.astype(np.float32), 1.0)[..., None]
    norm = cv2.GaussianBlur(m, (0, 0), sigma)[..., None] + 1e-4

    def low(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x * m, (0, 0), sigma) / norm

    img, ref = image.astype(np.float32), reference.astype(np.float32)
    out = img - low(img) + low(ref)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class Recipe:
    """Everything a seed decides (for reports and reproduction)."""

    seed: int
    attempt: int
    #: the host: hair, head, background, mouth and chin
    base: str
    #: the donor blended into the face, or None
    other: str | None
    #: weight of the host in the average shape and inside the blended face
    weight: float
    #: the donor gives only the upper face (it is not a neutral, closed-mouth identity)
    upper_only: bool
    shape: dict[str, float]
    roll: float
    look: Appearance
    mirror: bool


def _quality(ident: Identity) -> float:
    """Sharpness proxy: source face width / 150 px, at most 1 (small faces were upscaled, blurry)."""
    return min(1.0, max(ident.source_face, 1.0) / 150.0)


def make_recipe(seed: int, attempt: int, bases: Sequence[Identity], donors: Sequence[Identity]) -> Recipe:
    """What seed ``seed`` (attempt ``attempt``) makes from the host ``bases`` and the ``donors``."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF, attempt])
    quality = np.array([_quality(b) for b in bases])
    host = bases[int(rng.choice(len(bases), p=quality / quality.sum()))]
    others = [d for d in donors if d.name != host.name]
    donor: Identity | None = None
    if others:
        q = np.array([_quality(d) for d in others])
        donor = others[int(rng.choice(len(others), p=q / q.sum()))]
    blend = donor is not None and rng.random() < 0.8
    weight = float(rng.uniform(0.25, 0.5)) if blend else 1.0
    neutral_names = {b.name for b in bases}
    shape = {k: float(rng.uniform(-r, r)) for k, r in SHAPE_RANGES.items()}
    roll = float(rng.uniform(-3.0, 3.0))
    tone = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] + rng.normal(0.0, [2.0, 1.0, 1.5])
    tint = rng.normal(0.0, 7.0, 2)
    look = Appearance(
        skin=(float(tone[0]), float(tone[1]), float(tone[2])),
        skin_amount=float(rng.uniform(0.5, 0.9)),
        hue=float(rng.uniform(-60.0, 60.0)),
        chroma=float(rng.uniform(0.7, 1.3)),
        lightness=float(rng.uniform(0.8, 1.15)),
        hair_lift=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.35 else 0.0,
        tint=(float(tint[0]), float(tint[1])),
    )
    mirror = bool(rng.random() < 0.5)
    return Recipe(
        seed=int(seed),
        attempt=attempt,
        base=host.name,
        other=donor.name if blend and donor is not None else None,
        weight=weight,
        upper_only=blend and donor is not None and donor.name not in neutral_names,
        shape=shape,
        roll=roll,
        look=look,
        mirror=mirror,
    )


def render_recipe(recipe: Recipe, people: Sequence[Identity], size: int) -> np.ndarray:
    """The portrait a recipe describes ([size, size, 3] uint8), before the checks. ``people``: the
    bases and donors (looked up by name)."""
    by_name = {p.name: p for p in people}
    a = by_name[recipe.base]
    la = a.landmarks[:, :2].astype(np.float64)
    target = la
    b = by_name[recipe.other] if recipe.other else None
    if b is not None:
        lb = apply_affine(similarity(b.landmarks, la), b.landmarks)
        # the host keeps its outline (its hair and head fit it); inner features are averaged
        wb = np.full(len(la), 1.0 - recipe.weight) * (1.0 - _outer_ramp(la))
        if recipe.upper_only:  # the donor's mouth and chin shape (a smile) stay out
            wb *= 1.0 - _upper_ramp(la)
        target = la + wb[:, None] * (lb - la)
    target = vary_shape(target, recipe.shape)
    # re-frame: level eye line (+ a small roll), face box centred at FACE_FRACTION of the side
    frame = FaceFrame.of(target)
    ang = np.arctan2(frame.axes[0, 1], frame.axes[0, 0]) - np.deg2rad(recipe.roll)
    c, s = np.cos(-ang), np.sin(-ang)
    rot = (target - target.mean(axis=0)) @ np.array([[c, -s], [s, c]]).T
    x0, y0, x1, y1 = landmark_box(rot)
    k = size * FACE_FRACTION / max(x1 - x0, y1 - y0)
    dst = (rot - [(x0 + x1) / 2, (y0 + y1) / 2]) * k + size / 2
    out = warp_to_landmarks(a.image, la, dst, (size, size))
    if b is not None:
        other = warp_to_landmarks(b.image, b.landmarks, dst, (size, size))
        masks = face_masks(dst, (size, size))
        unit = FaceFrame.of(dst).unit
        other = relight(other, out, masks["face"], unit * 0.2)
        inner = cv2.erode(
            (masks["face"] > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=round(unit * 0.15)
        )
        m = _soft(inner.astype(np.float32), unit * 0.1)
        if a.glasses or b.glasses:
            m = m * (1.0 - _soft(masks["eye_band"], unit * 0.08))
        if recipe.upper_only:
            m = m * (1.0 - _soft(masks["mouth_zone"], unit * 0.12))
        w = ((1.0 - recipe.weight) * m)[..., None]
        out = np.clip(np.rint(out * (1.0 - w) + other.astype(np.float32) * w), 0, 255).astype(np.uint8)
    out = recolour(out, dst, recipe.look)
    if recipe.mirror:
        out = np.ascontiguousarray(out[:, ::-1])
    return out


def _outer_ramp(landmarks: np.ndarray) -> np.ndarray:
    """Per landmark: 0 in the inner face, rising to 1 at the face's outline (an ellipse fitted to
    the outline's extent in the face frame)."""
    loc = FaceFrame.of(landmarks).to_local(landmarks)
    oval = loc[list(FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    r = np.hypot((loc[:, 0] - centre[0]) / half[0], (loc[:, 1] - centre[1]) / half[1])
    return _ramp(r, 0.55, 0.85)


def _upper_ramp(landmarks: np.ndarray) -> np.ndarray:
    """Per landmark: 0 above the nose's bottom, rising to 1 at the mouth line (the lower face)."""
    loc = FaceFrame.of(landmarks).to_local(landmarks)
    mouth_y = float((loc[MOUTH_R, 1] + loc[MOUTH_L, 1]) / 2)
    return _ramp(loc[:, 1], float(loc[SUBNASALE, 1]), mouth_y)


def procedural_identity(
    seed: int,
    size: int = DEFAULT_SIZE,
    bases: Sequence[Identity] | None = None,
    donors: Sequence[Identity] | None = None,
    criteria: Criteria | None = None,
) -> Identity:
    """A new identity from ``seed`` (see the module).

    ``bases``: the hosts, neutral closed-mouth portraits (default: :func:`real_identities`);
    ``donors``: portraits whose upper face may be blended in (default: :func:`donor_identities`
    when ``bases`` is None, else ``bases``). Portraits of another size are resized. MediaError when
    no attempt passes the checks.
    """
    if donors is None:
        donors = donor_identities(size) if bases is None else bases
    if bases is None:
        bases = real_identities(size)
    bases = [_resized(b, size) for b in bases]
    donors = [_resized(d, size) for d in donors]
    if not bases:
        raise ConfigError("procedural_identity needs at least one base identity")
    criteria = criteria or Criteria()
    people = [*bases, *donors]
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        recipe = make_recipe(seed, attempt, bases, donors)
        image = render_recipe(recipe, people, size)
        got = track(image)
        if got is None:
            reasons.append("no face found")
            continue
        lm, score = got
        pose = measure_pose(lm)
        if score < criteria.min_score:
            reasons.append(f"mesh score {score:.2f}")
            continue
        if abs(pose.yaw) > criteria.max_yaw or pose.mouth_gap > criteria.max_mouth_gap:
            reasons.append(f"yaw {pose.yaw:.0f} / lip gap {pose.mouth_gap:.3f}")
            continue
        probs = expression(image, lm)
        if probs.get("neutral", 0.0) < criteria.min_neutral:
            top = max(probs, key=lambda k: probs[k])
            reasons.append(f"not neutral ({top} {probs[top]:.2f})")
            continue
        by_name = {p.name: p for p in people}
        host = by_name[recipe.base]
        used = [host] + ([by_name[recipe.other]] if recipe.other else [])
        # the host's head, hair and mouth carry the look; a donor of the other gender makes it unknown
        gender = host.gender if all(u.gender in (None, host.gender) for u in used) else None
        names = "+".join(u.name for u in used)
        return Identity(
            name=f"proc_{seed:04d}",
            image=image,
            landmarks=lm,
            real=False,
            source=f"procedural:{seed}:{names}",
            gender=gender,
            base_expression=probs,
            mouth_closed=True,
            score=score,
            yaw=pose.yaw,
            roll=pose.roll,
            public_domain=all(u.public_domain for u in used),
            # a donor's glasses are never blended in (see render_recipe)
            glasses=host.glasses,
            source_face=host.source_face,
            side_light=side_light(image, lm),
        )
    raise MediaError(f"procedural identity {seed}: no attempt passed the checks ({'; '.join(reasons)})")


def _resized(base: Identity, size: int) -> Identity:
    if base.image.shape[:2] == (size, size):
        return base
    s = size / base.image.shape[0]
    out = copy.copy(base)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LANCZOS4
    out.image = cv2.resize(base.image, (size, size), interpolation=interp)
    lm = base.landmarks.copy()
    lm *= s
    out.landmarks = lm
    return out
