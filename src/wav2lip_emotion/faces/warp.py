"""A dense, fold-free warp of an image region driven by moved control points.

Control points (face-mesh landmarks plus fixed points around them) move from ``src`` to ``dst``. The
warp is piecewise affine over a Delaunay triangulation and computed backwards (every output pixel
looks up where it comes from), so it has no holes. Before warping, :func:`fold_guard` damps the
motion of any point whose triangles would flip or collapse, in the source's triangulation and in the
destination's: no triangle ever turns over, so the warp is one-to-one (no fold, no tear). The map is
computed on a grid of every ``stride``-th pixel and resized, which is exact for an affine piece and
cheap; pixels are looked up with Lanczos interpolation of their luma (bilinear of their chroma), which
keeps a face's sharpness.
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
#: rows of the bands that :func:`warp_where` looks up one box of
WHERE_BAND = 16
#: the mesh engine's dead band (pixels, see :func:`backward_map`): a Lanczos lookup shifted by a
#: fraction of a pixel keeps 0.98 of the Laplacian variance at 0.1 px both ways, 0.88 at 0.25 and 0.75
#: at 0.5 (movie-hello's face); most of a face barely moves under an edit, and was softened for nothing
DEADBAND = 0.3
#: rounds in which the fold guard evens out the motion of a folding triangle's corners before it damps it
EVENING_ROUNDS = 24


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of every triangle [..., T] (> 0 counter-clockwise in x-right, y-down
    pixels) of ``points`` [..., m, 2] (one set of points, or a stack of them)."""
    a, b, c = points[..., triangles[:, 0], :], points[..., triangles[:, 1], :], points[..., triangles[:, 2], :]
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])


def flipped_triangles(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray | None = None) -> int:
    """How many triangles (of ``src``'s Delaunay triangulation unless given) turn over from src to dst."""
    if triangles is None:
        triangles = Delaunay(src).simplices
    return _flipped(signed_areas(src, triangles), signed_areas(dst, triangles))


def _flipped(a: np.ndarray, b: np.ndarray) -> int:
    """How many triangles turn over from signed areas ``a`` to ``b``."""
    return int(np.sum((a * b <= 0) & (np.abs(a) > 1e-9)))


