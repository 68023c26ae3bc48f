"""The mesh engine's faster paths give what the plain ones give: the span-wise point location, the lookup
restricted to the paste mask, and frames warped on several threads (the same output whatever their
timing). ``clip``: tests/conftest.py."""

from __future__ import annotations

import random
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.faces.warp import _hits, fold_guard, triangulate, warp_region, warp_where
from wav2lip_emotion.media import VideoReader
from wav2lip_emotion.media import video as media_video
from wav2lip_emotion.translation import mesh_run
from wav2lip_emotion.translation.mesh_engine import MeshEngine
from wav2lip_emotion.translation.mesh_run import track_faces, translate_mesh

_WRITE = media_video.VideoWriter.write


def _brute_force(dst: np.ndarray, tris: np.ndarray, shape: tuple[int, int], origin, stride: int):
    """Every grid point against every triangle (barycentric test, eps 1e-9): the highest-numbered
    triangle holding it, its (u, v), and how close it is to that triangle's edges."""
    gh, gw = shape
    gx, gy = np.meshgrid(np.arange(gw), np.arange(gh))
    p = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float64)
    cells = (dst[tris] - origin) / stride
    owner = np.full(len(p), -1)
    uv = np.zeros((len(p), 2))
    margin = np.full(len(p), np.inf)
    for k, (a, b, c) in enumerate(cells):
        v0, v1, w = b - a, c - a, p - a
        den = v0[0] * v1[1] - v1[0] * v0[1]
        if abs(den) <= 1e-12:
            continue
        u = (w[:, 0] * v1[1] - v1[0] * w[:, 1]) / den
        v = (v0[0] * w[:, 1] - w[:, 0] * v0[1]) / den
        inside = (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9)
        owner[inside], uv[inside] = k, np.stack([u, v], -1)[inside]
        near = np.minimum(np.minimum(np.abs(u), np.abs(v)), np.abs(1 - u - v))
        margin = np.where(inside | (near < 1e-7), np.minimum(margin, near), margin)
    return owner, uv, margin


@pytest.mark.parametrize("fold", [False, True])
def test_span_point_location_matches_a_brute_force_test(fold):
    """Each grid point goes to the highest-numbered placed triangle that holds it, with its barycentric
    coordinates, as a test of every point against every triangle says (a point on an edge may go to
    either side); also where placed triangles overlap."""
    rng = np.random.default_rng(7)
    src = np.concatenate([rng.uniform(8, 92, size=(60, 2)), [[0, 0], [0, 100], [100, 0], [100, 100]]])
    tris = triangulate(src)
    dst = src.copy()
    dst[:60] += rng.normal(scale=6.0 if fold else 2.0, size=(60, 2))
    if not fold:
        dst = fold_guard(src, dst, tris).dst
    for origin, stride, shape in (((3, 1), 2, (50, 49)), ((0, 0), 1, (101, 101)), ((20, 30), 3, (15, 20))):
        cell, tid, u, v = _hits(dst, tris, shape, origin, stride)
        got = np.full(shape[0] * shape[1], -1)
        got[cell] = tid
        want, uv, margin = _brute_force(dst, tris, shape, origin, stride)
        differ = got != want
        assert not (differ & (margin > 1e-7)).any()
        assert differ.mean() < 0.01
        same = ~differ[cell]
        assert np.abs(u[same] - uv[cell[same], 0]).max() < 1e-9
        assert np.abs(v[same] - uv[cell[same], 1]).max() < 1e-9


def test_warp_where_looks_up_only_the_masked_pixels_and_the_same_values():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    x0, y0, x1, y1 = 10, 5, 110, 85
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    map_x = xs + rng.uniform(-3, 3, size=xs.shape).astype(np.float32)
    map_y = ys + rng.uniform(-3, 3, size=ys.shape).astype(np.float32)
    where = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.ellipse(where, (50, 40), (45, 30), 15, 0, 360, 1, -1)
    where = where > 0
    out = frame[y0:y1, x0:x1].copy()
    warp_where(frame, map_x, map_y, where, out)
    full = warp_region(frame, map_x, map_y)
    assert np.array_equal(out[where], full[where])
    # the source's pixels are kept out of the mask's bands (the lookup is not done there)
    assert np.array_equal(out[:, :4], frame[y0:y1, x0 : x0 + 4])


def _translate(clip: Path, out: Path, monkeypatch, threads: int, jitter: bool) -> list[np.ndarray]:
    """translate_mesh's output file and the frames it handed to the encoder."""
    written: list[np.ndarray] = []

    def keep(self, rgb):
        written.append(np.array(rgb))
        _WRITE(self, rgb)

    monkeypatch.setattr(media_video.VideoWriter, "write", keep)
    monkeypatch.setattr(mesh_run, "WARP_THREADS", threads)
    engine = MeshEngine("happy", occluders=OccluderDetector())
    if jitter:  # warps finish out of order
        rng = random.Random(5)
        warp = engine.warp

        def slow(*args):
            time.sleep(rng.uniform(0.0, 0.03))
            return warp(*args)

        monkeypatch.setattr(engine, "warp", slow)
    translate_mesh(clip, out, engine, tracker=FaceTracker(), crf=12, progress=False)
    return written


def test_frames_warped_on_threads_give_the_sequential_edit_to_the_byte(tmp_path, clip, monkeypatch):
    one = _translate(clip, tmp_path / "one.mp4", monkeypatch, 1, jitter=False)
    many = _translate(clip, tmp_path / "many.mp4", monkeypatch, 3, jitter=True)
    assert (tmp_path / "one.mp4").read_bytes() == (tmp_path / "many.mp4").read_bytes()
    # ... and the frames are those of editing one frame after the other
    with VideoReader(clip) as reader:
        decoded = list(reader)
    assert len(one) == len(many) == len(decoded) > 0
    landmarks, valid, times, _ = track_faces(decoded)
    engine = MeshEngine("happy", occluders=OccluderDetector())
    plan = engine.plan(landmarks, valid, times)
    for i, frame in enumerate(decoded):
        edited, _ = engine.edit(frame.rgb, landmarks[i], plan, i)
        assert np.array_equal(edited, one[i]) and np.array_equal(edited, many[i]), i
    assert any(not np.array_equal(a.rgb, b) for a, b in zip(decoded, one, strict=True))
