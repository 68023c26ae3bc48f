"""Warping a face onto new landmarks: :func:`warp_to_landmarks` (a thin-plate spline through the landmarks
and border anchors, evaluated on a coarse grid, one ``cv2.remap``) and the similarity fit it uses.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError


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
