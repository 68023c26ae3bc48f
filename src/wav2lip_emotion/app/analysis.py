"""The measurements of one job: :func:`analyse` measures source and result (the judge's per-frame
emotion probabilities, the realism values, dlib's identity descriptor; :func:`measure_media` for a
video or a photo) and adds the realism checks; the source's measurement is cached next to it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..media import is_image_path
from .jobs import Reporter
from .verdicts import realism_report, rounded

#: the judge of the per-frame emotion plot
JUDGE = "faceapi"


def _counting_tracker(report: Callable[[int], None]) -> Any:
    """A FaceTracker (unsmoothed, as measure_video uses) that reports each frame it sees."""
    from ..faces import FaceTracker, TrackerConfig

    class _Counting(FaceTracker):
        seen = 0

        def reset(self) -> None:
            super().reset()
            self.seen = 0

        def update(self, rgb: np.ndarray, time: float | None = None) -> Any:
            self.seen += 1
            report(self.seen)
            return super().update(rgb, time)

    return _Counting(TrackerConfig(smooth=False))


def measure_media(
    path: Path,
    judge: Any,
    identity: Any,
    on_frame: Callable[[int], None],
    features: Any = None,
    align_to: Any = None,
) -> Any:
    """The evaluation's measurement of a video (:func:`measure_video`, with its realism values; a result
    is aligned with its source's measurement ``align_to``) or of a photo (one frame)."""
    import torch

    from ..errors import MediaError
    from ..evaluation.measure import VideoMeasurement, measure_video, mouth_opening
    from ..evaluation.realism import RealismAccumulator
    from ..faces import FaceCrop
    from ..media import read_image
    from ..perception.crops import CLASSIFIER_CROP

    tracker = _counting_tracker(on_frame)
    if not is_image_path(path):
        return measure_video(path, judge, features=features, identity=identity, tracker=tracker, align_to=align_to)
    rgb = read_image(path)
    obs = tracker.update(rgb)
    if not obs.found:
        raise MediaError(f"{path}: no face found in the image")
    crop = FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(rgb)
    batch = torch.from_numpy(crop[None]).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        probs = judge(batch).numpy().astype(np.float64)
        feats = np.asarray(features(batch), dtype=np.float32) if features is not None else np.zeros((0, 0))
    descriptor = None
    with contextlib.suppress(MediaError):
        descriptor = identity.descriptor(rgb, obs.box, box_kind="mesh", what=str(path))
    acc = RealismAccumulator(quality_every=1)
    acc.add(rgb, obs.landmarks, obs.box, obs.score)
    return VideoMeasurement(
        path=str(path),
        fps=0.0,
        judge=judge.name,
        classes=tuple(judge.classes),
        probs=probs,
        opening=np.array([mouth_opening(obs.landmarks)]),
        features=feats.astype(np.float32),
        identity=descriptor,
        realism=acc.track(),
    )


def _rows(probs: np.ndarray) -> list[list[float | None]]:
    return [[rounded(v) for v in row] for row in probs]


#: what the cached measurement of a source was made with (it is used again only when this matches)
SOURCE_SETUP = f"app:{JUDGE}:faceapi-features:dlib:realism"


def _cached_source(source: Path, judge: Any, identity: Any, extractor: Any, report: Reporter, total: int | None) -> Any:
    """The source's measurement, kept next to it (in the page's input folder) so that translating the same
    input again, to another emotion or intensity, measures only the result."""
    from ..evaluation.measure import VideoMeasurement

    cache = source.parent / f".{source.name}.measure.npz"
    try:
        stat = source.stat()
        setup = f"{SOURCE_SETUP}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        setup = ""
    found = VideoMeasurement.load(cache) if setup else None
    if found is not None and found.setup == setup and found.path == str(source):
        report("measuring the source", total or 1, total or 1)
        return found
    report("measuring the source", 0, total)
    measured = measure_media(source, judge, identity, lambda n: report("measuring the source", n, total), extractor)
    if setup:
        measured.setup = setup
        with contextlib.suppress(OSError):
            measured.save(cache)
    return measured


def analyse(source: Path, result: Path, to: str, report: Reporter, total: int | None) -> dict[str, Any]:
    """Per-frame judge probabilities of source and result, and the realism checks."""
    from ..emotions import parse_emotion
    from ..evaluation.fid import make_feature_extractor
    from ..perception.emotions import load_emotion_model
    from ..perception.identity import FaceIdentity

    report("loading the emotion judge", 0, None)
    judge = load_emotion_model(JUDGE)
    identity = FaceIdentity()
    extractor = make_feature_extractor(None, device="cpu")  # face-api features, for the FD to the source
    src = _cached_source(source, judge, identity, extractor, report, total)
    report("measuring the result", 0, total)
    out = measure_media(result, judge, identity, lambda n: report("measuring the result", n, total), extractor, src)
    video = not is_image_path(result)
    classes = [parse_emotion(c).value for c in judge.classes]
    fps = out.fps or src.fps or 0.0
    n = max(src.frames, out.frames)
    analysis: dict[str, Any] = {
        "judge": JUDGE,
        "classes": classes,
        "times": [round(i / fps, 4) for i in range(n)] if fps else [0.0] * n,
        "source": {"probs": _rows(src.probs), "faces": src.faces_found, "frames": src.frames},
        "result": {"probs": _rows(out.probs), "faces": out.faces_found, "frames": out.frames},
    }
    for key, m in (("source", src), ("result", out)):
        rows = m.probs[np.isfinite(m.probs).all(axis=1)]
        mean = rows.mean(axis=0) if len(rows) else np.full(len(classes), np.nan)
        analysis[key]["mean"] = {c: rounded(v, 3) for c, v in zip(classes, mean, strict=True)}
    to_name = parse_emotion(to).value
    gain = math.nan
    if to_name in classes and analysis["result"]["mean"][to_name] is not None:
        gain = analysis["result"]["mean"][to_name] - (analysis["source"]["mean"][to_name] or 0.0)
        analysis["destination_gain"] = round(gain, 3)
    analysis["realism"] = realism_report(src, out, gain, video)
    return analysis
