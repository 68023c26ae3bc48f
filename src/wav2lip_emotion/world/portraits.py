"""Portraits of the generated world's identities: what an identity is (:class:`Identity`: a square
portrait with the face centred and its mesh landmarks), what makes a portrait a usable neutral start
for the rig (:class:`Criteria`), how a portrait is cut around a face (:func:`cut_portrait`) and what
is measured on its landmarks (:func:`measure_pose`, :func:`side_light`, :func:`landmark_box`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

#: side of a portrait in pixels (default)
DEFAULT_SIZE = 256
#: the face-mesh box's longer side as a fraction of the portrait's side
FACE_FRACTION = 0.6
#: minimum width of the tracked mesh box in source pixels for any candidate
MIN_SOURCE_FACE = 60

# mesh indices (subject's right = image left)
NOSE_TIP = 1
EYE_R_OUTER, EYE_L_OUTER = 33, 263
LIP_INNER_UPPER, LIP_INNER_LOWER = 13, 14
FOREHEAD, CHIN = 10, 152
#: depth of the nose tip in front of the outer eye corners / half their distance, measured on the
#: mesh of frontal faces (grace_hopper 0.91); turns the nose's offset from the eyes' midpoint into yaw
NOSE_DEPTH_RATIO = 0.91


@dataclass(frozen=True)
class Criteria:
    """What makes a portrait a usable neutral start for the rig."""

    #: minimum face-mesh score on the portrait
    min_score: float = 0.9
    #: maximum |yaw| in degrees, estimated from the nose tip against the outer eye corners
    max_yaw: float = 20.0
    #: maximum inner-lip gap (landmarks 13-14) as a fraction of the face height (10-152)
    max_mouth_gap: float = 0.04
    #: minimum face-api probability of "neutral"
    min_neutral: float = 0.5
    #: minimum mesh-box width of the face in the source photo (pixels)
    min_source_face: int = MIN_SOURCE_FACE


@dataclass
class Identity:
    """One actor: a square portrait with the face centred and its mesh landmarks."""

    #: "real_grace_hopper", "real_dlib_2008_001322_0", "proc_0007", ...
    name: str
    #: [size, size, 3] RGB uint8 portrait
    image: np.ndarray
    #: [468, 3] face-mesh landmarks on ``image`` (x, y pixels; z relative depth)
    landmarks: np.ndarray
    real: bool
    #: asset name (with "#<face>" or "@<frame>"), or "procedural:<seed>:<base names>"
    source: str
    #: "female" / "male" when known, else None
    gender: str | None = None
    #: face-api probabilities of the untouched portrait (as classifiers see it: CLASSIFIER_CROP)
    base_expression: dict[str, float] = field(default_factory=dict)
    mouth_closed: bool = True
    #: face-mesh score on the portrait
    score: float = 0.0
    #: estimated head yaw and roll in degrees (yaw > 0: the nose points towards image right)
    yaw: float = 0.0
    roll: float = 0.0
    #: the portrait and everything it was made from are public domain (fine for committed images)
    public_domain: bool = False
    #: the person wears glasses
    glasses: bool = False
    #: width of the face (mesh box) in the source photo, pixels (small: an upscaled, blurry portrait)
    source_face: float = 0.0
    #: lighting asymmetry: (left cheek - right cheek) / mean luminance; 0 for even light
    side_light: float = 0.0

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def box(self) -> np.ndarray:
        """[x0, y0, x1, y1] of the landmarks (the tracker's face box)."""
        xy = self.landmarks[:, :2]
        return np.concatenate([xy.min(axis=0), xy.max(axis=0)])

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description (no pixels)."""
        return {
            "name": self.name,
            "real": self.real,
            "source": self.source,
            "gender": self.gender,
            "size": self.size,
            "score": round(self.score, 4),
            "yaw": round(self.yaw, 1),
            "roll": round(self.roll, 1),
            "mouth_closed": self.mouth_closed,
            "neutral": round(self.base_expression.get("neutral", float("nan")), 3),
            "public_domain": self.public_domain,
            "glasses": self.glasses,
            "source_face": round(self.source_face, 1),
            "side_light": round(self.side_light, 3),
        }


# ------------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Pose:
    """Head pose and mouth opening measured on mesh landmarks."""

    yaw: float
    roll: float
    #: inner-lip gap / face height
    mouth_gap: float
    #: face height (forehead 10 to chin 152) in pixels
    face_height: float


def measure_pose(landmarks: np.ndarray) -> Pose:
    """Yaw from symmetry (nose tip against the outer eye corners), roll from the eye line, lip gap."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    d = pts[EYE_L_OUTER] - pts[EYE_R_OUTER]
    roll = float(np.arctan2(d[1], d[0]))
    c, s = np.cos(-roll), np.sin(-roll)
    local = (pts - pts.mean(axis=0)) @ np.array([[c, -s], [s, c]]).T  # eye line horizontal
    e_r, e_l, nose = local[EYE_R_OUTER], local[EYE_L_OUTER], local[NOSE_TIP]
    half = max((e_l[0] - e_r[0]) / 2, 1e-6)
    offset = (nose[0] - (e_r[0] + e_l[0]) / 2) / half
    yaw = float(np.degrees(np.arctan(offset / NOSE_DEPTH_RATIO)))
    height = max(float(local[CHIN, 1] - local[FOREHEAD, 1]), 1e-6)
    gap = float(local[LIP_INNER_LOWER, 1] - local[LIP_INNER_UPPER, 1]) / height
    return Pose(yaw=yaw, roll=float(np.degrees(roll)), mouth_gap=gap, face_height=height)


CHEEK_R = (50, 101, 118, 117, 123, 187, 205, 36, 147)
CHEEK_L = (280, 330, 347, 346, 352, 411, 425, 266, 376)


def side_light(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """(mean luminance of the left cheek - the right cheek) / their mean: harsh side light is far from 0."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64)
    means = []
    for cheek in (CHEEK_R, CHEEK_L):
        mask = np.zeros(grey.shape, np.uint8)
        hull = cv2.convexHull(np.round(landmarks[list(cheek), :2]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
        means.append(float(grey[mask > 0].mean()) if mask.any() else 0.0)
    r, left = means
    return (left - r) / max((left + r) / 2, 1.0)


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    xy = np.asarray(landmarks)[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def portrait_transform(landmarks: np.ndarray, size: int, face_fraction: float = FACE_FRACTION) -> np.ndarray:
    """2x3 affine (scale + shift) from source pixels to a ``size`` portrait centred on the mesh box."""
    x0, y0, x1, y1 = landmark_box(landmarks)
    side = max(x1 - x0, y1 - y0) / face_fraction
    s = size / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]])


def cut_portrait(rgb: np.ndarray, landmarks: np.ndarray, size: int, face_fraction: float = FACE_FRACTION) -> np.ndarray:
    """A ``size`` square portrait around the face (Lanczos when enlarging, area-averaged when
    shrinking; the outside of the photo is filled by reflection)."""
    m = portrait_transform(landmarks, size, face_fraction)
    scale = m[0, 0]
    src = rgb
    if scale < 1.0:  # shrink: pre-scale the photo by area averaging, then resample
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        fx = small.shape[1] / rgb.shape[1]
        fy = small.shape[0] / rgb.shape[0]
        m = m @ np.array([[1 / fx, 0.0, 0.0], [0.0, 1 / fy, 0.0], [0.0, 0.0, 1.0]])
        src = small
    flags = cv2.INTER_LANCZOS4 if m[0, 0] > 1.0 else cv2.INTER_LINEAR
    out = cv2.warpAffine(src, m, (size, size), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(out)
