"""Draw docs/mesh_engine_fixes.png: close-ups of three fixes of the mesh engine, before and after.

Row 1: happy at intensity 1 and 1.5 on single_face.mp4's neutral first frames, with the fold guard that
only halved and stopped motion (and no hold on the nose) against the guard that evens motion out first.
Row 2: surprise on scikit-image's astronaut photo with the lid margins held alone against the lid folds
held too. Row 3: an object composited over a mouth corner of single_face.mp4, happy: with no occluder
detection (the object bends), with the occluder kept but the pixels the warp takes from it pasted (a
smear dragged over the cheek, before 2026-12-05), and now. "Before" is the current code with the old
behaviour put back in this process only.

    python docs/mesh_engine_fixes_figure.py
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.expression import action_units as au
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces import warp as warp_module
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.media import VideoReader, read_image, write_image
from wav2lip_emotion.translation import mesh_engine
from wav2lip_emotion.translation.mesh_engine import MeshEngine
from wav2lip_emotion.translation.mesh_run import track_faces

DOCS = Path(__file__).parent
CELL = (300, 220)


@contextmanager
def old_guard() -> Iterator[None]:
    """The guard that only halves and stops, and no nose hold under AU6 and AU12."""
    units = dict(au.REAL_ACTION_UNITS)
    guard = mesh_engine.fold_guard
    mesh_engine.fold_guard = functools.partial(warp_module.fold_guard, evening=0)
    for name in ("AU6", "AU12"):
        au.REAL_ACTION_UNITS[name] = tuple(h for h in units[name] if h is not au.NOSE_HELD)
    try:
        yield
    finally:
        mesh_engine.fold_guard = guard
        au.REAL_ACTION_UNITS.clear()
        au.REAL_ACTION_UNITS.update(units)


@contextmanager
def margins_only() -> Iterator[None]:
    """The brow AUs holding the lid margins only, not the lid folds above them."""
    units = dict(au.REAL_ACTION_UNITS)
    for name, handles in units.items():
        au.REAL_ACTION_UNITS[name] = tuple(h for h in handles if h is not au.LID_FOLDS_HELD)
    try:
        yield
    finally:
        au.REAL_ACTION_UNITS.clear()
        au.REAL_ACTION_UNITS.update(units)


def cell(img: np.ndarray, box: tuple[int, int, int, int], label: str) -> np.ndarray:
    x0, y0, x1, y1 = box
    out = cv2.resize(img[y0:y1, x0:x1], CELL, interpolation=cv2.INTER_CUBIC)
    cv2.rectangle(out, (0, 0), (CELL[0], 18), (255, 255, 255), -1)
    cv2.putText(out, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def happy_row() -> np.ndarray:
    with VideoReader(asset_path("single_face"), max_frames=24) as reader:
        decoded = list(reader)
    lms, valid, times, _ = track_faces(decoded)
    i = 12
    lm = lms[i][:, :2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    cx, cy, w = (x0 + x1) / 2, y0 + 0.62 * (y1 - y0), 0.62 * (x1 - x0)
    box = (int(cx - w), int(cy - 0.73 * w), int(cx + w), int(cy + 0.73 * w))

    def edit(k: float) -> np.ndarray:
        engine = MeshEngine("happy", intensity=k)
        plan = engine.plan(lms, valid, times)
        return engine.edit(decoded[i].rgb, lms[i], plan, i)[0]

    cells = [cell(decoded[i].rgb, box, "source")]
    with old_guard():
        cells += [cell(edit(k), box, f"happy {k:g}, guard before") for k in (1.0, 1.5)]
    cells += [cell(edit(k), box, f"happy {k:g}, now") for k in (1.0, 1.5)]
    return np.hstack(cells)


def surprise_row() -> np.ndarray:
    photo = read_image(asset_path("astronaut"))
    obs = FaceTracker().update(photo, 0.0)
    lm = obs.landmarks[:, :2]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    cx, cy, w = (x0 + x1) / 2, y0 + 0.3 * (y1 - y0), 0.62 * (x1 - x0)
    box = (int(cx - w), int(max(cy - 0.73 * w, 0)), int(cx + w), int(cy + 0.73 * w))

    def edit(to: str) -> np.ndarray:
        engine = MeshEngine(to)
        plan = engine.plan(obs.landmarks[None], np.array([True]), np.array([0.0]))
        return engine.edit(photo, obs.landmarks, plan, 0)[0]

    cells = [cell(photo, box, "source")]
    with margins_only():
        cells += [cell(edit(to), box, f"{to}, lid margins held") for to in ("surprised", "sad")]
    cells += [cell(edit(to), box, f"{to}, lid folds held too") for to in ("surprised", "sad")]
    return np.hstack(cells)


def occluder_row() -> np.ndarray:
    with VideoReader(asset_path("single_face"), max_frames=24) as reader:
        decoded = list(reader)
    lms, valid, times, _ = track_faces(decoded)
    i = 20
    frame = decoded[i].rgb.copy()
    x, y = np.round(lms[i][61, :2]).astype(int)
    rng = np.random.default_rng(3)  # a grey, textured object (as in the test)
    frame[y - 13 : y + 13, x - 24 : x + 10] = (60 + rng.integers(0, 30, size=(26, 34, 1))).astype(np.uint8)
    box = (x - 70, y - 55, x + 56, y + 37)

    def edit(occluders: bool, dragged: bool = True, to: str = "happy") -> np.ndarray:
        engine = MeshEngine(to, occluders=OccluderDetector() if occluders else None)
        plan = engine.plan(lms, valid, times)
        for j in range(i - 3, i):  # a few frames first, as in a video, to learn the skin
            engine.edit(decoded[j].rgb, lms[j], plan, j)
        warped = engine.warp(frame, lms[i], plan, i)
        if not dragged and warped is not None:
            warped = dataclasses.replace(warped, map_x=None, map_y=None)
        return engine.paste(frame, lms[i], i, warped)[0]

    return np.hstack(
        [
            cell(frame, box, "source, an object composited"),
            cell(edit(False), box, "happy, no occluder detection"),
            cell(edit(True, dragged=False), box, "happy, occluder kept, before"),
            cell(edit(True), box, "happy, now"),
            cell(edit(True, to="sad"), box, "sad, now"),
        ]
    )


def main() -> None:
    rows = [happy_row(), surprise_row(), occluder_row()]
    write_image(DOCS / "mesh_engine_fixes.png", np.vstack(rows))
    print(DOCS / "mesh_engine_fixes.png")


if __name__ == "__main__":
    main()