def _bad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Triangles (signed areas ``a`` in the source, ``b`` in the destination) that flip or collapse."""
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
    #: triangles that flip with the guarded ``dst`` (0: the guard stops every flip)
    flipped: int = 0


def fold_guard(
    src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, iterations: int = 12, evening: int = EVENING_ROUNDS
) -> GuardResult:
    """``dst`` with no triangle that flips or collapses. ``triangles`` [T, 3] is the mesh's fixed
    triangulation. A triangle folds when its corners move *differently*; moving them alike never does.
    So for ``evening`` rounds the moving corners of every such triangle are first brought halfway to the
    mean motion of the triangles they fold in (points that do not move stay put): the motion is spread
    over the neighbourhood instead of lost, and a smile that would fold a sliver of the mesh beside the
    nose is kept. Where that is not enough, the motion of the remaining points is halved each round, and
    after ``iterations`` such rounds they do not move at all (this ends: with no point moving, every
    triangle is its own source)."""
    return fold_guard_frames(np.asarray(src)[None], np.asarray(dst)[None], triangles, iterations, evening)[0]


def fold_guard_frames(
    src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, iterations: int = 12, evening: int = EVENING_ROUNDS
) -> list[GuardResult]:
    """:func:`fold_guard` of many frames at once (``src``, ``dst`` [n, m, 2]; one result per frame, each
    the same to the bit as the frame's own call): each round works on every frame that still folds, so
    a clip's guard pass costs a few array operations a round instead of a few per frame and round."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64).copy()
    n, m = src.shape[:2]
    a, b = signed_areas(src, triangles), signed_areas(dst, triangles)  # the source's areas never change
    would_flip = [_flipped(a[f], b[f]) for f in range(n)]
    damped = np.zeros(n * m, bool)
    pinned = np.all(dst == src, axis=2).ravel()
    flat_src, flat_dst = src.reshape(n * m, 2), dst.reshape(n * m, 2)  # views of the same points
    active = np.arange(n)
    it = 0
    while True:
        bad = _bad(a[active], b[active])
        still = bad.any(axis=1)
        active, bad = active[still], bad[still]
        if not len(active):
            break
        # each folding triangle's corners, as flat indices (frame * m + point), frame by frame in
        # triangle order: every point's sums below add up in the order of the frame's own call
        frame, tri = np.nonzero(bad)
        folds = triangles[tri] + (active[frame] * m)[:, None]
        pts = np.unique(folds)
        damped[pts] = True
        motion = flat_dst - flat_src
        if it < evening:
            # the mean motion of the folding triangles each point is a corner of
            share = np.zeros((n * m, 2))
            count = np.zeros(n * m)
            np.add.at(share, folds.ravel(), np.repeat(motion[folds].mean(axis=1), 3, axis=0))
            np.add.at(count, folds.ravel(), 1.0)
            pts = pts[~pinned[pts]]
            flat_dst[pts] = flat_src[pts] + 0.5 * (motion[pts] + share[pts] / count[pts, None])
        else:
            # halve the motion a few times; then stop those points
            flat_dst[pts] = flat_src[pts] + (0.5 if it < evening + iterations else 0.0) * motion[pts]
        b[active] = signed_areas(dst[active], triangles)
        it += 1
    damped = damped.reshape(n, m)
    return [GuardResult(dst[f], int(damped[f].sum()), would_flip[f], _flipped(a[f], b[f])) for f in range(n)]


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
    deadband: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 [y1 - y0, x1 - x0]: for every pixel of ``region`` (x0, y0, x1, y1) in the
    output, the frame coordinate it comes from. Piecewise affine over ``triangles`` placed at ``dst``;
    pixels outside every triangle map to themselves. ``smooth`` (grid cells) blurs the displacement:
    no visible kink along triangle edges, but more pixels shifted by a fraction and so resampled (off by
    default: the map is already bilinear between grid points). ``deadband`` (pixels): every grid
    point's displacement is shortened by this much, and one shorter is dropped, so that a pixel the
    warp would move by a fraction of a pixel (and so blur, see :data:`DEADBAND`) is kept as it is;
    the map stays continuous, and cannot fold where the displacement changes by less than a pixel per
    pixel (a shortening along the displacement and a shrinking across it only weaken its gradient)."""
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        raise ConfigError(f"warp region {region} is empty")
    gw, gh = (w + stride - 1) // stride + 1, (h + stride - 1) // stride + 1
    cell, tid, u, v = _hits(dst, triangles, (gh, gw), (x0, y0), stride)
    # each triangle's source corner and edges (once per triangle, then looked up per point)
    sa = np.asarray(src, np.float64)[triangles]  # [T, 3, 2]
    base, e1, e2 = sa[:, 0], sa[:, 1] - sa[:, 0], sa[:, 2] - sa[:, 0]
    # each covered grid point's displacement (its source minus itself); elsewhere it maps to itself
    q = np.stack([x0 + cell % gw * stride, y0 + cell // gw * stride], -1)
    disp = np.zeros((gh * gw, 2), np.float32)
    disp[cell] = base[tid] + u[:, None] * e1[tid] + v[:, None] * e2[tid] - q
    if deadband > 0:
        length = np.sqrt((disp**2).sum(1))
        disp *= (np.clip(length - deadband, 0.0, None) / np.maximum(length, 1e-6))[:, None]
    disp = disp.reshape(gh, gw, 2)
    if smooth > 0:
        disp = cv2.GaussianBlur(disp, (0, 0), smooth, borderType=cv2.BORDER_REPLICATE)
    disp = cv2.resize(disp, ((gw - 1) * stride + 1, (gh - 1) * stride + 1), interpolation=cv2.INTER_LINEAR)[:h, :w]
    xs, ys = np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
    return disp[..., 0] + xs, disp[..., 1] + ys[:, None]


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

    Vectorised rasterisation, all triangles at once, no Python loop: on each grid row of a triangle's
    bounding box, the barycentric coordinates are affine in x, so the points inside (u, v >= -eps,
    u + v <= 1 + eps) form one span, found from the three bounds; only those points are listed (testing
    every point of every box, as before, tested about 2.4 points per point covered, and was twice as
    slow on a 180 px face; the same points and coordinates to 1e-13). Where placed triangles overlap
    (a face turned far enough for its far side to fold behind the nose), the one with the highest index
    wins, as if they were drawn in order; a point on an edge shared by two triangles also goes to the
    higher one (both affine pieces agree there)."""
    gh, gw = shape
    cells = (np.asarray(dst, np.float64)[triangles] - origin) / stride  # [T, 3, 2] in grid cells
    a = cells[:, 0]
    v0, v1 = cells[:, 1] - a, cells[:, 2] - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    lo = np.maximum(np.ceil(cells.min(1) - 1e-6).astype(np.int64), 0)
    hi = np.minimum(np.floor(cells.max(1) + 1e-6).astype(np.int64), [gw - 1, gh - 1])
    t = np.flatnonzero((np.abs(den) > 1e-12) & (hi[:, 0] >= lo[:, 0]) & (hi[:, 1] >= lo[:, 1]))
    empty = np.zeros(0, np.int64)
    if not len(t):
        return empty, empty, np.zeros(0), np.zeros(0)
    a, v0, v1, den, lo, hi = a[t], v0[t], v1[t], den[t], lo[t], hi[t]
    # the barycentric coordinates are affine in the grid point: u = ux x + uy y + uc, v = vx x + vy y + vc
    ux, uy, vx, vy = v1[:, 1] / den, -v1[:, 0] / den, -v0[:, 1] / den, v0[:, 0] / den
    uc, vc = -(ux * a[:, 0] + uy * a[:, 1]), -(vx * a[:, 0] + vy * a[:, 1])
    # one row per (triangle, grid row of its box), where u = ux x + ub and v = vx x + vb: the points
    # inside (u >= -eps, v >= -eps, u + v <= 1 + eps) are one span of x, three bounds s x >= r
    ny = hi[:, 1] - lo[:, 1] + 1
    rt = np.repeat(np.arange(len(t)), ny)
    ry = lo[rt, 1] + np.arange(len(rt)) - np.repeat(np.cumsum(ny) - ny, ny)
    ub, vb = uy[rt] * ry + uc[rt], vy[rt] * ry + vc[rt]
    eps = 1e-9
    s = np.stack([ux[rt], vx[rt], -(ux[rt] + vx[rt])])
    r = np.stack([-eps - ub, -eps - vb, ub + vb - 1 - eps])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = r / s
    xl = np.where(s > 0, q, -np.inf).max(0)
    xr = np.where(s < 0, q, np.inf).min(0)
    xr[((s == 0) & (r > 0)).any(0)] = -np.inf
    start = np.maximum(np.ceil(xl), lo[rt, 0]).astype(np.int64)  # inf - never chosen over lo for start
    stop = np.minimum(np.floor(xr), hi[rt, 0])
    stop = np.where(np.isfinite(stop), stop, -1).astype(np.int64)
    n = np.maximum(stop - start + 1, 0)
    pr = np.repeat(np.arange(len(rt)), n)
    px = start[pr] + np.arange(len(pr)) - np.repeat(np.cumsum(n) - n, n)
    cell = ry[pr] * gw + px
    # the highest-numbered triangle of each point wins: points come in increasing triangle order
    owner = np.full(gh * gw, -1, np.int64)
    np.maximum.at(owner, cell, np.arange(len(cell)))
    win = owner[owner >= 0]
    pr, px = pr[win], px[win]
    return cell[win], t[rt[pr]], ux[rt[pr]] * px + ub[pr], vx[rt[pr]] * px + vb[pr]


#: margin (pixels) of the source patch around the lookups: Lanczos reads 3 pixels before and 4 after
_LOOKUP_MARGIN = 6


@dataclass
class _Source:
    """The frame's pixels that a map's lookups reach (plus a margin), as float32 luma and chroma planes."""

    x0: int
    y0: int
    luma: np.ndarray  # [h, w]
    chroma: np.ndarray  # [h, w, 2]


def _source(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> _Source:
    h, w = frame.shape[:2]
    m = _LOOKUP_MARGIN
    x0, y0 = min(max(int(np.floor(map_x.min())) - m, 0), w - 1), min(max(int(np.floor(map_y.min())) - m, 0), h - 1)
    x1, y1 = (
        max(min(int(np.ceil(map_x.max())) + m + 1, w), x0 + 1),
        max(min(int(np.ceil(map_y.max())) + m + 1, h), y0 + 1),
    )
    ycc = cv2.cvtColor(frame[y0:y1, x0:x1].astype(np.float32), cv2.COLOR_RGB2YCrCb)
    luma, cr, cb = cv2.split(ycc)
    return _Source(x0, y0, luma, cv2.merge([cr, cb]))


def _lookup(source: _Source, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """uint8 RGB at (map_x, map_y) (frame coordinates): luma Lanczos-interpolated, chroma bilinear."""
    mx, my = map_x - np.float32(source.x0), map_y - np.float32(source.y0)
    luma = cv2.remap(source.luma, mx, my, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    chroma = cv2.remap(source.chroma, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    rgb = cv2.cvtColor(cv2.merge([luma, chroma]), cv2.COLOR_YCrCb2RGB)
    return np.clip(rgb + 0.5, 0.0, 255.0).astype(np.uint8)  # rounded (half up), Lanczos' overshoot clipped


def warp_region(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """The region's pixels looked up from ``frame`` at (map_x, map_y): the luma with Lanczos
    interpolation, the chroma bilinear. A pixel the map does not move comes out exactly as it was."""
    # Lanczos for the luma: a warp shifts most face pixels by a fraction of a pixel, and lookups blur
    # them: on movie-hello's 90 px face, the face's Laplacian variance kept 0.54-0.63 of the source's
    # with bilinear lookups, 0.80-0.91 bicubic, 0.98-1.0 Lanczos (with an unsmoothed map). Bilinear for
    # the chroma: a 4:2:0 video's chroma has half the resolution, and the output's is halved again.
    # Lanczos on all three RGB channels was the edit's dearest step: 2.8 ms per single_face frame
    # against 1.6 this way, with the same sharpness (to 1e-4) and pixels 0.06 grey levels apart on
    # average, 4 at most (movie-hello: 0.59 -> 0.40 ms)
    return _lookup(_source(frame, map_x, map_y), map_x, map_y)


def warp_where(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, where: np.ndarray, out: np.ndarray) -> None:
    """:func:`warp_region` written into ``out`` (the region's pixels, same shape as the maps), looked up
    only over the part of each band of ``WHERE_BAND`` rows that holds a pixel of ``where`` (a face's
    paste mask fills about 3/4 of its box). Every pixel's lookup is its own: the pixels looked up are
    the same as :func:`warp_region`'s, to the bit."""
    rows, cols = where.any(1), where.any(0)
    if not cols.any():
        return
    source = _source(frame, map_x, map_y)
    xs = np.flatnonzero(cols)
    for y0 in range(0, len(rows), WHERE_BAND):
        band = where[y0 : y0 + WHERE_BAND, xs[0] : xs[-1] + 1]
        used = np.flatnonzero(band.any(0))
        if not len(used):
            continue
        ys = np.flatnonzero(band.any(1))
        box = np.s_[y0 + ys[0] : y0 + ys[-1] + 1, xs[0] + used[0] : xs[0] + used[-1] + 1]
        out[box] = _lookup(source, map_x[box], map_y[box])
