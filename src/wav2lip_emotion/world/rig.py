"""A face rig on the 468-point mesh: facial action units, speech, blinks and head motion, rendered by
warping a portrait photo.

Every effect is a displacement of mesh landmarks, expressed in a face-local frame (x along the eye
line towards the subject's left, y down towards the chin, unit = the distance between the outer eye
corners, "IOD"), so the same rig works for any face size and roll. The landmark displacements are
spread to every pixel through a fixed triangulation of the portrait (mesh points, a ring of points
around the head that follows head motion, and fixed image-border points) and applied by inverse
warping (``cv2.remap``). Where the lips part, a mouth interior (cavity, teeth, tongue) is painted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..emotions import parse_emotion
from ..expression.action_units import (
    ACTION_UNITS,
    CHIN,
    EYE_L_LOWER,
    EYE_L_OUTER,
    EYE_L_UPPER,
    EYE_R_LOWER,
    EYE_R_OUTER,
    EYE_R_UPPER,
    INNER_CORNER_L,
    INNER_CORNER_R,
    LIP_CORNER_L,
    LIP_CORNER_R,
    LOWER_INNER,
    LOWER_OUTER,
    MOUTH_OPENING,
    UPPER_INNER,
    UPPER_OUTER,
    Handle,
)
from ..expression.action_units import WORLD_PROTOTYPES as EMOTION_AUS
from ..expression.basis import au_field, mouth_side

#: lower-lip drop (IOD) at full speech jaw opening; speech rarely opens wider than ~0.15 IOD
JAW_DROP = 0.14

#: MEAD's three intensity levels as a multiplier of the prototype
LEVEL_SCALE = {1: 0.45, 2: 0.72, 3: 1.0}


def emotion_aus(emotion: str, level: int = 3, intensity: float | None = None) -> dict[str, float]:
    """AU intensities of an emotion at a MEAD level (1-3) or at a continuous intensity in [0, 1]."""
    name = parse_emotion(emotion).value
    scale = float(intensity) if intensity is not None else LEVEL_SCALE[int(level)]
    return {au: w * scale for au, w in EMOTION_AUS[name].items()}


# --------------------------------------------------------------------------- per-frame parameters


@dataclass
class RigFrame:
    """Everything that moves in one frame."""

    #: jaw opening from speech, 0 closed .. 1 wide open
    jaw: float = 0.0
    #: lip spreading (> 0) or rounding (< 0), -1 .. 1
    spread: float = 0.0
    #: eyelid closure, 0 open .. 1 closed
    blink: float = 0.0
    #: action-unit intensities (emotion)
    aus: dict[str, float] = field(default_factory=dict)
    #: head roll in degrees, translation in IOD, scale factor
    roll: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    scale: float = 1.0

    def to_json(self) -> dict[str, object]:
        return {
            "jaw": round(self.jaw, 4),
            "spread": round(self.spread, 4),
            "blink": round(self.blink, 4),
            "aus": {k: round(v, 4) for k, v in self.aus.items()},
            "roll": round(self.roll, 4),
            "tx": round(self.tx, 5),
            "ty": round(self.ty, 5),
            "scale": round(self.scale, 5),
        }


# --------------------------------------------------------------------------- the rig


def _triangulate(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Delaunay triangles [M, 3] (indices into ``points``) with OpenCV's Subdiv2D."""
    sub = cv2.Subdiv2D((-2, -2, width + 4, height + 4))
    lookup: dict[tuple[int, int], int] = {}
    for i, (x, y) in enumerate(points):
        key = (round(float(x) * 16), round(float(y) * 16))
        if key in lookup:
            continue
        lookup[key] = i
        sub.insert((float(np.clip(x, -1, width + 1)), float(np.clip(y, -1, height + 1))))
    tris = []
    for t in sub.getTriangleList():
        idx = []
        for k in range(3):
            key = (round(float(t[2 * k]) * 16), round(float(t[2 * k + 1]) * 16))
            if key not in lookup:
                break
            idx.append(lookup[key])
        if len(idx) == 3:
            tris.append(idx)
    return np.array(tris, dtype=np.int32)


