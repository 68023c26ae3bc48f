"""Looking at a generated world: contact sheets and frame sampling."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..media import VideoReader
from .synth import load_manifest


def sample_frames(path: str | Path, count: int) -> list[np.ndarray]:
    """``count`` evenly spaced frames of a video (streamed; only the chosen frames are kept)."""
    with VideoReader(path) as reader:
        total = reader.info.frame_count
        wanted = {round(i) for i in np.linspace(0, max(total - 1, 0), count)}
        return [f.rgb for f in reader if f.index in wanted]


def contact_sheet(root: str | Path, actor: str, sentence: str = "001", columns: int = 8, tile: int = 112) -> np.ndarray:
    """One actor, one sentence: rows = the takes (emotion, level), columns = time. RGB uint8."""
    root = Path(root)
    manifest = load_manifest(root)
    takes = [t for t in manifest["takes"] if t["actor"] == actor and t["sentence"] == sentence]  # type: ignore[index]
    rows = []
    for take in takes:
        frames = [
            cv2.resize(f, (tile, tile), interpolation=cv2.INTER_AREA)
            for f in sample_frames(root / take["video"], columns)
        ]
        while len(frames) < columns:
            frames.append(np.zeros((tile, tile, 3), np.uint8))
        label = np.full((tile, 84, 3), 255, np.uint8)
        cv2.putText(
            label, str(take["emotion"]), (4, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA
        )
        cv2.putText(
            label,
            f"level {take['level']}",
            (4, tile // 2 + 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.38,
            (90, 90, 90),
            1,
            cv2.LINE_AA,
        )
        rows.append(np.concatenate([label, *frames], axis=1))
    return np.concatenate(rows, axis=0)
