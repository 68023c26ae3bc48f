"""Face crops at the model size, half and full masks, and paste-back into the frame.

A :class:`FaceCrop` is an axis-aligned square in frame pixels (it may reach outside the frame; the
outside is filled by repeating the border) with the affine maps between frame and crop. Masks are
float32 arrays in crop space, 1 where the generator redraws the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from ..errors import ConfigError


class MaskMode(StrEnum):
    """Which part of the face the generator redraws."""

    #: the lower half of the crop (Wav2Lip's; works with the official Wav2Lip checkpoints)
    HALF = "half"
    #: the whole face: convex hull of the 468-point mesh, forehead to chin (Wav2Lip-Emotion's full mask)
    FULL = "full"
    #: nothing: the generator sees the whole source face and edits it, the lip movement coming from the
    #: source's own pixels as well as the audio (beyond the paper; needs a model trained so, see
    #: docs/model_card.md)
    NONE = "none"


class PasteMode(StrEnum):
    """How a generated crop goes back into the frame."""

    #: the generated pixels replace the original ones inside the soft mask (the method as published)
    REPLACE = "replace"
    #: only the generator's CHANGE is added to the original frame, so unchanged regions keep the
    #: original's full resolution (a lossless round trip; sharper than the 96 px model output)
    DETAIL = "detail"


@dataclass(frozen=True)
class CropConfig:
    """How a face box becomes a model-size crop."""

    #: side of the square crop fed to the model (the paper's 96 px)
    size: int = 96
    #: margin added on every side, as a fraction of the face box's longer side
    padding: float = 0.1
    #: move the crop centre down by this fraction of the crop side (Wav2Lip padded the chin side)
    shift_down: float = 0.0

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ConfigError(f"crop size must be at least 8 px, got {self.size}")
        if not 0.0 <= self.padding <= 2.0:
            raise ConfigError(f"crop padding must be in [0, 2], got {self.padding}")


@dataclass(frozen=True)
class FaceCrop:
    """A square region of a frame, resampled to ``size`` x ``size``."""

    x0: float
    y0: float
    side: float
    size: int

    @classmethod
    def from_box(cls, box: np.ndarray, config: CropConfig = CropConfig()) -> FaceCrop:
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, y1 - y0) * (1 + 2 * config.padding)
        side = max(side, 4.0)
        cx = (x0 + x1) / 2
        cy = (y0 + y1) / 2 + config.shift_down * side
        return cls(cx - side / 2, cy - side / 2, side, config.size)

    @property
    def box(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x0 + self.side, self.y0 + self.side])

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return self.size / self.side

    def frame_to_crop(self) -> np.ndarray:
        s = self.scale
        return np.array([[s, 0.0, -self.x0 * s], [0.0, s, -self.y0 * s]])

    def crop_to_frame(self) -> np.ndarray:
        s = 1.0 / self.scale
        return np.array([[s, 0.0, self.x0], [0.0, s, self.y0]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points)[:, :2] - [self.x0, self.y0]) * self.scale

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points)[:, :2] / self.scale + [self.x0, self.y0]

    def extract(self, frame: np.ndarray) -> np.ndarray:
        """The crop as [size, size, C] uint8 (area-averaged when shrinking, border repeated outside)."""
        shrinking = self.scale < 1.0
        src = frame
        m = self.frame_to_crop()
        if shrinking and self.scale < 0.5:
            # pre-blur by area resize of the covering region for alias-free shrinking
            r = self.frame_region(frame.shape)
            if r is not None:
                fx0, fy0, fx1, fy1 = r
                factor = max(1, int(1.0 / self.scale) // 2)
                region = frame[fy0:fy1, fx0:fx1]
                small = cv2.resize(
                    region,
                    (max(1, (fx1 - fx0) // factor), max(1, (fy1 - fy0) // factor)),
                    interpolation=cv2.INTER_AREA,
                )
                sx = small.shape[1] / (fx1 - fx0)
                sy = small.shape[0] / (fy1 - fy0)
                # crop pixel = scale * (frame - origin); frame = region/s + (fx0, fy0)
                m = np.array(
                    [
                        [self.scale / sx, 0.0, (fx0 - self.x0) * self.scale],
                        [0.0, self.scale / sy, (fy0 - self.y0) * self.scale],
                    ]
                )
                src = small
        return cv2.warpAffine(src, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def frame_region(self, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """Integer frame rectangle (x0, y0, x1, y1) covered by the crop, clipped; None if outside."""
        h, w = shape[:2]
        x0 = max(0, int(np.floor(self.x0)))
        y0 = max(0, int(np.floor(self.y0)))
        x1 = min(w, int(np.ceil(self.x0 + self.side)))
        y1 = min(h, int(np.ceil(self.y0 + self.side)))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1


# ------------------------------------------------------------------------------------ masks


def half_mask(size: int) -> np.ndarray:
    """1 on the lower half of a ``size`` x ``size`` crop (rows size//2 and below), else 0."""
    mask = np.zeros((size, size), np.float32)
    mask[size // 2 :] = 1.0
    return mask


def full_mask(landmarks_in_crop: np.ndarray, size: int, grow: float = 0.0) -> np.ndarray:
    """1 inside the convex hull of the face mesh (forehead to chin), optionally grown by ``grow`` x size px."""
    hull = cv2.convexHull(np.round(landmarks_in_crop[:, :2] * 16).astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    if grow > 0:
        k = max(1, round(grow * size))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    return mask.astype(np.float32)


def face_mask(mode: MaskMode | str, size: int, landmarks_in_crop: np.ndarray | None = None) -> np.ndarray:
    """The redraw mask of a crop for a mask mode (the full mask needs the crop's landmarks)."""
    mode = MaskMode(mode)
    if mode is MaskMode.HALF:
        return half_mask(size)
    if mode is MaskMode.NONE:
        return np.zeros((size, size), np.float32)
    if landmarks_in_crop is None:
        raise ConfigError("the full mask needs face landmarks")
    return full_mask(landmarks_in_crop, size)


def pose_prior(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The masked frame fed to the generator: pixels under the mask set to 0."""
    keep = (mask < 0.5).astype(crop.dtype)
    return crop * (keep[..., None] if crop.ndim == 3 else keep)


# ------------------------------------------------------------------------------------ paste-back


def soft_mask(mask: np.ndarray, feather: float = 0.08) -> np.ndarray:
    """Feather a hard mask inwards: 1 well inside, falling smoothly to 0 at the mask's edge.

    ``feather`` is the width of the transition as a fraction of the mask's side.
    """
    size = mask.shape[0]
    width = max(1.0, feather * size)
    k = max(1, round(width / 2))
    inner = cv2.erode(mask.astype(np.float32), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    sigma = max(0.5, width / 4)
    return np.clip(cv2.GaussianBlur(inner, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE), 0.0, 1.0) * mask


def paste_back(
    frame: np.ndarray,
    generated: np.ndarray,
    crop: FaceCrop,
    mask: np.ndarray,
    *,
    feather: float = 0.08,
    colour_match: bool = True,
    mode: PasteMode | str = PasteMode.REPLACE,
) -> np.ndarray:
    """Blend a generated [size, size, 3] uint8 face crop back into a copy of ``frame``.

    The hard mask (crop space) is feathered so no edge is visible; with ``colour_match`` the generated
    face's colour is shifted to agree with the frame along the blend zone, where both should show the
    same skin. ``mode`` REPLACE puts the generated pixels in; DETAIL adds only the difference between
    the generated crop and the crop of the original, keeping the original's resolution where nothing
    changed.
    """
    mode = PasteMode(mode)
    region = crop.frame_region(frame.shape)
    out = frame.copy()
    if region is None:
        return out
    fx0, fy0, fx1, fy1 = region
    to_region = crop.crop_to_frame()
    to_region[:, 2] -= [fx0, fy0]
    alpha = soft_mask(mask, feather)
    a = cv2.warpAffine(alpha, to_region, (fx1 - fx0, fy1 - fy0), flags=cv2.INTER_LINEAR, borderValue=0.0)
    # work only on the rectangle the blend can change (|change| < 0.26 levels elsewhere rounds away)
    live = a > 1e-3
    rows, cols = np.flatnonzero(live.any(axis=1)), np.flatnonzero(live.any(axis=0))
    if rows.size == 0:
        return out
    by0, by1, bx0, bx1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    a = np.ascontiguousarray(a[by0:by1, bx0:bx1])
    to_sub = to_region.copy()
    to_sub[:, 2] -= [bx0, by0]
    size = (bx1 - bx0, by1 - by0)
    gen = cv2.warpAffine(
        generated.astype(np.float32), to_sub, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    y0, x0 = fy0 + by0, fx0 + bx0
    orig = frame[y0 : y0 + size[1], x0 : x0 + size[0]].astype(np.float32)
    if mode is PasteMode.DETAIL:
        low = cv2.warpAffine(
            crop.extract(frame).astype(np.float32), to_sub, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
        gen += orig - low
    a3 = a[..., None]
    if colour_match:
        ring = a * (1.0 - a) * 4.0  # weights peak in the blend zone, where the two should agree
        total = float(ring.sum())
        if total > 1.0:
            shift = np.einsum("hw,hwc->c", ring, orig - gen) / total
            gen += np.clip(shift, -40.0, 40.0).astype(np.float32)
    blended = orig + a3 * (gen - orig)
    np.clip(blended + 0.5, 0, 255, out=blended)
    out[y0 : y0 + size[1], x0 : x0 + size[0]] = blended.astype(frame.dtype)
    return out
    fx0, fy0, fx1, fy1 = region
    w, h = fx1 - fx0, fy1 - fy0
    to_region = crop.crop_to_frame()
    to_region[:, 2] -= [fx0, fy0]
    alpha = soft_mask(mask, feather)
    a = cv2.warpAffine(alpha, to_region, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    if not np.any(a > 1e-3):
        return out
    gen = cv2.warpAffine(
        generated.astype(np.float32), to_region, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    orig = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    if mode is PasteMode.DETAIL:
        low = cv2.warpAffine(
            crop.extract(frame).astype(np.float32),
            to_region,
            (w, h),
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REPLICATE,
        )
        gen = orig + (gen - low)
    if colour_match:
        ring = a * (1.0 - a) * 4.0  # weights peak in the blend zone, where the two should agree
        total = float(ring.sum())
        if total > 1.0:
            shift = ((orig - gen) * ring[..., None]).reshape(-1, 3).sum(0) / total
            gen = gen + np.clip(shift, -40.0, 40.0)
    blended = orig + a[..., None] * (gen - orig)
    out[fy0:fy1, fx0:fx1] = np.clip(np.rint(blended), 0, 255).astype(frame.dtype)
    return out
