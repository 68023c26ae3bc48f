"""A dense, fold-free warp of an image region driven by moved control points.

Control points (face-mesh landmarks plus fixed points around them) move from ``src`` to ``dst``. The
warp is piecewise affine over a Delaunay triangulation and computed backwards (every output pixel
looks up where it comes from), so it has no holes. Before warping, :func:`fold_guard` damps the
motion of any point whose triangles would flip or collapse, in the source's triangulation and in the
destination's: no triangle ever turns over, so the warp is one-to-one (no fold, no tear). The map is
computed on a grid of every ``stride``-th pixel and resized, which is exact for an affine piece and
cheap; pixels are looked up with Lanczos interpolation, which keeps a face's sharpness.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ..errors import ConfigError

#: a triangle whose area shrinks below this share of its source area counts as collapsing (the tiny
#: triangles around the lip corners shrink a lot in a real smile)
MIN_AREA_RATIO = 0.1


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


def fold_guard(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, iterations: int = 12) -> GuardResult:
    """``dst`` with the motion of the points of any triangle that would flip or collapse damped (halved
    each round; after ``iterations`` rounds such points do not move at all). ``triangles`` [T, 3] is the
    mesh's fixed triangulation."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64).copy()
    would_flip = flipped_triangles(src, dst, triangles)
    damped = np.zeros(len(src), bool)
    it = 0
    while True:
        bad = _bad(src, dst, triangles)
        if not bad.any():
            break
        pts = np.unique(triangles[bad])
        damped[pts] = True
        # halve the motion a few times; then stop those points (this ends: with no point moving,
        # every triangle is its own source)
        dst[pts] = src[pts] + (0.5 if it < iterations else 0.0) * (dst[pts] - src[pts])
        it += 1
    return GuardResult(dst, int(damped.sum()), would_flip)


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles [T, 3] of points [m, 2] (built once per face layout, then kept fixed)."""
    return Delaunay(np.asarray(points, np.float64)[:, :2]).simplices.astype(np.int32)


def backward_map(
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    region: tuple[int, int, int, int],
    stride: int = 2,
    smooth: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 [y1 - y0, x1 - x0]: for every pixel of ``region`` (x0, y0, x1, y1) in the
    output, the frame coordinate it comes from. Piecewise affine over ``triangles`` placed at ``dst``;
    pixels outside every triangle map to themselves. ``smooth`` (grid cells) blurs the displacement:
    no visible kink along triangle edges, but more pixels shifted by a fraction and so resampled (off by
    default: the map is already bilinear between grid points)."""
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        raise ConfigError(f"warp region {region} is empty")
    gw, gh = (w + stride - 1) // stride + 1, (h + stride - 1) // stride + 1
    cell, tid, u, v = _hits(dst, triangles, (gh, gw), (x0, y0), stride)
    t = triangles[tid]
    sa, sb, sc = src[t[:, 0]], src[t[:, 1]], src[t[:, 2]]
    gx, gy = np.meshgrid(x0 + np.arange(gw) * stride, y0 + np.arange(gh) * stride)
    q = np.stack([gx, gy], -1).astype(np.float64).reshape(-1, 2)
    out = q.copy()
    out[cell] = sa + u[:, None] * (sb - sa) + v[:, None] * (sc - sa)
    out, q = out.reshape(gh, gw, 2), q.reshape(gh, gw, 2)
    disp = (out - q).astype(np.float32)
    if smooth > 0:
        disp = cv2.GaussianBlur(disp, (0, 0), smooth, borderType=cv2.BORDER_REPLICATE)
    disp = cv2.resize(disp, ((gw - 1) * stride + 1, (gh - 1) * stride + 1), interpolation=cv2.INTER_LINEAR)[:h, :w]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    return xs + disp[..., 0], ys + disp[..., 1]


def _locate(dst: np.ndarray, triangles: np.ndarray, q: np.ndarray, origin: tuple[int, int], stride: int) -> np.ndarray:
    """Which triangle (placed at ``dst``) covers each grid point of ``q`` [gh, gw, 2] (the grid of every
    ``stride``-th pixel from ``origin``); -1 outside. See :func:`_hits`."""
    gh, gw = q.shape[:2]
    cell, tid, _, _ = _hits(dst, triangles, (gh, gw), origin, stride)
    index = np.full(gh * gw, -1, np.int32)
    index[cell] = tid
    return index.reshape(gh, gw)


def _hits(
    dst: np.ndarray, triangles: np.ndarray, shape: tuple[int, int], origin: tuple[int, int], stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The grid points (flat index into ``shape`` = (gh, gw), the grid of every ``stride``-th pixel from
    ``origin``) that a triangle placed at ``dst`` covers: (cell, triangle, u, v), one row per covered
    point, with its barycentric coordinates in that triangle.

    Vectorised rasterisation: every triangle is tested against the grid points of its own bounding box
    only, all triangles at once (a face's thousand triangles cover the grid about twice over, so this is
    a few tens of thousands of tests, no Python loop). Where placed triangles overlap (a face turned far
    enough for its far side to fold behind the nose), the one with the highest index wins, as if they
    were drawn in order; a point on an edge shared by two triangles also goes to the higher one (both
    affine pieces agree there)."""
    gh, gw = shape
    cells = (np.asarray(dst, np.float64)[triangles] - origin) / stride  # [T, 3, 2] in grid cells
    lo = np.maximum(np.ceil(cells.min(1) - 1e-6).astype(np.int64), 0)
    hi = np.minimum(np.floor(cells.max(1) + 1e-6).astype(np.int64), [gw - 1, gh - 1])
    nx, ny = np.maximum(hi[:, 0] - lo[:, 0] + 1, 0), np.maximum(hi[:, 1] - lo[:, 1] + 1, 0)
    counts = nx * ny
    total = int(counts.sum())
    empty = np.zeros(0, np.int64)
    if total == 0:
        return empty, empty, np.zeros(0), np.zeros(0)
    tid = np.repeat(np.arange(len(triangles)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    px, py = lo[tid, 0] + offset % nx[tid], lo[tid, 1] + offset // nx[tid]
    a, b, c = cells[tid, 0], cells[tid, 1], cells[tid, 2]
    v0, v1 = b - a, c - a
    w0, w1 = px - a[:, 0], py - a[:, 1]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    u = (w0 * v1[:, 1] - v1[:, 0] * w1) / den
    v = (v0[:, 0] * w1 - w0 * v0[:, 1]) / den
    eps = 1e-9
    inside = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps)
    cell, tid, u, v = py[inside] * gw + px[inside], tid[inside], u[inside], v[inside]
    # the highest-numbered triangle of each point: hits come in increasing triangle order, so the last
    # hit of each point (a stable sort by point keeps that order) is the one kept
    order = np.argsort(cell, kind="stable")
    cell, tid, u, v = cell[order], tid[order], u[order], v[order]
    last = np.ones(len(cell), bool)
    last[:-1] = cell[1:] != cell[:-1]
    return cell[last], tid[last], u[last], v[last]


def warp_region(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """The region's pixels looked up from ``frame`` at (map_x, map_y), Lanczos-interpolated."""
    # Lanczos: a warp shifts most face pixels by a fraction of a pixel, and lookups blur them: on
    # movie-hello's 90 px face, the face's Laplacian variance kept 0.54-0.63 of the source's with
    # bilinear lookups, 0.80-0.91 bicubic, 0.98-1.0 Lanczos (with an unsmoothed map)
    return cv2.remap(frame, map_x, map_y, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
