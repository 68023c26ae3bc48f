"""The close-up of a job: :func:`closeup_frame` picks the frame where the destination emotion rose most,
:func:`face_closeup` writes the face of that frame in source and result next to each other.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..media import is_image_path


def _frame_at(path: Path, index: int) -> np.ndarray | None:
    from ..media import VideoReader, read_image

    if is_image_path(path):
        return read_image(path)
    with VideoReader(path) as reader:
        for i, frame in enumerate(reader):
            if i == index:
                return frame.rgb
    return None


def closeup_frame(analysis: dict[str, Any], to: str) -> int:
    """The frame where the judge's p(``to``) rose most from source to result (the middle one without)."""
    classes = analysis.get("classes") or []
    src = analysis.get("source", {}).get("probs") or []
    out = analysis.get("result", {}).get("probs") or []
    n = min(len(src), len(out))
    if not n:
        return 0
    if to not in classes:
        return n // 2
    k = classes.index(to)
    gains = [
        (out[i][k] - src[i][k]) if out[i][k] is not None and src[i][k] is not None else -math.inf for i in range(n)
    ]
    best = int(np.argmax(gains))
    return best if math.isfinite(gains[best]) else n // 2


def face_closeup(source: Path, result: Path, index: int, out: Path, size: int = 256) -> bool:
    """Write ``out``: the face of frame ``index`` of source and result next to each other, enlarged. False
    when there is no such frame or no face in it."""
    import cv2

    from ..faces import FaceTracker, TrackerConfig
    from ..media import write_image

    a, b = _frame_at(source, index), _frame_at(result, index)
    if a is None or b is None or a.shape != b.shape:
        return False
    obs = FaceTracker(TrackerConfig(smooth=False)).update(a)
    if not obs.found or obs.box is None:
        return False
    x0, y0, x1, y1 = (float(v) for v in obs.box)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.5 * max(x1 - x0, y1 - y0)
    h, w = a.shape[:2]
    side = min(side, w, h)
    left = round(min(max(cx - side / 2, 0), w - side))
    top = round(min(max(cy - side / 2, 0), h - side))
    s = round(side)

    def crop(img: np.ndarray) -> np.ndarray:
        return cv2.resize(np.ascontiguousarray(img[top : top + s, left : left + s]), (size, size), cv2.INTER_CUBIC)

    gap = np.full((size, 6, 3), 255, np.uint8)
    write_image(out, np.concatenate([crop(a), gap, crop(b)], axis=1))
    return True
