"""A mesh-engine plan: a clip's (or a shot's) fit, intensities, holds and donors, and each frame's
displacement of the face's landmarks (:meth:`MeshPlan.local_displacement`), which
:class:`~.mesh_engine.MeshEngine` makes (``plan``) and warps frames to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..expression.action_units import LOWER_INNER, UPPER_INNER
from ..expression.fit import FIT_AUS, ExpressionFit
from .mouth_donor import MouthDonors


@dataclass
class MeshPlan:
    """A clip's fit and the intensity of every frame: everything needed to edit its frames."""

    fit: ExpressionFit
    intensity: np.ndarray
    to: str
    #: destination AU coefficients at intensity 1
    target: dict[str, float] = field(default_factory=dict)
    gain: float = 1.0
    #: the warp's triangulation [T, 3] over the control points (see :func:`~.mesh_engine.control_points`), fixed
    #: for the clip so that it does not change from frame to frame
    triangles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))
    #: the mouth's opening at rest (IOD): a clip's least open (5th percentile), a photo's closed
    jaw_rest: float = 0.0
    #: [n, 468, 2] where the warp is placed: the tracked mesh smoothed over time (see
    #: :func:`~.mesh_engine.steady_landmarks`); None (a photo): the landmarks given to
    #: :meth:`~.mesh_engine.MeshEngine.edit`
    placement: np.ndarray | None = None
    #: [n, m] the fold guard's damping of each control point (1 = free), smoothed over time; None: none
    damping: np.ndarray | None = None
    #: calm mouths borrowed from other frames where the source smiles and the destination does not
    #: (:mod:`.mouth_donor`); None: none (a photo, a smiling destination, no calm frame)
    mouth: MouthDonors | None = None
    #: [468] how much each point is held still under a glasses frame (1 = not moved; see
    #: :func:`~wav2lip_emotion.faces.glasses.held_points`); None: no glasses held
    held: np.ndarray | None = None
    #: ([468], [n]) how much each point of an open smile's mouth is held, and in which frames
    #: (:func:`~.mouth_donor.open_smile_hold`); None: none
    smile_hold: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def plans(self) -> list[MeshPlan]:
        """The plans of the clip's shots: this one."""
        return [self]

    def locate(self, i: int) -> tuple[MeshPlan, int]:
        """The plan that edits the clip's frame ``i``, and the frame's index in it."""
        return self, i

    def local_displacement(self, i: int) -> np.ndarray:
        """Displacement [468, 2] (IOD, face frame) of frame ``i``'s landmarks."""
        fit = self.fit
        k = float(self.intensity[i])
        if k == 0.0 or not fit.valid[i]:
            return np.zeros((468, 2))
        source = {au: float(v) for au, v in zip(FIT_AUS, fit.expression[i], strict=True)}
        delta = np.zeros((468, 2))
        for au in set(source) | set(self.target):
            c = self.target.get(au, 0.0) - source.get(au, 0.0)
            if c:
                delta += fit.edit_basis[au] * c
        # a smile widens the lips slowly; speech does it fast: the slow part goes with the expression
        if "AU12" not in self.target:
            delta -= fit.speech_basis["spread"] * float(fit.slow_spread[i])
        delta *= k
        # the source's own opening (speech) is scaled, never created, and by one factor for the whole
        # clip, so that the opening keeps its course over time
        gain = self.gain
        if gain != 1.0:
            opening = max(0.0, float(fit.jaw[i]) - self.jaw_rest)
            delta += fit.speech_basis["jaw"] * (k * (gain - 1.0) * opening)
        if self.held is not None:
            delta *= 1.0 - self.held[:, None]
        if self.smile_hold is not None and self.smile_hold[1][i] > 0:
            delta *= 1.0 - self.smile_hold[1][i] * self.smile_hold[0][:, None]
        return _uncross_lips(fit.local[i, :, :2], delta)


def _uncross_lips(local: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Lips pressed by the edit meet but never pass through each other."""
    up, low = list(UPPER_INNER), list(LOWER_INNER)
    target = local + delta
    overlap = np.clip(target[up, 1] - target[low, 1], 0.0, None)
    if overlap.any():
        delta = delta.copy()
        delta[low, 1] += overlap
    return delta


@dataclass
class ShotPlans:
    """A clip whose frames show different faces (shots of an edited clip, or a face lost for long and
    then someone else's): a plan of its own for each run of frames of one track, so that one person's
    shape is never taken for another's expression."""

    #: (first frame, frame after the last, that run's plan)
    shots: list[tuple[int, int, MeshPlan]]

    @property
    def plans(self) -> list[MeshPlan]:
        return [plan for _, _, plan in self.shots]

    def locate(self, i: int) -> tuple[MeshPlan, int]:
        for start, stop, plan in self.shots:
            if start <= i < stop:
                return plan, i - start
        raise IndexError(f"frame {i} is outside the clip's {self.shots[-1][1]} frames")


def shot_ranges(valid: np.ndarray, tracks: np.ndarray) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) of one track each: a range ends where the next face found belongs to
    another track (frames without a face stay with the range before them)."""
    starts = [0]
    current = None
    for i, (ok, track) in enumerate(zip(np.asarray(valid, bool), np.asarray(tracks), strict=True)):
        if not ok:
            continue
        if current is not None and track != current:
            starts.append(i)
        current = track
    return [(a, b) for a, b in zip(starts, [*starts[1:], len(valid)], strict=True)]
