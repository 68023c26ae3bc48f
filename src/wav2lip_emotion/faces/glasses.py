"""Glasses on a tracked face: is there a frame around the eyes, and where does it run?

A glasses frame is the one thing on a face that draws a **closed ring around each eye** at a steady
distance from it, the **same ring on both sides** (mirrored). Eye bags, brows, wrinkles and lashes
draw parts of a ring (the brow above, a crease below) but rarely a complete one, and rarely the same on
both eyes. :func:`glasses_evidence` looks for that ring:

1. the face's eye band is resampled to a fixed scale (``PX`` pixels per inter-ocular distance, IOD),
   upright, so that the cue does not depend on the resolution or the head's roll;
2. around each eye, rays are cast every 5 degrees; along each ray a ridge (a thin line darker or
   brighter than both its sides, 2-4 px wide at that scale) is measured beyond the eye itself;
3. the ring that collects the most ridge (a path over the angles, its radius changing by at most 2 px
   from ray to ray) is found by dynamic programming; the rays towards the nose are left out (the
   nose's edge outshines a thin frame on a turned head) and the ring is carried across them;
4. its **strength** is the median ridge along the weaker eye's ring, in units of the band's own
   contrast (so the light and the skin do not matter), and its **asymmetry** the mean difference
   (IOD) between the right eye's ring and the left eye's mirrored one (reported; it did not separate
   turned heads with glasses from faces without).

A frame is found when the ring is very strong (:class:`GlassesConfig`); over a clip,
:func:`glasses_in_clip` takes the medians of a few frames' evidence. :func:`held_points` turns the rings
into a per-point weight for the mesh engine: the points inside the rings (with a margin) are held
still, so an edit never bends the frame (docs/mesh_engine.md, "Glasses").

Measured on 22 real faces (8 with glasses): thick dark frames measure 1.03-1.08, thin, rimless or
blurred ones 0.42-0.66, and faces without glasses 0.23-0.70 (wrinkles, eye bags, strong brows and
lashes draw parts of a ring). Only the clear cases are taken by themselves; ``--glasses on`` holds a
frame the evidence does not show clearly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .occluders import LEFT_EYE, RIGHT_EYE, check_landmarks

#: what an engine's ``glasses`` setting takes: auto (hold where a frame is clearly seen), on, off
GLASSES_MODES = ("auto", "on", "off")
#: resampling scale of the eye band: pixels per inter-ocular distance
PX = 64
#: ray angles around each eye (radians; 0 = towards the picture's right, y down)
ANGLES = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
#: radii searched along each ray (pixels at ``PX``): 0.125 to 0.61 IOD
RADII = np.arange(8, 40)
#: the eye itself, excluded from the search: an ellipse with these half-axes (IOD)
EYE_HALF_AXES = (0.30, 0.16)
#: ridge widths (pixels at ``PX``): a thin metal frame to a thick plastic one
RIDGE_STEPS = (2, 3, 4)
#: the largest change of the ring's radius from one ray to the next (pixels at ``PX``)
MAX_STEP = 2
#: the rays towards the nose (within this angle of it, radians) are left out: there the nose's edge,
#: bright on one side and shaded on the other, outshines a thin frame on a turned head. The ring is
#: carried over them by interpolation
NASAL = np.deg2rad(50.0)
#: the rays that count (all but the nasal ones); ray 0 points at the nose on both sides
COUNTED = np.abs(np.angle(np.exp(1j * ANGLES))) > NASAL


@dataclass(frozen=True)
class GlassesConfig:
    """When the rings count as glasses (see the module's docstring for what was measured)."""

    #: a ring at least this strong (median ridge over the band's contrast) is a frame. Faces without
    #: glasses measured 0.23-0.70 (wrinkles, eye bags and strong brows draw part of a ring), thick dark
    #: frames 1.03-1.08, thin, rimless or blurred ones 0.42-0.66: only the clear cases are taken
    strength: float = 0.9
    #: points this far outside the rings (IOD) are still held fully; the hold then fades out over
    #: ``fade``, so that the skin around the frame stretches smoothly
    margin: float = 0.1
    fade: float = 0.15


@dataclass(frozen=True, eq=False)  # (rings is an array: compare to_json() instead)
class GlassesEvidence:
    """What one face (or a clip's faces, see :func:`glasses_in_clip`) shows of a glasses frame."""

    #: median ridge along the weaker eye's ring, in units of the eye band's contrast
    strength: float
    #: mean difference between the right eye's ring and the left eye's mirrored ring (IOD)
    asymmetry: float
    #: [2, len(ANGLES)] each eye's ring radius (IOD) per ray: the subject's right eye (the picture's
    #: left), then the left eye; the left eye's rays mirrored, so that on both rows ray 0 points at
    #: the nose, ray 18 down and ray 54 up
    rings: np.ndarray
    #: faces the evidence was taken from
    frames: int = 1

    def found(self, config: GlassesConfig | None = None) -> bool:
        """Whether this evidence counts as glasses."""
        return bool(self.strength >= (config or GlassesConfig()).strength)

    def to_json(self) -> dict[str, object]:
        return {
            "strength": round(self.strength, 4),
            "asymmetry": round(self.asymmetry, 4),
            "rings": np.round(self.rings, 4).tolist(),
            "frames": self.frames,
        }

    @classmethod
    def from_json(cls, data: object) -> GlassesEvidence:
        """The evidence :meth:`to_json` wrote; ValueError when ``data`` is not that."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        try:
            rings = np.asarray(data["rings"], dtype=np.float64)
            out = cls(float(data["strength"]), float(data["asymmetry"]), rings, int(data.get("frames", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"missing or malformed field ({exc})") from None
        if rings.shape != (2, len(ANGLES)) or not np.isfinite(rings).all():
            raise ValueError(f"rings must be 2 x {len(ANGLES)} finite radii, got shape {rings.shape}")
        return out

    def describe(self) -> str:
        return f"ring strength {self.strength:.2f}, asymmetry {self.asymmetry:.3f} IOD over {self.frames} frame(s)"


#: each eye's corners (outer, inner)
RIGHT_CORNERS = (33, 133)
LEFT_CORNERS = (263, 362)


def _width(points: np.ndarray, corners: tuple[int, int]) -> float:
    return float(max(abs(points[corners[0], 0] - points[corners[1], 0]), 1e-6))


def _eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)


def canonical_transform(landmarks: np.ndarray) -> np.ndarray:
    """[2, 3] affine from the landmarks' coordinates to the upright eye frame at ``PX`` pixels per IOD,
    with the point between the eyes at the origin."""
    right, left = _eye_centres(landmarks)
    d = left - right
    iod = float(np.hypot(d[0], d[1]))
    if iod <= 1e-6:
        raise ValueError("the eyes' landmarks coincide")
    angle = np.arctan2(d[1], d[0])
    s = PX / iod
    c, si = np.cos(-angle) * s, np.sin(-angle) * s
    m = np.array([[c, -si, 0.0], [si, c, 0.0]])
    m[:, 2] = -m[:, :2] @ ((right + left) / 2)
    return m


def _ridge_polar(gray: np.ndarray, centre: np.ndarray, mirror: bool, squeeze: float = 1.0) -> np.ndarray:
    """[angles, radii] ridge response around ``centre`` of the canonical band (0 inside the eye).
    ``squeeze``: horizontal scale of the rays (below 1 for the eye turned away, seen narrower)."""
    ang = np.pi - ANGLES if mirror else ANGLES
    xs = centre[0] + squeeze * np.cos(ang)[:, None] * RADII[None]
    ys = centre[1] + np.sin(ang)[:, None] * RADII[None]
    polar = cv2.remap(
        gray, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    polar = cv2.GaussianBlur(polar, (0, 0), sigmaX=0.8, sigmaY=1.0)
    resp = np.zeros_like(polar)
    for d in RIDGE_STEPS:
        q = np.pad(polar, ((0, 0), (d, d)), mode="edge")
        resp = np.maximum(resp, np.abs(polar - 0.5 * (q[:, : -2 * d] + q[:, 2 * d :])))
    a, b = EYE_HALF_AXES[0] * PX, EYE_HALF_AXES[1] * PX
    inner = a * b / np.sqrt((b * np.cos(ang)) ** 2 + (a * np.sin(ang)) ** 2)
    resp[RADII[None, :] < inner[:, None]] = 0.0
    resp[~COUNTED] = 0.0
    return resp


def _best_ring(resp: np.ndarray) -> np.ndarray:
    """Radius index per angle of the path that collects the most response (steps of at most MAX_STEP)."""
    n = resp.shape[1]
    idx = np.arange(n)
    score = resp[0].astype(np.float64)
    back = []
    for k in range(1, len(resp)):
        best = np.full(n, -np.inf)
        arg = np.zeros(n, np.int64)
        for s in range(-MAX_STEP, MAX_STEP + 1):
            shifted = np.full(n, -np.inf)
            if s >= 0:
                shifted[s:] = score[: n - s]
            else:
                shifted[:s] = score[-s:]
            better = shifted > best
            best = np.where(better, shifted, best)
            arg = np.where(better, idx - s, arg)
        score = best + resp[k]
        back.append(arg)
    j = int(score.argmax())
    path = [j]
    for arg in reversed(back):
        j = int(arg[j])
        path.append(j)
    return np.array(path[::-1])


def glasses_evidence(rgb: np.ndarray, landmarks: np.ndarray) -> GlassesEvidence:
    """The glasses-ring evidence of the face with ``landmarks`` ([468, >=2] pixels) in ``rgb``."""
    pts = check_landmarks(landmarks)
    m = canonical_transform(pts)
    # the band: 1.2 IOD either side of the eyes' midpoint, 0.7 above and 0.6 below
    x0, y0 = -1.2 * PX, -0.7 * PX
    band_m = m.copy()
    band_m[:, 2] -= (x0, y0)
    size = (int(2.4 * PX), int(1.3 * PX))
    # resampled first, then made grey: only the band's pixels are converted, whatever the frame's size
    colour = cv2.warpAffine(
        np.ascontiguousarray(rgb[..., :3]), band_m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    band = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(np.float32)
    contrast = float(band[int(0.2 * PX) : int(1.1 * PX), int(0.2 * PX) : int(2.2 * PX)].std()) + 1.0
    canon = pts[:, :2] @ band_m[:, :2].T + band_m[:, 2]
    right, left = _eye_centres(canon)
    # a turned head shows the far eye (and its half of the frame) narrower: each side's rays are
    # scaled by its eye's width, so that the two rings compare as seen from the front
    widths = np.array([_width(canon, RIGHT_CORNERS), _width(canon, LEFT_CORNERS)])
    squeeze = widths / widths.mean()
    strengths, rings = [], []
    for centre, mirror, sq in ((right, False, squeeze[0]), (left, True, squeeze[1])):
        resp = _ridge_polar(band, centre, mirror, float(sq))
        path = _best_ring(resp)
        strengths.append(float(np.median(resp[np.arange(len(path)), path][COUNTED])) / contrast)
        ring = RADII[path] / PX
        # over the nasal rays, where a frame runs down beside the nose, the ring is carried straight
        # between the counted rays on either side, or out to the default frame's, whichever is wider
        carried = np.interp(ANGLES[~COUNTED], ANGLES[COUNTED], ring[COUNTED], period=2.0 * np.pi)
        ring[~COUNTED] = np.maximum(carried, default_rings()[0][~COUNTED])
        rings.append(ring)
    ring_arr = np.array(rings, np.float64)
    asymmetry = float(np.mean(np.abs(ring_arr[0] - ring_arr[1])[COUNTED]))
    return GlassesEvidence(strength=min(strengths), asymmetry=asymmetry, rings=ring_arr)


def glasses_in_clip(evidence: Sequence[GlassesEvidence]) -> GlassesEvidence | None:
    """One verdict from several frames' evidence (medians); None when there is none."""
    if not evidence:
        return None
    return GlassesEvidence(
        strength=float(np.median([e.strength for e in evidence])),
        asymmetry=float(np.median([e.asymmetry for e in evidence])),
        rings=np.median(np.stack([e.rings for e in evidence]), axis=0),
        frames=sum(e.frames for e in evidence),
    )


def symmetric_rings(rings: np.ndarray) -> np.ndarray:
    """[2, len(ANGLES)] both eyes' rings replaced by their mean (a frame is symmetric; where one side's
    ring strayed onto the nose's edge or a shadow, the mean strays half as far)."""
    mean = np.asarray(rings, np.float64).mean(0)
    return np.stack([mean, mean])


def default_rings() -> np.ndarray:
    """[2, len(ANGLES)] the rings held when glasses are asserted but none was measured (a generous
    frame: 0.45 IOD across each side of the eye, 0.36 above and below)."""
    a, b = 0.45, 0.36
    r = a * b / np.sqrt((b * np.cos(ANGLES)) ** 2 + (a * np.sin(ANGLES)) ** 2)
    return np.stack([r, r])


def held_points(shape: np.ndarray, rings: np.ndarray, config: GlassesConfig | None = None) -> np.ndarray:
    """[468] how much each point of ``shape`` ([468, >=2], any similarity frame, e.g. a fit's neutral
    local shape) is held still because it lies under a glasses frame: 1 inside the rings and the bridge
    between them (plus ``margin``), fading to 0 over ``fade`` beyond."""
    c = config or GlassesConfig()
    pts = check_landmarks(shape)
    m = canonical_transform(pts)
    canon = (pts[:, :2] @ m[:, :2].T + m[:, 2]) / PX  # IOD, origin between the eyes
    right, left = _eye_centres(canon)
    outside = np.full(len(canon), np.inf)
    for k, (centre, mirror) in enumerate(((right, False), (left, True))):
        d = canon - centre
        ang = np.arctan2(d[:, 1], d[:, 0])
        if mirror:
            ang = np.pi - ang
        ring = np.interp(np.mod(ang, 2.0 * np.pi), ANGLES, rings[k], period=2.0 * np.pi)
        outside = np.minimum(outside, np.hypot(d[:, 0], d[:, 1]) - ring)
    # the bridge: the strip between the two rings at the eyes' height
    top = -0.5 * (rings[0][54] + rings[1][54])  # the rays straight up (270 degrees)
    bridge = np.maximum(np.abs(canon[:, 1] - 0.5 * top) - 0.5 * abs(top), 0.0)
    bridge = np.where(np.abs(canon[:, 0]) <= right[0] * -1.0, bridge, np.inf)
    outside = np.minimum(outside, bridge)
    t = np.clip((outside - c.margin) / c.fade, 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


#: the tracking pass looks for glasses on every this many frames with a face
SAMPLE_EVERY = 24


class GlassesSampler:
    """Collects the glasses evidence of every ``every``-th face it is shown (about 4 ms a look), e.g.
    during a clip's tracking pass; :meth:`verdict` is the clip's (:func:`glasses_in_clip`)."""

    def __init__(self, every: int = SAMPLE_EVERY) -> None:
        self.every = every
        self.evidence: list[GlassesEvidence] = []
        self._seen = 0

    def __call__(self, i: int, rgb: np.ndarray, landmarks: np.ndarray) -> None:
        if self._seen % self.every == 0:
            with contextlib.suppress(ValueError):  # a degenerate mesh (both eyes on one point): no look
                self.evidence.append(glasses_evidence(rgb, landmarks))
        self._seen += 1

    def verdict(self) -> GlassesEvidence | None:
        return glasses_in_clip(self.evidence)


def glasses_note(mode: str, evidence: GlassesEvidence | None, held: bool) -> str:
    """One line for a run's notes: what was done about glasses (``mode``: auto, on or off); empty where
    nothing was (auto, and no frame clearly seen)."""
    seen = f" ({evidence.describe()})" if evidence is not None else ""
    if mode == "off":
        return "glasses: not looked for (--glasses off)"
    if not held:
        return ""
    how = "asserted (--glasses on)" if mode == "on" else "seen"
    return f"glasses {how}{seen}: the eyes and brows under the frame are held still"
