"""The colour of procedural faces: skin statistics and likelihood in Lab, the appearance a seed picks
(:class:`Appearance`, :data:`SKIN_TONES`) applied by :func:`recolour` (skin tone inside the face, hair
and background outside), and :func:`relight` (one face's details under another's light).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .face_masks import face_masks, soften
from .face_shape import FaceFrame


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
    gate = soften(skin_likelihood(lab, mean, std), 1.0)
    region = soften(masks["head"], unit * 0.12)
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
    out_w = ((1.0 - soften(near, unit * 0.15)) * (1.0 - gate * region))[..., None]
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
        hair_zone = soften(
            cv2.dilate(masks["face"], np.ones((3, 3), np.uint8), iterations=round(unit * 0.6)), unit * 0.2
        )
        hair_zone = hair_zone * (1.0 - soften(masks["face"], unit * 0.05)) * (1.0 - gate)
        dark = np.clip((45.0 - lab[..., 0]) / 25.0, 0.0, 1.0)
        w = hair_zone * dark * look.hair_lift
        new[..., 0] = new[..., 0] + 18.0 * w
        new[..., 1] = new[..., 1] + 6.0 * w
        new[..., 2] = new[..., 2] + 14.0 * w
    return _rgb(new)


def relight(image: np.ndarray, reference: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` with its low frequencies (shading, skin colour; Gaussian ``sigma``, averaged inside
    ``mask`` only) replaced by those of ``reference``: the details of one face under the other's light."""
    m = soften(mask.astype(np.float32), 1.0)[..., None]
    norm = cv2.GaussianBlur(m, (0, 0), sigma)[..., None] + 1e-4

    def low(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x * m, (0, 0), sigma) / norm

    img, ref = image.astype(np.float32), reference.astype(np.float32)
    out = img - low(img) + low(ref)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
