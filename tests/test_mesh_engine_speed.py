"""The mesh engine's faster paths give what the plain ones give: the span-wise point location, the lookup
restricted to the paste mask, and frames warped on several threads (the same output whatever their
timing). ``clip``: tests/conftest.py."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.faces.warp import _hits, fold_guard, triangulate, warp_region, warp_where
from wav2lip_emotion.media import VideoReader, probe_video
from wav2lip_emotion.media import video as media_video
from wav2lip_emotion.media.planes import paste_rgb
from wav2lip_emotion.translation import face_window, frame_threads
from wav2lip_emotion.translation.mesh_engine import MeshEngine
from wav2lip_emotion.translation.mesh_run import track_faces, translate_mesh

_WRITE = media_video.VideoWriter.write
_WRITE_PLANES = media_video.VideoWriter.write_planes


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


def test_lookup_is_lanczos_on_the_luma_and_exact_where_nothing_moves():
    """warp_region reads a patch of the frame around its lookups (the frame's edges replicated as
    OpenCV's remap does): its luma is a Lanczos lookup of the frame's luma, also where the map reaches
    past the frame's edge; an identity map gives the pixels back exactly."""
    rng = np.random.default_rng(11)
    frame = cv2.GaussianBlur(rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8), (0, 0), 1.2)
    xs, ys = np.meshgrid(np.arange(0, 40, dtype=np.float32), np.arange(0, 30, dtype=np.float32))
    same = warp_region(frame, xs + 20, ys + 10)
    assert np.array_equal(same, frame[10:40, 20:60])
    map_x = xs - 6 + rng.uniform(-2, 2, size=xs.shape).astype(np.float32)  # past the left edge too
    map_y = ys - 4 + rng.uniform(-2, 2, size=ys.shape).astype(np.float32)
    out = warp_region(frame, map_x, map_y)

    def luma(rgb: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2YCrCb)[..., 0]

    expected = cv2.remap(luma(frame), map_x, map_y, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(luma(out) - np.clip(expected, 0, 255)).max() < 1.5  # rounding to uint8 RGB


def _translate(clip: Path, out: Path, monkeypatch, threads: int, jitter: bool) -> list[tuple[str, np.ndarray]]:
    """translate_mesh's output file and the frames it handed to the encoder: ("rgb", frame) or
    ("planes", packed 4:2:0 planes)."""
    written: list[tuple[str, np.ndarray]] = []

    def keep_rgb(self, rgb):
        written.append(("rgb", np.array(rgb)))
        _WRITE(self, rgb)

    def keep_planes(self, planes):
        written.append(("planes", np.array(planes)))
        _WRITE_PLANES(self, planes)

    monkeypatch.setattr(media_video.VideoWriter, "write", keep_rgb)
    monkeypatch.setattr(media_video.VideoWriter, "write_planes", keep_planes)
    monkeypatch.setattr(frame_threads, "WARP_THREADS", threads)
    engine = MeshEngine("happy", occluders=OccluderDetector())
    if jitter:  # warps finish out of order, and the occluder masks (on their own thread) late or early
        rng = random.Random(5)
        warp, occlusion = engine.warp, engine.occlusion

        def slow(*args):
            time.sleep(rng.uniform(0.0, 0.03))
            return warp(*args)

        def slow_masks(*args):
            time.sleep(rng.uniform(0.0, 0.03))
            return occlusion(*args)

        monkeypatch.setattr(engine, "warp", slow)
        monkeypatch.setattr(engine, "occlusion", slow_masks)
    translate_mesh(clip, out, engine, tracker=FaceTracker(), crf=12, progress=False)
    return written


def _planned(clip: Path, occluders: bool = True) -> tuple[np.ndarray, MeshEngine, Any, list]:
    """The clip tracked as translate tracks it (fast colour conversion), planned for happy, and its
    face windows."""
    with VideoReader(clip, fast_colour=True) as fast_reader:
        landmarks, valid, times, _ = track_faces(fast_reader)
        size = (fast_reader.info.width, fast_reader.info.height)
    engine = MeshEngine("happy", occluders=OccluderDetector() if occluders else None)
    plan = engine.plan(landmarks, valid, times)
    return landmarks, engine, plan, face_window.face_windows(engine, plan, landmarks, size)


@pytest.mark.parametrize("which", ["clip", "small_face_clip"])
def test_frames_warped_on_threads_give_the_sequential_edit_to_the_byte(tmp_path, monkeypatch, request, which):
    """On a close-up (single_face: RGB frames encoded) and on a small face in a wide frame (the decoded
    planes kept, only the face written back): the same frames whatever the threads' timing (the warps
    on a pool, the occluder masks on a thread of their own), and the frames of editing one frame after
    the other."""
    clip = request.getfixturevalue(which)
    one = _translate(clip, tmp_path / "one.mp4", monkeypatch, 1, jitter=False)
    many = _translate(clip, tmp_path / "many.mp4", monkeypatch, 3, jitter=True)
    # the frames handed to the encoder, to the byte (the pipeline's own determinism). Not the files'
    # bytes: x264 itself does not always give the same bytes for the same frames (docs/media.md,
    # "x264's own variation"; this test failed so twice in fresh-clone CI runs, the frames equal)
    assert len(one) == len(many)
    for i, ((_, a), (_, b)) in enumerate(zip(one, many, strict=True)):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert not diff.any(), f"frame {i}: {int((diff > 0).sum())} values differ, by up to {diff.max()}"
    assert probe_video(tmp_path / "one.mp4").frame_count == probe_video(tmp_path / "many.mp4").frame_count == len(one)
    kinds = {kind for kind, _ in one + many}
    assert kinds == ({"rgb"} if which == "clip" else {"planes"})
    # (the tracking pass reads the frames with the fast colour conversion; with planes kept the edit
    # pass converts only each frame's face window)
    landmarks, engine, plan, windows = _planned(clip)
    planar = kinds == {"planes"}
    with VideoReader(clip, keep_planes=planar, planes_only=planar) as reader:
        decoded = list(face_window.in_rgb_around_faces(reader, reader.colour, windows))
    assert len(one) == len(many) == len(decoded) > 0
    for i, frame in enumerate(decoded):
        edited, stats = engine.edit(frame.rgb, landmarks[i], plan, i)
        expected = edited
        if planar:
            expected = frame.planes.copy()
            if stats.region is not None:
                x0, y0, x1, y1 = stats.region
                paste_rgb(expected, stats.region, frame.rgb[y0:y1, x0:x1], edited[y0:y1, x0:x1], reader.colour)
        assert np.array_equal(expected, one[i][1]) and np.array_equal(expected, many[i][1]), i
    assert any(
        not np.array_equal(frame.planes if planar else frame.rgb, w) for frame, (_, w) in zip(decoded, one, strict=True)
    )


def test_planes_are_kept_where_the_face_is_a_small_part_of_the_frame(clip, small_face_clip):
    """single_face's close-up needs nearly the whole frame around its face (the hand search reaches
    past the frame's edges); the same face shrunk into a wide frame needs a small part of it."""
    for path, keep in ((clip, False), (small_face_clip, True)):
        _, _, _, windows = _planned(path)
        with VideoReader(path) as reader:
            size = (reader.info.width, reader.info.height)
        shares = [(x1 - x0) * (y1 - y0) / (size[0] * size[1]) for x0, y0, x1, y1 in windows]
        assert face_window.planes_pay(windows, size) is keep
        assert float(np.median(shares)) > 0.9 if not keep else float(np.median(shares)) < 0.3


def test_the_edit_pass_encodes_the_decoded_planes_with_only_the_face_written_back(tmp_path, small_face_clip):
    """A small face in a wide frame, encoded losslessly (crf 0): every pixel outside the edited face
    comes out exactly as decoded, in the input's own colour description; the face matches the RGB path
    (taken with a side-by-side video)."""
    from wav2lip_emotion.faces.mesh import FACE_OVAL
    from wav2lip_emotion.media.planes import split_planes

    clip = small_face_clip
    out, rgb_out, side = tmp_path / "planes.mp4", tmp_path / "rgb.mp4", tmp_path / "side.mp4"
    translate_mesh(clip, out, MeshEngine("happy"), tracker=FaceTracker(), crf=0, progress=False)
    translate_mesh(clip, rgb_out, MeshEngine("happy"), tracker=FaceTracker(), crf=0, side_by_side=side, progress=False)
    with VideoReader(clip, keep_planes=True) as a, VideoReader(out, keep_planes=True) as b, VideoReader(rgb_out) as c:
        assert a.colour is not None and b.colour == a.colour  # the input is tagged BT.709 by VideoWriter
        frames = list(zip(a, b, c, strict=True))
    landmarks = _planned(clip)[0]
    edited = 0
    for (src, got, via_rgb), lm in zip(frames, landmarks, strict=True):
        (y0, u0, v0), (y1, u1, v1) = split_planes(src.planes), split_planes(got.planes)
        moved = y0 != y1
        oval = lm[list(FACE_OVAL), :2]
        centre = oval.mean(0)
        x_lo, y_lo = np.floor((centre + 1.2 * (oval - centre)).min(0)).astype(int)
        x_hi, y_hi = np.ceil((centre + 1.2 * (oval - centre)).max(0)).astype(int)
        inside = np.zeros_like(moved)
        inside[max(y_lo, 0) : y_hi + 2, max(x_lo, 0) : x_hi + 2] = True
        assert not (moved & ~inside).any(), src.index  # nothing outside the face region moved at all
        chroma = inside.reshape(inside.shape[0] // 2, 2, -1, 2).any(axis=(1, 3))
        assert np.array_equal(u0[~chroma], u1[~chroma]) and np.array_equal(v0[~chroma], v1[~chroma])
        edited += int(moved.any())
        # the face is the RGB path's, within a rounding step or two
        face = (slice(max(y_lo, 0), y_hi), slice(max(x_lo, 0), x_hi))
        assert np.abs(got.rgb[face].astype(int) - via_rgb.rgb[face]).mean() < 1.0
    assert edited >= len(frames) - 2


@pytest.mark.parametrize("occluders", [True, False])
def test_editing_a_face_reads_nothing_outside_its_window(small_face_clip, occluders):
    """With the planes kept, the edit pass converts only each frame's face window to RGB: editing (warp,
    occluder masks, paste) gives the same pixels whatever lies outside it (black there, or white).
    Without occluder detection the window is only what the warp reaches."""
    landmarks, _, _, windows = _planned(small_face_clip, occluders)
    outs = []
    for fill in (0, 255):
        _, engine, plan, _ = _planned(small_face_clip, occluders)
        edited = []
        with VideoReader(small_face_clip, keep_planes=True, planes_only=True) as reader:
            for frame in face_window.in_rgb_around_faces(reader, reader.colour, windows):
                i = frame.index
                x0, y0, x1, y1 = windows[i]
                assert (x1 - x0) * (y1 - y0) < 0.35 * 960 * 540
                rgb = np.full_like(frame.rgb, fill)
                rgb[y0:y1, x0:x1] = frame.rgb[y0:y1, x0:x1]
                out, stats = engine.edit(rgb, landmarks[i], plan, i)
                assert stats.region is not None
                a0, b0, a1, b1 = stats.region
                assert x0 <= a0 and y0 <= b0 and a1 <= x1 and b1 <= y1
                edited.append(out[b0:b1, a0:a1])
        outs.append(edited)
    assert len(outs[0]) == len(outs[1]) > 0
    assert all(np.array_equal(a, b) for a, b in zip(*outs, strict=True))


def test_a_real_hand_over_the_face_comes_out_unwarped(tmp_path):
    """A real hand (cut from dlib's 2009_004587.jpg) pasted over the cheek of 12 frames of single_face,
    sent through translate's whole pipeline (threads included): the edit leaves it as it went in
    (within codec noise) while the face around it changes."""
    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.faces.hands import HandDetector
    from wav2lip_emotion.media import VideoWriter, read_image

    src = read_image(asset_path("dlib_faces") / "2009_004587.jpg")
    hand = max(HandDetector().detect(src), key=lambda h: h.box[2] - h.box[0])
    cut = np.zeros(src.shape[:2], np.uint8)
    cv2.fillConvexPoly(cut, np.round(hand.hull()).astype(np.int32), 1)
    cut = cv2.dilate(cut, np.ones((9, 9), np.uint8))
    hx0, hy0, hx1, hy1 = (hand.box + np.array([-8, -8, 8, 8])).astype(int)
    clip, tracker, pasted = tmp_path / "hand.mp4", FaceTracker(), []
    with VideoReader(asset_path("single_face"), max_frames=12) as reader, VideoWriter(clip, 30, 640, 360, crf=10) as w:
        for frame in reader:
            lm = tracker.update(frame.rgb, frame.time).landmarks
            k = 0.8 * float(np.ptp(lm[:, 0])) / (hx1 - hx0)
            patch = cv2.resize(src[hy0:hy1, hx0:hx1], None, fx=k, fy=k)
            alpha = cv2.resize(cut[hy0:hy1, hx0:hx1], (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_NEAREST)
            px, py = int(lm[50, 0] - 0.6 * patch.shape[1]), int(lm[50, 1] - 0.3 * patch.shape[0])
            rgb, on = frame.rgb.copy(), np.zeros(frame.rgb.shape[:2], bool)
            rgb[py : py + patch.shape[0], px : px + patch.shape[1]][alpha > 0] = patch[alpha > 0]
            on[py : py + patch.shape[0], px : px + patch.shape[1]] = alpha > 0
            pasted.append(cv2.erode(on.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
            w.write(rgb)

    out, plain = tmp_path / "out.mp4", tmp_path / "plain.mp4"
    run = translate_mesh(
        clip, out, MeshEngine("happy", occluders=OccluderDetector()), tracker=FaceTracker(), progress=False
    )
    assert run.occluded_frames == 12
    with VideoReader(clip) as reader, VideoWriter(plain, 30, 640, 360, crf=18) as w:  # translate_mesh's crf
        for frame in reader:
            w.write(frame.rgb)
    with VideoReader(clip) as a, VideoReader(out) as b, VideoReader(plain) as c:
        for on, x, y, z in zip(pasted, a, b, c, strict=True):
            diff = np.abs(x.rgb.astype(int) - y.rgb).max(axis=2)
            noise = np.abs(x.rgb.astype(int) - z.rgb).max(axis=2)[on].mean()  # re-encoding alone: 2.2
            assert diff[on].mean() < 1.5 * noise  # the hand: codec noise (3.1; warped, it moves by 31)
            assert diff[~on].max() > 20  # the face beside it: edited
