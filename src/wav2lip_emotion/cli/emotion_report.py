"""Per-frame emotion probabilities of a video or image, from one or more classifiers.

The back-end of ``wav2lip-emotion emotions``: track the face, crop it (:data:`~wav2lip_emotion.perception.crops.
CLASSIFIER_CROP`), batch the crops through the classifiers (:func:`~wav2lip_emotion.perception.crops.classify_crops`),
and report per frame (NaN where no face was found), with a mean per model, JSON, CSV and a plot.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json_atomic
from ..faces import CropConfig, FaceCrop, FaceTracker
from ..media import VideoReader, is_image_path, probe_video, read_image
from ..perception.crops import CLASSIFIER_CROP, classify_crops
from ..perception.emotions import EmotionClassifier, load_emotion_model

#: the classifiers ``emotions`` runs when none are named: the training objective's (fer) and the judge (faceapi)
DEFAULT_MODELS: tuple[str, ...] = ("fer", "faceapi")


@dataclass
class EmotionTrack:
    """One classifier's probabilities over the frames of one input."""

    model: str
    classes: tuple[str, ...]
    times: np.ndarray  # [N] seconds
    probs: np.ndarray  # [N, C], NaN rows where no face was found

    @property
    def found(self) -> np.ndarray:
        return np.isfinite(self.probs).all(axis=1)

    def mean(self) -> dict[str, float]:
        """Mean probability per class over the frames with a face (NaN when there are none)."""
        rows = self.probs[self.found]
        values = rows.mean(axis=0) if len(rows) else np.full(len(self.classes), np.nan)
        return dict(zip(self.classes, (float(v) for v in values), strict=True))

    def top(self) -> str | None:
        m = self.mean()
        return None if not self.found.any() else max(m, key=lambda k: m[k])

    def series(self) -> dict[str, np.ndarray]:
        return {c: self.probs[:, i] for i, c in enumerate(self.classes)}


def _faces(input_path: Path, tracker: FaceTracker, crop: CropConfig) -> Iterator[tuple[float, np.ndarray | None]]:
    """(time, crop or None) for every frame of a video, or the single image."""
    tracker.reset()
    if is_image_path(input_path):
        rgb = read_image(input_path)
        obs = tracker.update(rgb)
        yield 0.0, FaceCrop.from_box(obs.box, crop).extract(rgb) if obs.found else None
        return
    with VideoReader(input_path) as reader:
        for frame in reader:
            obs = tracker.update(frame.rgb, frame.time)
            yield frame.time, FaceCrop.from_box(obs.box, crop).extract(frame.rgb) if obs.found else None


def analyse_emotions(
    input_path: str | Path,
    models: Sequence[str | EmotionClassifier] = DEFAULT_MODELS,
    *,
    tracker: FaceTracker | None = None,
    crop: CropConfig = CLASSIFIER_CROP,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, EmotionTrack]:
    """Track the face through ``input_path`` and classify it in every frame with each model."""
    input_path = Path(input_path)
    loaded = [load_emotion_model(m) if isinstance(m, str) else m for m in models]
    tracker = tracker or FaceTracker()
    times: list[float] = []
    stream = _faces(input_path, tracker, crop)
    if progress and not is_image_path(input_path):
        from tqdm import tqdm

        stream = tqdm(
            stream, total=probe_video(input_path).frame_count or None, unit="frame", desc="emotions", leave=False
        )

    def crops() -> Iterator[np.ndarray | None]:
        for t, c in stream:
            times.append(t)
            yield c

    probs = classify_crops(crops(), loaded, batch_size)
    t = np.array(times)
    return {m.name: EmotionTrack(m.name, m.classes, t, p) for m, p in zip(loaded, probs, strict=True)}


def write_emotions_json(tracks: dict[str, EmotionTrack], path: str | Path, source: str) -> Path:
    data = {
        "input": source,
        "models": {
            name: {
                "classes": list(tr.classes),
                "mean": tr.mean(),
                "top": tr.top(),
                "frames_with_face": int(tr.found.sum()),
                "frames": [
                    {
                        "time": round(float(t), 4),
                        "probs": None if not np.isfinite(row).all() else [round(float(v), 5) for v in row],
                    }
                    for t, row in zip(tr.times, tr.probs, strict=True)
                ],
            }
            for name, tr in tracks.items()
        },
    }
    return write_json_atomic(path, data, indent=None)


def write_emotions_csv(tracks: dict[str, EmotionTrack], path: str | Path) -> Path:
    """One row per frame: frame, time, then <model>:<emotion> columns (empty where no face)."""
    names = list(tracks)
    first = tracks[names[0]]
    header = ["frame", "time"] + [f"{n}:{c}" for n in names for c in tracks[n].classes]
    lines = []
    for i, t in enumerate(first.times):
        row: list[str] = [str(i), f"{t:.4f}"]
        for n in names:
            row += ["" if not np.isfinite(v) else f"{v:.5f}" for v in tracks[n].probs[i]]
        lines.append(row)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(lines)
    return Path(path)


def plot_emotions(track: EmotionTrack, path: str | Path, title: str = "") -> Path:
    """Per-frame probabilities of every class over time (gaps where no face)."""
    from ..visual import line_chart

    return line_chart(
        track.times,
        track.series(),
        path,
        title=title or f"{track.model}: p(emotion) per frame",
        xlabel="time (s)",
        ylabel="p",
    )
