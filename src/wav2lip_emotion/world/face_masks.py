"""Masks of a face's regions on its landmarks (:func:`face_masks`: face oval, head with ears and neck,
features, eye band, mouth zone) and their soft edges (:func:`soften`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..faces.mesh import FACE_OVAL
from .face_shape import (
    BROW_L,
    BROW_R,
    CHIN,
    EYE_L,
    EYE_R,
    JAW_L,
    JAW_R,
    LIPS_OUTER,
    MOUTH_L,
    MOUTH_R,
    NOSE_BOTTOM,
    NOSE_TIP,
    SUBNASALE,
    FaceFrame,
)


def _poly_mask(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return m.astype(np.float32) / 255.0


def soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    """``mask`` blurred by a Gaussian of ``sigma`` (at least 0.5): a soft edge."""
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
