"""Procedural identities: new, photo-real faces made by transforming the real portraits.

Nothing is drawn: every pixel comes from a real photo. A seed picks a **host** among the accepted
real identities (neutral, closed mouth; :func:`~.identities.real_identities`; sharper portraits more
often) and, 4 times in 5, a **donor** among all frontal, evenly lit real portraits
(:func:`~.identities.donor_identities`, whatever their expression). Then:

1. **shape** — the donor's landmarks (aligned to the host's by a similarity) are averaged into the
   host's inner face; the outline stays the host's (its hair and head fit it) and, for a donor that
   is not neutral, so do the mouth and chin. The result is varied in a face-local frame: face width,
   jaw width, chin length, forehead height, eye spacing and size, brow height, nose length and
   width, mouth width (each uniform within +-8..15 %, :data:`SHAPE_RANGES`), and re-framed like a
   real portrait (face box = :data:`~.identities.FACE_FRACTION` of the side, eye line level +-3 deg);
2. **warp** — host and donor are warped onto that shape by a thin-plate spline through their 468
   landmarks plus border anchors (:func:`warp_to_landmarks`: the spline on a 4 px grid, one
   ``cv2.remap``);
3. **blend** — the donor, relit with the host's low frequencies (:func:`relight`: its details under
   the host's light and skin colour), is cross-dissolved into the host inside the eroded, soft face
   oval; not in the eye band when either wears glasses (no ghost frames), not around the mouth and
   chin for a non-neutral donor;
4. **appearance** — skin tone moved towards one of :data:`SKIN_TONES` in Lab (lightness scaled,
   chroma shifted) inside a soft face + ears + neck mask gated by skin likelihood, so eyes, brows,
   glasses, hair and clothes keep their colour; hair, background and clothes get a chroma rotation,
   chroma gain, lightness gain and colour cast, dark hair sometimes lifted towards brown
   (:func:`recolour`);
5. **mirror** by seed. The tracker then runs on the result: the face must be found with a mesh score
   >= 0.9, |yaw| <= 20 deg, a closed mouth and face-api p(neutral) >= 0.5, else the seed's next
   attempt is made (up to :data:`MAX_ATTEMPTS`).

The steps live in modules of their own, re-exported here: :mod:`.face_shape` (the face frame and the
shape variation), :mod:`.face_warp` (the thin-plate-spline warp), :mod:`.face_masks` (the region
masks) and :mod:`.face_colour` (skin tone, hair and background colour, relighting); this module
holds the recipe a seed decides and its rendering.

Everything is a function of the seed (``numpy.random.default_rng([seed, attempt])``) and of the real
portraits, so a seed always gives the same pixels on the same machine.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from .face_colour import SKIN_TONES, Appearance, recolour, relight, skin_likelihood, skin_stats
from .face_masks import face_masks, soften
from .face_models import expression, track
from .face_shape import SHAPE_RANGES, FaceFrame, outer_ramp, upper_ramp, vary_shape
from .face_warp import apply_affine, similarity, warp_to_landmarks
from .identities import donor_identities, real_identities
from .portraits import DEFAULT_SIZE, FACE_FRACTION, Criteria, Identity, landmark_box, measure_pose, side_light

__all__ = [
    "MAX_ATTEMPTS",
    "SHAPE_RANGES",
    "SKIN_TONES",
    "Appearance",
    "FaceFrame",
    "Recipe",
    "apply_affine",
    "face_masks",
    "make_recipe",
    "procedural_identity",
    "recolour",
    "relight",
    "render_recipe",
    "similarity",
    "skin_likelihood",
    "skin_stats",
    "vary_shape",
    "warp_to_landmarks",
]

#: attempts per seed before giving up
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Recipe:
    """Everything a seed decides (for reports and reproduction)."""

    seed: int
    attempt: int
    #: the host: hair, head, background, mouth and chin
    base: str
    #: the donor blended into the face, or None
    other: str | None
    #: weight of the host in the average shape and inside the blended face
    weight: float
    #: the donor gives only the upper face (it is not a neutral, closed-mouth identity)
    upper_only: bool
    shape: dict[str, float]
    roll: float
    look: Appearance
    mirror: bool


def _quality(ident: Identity) -> float:
    """Sharpness proxy: source face width / 150 px, at most 1 (small faces were upscaled, blurry)."""
    return min(1.0, max(ident.source_face, 1.0) / 150.0)


def make_recipe(seed: int, attempt: int, bases: Sequence[Identity], donors: Sequence[Identity]) -> Recipe:
    """What seed ``seed`` (attempt ``attempt``) makes from the host ``bases`` and the ``donors``."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF, attempt])
    quality = np.array([_quality(b) for b in bases])
    host = bases[int(rng.choice(len(bases), p=quality / quality.sum()))]
    others = [d for d in donors if d.name != host.name]
    donor: Identity | None = None
    if others:
        q = np.array([_quality(d) for d in others])
        donor = others[int(rng.choice(len(others), p=q / q.sum()))]
    blend = donor is not None and rng.random() < 0.8
    weight = float(rng.uniform(0.25, 0.5)) if blend else 1.0
    neutral_names = {b.name for b in bases}
    shape = {k: float(rng.uniform(-r, r)) for k, r in SHAPE_RANGES.items()}
    roll = float(rng.uniform(-3.0, 3.0))
    tone = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] + rng.normal(0.0, [2.0, 1.0, 1.5])
    tint = rng.normal(0.0, 7.0, 2)
    look = Appearance(
        skin=(float(tone[0]), float(tone[1]), float(tone[2])),
        skin_amount=float(rng.uniform(0.5, 0.9)),
        hue=float(rng.uniform(-60.0, 60.0)),
        chroma=float(rng.uniform(0.7, 1.3)),
        lightness=float(rng.uniform(0.8, 1.15)),
        hair_lift=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.35 else 0.0,
        tint=(float(tint[0]), float(tint[1])),
    )
    mirror = bool(rng.random() < 0.5)
    return Recipe(
        seed=int(seed),
        attempt=attempt,
        base=host.name,
        other=donor.name if blend and donor is not None else None,
        weight=weight,
        upper_only=blend and donor is not None and donor.name not in neutral_names,
        shape=shape,
        roll=roll,
        look=look,
        mirror=mirror,
    )


