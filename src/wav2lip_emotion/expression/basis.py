"""The action-unit basis of one face: every AU's handles spread smoothly over the whole mesh.

All functions take the face's landmarks in the face-local frame (IOD units, see
:mod:`.action_units`) and return displacements in the same units, so one basis serves any face size,
position and pose: the caller rotates and scales them into the image.
"""

from __future__ import annotations

import numpy as np

from .action_units import (
    ACTION_UNITS,
    EDIT_ACTION_UNITS,
    INNER_CORNER_L,
    INNER_CORNER_R,
    LIP_CORNER_L,
    LIP_CORNER_R,
    LOWER_INNER,
    LOWER_OUTER,
    MIRROR,
    REAL_ACTION_UNITS,
    UPPER_INNER,
    UPPER_OUTER,
    Handle,
)

#: midline points (chin, lip middles) never move sideways
_MIDLINE = (152, 0, 13, 14, 17)
#: spread of a handle's effect (IOD): how far a moved landmark drags its neighbours
DEFAULT_SIGMA = 0.15


def mouth_side(local: np.ndarray) -> np.ndarray:
    """Per mesh point: +1 below the lip line, -1 above it, 0 away from the mouth (smoothly).

    ``local`` is [468, >=2] in IOD units."""
    local = np.asarray(local, dtype=np.float64)[:, :2]
    inner = [INNER_CORNER_R, *UPPER_INNER, INNER_CORNER_L, *LOWER_INNER]
    pts = local[inner]
    order = np.argsort(pts[:, 0])
    xs, ys = pts[order, 0], pts[order, 1]
    # the lip line: mean height of the inner contour, as a function of x (binned)
    grid = np.linspace(xs.min(), xs.max(), 12)
    line = np.array([ys[np.abs(xs - g) <= (grid[1] - grid[0])].mean() for g in grid])
    y_line = np.interp(local[:, 0], grid, line)
    side = np.tanh((local[:, 1] - y_line) / 0.015)
    # only near the mouth horizontally (cheeks and beyond are not split)
    half = (xs.max() - xs.min()) / 2
    centre_x = (xs.max() + xs.min()) / 2
    near = np.clip(1.3 - np.abs(local[:, 0] - centre_x) / (half + 0.08), 0.0, 1.0)
    side = side * near
    side[list(UPPER_INNER) + list(UPPER_OUTER)] = -1.0
    side[list(LOWER_INNER) + list(LOWER_OUTER)] = 1.0
    side[[INNER_CORNER_R, INNER_CORNER_L, LIP_CORNER_R, LIP_CORNER_L]] = 0.0
    return side


def au_field(
    local: np.ndarray,
    handles: tuple[Handle, ...],
    sigma: float = DEFAULT_SIGMA,
    side: np.ndarray | None = None,
) -> np.ndarray:
    """Displacement [468, 2] (IOD) of one AU at intensity 1: its handles spread smoothly, but never
    across the lips (a lower-lip handle does not move the upper lip, and vice versa)."""
    local = np.asarray(local, dtype=np.float64)[:, :2]
    side = mouth_side(local) if side is None else side
    # one row per (handle, target point): the point, its motion, the handle's spread and weight
    points: list[int] = []
    moves: list[tuple[float, float]] = []
    spreads: list[float] = []
    weights: list[float] = []
    for hd in handles:
        targets = [(p, 1.0) for p in hd.points]
        if hd.mirror:
            targets += [(MIRROR[p], -1.0) for p in hd.points if p in MIRROR]
        for p, which in targets:
            # dx is "outwards": towards image left (-x) on the subject's right side
            outward = 0.0 if p in _MIDLINE else (-1.0 if which > 0 else 1.0)
            points.append(p)
            moves.append((hd.dx * outward, hd.dy))
            spreads.append(hd.sigma if hd.sigma is not None else sigma)
            weights.append(hd.weight)
    if not points:
        return np.zeros((len(local), 2))
    d2 = ((local[None] - local[points][:, None]) ** 2).sum(2)
    s = np.array(spreads)[:, None]
    g = np.array(weights)[:, None] * np.exp(-d2 / (2 * s**2))
    # a handle on one lip: no effect on the other side of the mouth
    lip = np.abs(side[points]) > 0.5
    g[lip] *= np.clip(side[None] * np.sign(side[points][lip])[:, None] + 1.0, 0.0, 1.0)
    # summed over the handles' points in order (a reduction over the first axis adds them one by one)
    out = (g[:, :, None] * np.array(moves)[:, None, :]).sum(axis=0)
    weight = g.sum(axis=0)
    # normalise overlapping handles so that a handle point moves by its own amount
    return out / np.maximum(weight, 1.0)[:, None]


def au_basis(local: np.ndarray, *, real: bool = True, edit: bool = False) -> dict[str, np.ndarray]:
    """Every AU's field [468, 2] (IOD) on this face: the real-face AUs (brows hold the eyes), those an
    edit applies (``edit``: the nose held too) or the world rig's."""
    side = mouth_side(local)
    units = EDIT_ACTION_UNITS if edit else REAL_ACTION_UNITS if real else ACTION_UNITS
    return {au: au_field(local, handles, side=side) for au, handles in units.items()}
