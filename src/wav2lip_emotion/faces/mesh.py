"""MediaPipe's 468-point face mesh, run on a rotated square region of interest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .tflite import TFLiteModel

# Mesh indices used by the tracker and the masks.
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
MOUTH_LEFT = 291
MOUTH_RIGHT = 61
CHIN = 152
FOREHEAD = 10
#: the face outline (forehead -> right cheek -> chin -> left cheek), MediaPipe's FACE_OVAL order
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels: centre, side length, rotation (radians, counter-clockwise)."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0

    def affine(self, out_size: int) -> np.ndarray:
        """2x3 matrix mapping image pixels into an ``out_size`` square crop of this ROI."""
        s = out_size / self.size
        c, si = np.cos(self.angle) * s, np.sin(self.angle) * s
        # rotate by -angle around the centre (the face's roll is undone: a direction at ``angle`` in the
        # image, such as the eye line, becomes horizontal in the crop), scale, centre in the crop
        return np.array(
            [
                [c, si, out_size / 2 - c * self.cx - si * self.cy],
                [-si, c, out_size / 2 + si * self.cx - c * self.cy],
            ]
        )

    @classmethod
    def around(cls, points: np.ndarray, scale: float, angle: float) -> Roi:
        """The square (rotated by ``angle``) that holds ``points`` [N, 2], enlarged ``scale`` times."""
        c, s = np.cos(angle), np.sin(angle)
        centre = points.mean(axis=0)
        local = (points - centre) @ np.array([[c, -s], [s, c]])  # into the rotated frame
        lo, hi = local.min(axis=0), local.max(axis=0)
        mid = (lo + hi) / 2
        centre = centre + mid @ np.array([[c, s], [-s, c]])
        side = float(max(hi - lo)) * scale
        return cls(float(centre[0]), float(centre[1]), max(side, 8.0), angle)


def eye_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """Roll of the face: angle of the line from the subject's right eye to the left eye."""
    d = left_eye - right_eye
    return float(np.arctan2(d[1], d[0]))


class FaceMesh:
    """468 face landmarks (x, y in image pixels; z relative depth in the same scale) + a face score."""

    def __init__(self, model_path: str | Path, num_threads: int = 1) -> None:
        self.model = TFLiteModel(model_path, num_threads=num_threads)
        self.size = self.model.input_size[0]

    def __call__(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        m = roi.affine(self.size)
        crop = cv2.warpAffine(rgb, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        raw_landmarks, raw_flag = self.model(crop.astype(np.float32) / 255.0)
        pts = raw_landmarks.reshape(-1, 3).astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = pts[:, 2] * (roi.size / self.size)
        score = float(1.0 / (1.0 + np.exp(-np.clip(raw_flag.reshape(-1)[-1], -80, 80))))
        return np.column_stack([xy, z]), score
