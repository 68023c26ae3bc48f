"""Draw docs/mesh_engine_*.png: real faces (clips and photos from the asset store) sent to every emotion
by the mesh engine at intensity 1, face crops side by side.

    python docs/mesh_engine_figure.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.emotions import EMOTIONS
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.glasses import GlassesSampler, glasses_evidence
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.media import VideoReader, read_image, write_image
from wav2lip_emotion.translation.mesh_engine import MeshEngine
from wav2lip_emotion.translation.mesh_run import track_faces

DOCS = Path(__file__).parent
ORDER = ["source", *[e for e in EMOTIONS if e != "neutral"], "neutral"]
CELL = 200


def clip_rows(name: str, indices: list[int]) -> list[np.ndarray]:
    """Rows of the clip's frames ``indices``: tracked, planned for every emotion, and only the frames
    needed read (those shown, a few before them for the occluder model, and the frames whose calm mouth
    the smiling ones borrow; never the whole clip in memory)."""
    sampler = GlassesSampler()  # glasses measured as translate measures them (--glasses auto)
    with VideoReader(asset_path(name)) as reader:
        lms, valid, times, _ = track_faces(reader, look=sampler)
    plans = plans_for(lms, valid, times, sampler.verdict())
    keep = {j for i in indices for j in range(max(0, i - 5), i + 1)}
    donors = {j for _, plan in plans.values() if plan.mouth is not None for j in plan.mouth.frames}
    with VideoReader(asset_path(name)) as reader:
        frames = {f.index: f.rgb for f in reader if f.index in keep | donors}
    for _, plan in plans.values():
        if plan.mouth is not None:
            for j in plan.mouth.frames:
                plan.mouth.keep(j, frames[j], plan.placement[j])
    return row(frames, lms, plans, indices)


def crop(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
    c, half = (lo + hi) / 2, (hi - lo).max() * 0.62
    x0, y0 = np.maximum(np.round(c - half).astype(int), 0)
    x1, y1 = np.round(c + half).astype(int)
    return cv2.resize(img[y0:y1, x0:x1], (CELL, CELL), interpolation=cv2.INTER_AREA)


def plans_for(lms, valid, times, glasses) -> dict:
    out = {}
    for e in ORDER[1:]:
        engine = MeshEngine(e, occluders=OccluderDetector())
        out[e] = (engine, engine.plan(lms, valid, times, glasses=glasses))
    return out


def row(frames, lms, plans, indices: list[int]) -> list[np.ndarray]:
    rows = []
    for i in indices:
        cells = [crop(frames[i], lms[i])]
        for e in ORDER[1:]:
            engine, plan = plans[e]
            for j in range(max(0, i - 5), i):  # let the occluder model see a few frames first
                engine.occluders.mask(frames[j], lms[j], (0, 0, frames[j].shape[1], frames[j].shape[0]))
            out, _ = engine.edit(frames[i], lms[i], plan, i)
            cells.append(crop(out, lms[i]))
        rows.append(np.concatenate(cells, 1))
    return rows


def header() -> np.ndarray:
    bar = np.full((28, CELL * len(ORDER), 3), 255, np.uint8)
    for k, name in enumerate(ORDER):
        cv2.putText(bar, name, (k * CELL + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def main() -> None:
    rows = []
    for name, indices in (("single_face", [6, 60]), ("movie_hello", [45, 200])):
        rows += clip_rows(name, indices)
    write_image(DOCS / "mesh_engine_clips.png", np.concatenate([header(), *rows], 0))
    rows = []
    for name in ("grace_hopper", "feat_happy"):
        img = read_image(asset_path(name))
        obs = FaceTracker().update(img, 0.0)
        lms = obs.landmarks[None]
        glasses = glasses_evidence(img, lms[0])
        rows += row({0: img}, lms, plans_for(lms, np.array([True]), np.array([0.0]), glasses), [0])
    write_image(DOCS / "mesh_engine_photos.png", np.concatenate([header(), *rows], 0))


if __name__ == "__main__":
    main()
