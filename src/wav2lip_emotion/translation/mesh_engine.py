"""The mesh engine: a training-free emotion editor for any real clip or photo.

Each frame's face is tracked (468-point mesh), split into pose, speech, blinks and expression
(:mod:`wav2lip_emotion.expression.fit`), and given a target shape: the same pose, speech and blinks,
with the source's expression replaced by the destination's prototype at the requested intensity. The
face region is warped to it (dense, fold-free, :mod:`wav2lip_emotion.faces.warp`) and pasted back
with a soft mask: pixels outside the face region are the input's own, the mouth interior is only
ever the source's own pixels (stretched), and where an occluder covers the face the edit fades out.

:class:`MeshEngine` is the model side (plan a clip, edit one frame);
:func:`~wav2lip_emotion.translation.mesh_run.translate_mesh` is the
video/image pipeline around it (two passes: track every frame, then edit and encode).

:class:`~.mesh_plan.MeshPlan` (and :class:`~.mesh_plan.ShotPlans`) hold a planned clip; they are
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, minimum_filter1d

from ..emotions import parse_emotion
from ..errors import ConfigError
from ..expression.action_units import EYE_L_LOWER, EYE_L_UPPER, EYE_R_LOWER, EYE_R_UPPER, LOWER_INNER, UPPER_INNER
from ..expression.fit import FIT_AUS, fit_expression, opening_gain, prototype
from ..expression.intensity import IntensitySchedule
from ..faces.glasses import GLASSES_MODES, GlassesEvidence, default_rings, held_points, symmetric_rings
from ..faces.mesh import FACE_OVAL
from ..faces.warp import DEADBAND, backward_map, fold_guard, fold_guard_frames, triangulate, warp_where
from .mesh_plan import MeshPlan, ShotPlans, shot_ranges
from .mouth_donor import borrow_mouth, choose_donors, inner_opening, open_smile_hold

#: the pasted region: the face outline scaled this much around its centre (the warp fades out between
#: the outline and the first ring, so the paste ends where the warp has nearly stopped: a jaw that
#: moves leaves no seam), and feathered inwards over this share of the face's size
PASTE_SCALE = 1.15
PASTE_FEATHER = 0.1
#: fixed points ring the face at this multiple of its outline (the warp fades to nothing there), and
#: the warp's outer edge
RING_SCALE = 1.25
OUTER_RING_SCALE = 1.6
#: the part of the frame that is warped and pasted: the outline at this scale (inside the first ring)
REGION_SCALE = 1.2
#: share of an occluder mask kept in the next frame (it fades over about 10 frames unless seen again)
OCCLUDER_FADE = 0.8
#: how much of its opening a smiling mouth loses when the destination does not smile (at AU12 = 1)
SMILE_CLOSE = 0.6
#: iris pins: radius (IOD) of the disc kept rigid in each eye, so lids move over a still eyeball
IRIS_RADIUS = 0.055
#: the clip is fitted, and the warp placed, on the tracked mesh smoothed over time by a centred Gaussian
#: of this many frames (no lag): the tracker's mesh jitters by a fraction of a pixel from frame to frame,
#: and a field of displacements placed on a jittering mesh (and turned and scaled by a jittering pose)
#: moves the face's texture back and forth where the field is steep (lip corners, lids)
PLACEMENT_SIGMA = 1.0
#: the fold guard's damping of each control point is smoothed over time (a centred minimum over this
#: many frames on each side, then a centred Gaussian of half that): a point damped in one frame and not
#: in the next would jump; the guard is then applied once more, so no triangle ever flips
GUARD_RADIUS = 2
#: frames whose fold guard the plan runs at once (bounded memory: a few MB of points each time)
GUARD_FRAMES = 128
__all__ = ["FrameEdit", "MeshEngine", "MeshPlan", "Occlusion", "ShotPlans", "Warped", "shot_ranges", "with_region"]
_EYES = ((EYE_R_UPPER, EYE_R_LOWER), (EYE_L_UPPER, EYE_L_LOWER))


@dataclass
class FrameEdit:
    """What editing one frame did."""

    #: the region of the frame that may have changed (x0, y0, x1, y1)
    region: tuple[int, int, int, int] | None = None
    #: control points whose motion the fold guard damped, and triangles that would have flipped
    damped: int = 0
    would_flip: int = 0
    #: triangles of the mesh that flipped in the warp actually used (always 0)
    flipped: int = 0
    #: share of the face region covered by an occluder
    occluded: float = 0.0


@dataclass
class Warped:
    """One frame's face warped to its target, before the paste (see :meth:`MeshEngine.warp`)."""

    #: the part of the frame that may change (x0, y0, x1, y1)
    region: tuple[int, int, int, int]
    #: what the warp did
    stats: FrameEdit
    #: [y1 - y0, x1 - x0, 3] uint8 the region warped (the source's own pixels where the paste takes nothing)
    pixels: np.ndarray
    #: [y1 - y0, x1 - x0] float32 the paste mask (1 = the warped pixel, 0 = the source's)
    mask: np.ndarray
    #: the face outline's centre (image pixels), which the occluder masks follow from frame to frame
    centre: np.ndarray
    #: the clip's first frame of the shot (the track) this frame belongs to: occluder masks are not
    #: carried across a cut
    shot: int = 0
    #: [y1 - y0, x1 - x0] float32 each pixel's source in the frame (x, y), see :func:`backward_map`:
    #: where the warp takes a pixel from an occluder, the paste keeps the frame's own there too
    map_x: np.ndarray | None = None
    map_y: np.ndarray | None = None


