"""Identities (actors) of the generated world: neutral, frontal, closed-mouth face portraits.

Every identity is a square RGB portrait with the face centred (the face-mesh box, forehead to chin,
spans :data:`FACE_FRACTION` of the side) and the 468 mesh landmarks found on that very portrait, so
that the face rig can add expressions, speech and head motion to it.

Real identities come from the photos of the model store (and stills of its videos): the face is tracked
in the photo, a square portrait is cut around it (upscaled with Lanczos where the face is small,
the outside of the photo filled by reflection), the tracker runs again on the portrait, and the
portrait is kept only when it makes a neutral start for the rig (:class:`Criteria`): a confident
mesh, a roughly frontal head, a closed mouth and a face that face-api calls neutral. Every rejected
candidate is recorded with its reason (:func:`rejected_real_identities`).

The pieces live in modules of their own, re-exported here: :mod:`.portraits` (:class:`Identity`,
:class:`Criteria`, the portrait cut and the measurements), :mod:`.face_models` (the shared tracker and
face-api) and :mod:`.real_faces` (the candidates and their survey).

Procedural identities (:mod:`.procedural_faces`) are new faces made from the accepted real ones;
:func:`identity_pool` returns real ones first, then procedural ones.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from ..errors import ConfigError
from .face_models import expression, track, tracker
from .portraits import (
    CHEEK_L,
    CHEEK_R,
    CHIN,
    DEFAULT_SIZE,
    EYE_L_OUTER,
    EYE_R_OUTER,
    FACE_FRACTION,
    FOREHEAD,
    LIP_INNER_LOWER,
    LIP_INNER_UPPER,
    MIN_SOURCE_FACE,
    NOSE_DEPTH_RATIO,
    NOSE_TIP,
    Criteria,
    Identity,
    Pose,
    cut_portrait,
    landmark_box,
    measure_pose,
    portrait_transform,
    side_light,
)
from .real_faces import (
    DLIB_UNANNOTATED,
    GROUP_GLASSES,
    MIN_GROUP_FACE,
    PHOTOS,
    VIDEO_STILLS,
    Candidate,
    PhotoSource,
    survey_real,
)

__all__ = [
    "CHEEK_L",
    "CHEEK_R",
    "CHIN",
    "DEFAULT_SIZE",
    "DLIB_UNANNOTATED",
    "EYE_L_OUTER",
    "EYE_R_OUTER",
    "FACE_FRACTION",
    "FOREHEAD",
    "GROUP_GLASSES",
    "LIP_INNER_LOWER",
    "LIP_INNER_UPPER",
    "MIN_GROUP_FACE",
    "MIN_SOURCE_FACE",
    "NOSE_DEPTH_RATIO",
    "NOSE_TIP",
    "PHOTOS",
    "UPPER_FACE_EMOTIONS",
    "VIDEO_STILLS",
    "Candidate",
    "Criteria",
    "Identity",
    "PhotoSource",
    "Pose",
    "contact_sheet",
    "cut_portrait",
    "donor_identities",
    "expression",
    "identity_pool",
    "landmark_box",
    "measure_pose",
    "portrait_transform",
    "real_identities",
    "rejected_real_identities",
    "side_light",
    "survey_real",
    "track",
    "tracker",
]


def real_identities(size: int = DEFAULT_SIZE) -> list[Identity]:
    """The real identities usable as a neutral start for the rig, in a fixed order (copies)."""
    return copy.deepcopy(survey_real(size).accepted)


#: face-api classes that show in the upper face (brows, lids): donors showing them are not used
UPPER_FACE_EMOTIONS = ("surprised", "angry", "fear", "sad", "disgusted")


def donor_identities(
    size: int = DEFAULT_SIZE, max_yaw: float = 10.0, max_side_light: float = 0.35, max_upper_emotion: float = 0.5
) -> list[Identity]:
    """Real portraits whose upper face (eyes, brows, nose) procedural faces may blend in: a confident
    mesh (score >= 0.9), a frontal head (|yaw| <= ``max_yaw``; a turned donor's far cheek leaves its
    silhouette in the blend), no harsh side light, and no emotion that shows in the brows and lids
    (face-api surprised + angry + fear + sad + disgusted <= ``max_upper_emotion``). A smile is fine:
    the mouth and the chin always come from an accepted (neutral) identity. Copies, survey order."""
    survey = survey_real(size)

    def usable(p: Identity) -> bool:
        upper = sum(p.base_expression.get(k, 0.0) for k in UPPER_FACE_EMOTIONS)
        return (
            p.score >= 0.9
            and abs(p.yaw) <= max_yaw
            and abs(p.side_light) <= max_side_light
            and upper <= max_upper_emotion
        )

    return copy.deepcopy([p for p, _ in survey.portraits if usable(p)])


def rejected_real_identities(size: int = DEFAULT_SIZE) -> list[tuple[str, str]]:
    """(source, reason) of every real candidate face that was not accepted, in a fixed order."""
    return list(survey_real(size).rejected)


def identity_pool(
    n: int,
    seed: int = 0,
    real: bool = True,
    procedural: bool = True,
    size: int = DEFAULT_SIZE,
) -> list[Identity]:
    """``n`` identities: the usable real ones first (when ``real``), then procedural ones (when
    ``procedural``) made with seeds ``seed, seed + 1, ...``. ConfigError when ``n`` cannot be met."""
    if n < 0:
        raise ConfigError(f"the number of identities must be >= 0, got {n}")
    if not real and not procedural:
        raise ConfigError("identity_pool: choose real and/or procedural identities")
    out: list[Identity] = real_identities(size)[:n] if real else []
    if len(out) < n and not procedural:
        raise ConfigError(f"only {len(out)} real identities are usable, {n} asked for (allow procedural ones)")
    if len(out) < n:
        from .procedural_faces import procedural_identity

        out.extend(procedural_identity(seed + i, size) for i in range(n - len(out)))
    return out


def contact_sheet(identities: list[Identity], columns: int = 6, label: bool = True) -> np.ndarray:
    """The portraits in a grid (RGB uint8), each labelled with its name and face-api p(neutral)."""
    if not identities:
        raise ConfigError("contact_sheet needs at least one identity")
    size = max(i.size for i in identities)
    tiles = []
    for ident in identities:
        tile = ident.image if ident.size == size else cv2.resize(ident.image, (size, size))
        tile = np.ascontiguousarray(tile).copy()
        if label:
            neutral = ident.base_expression.get("neutral", float("nan"))
            for text, y in ((ident.name, 14), (f"neutral {neutral:.2f}", size - 6)):
                cv2.putText(tile, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(tile, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    columns = max(1, min(columns, len(tiles)))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
