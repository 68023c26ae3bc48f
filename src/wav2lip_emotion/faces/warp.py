"""A dense, fold-free warp of an image region driven by moved control points.

Control points (face-mesh landmarks plus fixed points around them) move from ``src`` to ``dst``. The
warp is piecewise affine over a Delaunay triangulation and computed backwards (every output pixel
looks up where it comes from), so it has no holes. Before warping, :func:`fold_guard` damps the
motion of any point whose triangles would flip or collapse, in the source's triangulation and in the
destination's: no triangle ever turns over, so the warp is one-to-one (no fold, no tear). The map is
computed on a grid of every ``stride``-th pixel, lightly smoothed (no visible kinks along triangle
edges) and resized, which is exact for an affine piece and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ..errors import ConfigError

#: a triangle whose area shrinks below this share of its source area counts as collapsing
MIN_AREA_RATIO = 0.25


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of every triangle [T] (> 0 counter-clockwise in x-right, y-down pixels)."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def flipped_triangles(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray | None = None) -> int:
    """How many triangles (of ``src``'s Delaunay triangulation unless given) turn over from src to dst."""
    if triangles is None:
        triangles = Delaunay(src).simplices
    a, b = signed_areas(src, triangles), signed_areas(dst, triangles)
    return int(np.sum((a * b <= 0) & (np.abs(a) > 1e-9)))


def _bad(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b = signed_areas(src, triangles), signed_areas(dst, triangles)
    ok = np.abs(a) < 1e-9  # degenerate in the source: nothing to protect
    ok |= (a * b > 0) & (np.abs(b) >= MIN_AREA_RATIO * np.abs(a))
    return ~ok


@dataclass
class GuardResult:
    dst: np.ndarray
    #: control points whose motion had to be damped
    damped: int
    #: triangles that would have flipped without the guard
    would_flip: int


def fold_guard(src: np.ndarray, dst: np.ndarray, iterations: int = 12) -> GuardResult:
    """``dst`` with the motion of points around flipping or collapsing triangles damped (halved each
    round; after ``iterations`` rounds such points do not move at all)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64).copy()
    tri_src = Delaunay(src).simplices
    would_flip = flipped_triangles(src, dst, tri_src)
    damped = np.zeros(len(src), bool)
    for it in range(iterations + 1):
        tri_dst = Delaunay(dst).simplices
        bad_pts = np.zeros(len(src), bool)
        for tris in (tri_src, tri_dst):
            bad = _bad(src, dst, tris)
            if bad.any():
                bad_pts[np.unique(tris[bad])] = True
        if not bad_pts.any():
            break
        damped |= bad_pts
        if it == iterations:
            dst[bad_pts] = src[bad_pts]
        else:
            dst[bad_pts] = src[bad_pts] + 0.5 * (dst[bad_pts] - src[bad_pts])
    return GuardResult(dst, int(damped.sum()), would_flip)


def backward_map(
    src: np.ndarray,
    dst: np.ndarray,
    region: tuple[int, int, int, int],
    stride: int = 2,
    smooth: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 [y1 - y0, x1 - x0]: for every pixel of ``region`` (x0, y0, x1, y1) in the
    output, the frame coordinate it comes from. ``src``/``dst`` [m, 2] frame pixels must cover the
    region (pin its corners); points outside the triangulation map to themselves."""
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        raise ConfigError(f"warp region {region} is empty")
    gw, gh = (w + stride - 1) // stride + 1, (h + stride - 1) // stride + 1
    gx, gy = np.meshgrid(x0 + np.arange(gw) * stride, y0 + np.arange(gh) * stride)
    q = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    tri = Delaunay(dst)
    simplex = tri.find_simplex(q)
    inside = simplex >= 0
    out = q.copy()
    s = simplex[inside]
    t = tri.transform[s]
    b = np.einsum("nij,nj->ni", t[:, :2], q[inside] - t[:, 2])
    bary = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], 1)
    verts = tri.simplices[s]
    out[inside] = np.einsum("nk,nkd->nd", bary, src[verts])
    disp = (out - q).reshape(gh, gw, 2).astype(np.float32)
    if smooth > 0:
        disp = cv2.GaussianBlur(disp, (0, 0), smooth, borderType=cv2.BORDER_REPLICATE)
    disp = cv2.resize(disp, ((gw - 1) * stride + 1, (gh - 1) * stride + 1), interpolation=cv2.INTER_LINEAR)[:h, :w]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    return xs + disp[..., 0], ys + disp[..., 1]


def warp_region(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """The region's pixels looked up from ``frame`` at (map_x, map_y), bilinear."""
    return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
