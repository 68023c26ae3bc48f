"""The demo's pictures: face boxes over time, side-by-side videos, the frame grid and the emotion plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import GRID, LABELS, probe

if TYPE_CHECKING:
    from ..evaluation.measure import VideoMeasurement
    from . import DemoRow


def grid_indices(frames: int, columns: int) -> list[int]:
    """The middle frame of each of ``columns`` equal stretches of the clip."""
    k = min(columns, max(1, frames))
    return sorted({min(frames - 1, int((i + 0.5) * frames / k)) for i in range(k)})


def face_boxes(clip: Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Frame index -> the face's box [x0, y0, x1, y1] in the clip (the mesh's landmarks), found anew in
    each frame; a frame without a face takes the nearest frame's box."""
    from ..errors import MediaError
    from ..faces import FaceTracker, TrackerConfig
    from ..media import VideoReader

    tracker = FaceTracker(TrackerConfig(smooth=False))
    wanted = set(indices)
    found: dict[int, np.ndarray] = {}
    with VideoReader(clip, max_frames=max(indices) + 1) as reader:
        for frame in reader:
            if frame.index in wanted:
                tracker.reset()
                obs = tracker.update(frame.rgb)
                if obs.found and obs.box is not None:
                    found[frame.index] = np.asarray(obs.box, dtype=np.float64)
    if not found:
        raise MediaError(f"{clip}: no face in the frames of the demo's grid")
    return {i: found[min(found, key=lambda j: abs(j - i))] for i in indices}


def _square(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """An even-sided square around ``box``, ``scale`` x its longer side, shifted (not cut) into the frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = min(width, height, 2 * round(scale * max(box[2] - box[0], box[3] - box[1]) / 2))
    x0 = int(min(max(0, round(cx - side / 2)), width - side))
    y0 = int(min(max(0, round(cy - side / 2)), height - side))
    return x0, y0, x0 + side, y0 + side


def video_region(boxes: dict[int, np.ndarray], info: Any) -> tuple[int, int, int, int]:
    """One fixed square around the face over the whole clip, for the side-by-side videos."""
    b = np.stack(list(boxes.values()))
    union = np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
    return _square(union, 1.8, info.width, info.height)


def side_by_side_video(source: Path, result: Path, region: tuple[int, int, int, int], path: Path) -> Path:
    """Source | result, both cropped to ``region`` around the face, with the source's speech (kept when it
    is newer than the result)."""
    from ..media import VideoReader, VideoWriter, probe_video

    if path.is_file() and path.stat().st_mtime_ns >= result.stat().st_mtime_ns:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    x0, y0, x1, y1 = region
    fps = probe_video(result).fps
    with (
        VideoReader(source) as left,
        VideoReader(result) as right,
        VideoWriter(path, fps, 2 * (x1 - x0), y1 - y0, audio_from=source) as writer,
    ):
        for a, b in zip(left, right, strict=False):
            writer.write(np.concatenate([a.rgb[y0:y1, x0:x1], b.rgb[y0:y1, x0:x1]], axis=1))
    return path


def _crops(video: Path, boxes: dict[int, np.ndarray], size: int) -> list[np.ndarray]:
    """The face crop (``size`` px square) of ``video`` at each of ``boxes``' frames, in the same squares."""
    import cv2

    from ..media import VideoReader

    got: dict[int, np.ndarray] = {}
    with VideoReader(video, max_frames=max(boxes) + 1) as reader:
        for frame in reader:
            if frame.index in boxes:
                h, w = frame.rgb.shape[:2]
                x0, y0, x1, y1 = _square(boxes[frame.index], 1.35, w, h)
                got[frame.index] = cv2.resize(frame.rgb[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    blank = np.full((size, size, 3), 255, np.uint8)
    return [got.get(i, blank) for i in sorted(boxes)]


def frame_grid(clip: Path, rows: Sequence[DemoRow], boxes: dict[int, np.ndarray], path: Path, size: int = 128) -> Path:
    """Face crops over time (matplotlib): the source row, then one row per result; columns = moments."""
    from matplotlib.figure import Figure

    from ..visual import save_figure

    fps = probe(clip).fps or 25.0
    lines = [("source\n(movie-hello.mp4)", clip)] + [
        (f"{GRID[r.variant]}\n\u2192 {r.destination}", Path(r.score.video)) for r in rows
    ]
    indices = sorted(boxes)
    fig = Figure(figsize=(1.6 + 1.3 * len(indices), 0.55 + 1.3 * len(lines)), dpi=100, layout="constrained")
    axes = np.asarray(fig.subplots(len(lines), len(indices), squeeze=False))
    for r, (label, video) in enumerate(lines):
        for c, crop in enumerate(_crops(video, boxes, size)):
            ax = axes[r, c]
            ax.imshow(crop)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(f"{indices[c] / fps:.1f} s", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle("movie-hello.mp4 (CC-BY-SA-4.0): the face over time, source and translations", fontsize=10)
    return save_figure(fig, path)


def emotion_plot(source: VideoMeasurement, results: Sequence[tuple[DemoRow, VideoMeasurement]], path: Path) -> Path:
    """The judge's per-frame probability of every class (matplotlib): the source, then each result."""
    from matplotlib.figure import Figure

    from ..emotions import parse_emotion
    from ..visual import EMOTION_COLOURS, save_figure

    panels = [("source (movie-hello.mp4)", None, source)] + [
        (f"{LABELS[r.variant]} \u2192 {r.destination}", r.destination, m) for r, m in results
    ]
    fig = Figure(figsize=(9, 1.1 + 1.9 * len(panels)), dpi=90, layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, destination, m) in zip(axes, panels, strict=True):
        t = np.arange(m.frames) / (m.fps or 25.0)
        for i, c in enumerate(m.classes):
            name = parse_emotion(c).value
            rgb = tuple(v / 255 for v in EMOTION_COLOURS.get(name, (0, 0, 0)))
            ax.plot(t, m.probs[:, i], color=rgb, label=name, linewidth=2.2 if name == destination else 1.0)
        ax.set_ylim(0, 1)
        ax.set_ylabel("p")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small", ncol=4)
    axes[-1].set_xlabel("time (s)")
    return save_figure(fig, path)