class FaceRig:
    """Animate one portrait. Build once per identity, then :meth:`render` any number of frames."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, seed: int = 0) -> None:
        self.image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        self.size = (w, h)
        self.landmarks = landmarks[:, :2].astype(np.float64)
        # face-local frame: origin between the outer eye corners, unit = IOD
        right, left = self.landmarks[EYE_R_OUTER], self.landmarks[EYE_L_OUTER]
        self.iod = float(np.linalg.norm(left - right))
        ex = (left - right) / self.iod
        self.axes = np.stack([ex, np.array([-ex[1], ex[0]])])  # rows: x (towards left eye), y (down)
        self.centre = self.landmarks.mean(axis=0)
        # a ring around the head that follows the head, and fixed border points
        local = (self.landmarks - self.centre) @ self.axes.T
        radius = np.abs(local).max(axis=0) * 1.35
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ring = self.centre + (np.stack([np.cos(angles) * radius[0], np.sin(angles) * radius[1]], 1) @ self.axes)
        border = [(x, y) for x in np.linspace(0, w - 1, 7) for y in (0, h - 1)]
        border += [(x, y) for y in np.linspace(0, h - 1, 7)[1:-1] for x in (0, w - 1)]
        self.n_mesh = len(self.landmarks)
        self.n_ring = len(ring)
        self.points = np.concatenate([self.landmarks, ring, np.array(border, float)])
        self._build_barycentric()
        self._local = (self.landmarks - self.centre) @ self.axes.T / self.iod  # [468, 2] in IOD
        self._side = self._mouth_side()
        self._au_fields = {au: self._au_field(handles) for au, handles in ACTION_UNITS.items()}
        # jaw: everything below the lip line drops, most at the chin's midline, fading to the ears
        below = np.clip(self._side, 0.0, 1.0)
        lower = np.clip((self._local[:, 1] - self._local[14, 1]) / 0.25 + 1.0, 0.0, 1.0)
        lateral = np.exp(-((self._local[:, 0] - self._local[CHIN, 0]) ** 2) / (2 * 0.55**2))
        jaw_w = np.maximum(below, (self._local[:, 1] > self._local[14, 1]) * lower) * lateral
        jaw_w[list(UPPER_INNER) + list(UPPER_OUTER)] = 0.0
        jaw_w[[INNER_CORNER_R, INNER_CORNER_L, LIP_CORNER_R, LIP_CORNER_L]] *= 0.45
        self._jaw_field = self._to_image(np.stack([np.zeros(self.n_mesh), JAW_DROP * jaw_w], 1))
        self._spread_field = self._au_field(
            (Handle((LIP_CORNER_R, INNER_CORNER_R), 0.06, 0.0), Handle((185, 146, 191, 95), 0.035, 0.0)),
            sigma=0.12,
        )
        # blink: each upper-lid point travels to its lower-lid partner
        blink = np.zeros((self.n_mesh, 2))
        for up, low in zip(EYE_R_UPPER + EYE_L_UPPER, EYE_R_LOWER + EYE_L_LOWER, strict=True):
            blink[up] = (self.landmarks[low] - self.landmarks[up]) * 0.92
        self._blink_field = blink
        rng = np.random.default_rng(seed)
        self._teeth_shade = float(rng.uniform(0.78, 0.88))

    # ----------------------------------------------------------------- geometry

    def _build_barycentric(self) -> None:
        w, h = self.size
        self.triangles = _triangulate(self.points, w, h)
        index = np.full((h, w), -1, np.int32)
        for k, tri in enumerate(self.triangles):
            cv2.fillConvexPoly(index, np.round(self.points[tri] * 16).astype(np.int32), int(k), shift=4)
        # pixels the rasteriser missed (edges): nearest filled neighbour
        if (index < 0).any():
            missing = (index < 0).astype(np.uint8)
            _, labels = cv2.distanceTransformWithLabels(missing, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
            ys, xs = np.nonzero(missing == 0)
            lut = np.zeros(labels.max() + 1, np.int32)
            lut[labels[ys, xs]] = index[ys, xs]
            index = np.where(index < 0, lut[labels], index)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        tri = self.triangles[index]  # [h, w, 3]
        a, b, c = (self.points[tri[..., k]] for k in range(3))
        v0, v1 = b - a, c - a
        v2 = np.stack([xs, ys], -1) - a
        d00 = (v0 * v0).sum(-1)
        d01 = (v0 * v1).sum(-1)
        d11 = (v1 * v1).sum(-1)
        d20 = (v2 * v0).sum(-1)
        d21 = (v2 * v1).sum(-1)
        den = d00 * d11 - d01 * d01
        den = np.where(np.abs(den) < 1e-12, 1e-12, den)
        bv = (d11 * d20 - d01 * d21) / den
        bw = (d00 * d21 - d01 * d20) / den
        self._bary = np.stack([1 - bv - bw, bv, bw], -1).astype(np.float32)  # [h, w, 3]
        self._bary_tri = tri
        self._grid = np.stack([xs, ys], -1).astype(np.float32)

    def _to_image(self, local: np.ndarray) -> np.ndarray:
        """Displacements in IOD units of the face frame -> image pixels."""
        return (local @ self.axes) * self.iod

    def _mouth_side(self) -> np.ndarray:
        """Per mesh point: +1 below the lip line, -1 above it, 0 away from the mouth (smoothly)."""
        return mouth_side(self._local)

    def _au_field(self, handles: tuple[Handle, ...], sigma: float = 0.15) -> np.ndarray:
        """Mesh displacement [468, 2] (pixels) of one AU at intensity 1 (see :func:`expression.basis.au_field`)."""
        return self._to_image(au_field(self._local, handles, sigma, side=self._side))

    def mesh_displacement(self, frame: RigFrame) -> np.ndarray:
        """Displacement [468, 2] in pixels of every landmark for a frame (before head motion)."""
        # speech rests near closed: a slightly convex response keeps quiet syllables small
        # a smile pulls the lips back and flattens the vertical opening of speech
        smile = min(float(frame.aus.get("AU12", 0.0)), 1.0)
        jaw = float(np.clip(frame.jaw, 0.0, 1.0)) ** 1.3 * (1.0 - 0.35 * smile)
        d = self._jaw_field * jaw + self._spread_field * frame.spread
        for au, value in frame.aus.items():
            if value:
                d = d + self._au_fields[au] * value
        d = d + self._blink_field * frame.blink
        return self._uncross_lips(d)

    def _uncross_lips(self, d: np.ndarray) -> np.ndarray:
        """Pressed lips (AU17, AU23) meet but never pass through each other."""
        up, low = list(UPPER_INNER), list(LOWER_INNER)
        y = ((self.landmarks + d) - self.centre) @ self.axes[1]  # height along the face's vertical axis
        overlap = np.clip(y[up] - y[low], 0.0, None)  # > 0 where the lower lip rose above the upper one
        if overlap.any():
            d = d.copy()
            d[low] += overlap[:, None] * self.axes[1][None, :]
            d[list(LOWER_OUTER)] += overlap[:, None] * self.axes[1][None, :]
        return d

    def _head_motion(self, pts: np.ndarray, frame: RigFrame) -> np.ndarray:
        theta = np.deg2rad(frame.roll)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) * frame.scale
        shift = self._to_image(np.array([frame.tx, frame.ty]))
        return (pts - self.centre) @ rot.T + self.centre + shift

    def frame_points(self, frame: RigFrame) -> np.ndarray:
        """All control points (mesh, ring, border) after the frame's deformation, in pixels."""
        mesh = self._head_motion(self.landmarks + self.mesh_displacement(frame), frame)
        ring = self._head_motion(self.points[self.n_mesh : self.n_mesh + self.n_ring], frame)
        border = self.points[self.n_mesh + self.n_ring :]
        return np.concatenate([mesh, ring, border])

    # ----------------------------------------------------------------- rendering

    def render(self, frame: RigFrame) -> tuple[np.ndarray, np.ndarray]:
        """The portrait deformed by ``frame``: (RGB uint8 image, landmarks [468, 2] in pixels)."""
        dst = self.frame_points(frame)
        disp = (dst - self.points).astype(np.float32)  # forward displacement of every control point
        # dense forward field on the source grid, then invert it by fixed-point iteration:
        # src(x) = x - d(src(x))
        field = (self._bary[..., None] * disp[self._bary_tri]).sum(axis=2)  # [h, w, 2]
        src = self._grid - field
        for _ in range(3):
            d = cv2.remap(field, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            src = self._grid - d
        out = cv2.remap(self.image, src[..., 0], src[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        landmarks = dst[: self.n_mesh]
        self._paint_mouth(out, landmarks, smile=float(frame.aus.get("AU12", 0.0)))
        return out, landmarks

    def _paint_mouth(self, img: np.ndarray, lm: np.ndarray, smile: float = 0.0) -> None:
        """Cavity, teeth and tongue inside the inner-lip contour where the lips are apart."""
        upper = lm[list(UPPER_INNER)]
        lower = lm[list(LOWER_INNER)]
        gap = float(np.max(np.linalg.norm(lower - upper, axis=1)))
        if gap < 0.02 * self.iod:
            return
        poly = lm[list(MOUTH_OPENING)]
        x0, y0 = np.floor(poly.min(0)).astype(int) - 2
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 3
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return
        scale = 4
        rh, rw = (y1 - y0) * scale, (x1 - x0) * scale
        local = (poly - [x0, y0]) * scale
        mask = np.zeros((rh, rw), np.float32)
        cv2.fillPoly(mask, [np.round(local * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
        # cavity: dark red-brown, darker at the back
        ys = np.linspace(0, 1, rh)[:, None]
        cavity = np.empty((rh, rw, 3), np.float32)
        cavity[...] = np.array([60, 22, 26], np.float32)
        cavity *= (0.55 + 0.45 * np.abs(ys - 0.5) * 2)[..., None]
        top = lm[list(UPPER_INNER)]
        bottom = lm[list(LOWER_INNER)][::-1]
        opening = gap / self.iod
        # upper teeth: a band under the upper lip (visible when open), slightly curved
        tooth_h = min(gap * (0.42 + 0.3 * min(smile, 1.0)), 0.07 * self.iod) * scale
        teeth = np.zeros((rh, rw), np.float32)
        upper_curve = (top - [x0, y0]) * scale
        pts = np.concatenate([upper_curve, upper_curve[::-1] + np.array([0.0, tooth_h])])
        cv2.fillPoly(teeth, [np.round(pts * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
        # lower teeth only when wide open
        if opening > 0.17:
            low_h = min(gap * 0.16, 0.035 * self.iod) * scale
            lower_curve = (bottom - [x0, y0]) * scale
            pts = np.concatenate([lower_curve, lower_curve[::-1] - [0, low_h]])
            cv2.fillPoly(teeth, [np.round(pts * 16).astype(np.int32)], 0.85, lineType=cv2.LINE_AA, shift=4)
        # tongue: a soft reddish ellipse at the bottom when open
        tongue = np.zeros((rh, rw), np.float32)
        if opening > 0.15:
            cx, cy = (bottom.mean(0) - [x0, y0]) * scale
            cv2.ellipse(tongue, (int(cx), int(cy)), (int(rw * 0.28), int(gap * scale * 0.28)), 0, 180, 360, 1.0, -1)
            tongue = cv2.GaussianBlur(tongue, (0, 0), scale * 1.5)
        teeth = cv2.GaussianBlur(teeth, (0, 0), scale * 0.7)
        # tooth colour: off-white, shaded towards the mouth corners and under the upper lip, with
        # darker lines between the front teeth
        xs = np.linspace(-1.0, 1.0, rw)[None, :]
        cx = ((lm[13, 0] + lm[14, 0]) / 2 - x0) * scale / max(rw, 1) * 2 - 1
        across = np.clip(1.0 - 0.75 * ((xs - cx) / 1.0) ** 2, 0.25, 1.0)
        lip_y = np.interp(np.arange(rw), np.sort(upper_curve[:, 0]), upper_curve[np.argsort(upper_curve[:, 0]), 1])
        under = np.clip((np.arange(rh)[:, None] - lip_y[None, :]) / max(tooth_h * 0.35, 1.0), 0.0, 1.0)
        tooth_w = 0.085 * self.iod * scale
        phase = ((np.arange(rw)[None, :] - (cx + 1) / 2 * rw) / max(tooth_w, 1.0)) % 1.0
        gaps = 1.0 - 0.35 * np.exp(-((phase * (1 - phase) * 40) ** 2))  # dark lines where phase ~ 0
        # small openings: teeth in the lips' shadow; a smile pulls the lips back and shows them
        dim = float(np.clip(max(0.3 + 2.5 * opening, 0.55 + 0.4 * smile), 0.3, 0.95))
        light = (across * (0.62 + 0.38 * under) * gaps * dim)[..., None]
        shade = self._teeth_shade * np.array([255, 246, 226], np.float32)
        colour = cavity * (1 - tongue[..., None]) + np.array([150, 60, 70], np.float32) * tongue[..., None]
        colour = colour * (1 - teeth[..., None]) + shade * light * teeth[..., None]
        # cover the stretched lip-line pixels along the edge, with a soft transition into the lips
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=scale)
        mask = cv2.GaussianBlur(mask, (0, 0), scale * 0.6)
        colour = cv2.resize(colour, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[..., None]
        region = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)