def render_recipe(recipe: Recipe, people: Sequence[Identity], size: int) -> np.ndarray:
    """The portrait a recipe describes ([size, size, 3] uint8), before the checks. ``people``: the
    bases and donors (looked up by name)."""
    by_name = {p.name: p for p in people}
    a = by_name[recipe.base]
    la = a.landmarks[:, :2].astype(np.float64)
    target = la
    b = by_name[recipe.other] if recipe.other else None
    if b is not None:
        lb = apply_affine(similarity(b.landmarks, la), b.landmarks)
        # the host keeps its outline (its hair and head fit it); inner features are averaged
        wb = np.full(len(la), 1.0 - recipe.weight) * (1.0 - outer_ramp(la))
        if recipe.upper_only:  # the donor's mouth and chin shape (a smile) stay out
            wb *= 1.0 - upper_ramp(la)
        target = la + wb[:, None] * (lb - la)
    target = vary_shape(target, recipe.shape)
    # re-frame: level eye line (+ a small roll), face box centred at FACE_FRACTION of the side
    frame = FaceFrame.of(target)
    ang = np.arctan2(frame.axes[0, 1], frame.axes[0, 0]) - np.deg2rad(recipe.roll)
    c, s = np.cos(-ang), np.sin(-ang)
    rot = (target - target.mean(axis=0)) @ np.array([[c, -s], [s, c]]).T
    x0, y0, x1, y1 = landmark_box(rot)
    k = size * FACE_FRACTION / max(x1 - x0, y1 - y0)
    dst = (rot - [(x0 + x1) / 2, (y0 + y1) / 2]) * k + size / 2
    out = warp_to_landmarks(a.image, la, dst, (size, size))
    if b is not None:
        other = warp_to_landmarks(b.image, b.landmarks, dst, (size, size))
        masks = face_masks(dst, (size, size))
        unit = FaceFrame.of(dst).unit
        other = relight(other, out, masks["face"], unit * 0.2)
        inner = cv2.erode(
            (masks["face"] > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=round(unit * 0.15)
        )
        m = soften(inner.astype(np.float32), unit * 0.1)
        if a.glasses or b.glasses:
            m = m * (1.0 - soften(masks["eye_band"], unit * 0.08))
        if recipe.upper_only:
            m = m * (1.0 - soften(masks["mouth_zone"], unit * 0.12))
        w = ((1.0 - recipe.weight) * m)[..., None]
        out = np.clip(np.rint(out * (1.0 - w) + other.astype(np.float32) * w), 0, 255).astype(np.uint8)
    out = recolour(out, dst, recipe.look)
    if recipe.mirror:
        out = np.ascontiguousarray(out[:, ::-1])
    return out


def procedural_identity(
    seed: int,
    size: int = DEFAULT_SIZE,
    bases: Sequence[Identity] | None = None,
    donors: Sequence[Identity] | None = None,
    criteria: Criteria | None = None,
) -> Identity:
    """A new identity from ``seed`` (see the module).

    ``bases``: the hosts, neutral closed-mouth portraits (default: :func:`real_identities`);
    ``donors``: portraits whose upper face may be blended in (default: :func:`donor_identities`
    when ``bases`` is None, else ``bases``). Portraits of another size are resized. MediaError when
    no attempt passes the checks.
    """
    if donors is None:
        donors = donor_identities(size) if bases is None else bases
    if bases is None:
        bases = real_identities(size)
    bases = [_resized(b, size) for b in bases]
    donors = [_resized(d, size) for d in donors]
    if not bases:
        raise ConfigError("procedural_identity needs at least one base identity")
    criteria = criteria or Criteria()
    people = [*bases, *donors]
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        recipe = make_recipe(seed, attempt, bases, donors)
        image = render_recipe(recipe, people, size)
        got = track(image)
        if got is None:
            reasons.append("no face found")
            continue
        lm, score = got
        pose = measure_pose(lm)
        if score < criteria.min_score:
            reasons.append(f"mesh score {score:.2f}")
            continue
        if abs(pose.yaw) > criteria.max_yaw or pose.mouth_gap > criteria.max_mouth_gap:
            reasons.append(f"yaw {pose.yaw:.0f} / lip gap {pose.mouth_gap:.3f}")
            continue
        probs = expression(image, lm)
        if probs.get("neutral", 0.0) < criteria.min_neutral:
            top = max(probs, key=lambda k: probs[k])
            reasons.append(f"not neutral ({top} {probs[top]:.2f})")
            continue
        by_name = {p.name: p for p in people}
        host = by_name[recipe.base]
        used = [host] + ([by_name[recipe.other]] if recipe.other else [])
        # the host's head, hair and mouth carry the look; a donor of the other gender makes it unknown
        gender = host.gender if all(u.gender in (None, host.gender) for u in used) else None
        names = "+".join(u.name for u in used)
        return Identity(
            name=f"proc_{seed:04d}",
            image=image,
            landmarks=lm,
            real=False,
            source=f"procedural:{seed}:{names}",
            gender=gender,
            base_expression=probs,
            mouth_closed=True,
            score=score,
            yaw=pose.yaw,
            roll=pose.roll,
            public_domain=all(u.public_domain for u in used),
            # a donor's glasses are never blended in (see render_recipe)
            glasses=host.glasses,
            source_face=host.source_face,
            side_light=side_light(image, lm),
        )
    raise MediaError(f"procedural identity {seed}: no attempt passed the checks ({'; '.join(reasons)})")


def _resized(base: Identity, size: int) -> Identity:
    if base.image.shape[:2] == (size, size):
        return base
    s = size / base.image.shape[0]
    out = copy.copy(base)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LANCZOS4
    out.image = cv2.resize(base.image, (size, size), interpolation=interp)
    lm = base.landmarks.copy()
    lm *= s
    out.landmarks = lm
    return out
