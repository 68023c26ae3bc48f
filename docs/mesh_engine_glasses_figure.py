"""Draw docs/mesh_engine_glasses.png: faces with glasses sent to surprised and sad, the frame held or not.

Row 1: Grace Hopper's photo (thick frames, seen by ``--glasses auto``). Row 2: movie-hello.mp4 at frame
130 (thick frames on a blurred 90 px face, not seen by auto; the whole clip is translated). Row 3:
the first face of dlib's group photo 2008_001009.jpg (thin metal frames, not seen by auto; cut out of
the photo around its annotated box). All three are public domain or CC-BY-SA-4.0 (movie-hello).
Each row: the source, then each destination with ``--glasses off`` and ``--glasses on``.

    python docs/mesh_engine_glasses_figure.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.annotations import dlib_face_boxes
from wav2lip_emotion.media import VideoReader, read_image, write_image

# the labelled cells of the other before-and-after figure (this script runs from docs/, like that one)
from mesh_engine_fixes_figure import CELL, cell  # isort: skip

DOCS = Path(__file__).parent
EDITS = (("surprised", "off"), ("surprised", "on"), ("sad", "off"), ("sad", "on"))


def frame(path: Path, index: int) -> np.ndarray:
    with VideoReader(path) as reader:
        for i, f in enumerate(reader):
            if i == index:
                return f.rgb.copy()
    raise SystemExit(f"{path}: has no frame {index}")


def face_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """The face's landmark box, enlarged to the cells' aspect."""
    obs = FaceTracker().update(rgb, 0.0)
    if obs.landmarks is None:
        raise SystemExit("no face found")
    (x0, y0), (x1, y1) = obs.landmarks[:, :2].min(0), obs.landmarks[:, :2].max(0)
    cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, 1.1 * (y1 - y0)
    w = h * CELL[0] / CELL[1]
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return (max(int(box[0]), 0), max(int(box[1]), 0), min(int(box[2]), rgb.shape[1]), min(int(box[3]), rgb.shape[0]))


def row(source: Path, tmp: Path, index: int | None = None) -> np.ndarray:
    video = index is not None
    first = frame(source, index) if video else read_image(source)
    box = face_box(first)
    cells = [cell(first, box, f"{source.stem}: source")]
    for to, mode in EDITS:
        out = tmp / f"{source.stem}_{to}_{mode}{'.mp4' if video else '.png'}"
        wav2lip_emotion.translate(source, out, to, glasses=mode, progress=False)
        img = frame(out, index) if video else read_image(out)
        cells.append(cell(img, box, f"{to}, --glasses {mode}"))
    return np.hstack(cells)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        grace = tmp / "grace_hopper.png"
        write_image(grace, read_image(asset_path("grace_hopper")))
        group = read_image(asset_path("dlib_faces") / "2008_001009.jpg")
        x0, y0, x1, y1 = (int(v) for v in dlib_face_boxes(asset_path("dlib_faces"))["2008_001009.jpg"][0])
        m = (x1 - x0) // 2
        thin = tmp / "dlib_2008_001009.png"
        face = group[max(y0 - m, 0) : y1 + m, max(x0 - m, 0) : x1 + m]
        write_image(thin, cv2.resize(face, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LANCZOS4))
        rows = [row(grace, tmp), row(asset_path("movie_hello"), tmp, index=130), row(thin, tmp)]
    write_image(DOCS / "mesh_engine_glasses.png", np.vstack(rows))
    print(DOCS / "mesh_engine_glasses.png")


if __name__ == "__main__":
    main()