@dataclass(frozen=True)
class Occlusion:
    """What the occluder masks took from one frame's edit (see :meth:`MeshEngine.occlusion`), worked
    out ahead of its paste, possibly on another thread."""

    #: [y1 - y0, x1 - x0] float32 in [0, 1] over the warp's region, 1 = covered; None: nothing covers
    share: np.ndarray | None


class MeshEngine:
    """Edit the emotion of tracked faces by warping them (no learned weights)."""

    def __init__(
        self,
        to: str,
        *,
        source: str | None = None,
        intensity: float | str | IntensitySchedule | None = 1.0,
        occluders: Any | None = None,
        glasses: str = "auto",
    ) -> None:
        self.to = parse_emotion(to).value
        self.source = parse_emotion(source).value if source is not None else None
        self.schedule = IntensitySchedule.parse(intensity)
        #: an object with ``mask(rgb, landmarks, region) -> [h, w] float32`` (1 = occluded), or None
        self.occluders = occluders
        if glasses not in GLASSES_MODES:
            raise ConfigError(f"glasses must be one of {', '.join(GLASSES_MODES)}, got {glasses!r}")
        #: "auto" (hold the eyes' surroundings where a glasses frame is clearly seen), "on", "off"
        self.glasses = glasses
        #: the last frame's occluder mask (frame index, region, face centre, mask), see :meth:`_steady`
        self._occluded: tuple[int, tuple[int, int, int, int], np.ndarray, np.ndarray, int] | None = None

    def settings(self) -> dict[str, Any]:
        """What shapes this engine's output (a resumed run must match it: translation/resume.py)."""
        occluders = None if self.occluders is None else repr(getattr(self.occluders, "config", self.occluders))
        return {
            "to": self.to,
            "source": self.source,
            "intensity": self.schedule.describe(),
            "occluders": occluders,
            "glasses": self.glasses,
        }

    def restart_occluders(self) -> None:
        """Forget what the occluder masks carry from frame to frame (the detector's skin model and
        hands, the fading mask), as at the start of a clip. A resumable run does so at the start of each
        piece, so that a piece comes out the same whether it follows the one before or a restart."""
        self._occluded = None
        reset = getattr(self.occluders, "reset", None)
        if reset is not None:
            reset()

    def plan(
        self,
        landmarks: np.ndarray,
        valid: np.ndarray,
        times: np.ndarray,
        tracks: np.ndarray | None = None,
        glasses: GlassesEvidence | None = None,
    ) -> MeshPlan | ShotPlans:
        """Fit a clip's tracked faces ([n, 468, 3], [n], [n] seconds) and schedule its intensity.
        ``tracks`` [n] (the tracker's track of each face, see :func:`~.mesh_run.track_faces`): frames of
        different tracks, which may be different people, are fitted apart (:class:`ShotPlans`).
        ``glasses``: what the clip's frames show of a glasses frame (:func:`glasses_evidence`), for
        :attr:`glasses` "auto" and for the shape of the frame held."""
        ranges = [(0, len(valid))] if tracks is None else shot_ranges(valid, tracks)
        rings = self.glasses_rings(glasses)
        plans = [(a, b, self._plan(landmarks[a:b], valid[a:b], times[a:b], rings)) for a, b in ranges]
        return ShotPlans(plans) if len(plans) > 1 else plans[0][2]

    def glasses_rings(self, glasses: GlassesEvidence | None) -> np.ndarray | None:
        """The glasses rings to hold still (see :func:`held_points`), or None: with "auto" the measured
        rings where a frame was clearly seen; with "on" those measured, or a generous default frame
        where none were."""
        if self.glasses == "off" or (self.glasses == "auto" and (glasses is None or not glasses.found())):
            return None
        return symmetric_rings(glasses.rings) if glasses is not None else default_rings()

    def _plan(
        self, landmarks: np.ndarray, valid: np.ndarray, times: np.ndarray, rings: np.ndarray | None = None
    ) -> MeshPlan:
        steady = steady_landmarks(landmarks, valid)
        fit = fit_expression(steady, valid, times, source=self.source)
        layout, _ = control_points(fit.neutral[:, :2], 1.0)
        target = prototype(self.to)
        gain = opening_gain(self.to)
        if "AU12" not in target and fit.valid.sum() > 1:
            # a smiling clip's opening shows teeth: narrowed when the destination does not smile. Not on a
            # photo: with no motion to tell a smile's opening from the mouth's shape, squeezing the lips
            # over the teeth disfigured smiling photos
            smile = float(np.clip(np.percentile(fit.expression[fit.valid, FIT_AUS.index("AU12")], 90), 0.0, 1.0))
            gain = max(gain - SMILE_CLOSE * smile, 0.3)
        plan = MeshPlan(
            fit=fit,
            intensity=self.schedule(np.asarray(times, dtype=np.float64)),
            to=self.to,
            target=target,
            gain=gain,
            triangles=triangulate(layout),
            jaw_rest=float(np.percentile(fit.jaw[fit.valid], 5)) if fit.valid.sum() > 1 else 0.0,
            held=None if rings is None else held_points(fit.neutral, rings),
        )
        calm = "AU12" not in target and opening_gain(self.to) <= 1.0
        if len(valid) > 1 and calm:
            # a calm mouth for a smile sent to a destination that neither smiles nor opens the mouth
            # wider (surprise and fear keep the source's open mouth, and stretch it)
            plan.mouth = choose_donors(fit, plan.intensity, _target_openings(plan))
        if calm and self.to != "neutral":
            plan.smile_hold = open_smile_hold(fit, plan.mouth)  # an open smile no calm mouth replaces
        if len(valid) > 1:
            plan.placement = steady[..., :2]
            plan.damping = guard_damping(plan)
        return plan

    def _steady(
        self, occ: np.ndarray, i: int, region: tuple[int, int, int, int], centre: np.ndarray, shot: int = 0
    ) -> np.ndarray:
        """An occluder mask that does not flicker: where the previous frame's mask (moved with the face)
        was set, it fades out over a few frames instead of vanishing at once; a new occluder counts at
        once. A detector that flips on and off (glasses frames under changing light) would otherwise
        switch the edit on and off there from frame to frame. Nothing is carried into a new shot."""
        previous, self._occluded = self._occluded, (i, region, centre, occ, shot)
        if previous is None or previous[0] != i - 1 or previous[4] != shot or not previous[3].any():
            return occ
        _, (px0, py0, _, _), pcentre, pmask, _ = previous
        dx, dy = centre - pcentre
        # current region pixel (x, y) -> previous region pixel, following the face's motion
        m = np.array([[1.0, 0.0, region[0] - px0 - dx], [0.0, 1.0, region[1] - py0 - dy]])
        moved = cv2.warpAffine(
            pmask, m, (occ.shape[1], occ.shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0.0
        )
        occ = np.maximum(occ, OCCLUDER_FADE * moved)
        self._occluded = (i, region, centre, occ, shot)
        return occ

    def edit(
        self, rgb: np.ndarray, landmarks: np.ndarray, plan: MeshPlan | ShotPlans, i: int
    ) -> tuple[np.ndarray, FrameEdit]:
        """Frame ``i`` (RGB uint8) with its face ([468, >=2] image pixels) edited; pixels outside the
        face region are the input's own. The same as :meth:`paste` of :meth:`warp`."""
        return self.paste(rgb, landmarks, i, self.warp(rgb, landmarks, plan, i))

    def warp(self, rgb: np.ndarray, landmarks: np.ndarray, plan: MeshPlan | ShotPlans, i: int) -> Warped | None:
        """Frame ``i``'s face warped to its target shape, not yet pasted; None when the frame is not
        edited. Reads nothing but its arguments and changes nothing: frames may be warped in any order,
        on several threads at once (the occluder masks, which follow the clip, are :meth:`paste`'s)."""
        plan, j = plan.locate(i)
        shot, i = i - j, j  # the shot's first frame; the frame's index in the shot's plan
        if not plan.fit.valid[i] or plan.intensity[i] == 0.0:
            return None
        local_delta = plan.local_displacement(i)
        if not np.any(local_delta):
            return None
        h, w = rgb.shape[:2]
        mesh = np.asarray(landmarks if plan.placement is None else plan.placement[i], np.float64)[:, :2]
        src, dst = _targets(plan, i, mesh, local_delta)
        if plan.damping is not None:
            dst = src + plan.damping[i][:, None] * (dst - src)
        oval = mesh[list(FACE_OVAL)]
        size = float(np.ptp(oval, axis=0).max())
        centre = oval.mean(0)
        reach = centre + REGION_SCALE * (oval - centre)  # covers the grown, feathered paste mask
        x0, y0 = np.floor(reach.min(0)).astype(int)
        x1, y1 = np.ceil(reach.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        region = (x0, y0, x1, y1)
        guard = fold_guard(src, dst, plan.triangles)
        stats = FrameEdit(region=region, damped=guard.damped, would_flip=guard.would_flip, flipped=guard.flipped)
        mask = _paste_mask(oval, region, size)
        map_x, map_y = backward_map(src, guard.dst, plan.triangles, region, deadband=DEADBAND)
        # only the pixels the paste takes are looked up (each pixel's lookup is its own)
        pixels = rgb[y0:y1, x0:x1].copy()
        warp_where(rgb, map_x, map_y, mask > 0, pixels)
        donors = plan.mouth
        if donors is not None and donors.weight[i] > 0 and plan.placement is not None:
            fit = plan.fit
            target = mesh + fit.pose.to_image(i, local_delta)
            destination = fit.expression_field(plan.target) * float(plan.intensity[i])
            donor_mesh = plan.placement[int(donors.donor[i])]
            target_local = fit.local[i, :, :2] + local_delta
            borrow_mouth(donors, fit, i, target, target_local, destination, donor_mesh, pixels, region)
        return Warped(region, stats, pixels, mask, centre, shot, map_x, map_y)

    def paste(
        self, rgb: np.ndarray, landmarks: np.ndarray, i: int, warped: Warped | None
    ) -> tuple[np.ndarray, FrameEdit]:
        """Frame ``i`` (RGB uint8) with its :meth:`warp` pasted in with the soft mask, faded out where an
        occluder covers the face. Call in frame order: the occluder masks follow the clip."""
        pasted, stats = self.paste_region(rgb, landmarks, i, warped)
        return with_region(rgb, warped, pasted), stats

    def paste_region(
        self,
        rgb: np.ndarray,
        landmarks: np.ndarray,
        i: int,
        warped: Warped | None,
        occlusion: Occlusion | None = None,
    ) -> tuple[np.ndarray | None, FrameEdit]:
        """What :meth:`paste` puts into the frame: the pixels of ``warped.region`` (None when the frame
        is not edited), for a caller that writes them back itself (:func:`with_region`). ``occlusion``:
        the frame's :meth:`occlusion`, worked out in frame order elsewhere (None: worked out here, so
        call in frame order)."""
        if warped is None:
            return None, FrameEdit()
        stats = replace(warped.stats)
        x0, y0, x1, y1 = warped.region
        mask = warped.mask
        occ = (occlusion if occlusion is not None else self.occlusion(rgb, landmarks, i, warped)).share
        if occ is not None:  # (most frames have no occluder)
            stats.occluded = float((occ * (mask > 0)).sum() / max((mask > 0).sum(), 1))
            mask = mask * (1.0 - np.clip(occ, 0.0, 1.0))
        # warped * mask + region * (1 - mask), rounded (OpenCV's blend, 4x faster than numpy's float
        # arithmetic; where the mask is 0 the region's own value comes out exactly)
        mask = np.ascontiguousarray(mask, np.float32)
        return cv2.blendLinear(warped.pixels, rgb[y0:y1, x0:x1], mask, 1.0 - mask), stats

    def occlusion(self, rgb: np.ndarray, landmarks: np.ndarray, i: int, warped: Warped | None) -> Occlusion:
        """Where something covers frame ``i``'s face ([468, >=2] image pixels) over its warp's region:
        the occluder detector's mask, kept from flickering (:meth:`_steady`), and also wherever the warp
        would take its pixels from an occluder. The masks follow the clip: call in frame order, once for
        every frame :meth:`paste` is given, on one thread at a time (not necessarily the paste's)."""
        if warped is None or self.occluders is None:
            return Occlusion(None)
        x0, y0, _, _ = region = warped.region
        occ = np.asarray(self.occluders.mask(rgb, landmarks, region), np.float32)
        occ = self._steady(occ, i, region, warped.centre, warped.shot)
        if occ.any() and warped.map_x is not None and warped.map_y is not None:
            # ... and where the warp takes its pixels from the occluder: else a face edited next to a
            # hand or a microphone drags a smear of it out over the skin (the occluder through the
            # backward map: each pixel's share of occluder at the place it comes from)
            dragged = cv2.remap(
                occ, warped.map_x - np.float32(x0), warped.map_y - np.float32(y0), cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
            )  # fmt: skip
            occ = np.maximum(occ, dragged)
        return Occlusion(occ if occ.any() else None)


def with_region(rgb: np.ndarray, warped: Warped | None, pasted: np.ndarray | None) -> np.ndarray:
    """``rgb`` with ``pasted`` (:meth:`MeshEngine.paste_region`) in the warp's region: a copy, or ``rgb``
    itself when nothing was pasted."""
    if pasted is None or warped is None:
        return rgb
    x0, y0, x1, y1 = warped.region
    out = rgb.copy()
    out[y0:y1, x0:x1] = pasted
    return out


def _target_openings(plan: MeshPlan) -> np.ndarray:
    """[n] the inner-lip opening (IOD) each frame's edit aims at (0 where the frame is not edited)."""
    out = np.zeros(len(plan.intensity))
    for i in np.flatnonzero(plan.fit.valid & (plan.intensity > 0)):
        out[i] = inner_opening((plan.fit.local[i, :, :2] + plan.local_displacement(i))[None])[0]
    return out


def _targets(plan: MeshPlan, i: int, mesh: np.ndarray, local_delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``i``'s control points (image pixels) and where the edit moves them (before the fold guard)."""
    src, moving = control_points(mesh, float(plan.fit.pose.scale[i]))
    dst = src.copy()
    dst[: len(moving)] += plan.fit.pose.to_image(i, local_delta)[moving]
    return src, dst


def steady_landmarks(landmarks: np.ndarray, valid: np.ndarray, sigma: float = PLACEMENT_SIGMA) -> np.ndarray:
    """Tracked meshes [n, 468, k] smoothed over time (float64, same shape): a centred Gaussian of
    ``sigma`` frames within each run of frames with a face (no lag: a steady motion is kept exactly,
    also at a run's ends, which are extended by odd reflection; a frame without a face never pulls on
    its neighbours)."""
    pts = np.array(landmarks, np.float64)
    valid = np.asarray(valid, bool)
    if sigma <= 0:
        return pts
    radius = int(np.ceil(4 * sigma))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < 3:
            continue
        pad = min(radius, stop - start - 1)
        run = np.pad(pts[start:stop], ((pad, pad), (0, 0), (0, 0)), mode="reflect", reflect_type="odd")
        pts[start:stop] = gaussian_filter1d(run, sigma, axis=0, mode="nearest", truncate=4.0)[pad:-pad]
    return pts


def guard_damping(plan: MeshPlan, radius: int = GUARD_RADIUS) -> np.ndarray | None:
    """[n, m] how much of its motion each control point keeps after the fold guard (1 = all), for every
    frame, smoothed over time without lag: a centred minimum over ``radius`` frames on each side (a
    point damped in one frame is damped as much in its neighbours), then a centred Gaussian. Frames
    with no edit keep 1, so an intensity step is not spread into the frames before it. None when no
    frame is edited."""
    n = len(plan.intensity)
    out: np.ndarray | None = None
    edited = [i for i in range(n) if plan.placement is not None and plan.fit.valid[i] and plan.intensity[i] != 0.0]
    # the guard of many frames at once (the same to the bit as frame by frame, and several times faster:
    # this pass runs between the two passes over the video, on one core), a bounded number at a time
    for start in range(0, len(edited), GUARD_FRAMES):
        frames = edited[start : start + GUARD_FRAMES]
        pairs = [_targets(plan, i, plan.placement[i], plan.local_displacement(i)) for i in frames]
        src, dst = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        if out is None:
            out = np.ones((n, src.shape[1]))
        motion = np.linalg.norm(dst - src, axis=2)
        guarded = np.stack([g.dst for g in fold_guard_frames(src, dst, plan.triangles)])
        kept = np.linalg.norm(guarded - src, axis=2)
        out[frames] = np.where(motion > 1e-9, kept / np.maximum(motion, 1e-9), 1.0)
    if out is None:
        return None
    if radius > 0:
        out = minimum_filter1d(out, 2 * radius + 1, axis=0, mode="nearest")
        out = gaussian_filter1d(out, radius / 2, axis=0, mode="nearest")
    return np.clip(out, 0.0, 1.0)


#: the inner lip contour: not a control point (on a closed mouth the two lips lie on top of each other,
#: and the slivers between them would flip at the smallest motion); the outer lips carry the mouth
_INNER_LIPS = frozenset((*UPPER_INNER, *LOWER_INNER, 78, 308))
_MOVING = np.array([k for k in range(468) if k not in _INNER_LIPS])


def control_points(mesh: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The warp's control points [m, 2] for a face mesh [468, 2] (image pixels, or the neutral shape
    in IOD with ``scale`` 1): the mesh points that move (first; their mesh indices are returned too),
    then fixed points: on each eyeball (its centre and either side, so lids move over a still iris), a
    ring at 1.25x the face outline (the edit fades to nothing there) and one at 1.6x (the warp's edge).
    The same construction in every frame, so one triangulation serves the whole clip."""
    mesh = np.asarray(mesh, np.float64)[:, :2]
    oval = mesh[list(FACE_OVAL)]
    centre = oval.mean(0)
    right, left = mesh[33], mesh[263]
    axis = (left - right) / max(float(np.linalg.norm(left - right)), 1e-9)
    r = IRIS_RADIUS * scale
    pins = []
    for upper, lower in _EYES:
        c = mesh[list(upper) + list(lower)].mean(0)
        pins += [c, c + r * axis, c - r * axis]
    rings = [centre + RING_SCALE * (oval - centre), centre + OUTER_RING_SCALE * (oval - centre)]
    return np.concatenate([mesh[_MOVING], np.array(pins), *rings]), _MOVING


def _paste_mask(oval: np.ndarray, region: tuple[int, int, int, int], size: float) -> np.ndarray:
    """The face outline, enlarged and feathered inwards: 1 on the face, 0 outside the region it may change."""
    x0, y0, x1, y1 = region
    centre = oval.mean(0)
    outline = centre + PASTE_SCALE * (oval - centre)
    hard = np.zeros((y1 - y0, x1 - x0), np.uint8)
    hull = cv2.convexHull(np.round((outline - [x0, y0]) * 16).astype(np.int32))
    cv2.fillConvexPoly(hard, hull, 1, lineType=cv2.LINE_8, shift=4)
    feather = max(2.0, PASTE_FEATHER * size)
    # eroded by a disc of radius feather / 2: the pixels farther than that from the outline (a distance
    # transform: twice as fast as an erosion by a 20 px disc)
    inner = cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > max(1, round(feather / 2))
    inner = inner.astype(np.float32)
    soft = cv2.GaussianBlur(inner, (0, 0), max(0.5, feather / 4), borderType=cv2.BORDER_CONSTANT)
    return np.clip(soft, 0.0, 1.0) * hard


# --------------------------------------------------------------------------- the pipeline
