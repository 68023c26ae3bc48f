"""The shape of a face, for procedural identities: a face-local frame (:class:`FaceFrame`), the mesh
regions, and the shape variation of the landmarks (:func:`vary_shape`: face and jaw width, chin,
forehead, eyes, brows, nose and mouth, within :data:`SHAPE_RANGES`); :func:`outer_ramp` and
:func:`upper_ramp` weigh the landmarks by where they sit in the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..faces.mesh import FACE_OVAL

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


def outer_ramp(landmarks: np.ndarray) -> np.ndarray:
    """Per landmark: 0 in the inner face, rising to 1 at the face's outline (an ellipse fitted to
    the outline's extent in the face frame)."""
    loc = FaceFrame.of(landmarks).to_local(landmarks)
    oval = loc[list(FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    r = np.hypot((loc[:, 0] - centre[0]) / half[0], (loc[:, 1] - centre[1]) / half[1])
    return _ramp(r, 0.55, 0.85)


def upper_ramp(landmarks: np.ndarray) -> np.ndarray:
    """Per landmark: 0 above the nose's bottom, rising to 1 at the mouth line (the lower face)."""
    loc = FaceFrame.of(landmarks).to_local(landmarks)
    mouth_y = float((loc[MOUTH_R, 1] + loc[MOUTH_L, 1]) / 2)
    return _ramp(loc[:, 1], float(loc[SUBNASALE, 1]), mouth_y)
