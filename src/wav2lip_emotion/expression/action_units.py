"""Facial action units on MediaPipe's 468-point face mesh, and the emotion prototypes built from them.

Everything here is geometry in a **face-local frame**: x along the eye line towards the subject's left
eye (image right for a frontal face), y down towards the chin, unit = the distance between the outer
eye corners ("IOD"). An action unit (AU) is a set of :class:`Handle` s, landmarks moved together by
(dx, dy) IOD at intensity 1; :mod:`.basis` spreads the handles smoothly over the whole mesh.

Two sets of prototypes use the same AUs:

* :data:`WORLD_PROTOTYPES`: what the generated world's rig renders (strong, cartoon-like amplitudes,
  with parted lips that the rig paints a mouth into). Unchanged since the world was built.
* :data:`REAL_PROTOTYPES`: magnitudes for real faces, used by the mesh engine: no bulging cheeks, lids
  that move a little, no lip parting (a warp cannot paint a mouth interior). See docs/mesh_engine.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..emotions import EMOTIONS

# --------------------------------------------------------------------------- mesh indices
# "R" = the subject's right = image left.
LIP_CORNER_R, LIP_CORNER_L = 61, 291
INNER_CORNER_R, INNER_CORNER_L = 78, 308
UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
CHIN = 152
JAW_LINE = (172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397)
CHEEK_R, CHEEK_L = (50, 101, 118, 117, 123, 187, 205), (280, 330, 347, 346, 352, 411, 425)
NOSE_SIDES = (98, 327, 129, 358, 64, 294, 48, 278)
BROW_R_INNER, BROW_R_OUTER = (107, 55, 66, 65), (70, 46, 63, 53)
BROW_L_INNER, BROW_L_OUTER = (336, 285, 296, 295), (300, 276, 293, 283)
BROW_R_MID, BROW_L_MID = (105, 52), (334, 282)
EYE_R_UPPER = (246, 161, 160, 159, 158, 157, 173)
EYE_R_LOWER = (7, 163, 144, 145, 153, 154, 155)
EYE_L_UPPER = (466, 388, 387, 386, 385, 384, 398)
EYE_L_LOWER = (249, 390, 373, 374, 380, 381, 382)
EYE_R_OUTER, EYE_L_OUTER = 33, 263
#: the inner lip contour, in order around the opening
MOUTH_OPENING = (INNER_CORNER_R, *UPPER_INNER, INNER_CORNER_L, *reversed(LOWER_INNER))

# --------------------------------------------------------------------------- action units
# Each AU: a list of (landmark indices, (dx, dy) in IOD, mirrored) handles; mirrored handles apply dx
# outwards on both sides (the given indices are the right side, the left side is found by symmetry).
MIRROR = {
    61: 291, 78: 308, 185: 409, 40: 270, 39: 269, 37: 267, 191: 415, 80: 310, 81: 311, 82: 312,
    146: 375, 91: 321, 181: 405, 84: 314, 95: 324, 88: 318, 178: 402, 87: 317,
    172: 397, 136: 365, 150: 379, 149: 378, 176: 400, 148: 377,
    50: 280, 101: 330, 118: 347, 117: 346, 123: 352, 187: 411, 205: 425,
    98: 327, 129: 358, 64: 294, 48: 278,
    107: 336, 55: 285, 66: 296, 65: 295, 70: 300, 46: 276, 63: 293, 53: 283, 105: 334, 52: 282,
    246: 466, 161: 388, 160: 387, 159: 386, 158: 385, 157: 384, 173: 398,
    7: 249, 163: 390, 144: 373, 145: 374, 153: 380, 154: 381, 155: 382, 33: 263,
    108: 337, 69: 299, 104: 333, 68: 298, 71: 301, 133: 362, 58: 288, 132: 361, 93: 323, 234: 454,
}  # fmt: skip


@dataclass(frozen=True)
class Handle:
    """Landmarks moved together by (dx, dy) IOD; ``mirror`` moves the mirrored points too (dx outwards)."""

    points: tuple[int, ...]
    dx: float
    dy: float
    mirror: bool = True
    #: how strongly the handle holds its points against neighbouring handles
    weight: float = 1.0
    #: how far (IOD) the handle drags its neighbours; None = the basis's default
    sigma: float | None = None


#: the lip midline held in place: lip-corner AUs curve the mouth instead of lifting it whole
_LIP_MIDLINE = Handle((0, 13, 14, 17), 0.0, 0.0, mirror=False, weight=8.0)

#: FACS action units as landmark handles (amplitudes at intensity 1).
ACTION_UNITS: dict[str, tuple[Handle, ...]] = {
    # inner brow raiser
    "AU1": (Handle(BROW_R_INNER, 0.03, -0.17), Handle(BROW_R_MID, 0.0, -0.05)),
    # outer brow raiser
    "AU2": (Handle(BROW_R_OUTER, 0.0, -0.10), Handle(BROW_R_MID, 0.0, -0.05)),
    # brow lowerer (frown: down and together)
    "AU4": (Handle(BROW_R_INNER, 0.05, 0.07), Handle(BROW_R_MID, 0.02, 0.045), Handle(BROW_R_OUTER, 0.0, 0.02)),
    # upper lid raiser (eyes wide)
    "AU5": (Handle(EYE_R_UPPER, 0.0, -0.035),),
    # cheek raiser (and the lower lid pushed up)
    "AU6": (Handle(CHEEK_R, 0.02, -0.11), Handle(EYE_R_LOWER, 0.0, -0.06), Handle(EYE_R_UPPER, 0.0, 0.015)),
    # lid tightener
    "AU7": (Handle(EYE_R_LOWER, 0.0, -0.025), Handle(EYE_R_UPPER, 0.0, 0.01)),
    # nose wrinkler
    "AU9": (Handle(NOSE_SIDES, -0.01, -0.05), Handle(BROW_R_INNER, 0.02, 0.03), Handle(UPPER_OUTER[:3], 0.0, -0.03)),
    # upper lip raiser
    "AU10": (Handle(UPPER_OUTER, 0.0, -0.05), Handle(UPPER_INNER, 0.0, -0.05)),
    # lip corner puller (smile)
    "AU12": (
        Handle((LIP_CORNER_R, INNER_CORNER_R), 0.15, -0.21),
        Handle((185, 146, 191, 95), 0.09, -0.11),
        Handle((40, 91, 80, 88), 0.03, -0.02),
        _LIP_MIDLINE,
    ),
    # dimpler, right side only (contempt)
    "AU14": (
        Handle((LIP_CORNER_R, INNER_CORNER_R), 0.05, -0.06, mirror=False),
        Handle((185, 146), 0.03, -0.03, mirror=False),
    ),
    # lip corner depressor
    "AU15": (
        Handle((LIP_CORNER_R, INNER_CORNER_R), 0.0, 0.17),
        Handle((185, 146, 191, 95), 0.0, 0.095),
        Handle((40, 91, 80, 88), 0.0, 0.02),
        _LIP_MIDLINE,
    ),
    # chin raiser (lower lip pushed up)
    "AU17": (
        Handle((CHIN, 176, 148, 149), 0.0, -0.04),
        Handle(LOWER_OUTER, 0.0, -0.03),
        Handle(LOWER_INNER, 0.0, -0.02),
    ),
    # lip stretcher
    "AU20": (Handle((LIP_CORNER_R, INNER_CORNER_R), 0.09, 0.02), Handle((185, 146, 191, 95), 0.05, 0.01)),
    # lip tightener (thinner lips)
    "AU23": (Handle(UPPER_OUTER, 0.0, 0.02), Handle(LOWER_OUTER, 0.0, -0.02), Handle((LIP_CORNER_R,), -0.02, 0.0)),
    # lips part (teeth visible)
    "AU25": (Handle(LOWER_INNER, 0.0, 0.07), Handle(LOWER_OUTER, 0.0, 0.045), Handle(UPPER_INNER, 0.0, -0.025)),
    # lid droop (sad, tired): upper lids lowered part of the way
    "AU43": (Handle(EYE_R_UPPER, 0.0, 0.035),),
    # jaw drop (as in surprise)
    "AU26": (
        Handle(LOWER_INNER, 0.0, 0.16),
        Handle(LOWER_OUTER, 0.0, 0.15),
        Handle(JAW_LINE, 0.0, 0.12),
        Handle((CHIN,), 0.0, 0.15),
    ),
}  # fmt: skip

#: EMFACS-style prototypes: emotion -> {AU: weight at full intensity}
WORLD_PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU6": 1.2, "AU12": 1.0, "AU25": 1.4},
    "sad": {"AU1": 1.0, "AU4": 0.5, "AU15": 1.0, "AU17": 0.7, "AU43": 1.0},
    "surprised": {"AU1": 1.0, "AU2": 1.0, "AU5": 1.0, "AU26": 0.8},
    "fear": {"AU1": 1.0, "AU2": 0.7, "AU4": 0.7, "AU5": 1.0, "AU20": 1.0, "AU26": 0.5},
    "angry": {"AU4": 1.3, "AU5": 0.6, "AU7": 1.0, "AU23": 1.0, "AU17": 0.5},
    "disgusted": {"AU9": 1.0, "AU10": 1.0, "AU15": 0.6, "AU17": 0.6, "AU4": 0.4},
    "contempt": {"AU14": 1.0, "AU12": 0.25},
}
assert set(WORLD_PROTOTYPES) == set(EMOTIONS)

#: Prototypes for real faces (the mesh engine): emotion -> {AU: weight at intensity 1}. Smaller than
#: the world's: a real cheek bulges and a real lid stretches long before the world's amplitudes, and
#: no lip parting (AU25/AU26), since a warp may only stretch the source's own mouth interior. Tuned by
#: eye on real clips, with fer as a check (docs/mesh_engine.md).
REAL_PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU12": 1.0, "AU6": 0.45},
    "sad": {"AU1": 1.3, "AU4": 0.5, "AU15": 1.1, "AU43": 0.6},
    "surprised": {"AU1": 1.1, "AU2": 1.2, "AU5": 0.35},
    "fear": {"AU1": 1.0, "AU2": 0.7, "AU4": 0.6, "AU5": 0.5, "AU20": 1.0},
    "angry": {"AU4": 1.4, "AU7": 1.0, "AU23": 1.0, "AU17": 0.4, "AU9": 0.3},
    "disgusted": {"AU9": 0.8, "AU10": 0.4, "AU4": 0.5, "AU15": 0.5, "AU17": 0.2},
    "contempt": {"AU14": 1.4, "AU12": 0.2},
}
assert set(REAL_PROTOTYPES) == set(EMOTIONS)

#: the eyes held still while a brow AU moves: on a real face the brows slide over the skin above the
#: lids, and a lid dragged up with them shows as a stretched, dark eye socket
_EYES_HELD = Handle(EYE_R_UPPER + EYE_R_LOWER + (EYE_R_OUTER, 133), 0.0, 0.0, weight=4.0, sigma=0.035)
#: ... with the mesh's first ring above each upper lid (about 0.06 IOD above its margin): held at the
#: margin alone, the lashes and the lid crease above it were stretched up with the brows into dark,
#: feathery smears (surprise on smiling photos); held here, the skin stretches higher, under the brows
LID_FOLDS_HELD = Handle(
    (247, 30, 29, 27, 28, 56, 190, 467, 260, 259, 257, 258, 286, 414), 0.0, 0.0, mirror=False, weight=4.0, sigma=0.035
)
#: the action units as the mesh engine uses them on real faces: the brow AUs hold the eyes
#: ... and raising brows lifts the forehead skin above them part of the way (else it is squeezed)
_FOREHEAD = {
    "AU1": (Handle((108, 69), 0.0, -0.08, sigma=0.1), Handle((151,), 0.0, -0.06, mirror=False, sigma=0.1)),
    "AU2": (Handle((104, 68, 71), 0.0, -0.05, sigma=0.1),),
}
#: ... and the inner brow raiser leaves the outer brow where it is (a touch lower): FACS's AU1 lifts
#: the inner ends only, which slants the brows (the sad, worried brow); spread to the whole brow by the
#: basis, it arched them like surprise
_OUTER_BROW_HELD = Handle(BROW_R_OUTER, 0.0, 0.02, weight=3.0, sigma=0.05)
#: ... and the lip midline is held more gently: the world's wide hold (weight 8 at the default spread)
#: held real lip corners back to a ninth of their motion, while a hold on the midline points alone
#: bent the lips into a peak (a frown's upper lip turned into a V)
_LIP_MIDLINE_NARROW = Handle((0, 13, 14, 17), 0.0, 0.0, mirror=False, weight=3.0, sigma=0.09)


#: ... and the lower face outline stays where it is when the lip corners move: pulled in with them, it
#: would drag the background into the face's silhouette
OUTLINE_HELD = Handle((172, 136, 150, 149, 176, 148, 152, 58, 132, 93, 234), 0.0, 0.0, weight=3.0, sigma=0.06)


#: ... and the nose stays where it is when the cheeks rise and the lip corners pull: dragged with them
#: (the fold guard spreads a steep motion to its neighbours), the nostrils flared. The points: the mesh's nose
#: below the eyes (within 0.25 IOD of the nose tip's vertical, 0.19-0.565 IOD below the eye line, on a
#: real neutral face)
NOSE_HELD = Handle(
    (
        1, 2, 3, 4, 5, 19, 20, 44, 45, 47, 48, 49, 51, 59, 60, 64, 75, 79, 94, 97, 98, 99, 102, 115, 125,
        126, 129, 131, 134, 141, 166, 195, 198, 209, 217, 218, 219, 220, 235, 236, 237, 238, 239, 240, 241,
        242, 248, 250, 274, 275, 277, 278, 279, 281, 289, 290, 294, 305, 309, 326, 327, 328, 331, 344, 354,
        355, 358, 360, 363, 370, 371, 392, 420, 429, 437, 438, 439, 440, 455, 456, 457, 458, 459, 460, 461,
        462,
    ),
    0.0, 0.0, mirror=False, weight=3.0, sigma=0.04,
)  # fmt: skip


def _real(au: str, handles: tuple[Handle, ...]) -> tuple[Handle, ...]:
    handles = tuple(_LIP_MIDLINE_NARROW if h is _LIP_MIDLINE else h for h in handles)
    if au in ("AU1", "AU2", "AU4", "AU9"):
        handles = (*handles, *_FOREHEAD.get(au, ()), _EYES_HELD, LID_FOLDS_HELD)
    if au == "AU1":
        handles = (*handles, _OUTER_BROW_HELD)
    if au in ("AU12", "AU14", "AU15", "AU20", "AU23"):
        handles = (*handles, OUTLINE_HELD)
    if au in ("AU6", "AU12"):
        handles = (*handles, NOSE_HELD)
    return handles


REAL_ACTION_UNITS: dict[str, tuple[Handle, ...]] = {au: _real(au, hs) for au, hs in ACTION_UNITS.items()}

#: The edit's own AUs hold the nose for every AU around it but the nose wrinkler (AU9), which moves it
#: on purpose: the inner brow raiser lifted the bridge between the eyes by 0.07 IOD and the lip-corner
#: depressor pulled the nose tip down by 0.04-0.06 IOD, so a sad face's nose grew longer by a fifth
#: (looked at). Only the displacement an edit applies uses them; the per-frame fit keeps
#: ``REAL_ACTION_UNITS`` (fitted with these, a smiling clip's calm frames read as half-smiling, AU12
#: 0.06 -> 0.17 at the 10th percentile, and no calm mouth was left to borrow)
NOSE_KEEPERS = ("AU1", "AU2", "AU15", "AU17", "AU20", "AU23")
#: the bridge between the eyes (above ``NOSE_HELD``), held when the brows move
BRIDGE_HELD = Handle((6, 197, 122, 351, 193, 417), 0.0, 0.0, mirror=False, weight=3.0, sigma=0.04)


def _edit(au: str, handles: tuple[Handle, ...]) -> tuple[Handle, ...]:
    if au in NOSE_KEEPERS:
        handles = (*handles, NOSE_HELD)
    if au in ("AU1", "AU2"):
        handles = (*handles, BRIDGE_HELD)
    return handles


EDIT_ACTION_UNITS: dict[str, tuple[Handle, ...]] = {au: _edit(au, hs) for au, hs in REAL_ACTION_UNITS.items()}

#: how much wider real speech opens at intensity 1 (the source's own opening is scaled, never created)
REAL_OPENING_GAIN: dict[str, float] = {"surprised": 1.35, "fear": 1.2, "happy": 1.05}

#: AUs that open the mouth like speech does: never fitted as expression (speech is kept, not removed)
SPEECH_LIKE = ("AU25", "AU26")
#: AUs on the eyelids: fitted only slowly, so that the source's blinks are never taken for expression
LID_AUS = ("AU5", "AU7", "AU43")
