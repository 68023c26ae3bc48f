"""Faces on real recorded media: detection, tracking, crops, masks, paste-back, the faces command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli.face_report import analyse_faces
from wav2lip_emotion.faces import (
    CropConfig,
    FaceCrop,
    FaceTracker,
    OneEuroFilter,
    TrackerConfig,
    full_mask,
    half_mask,
    paste_back,
    pose_prior,
)
from wav2lip_emotion.faces.annotations import dlib_face_boxes
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video, read_image


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    return FaceTracker()


def _track(tracker: FaceTracker, path: Path, limit: int | None = None):
    tracker.reset()
    out = []
    with VideoReader(path) as reader:
        for frame in reader:
            out.append((frame, tracker.update(frame.rgb, frame.time)))
            if limit is not None and len(out) >= limit:
                break
    return out


# ----------------------------------------------------------------------------- real clips


def test_movie_hello_face_in_webcam_window(tracker):
    summary = analyse_faces(asset_path("movie_hello"), tracker=tracker)
    assert summary.frames >= 240
    assert summary.found_ratio >= 0.95
    for _, obs in _track(tracker, asset_path("movie_hello"), limit=60):
        if obs.found:
            x0, y0, x1, y1 = obs.box
            # the webcam window of the screencast spans about x 113-367, y 83-283
            assert x0 >= 105 and y0 >= 75 and x1 <= 375 and y1 <= 290


@pytest.mark.parametrize("name", ["kphotoalbum_movie", "single_face"])
def test_other_real_clips(tracker, name):
    summary = analyse_faces(asset_path(name), tracker=tracker)
    assert summary.found_ratio >= 0.95, summary.describe()


def test_video_without_any_face_is_reported_not_fatal(tracker, tmp_path):
    # a synthetic clip of moving gradients: no face anywhere
    path = tmp_path / "noface.mp4"
    with VideoWriter(path, 25, 160, 120) as writer:
        for i in range(20):
            yy, xx = np.mgrid[0:120, 0:160]
            writer.write(np.stack([(xx + i * 3) % 256, yy * 2 % 256, np.full_like(xx, 90)], -1).astype(np.uint8))
    summary = analyse_faces(path, tracker=tracker, json_out=tmp_path / "f.json")
    assert summary.frames == 20 and summary.found == 0
    assert summary.missing_ranges == [(0, 19)]
    data = json.loads((tmp_path / "f.json").read_text())
    assert [f["found"] for f in data["frames"]] == [False] * 20


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc to read memory")
def test_4k_video_streams_in_bounded_memory(tracker, tmp_path):
    """A 3840x2160 clip: the face is found and memory does not grow with the number of frames."""
    face = cv2.resize(read_image(asset_path("astronaut")), (1024, 1024))
    path = tmp_path / "uhd.mp4"
    n = 24
    with VideoWriter(path, 25, 3840, 2160, preset="ultrafast", crf=30) as writer:
        canvas = np.full((2160, 3840, 3), 60, np.uint8)
        for i in range(n):
            frame = canvas.copy()
            frame[500 : 500 + 1024, 1200 + 8 * i : 2224 + 8 * i] = face
            writer.write(frame)
    tracker.reset()
    rss = {}
    found = 0
    with VideoReader(path) as reader:
        for frame in reader:
            found += tracker.update(frame.rgb, frame.time).found
            if frame.index in (5, n - 1):
                rss[frame.index] = _rss_mb()
    assert found == n
    # one 4K RGB frame is 25 MB: holding the clip would add ~450 MB between the two marks
    assert rss[n - 1] - rss[5] < 60, rss


# ----------------------------------------------------------------------------- photos


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_single_photos(tracker, name):
    rgb = read_image(asset_path(name))
    tracker.reset()
    obs = tracker.update(rgb)
    assert obs.found and obs.landmarks.shape == (468, 3)
    x0, y0, x1, y1 = obs.box
    assert 0 <= x0 < x1 <= rgb.shape[1] and 0 <= y0 < y1 <= rgb.shape[0]


def test_group_photos_one_track_on_a_real_face(tracker):
    faces_dir = asset_path("dlib_faces")
    annotated = dlib_face_boxes(faces_dir)
    checked = 0
    for name, boxes in annotated.items():
        if len(boxes) < 2:
            continue
        rgb = read_image(faces_dir / name)
        tracker.reset()
        obs = tracker.update(rgb)
        assert obs.found, name
        centre = (obs.box[:2] + obs.box[2:]) / 2
        # one track, on one of the annotated faces
        assert any(b[0] <= centre[0] <= b[2] and b[1] <= centre[1] <= b[3] for b in boxes), name
        checked += 1
    assert checked >= 5


def test_lfw_subset_detection_rates(tracker):
    data = np.load(asset_path("lfw_subset"))
    assert data.shape == (200, 25, 25)
    found = []
    for img in data:
        grey = cv2.resize((img * 255).astype(np.uint8), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
        tracker.reset()
        found.append(tracker.update(np.repeat(grey[..., None], 3, 2)).found)
    faces, non_faces = sum(found[:100]), sum(found[100:])
    assert faces >= 90, f"only {faces}/100 LFW faces found"
    assert non_faces <= 5, f"{non_faces}/100 LFW non-faces taken for faces"


# ----------------------------------------------------------------------------- tracking behaviour


def test_brief_misses_are_survived(tracker):
    frames = [f for f, _ in _track(tracker, asset_path("single_face"), limit=30)]
    tracker.reset()
    results = []
    for i, frame in enumerate(frames):
        rgb = np.zeros_like(frame.rgb) if 10 <= i < 13 else frame.rgb
        results.append(tracker.update(rgb, frame.time))
    assert [r.found for r in results[10:13]] == [False, False, False]
    assert all(r.found for r in results[:10] + results[13:])
    # picked up again at once, in the same place (the track was kept through the gap)
    before, after = results[9].box, results[13].box
    assert np.abs(after - before).max() < 0.1 * (before[2] - before[0])


def test_a_face_lost_at_a_shot_cut_is_found_in_the_new_shot_at_once(tracker):
    """An edited clip cuts to a shot where the face is smaller and elsewhere: the local search around
    its last position cannot see it, so the cut (the whole picture changed) starts a whole-frame search
    in the cut's own frame, instead of after max_misses frames without a face."""
    clip = [f.rgb for f, _ in _track(tracker, asset_path("single_face"), limit=8)]
    h, w = clip[0].shape[:2]

    def placed(rgb: np.ndarray, top: int, left: int) -> np.ndarray:
        out = np.full_like(rgb, 40)
        out[top : top + h // 2, left : left + w // 2] = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return out

    frames = [placed(rgb, 0, 0) for rgb in clip]  # the first shot: the face top left, at half size
    shot = placed(clip[0], h - h // 2, w - w // 2)  # the next: bottom right
    tracker.reset()
    results = [tracker.update(rgb, i / 30) for i, rgb in enumerate([*frames, shot, shot, shot])]
    assert all(r.found for r in results)
    assert results[8].method == "detected" and results[8].box[0] > w / 2 and results[8].box[1] > h / 2
    # without the cut detection, the local search misses the face in the new shot
    blind = FaceTracker(TrackerConfig(cut_threshold=0))
    missed = [blind.update(rgb, i / 30) for i, rgb in enumerate([*frames, shot, shot, shot])]
    assert not any(r.found for r in missed[8:])


def test_other_faces_are_ignored(tracker):
    """Two people side by side: the track stays on the one it started with."""
    left = read_image(asset_path("astronaut"))
    right = cv2.resize(read_image(asset_path("grace_hopper")), (left.shape[1], left.shape[0]))
    tracker.reset()
    centres = []
    for shift in range(0, 40, 4):  # both drift a little
        scene = np.concatenate([np.roll(left, shift, 1), np.roll(right, -shift, 1)], axis=1)
        obs = tracker.update(scene)
        assert obs.found
        centres.append((obs.box[0] + obs.box[2]) / 2)
    sides = {c < left.shape[1] for c in centres}
    assert len(sides) == 1


def test_one_euro_filter_smooths_jitter_but_follows_fast_motion():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.5, beta=3.0)
    still = [f(np.array([100 + rng.normal(0, 2.0)]), t / 25, scale=100)[0] for t in range(100)]
    assert np.std(still[20:]) < 1.0  # jitter of 2 px shrinks
    f.reset()
    moving = [f(np.array([10.0 * t]), t / 25, scale=100)[0] for t in range(50)]  # 250 px/s
    assert abs(moving[-1] - 490) < 15  # little lag on fast motion


# ----------------------------------------------------------------------------- crops and masks


@pytest.fixture(scope="module")
def face_frame(tracker):
    pairs = _track(tracker, asset_path("movie_hello"), limit=12)
    frame, obs = pairs[-1]
    assert obs.found
    return frame.rgb, obs


def test_crop_geometry(face_frame):
    rgb, obs = face_frame
    crop = FaceCrop.from_box(obs.box, CropConfig(size=96, padding=0.1))
    face = crop.extract(rgb)
    assert face.shape == (96, 96, 3) and face.dtype == np.uint8
    side = max(obs.box[2] - obs.box[0], obs.box[3] - obs.box[1])
    assert crop.side == pytest.approx(side * 1.2)
    pts = crop.to_crop(obs.landmarks)
    assert np.allclose(crop.to_frame(pts), obs.landmarks[:, :2])
    assert pts.min() >= 0 and pts.max() <= 96


def test_masks(face_frame):
    rgb, obs = face_frame
    crop = FaceCrop.from_box(obs.box, CropConfig(size=96))
    half = half_mask(96)
    assert half[:48].sum() == 0 and half[48:].all()
    full = full_mask(crop.to_crop(obs.landmarks), 96)
    lm = crop.to_crop(obs.landmarks).round().astype(int)
    for idx in (1, 13, 14, 33, 263, 152, 10):  # nose, lips, eye corners, chin, forehead
        x, y = np.clip(lm[idx], 0, 95)
        assert full[y, x] == 1.0, idx
    assert full[0, 0] == 0 and full[0, 95] == 0
    prior = pose_prior(crop.extract(rgb), full)
    assert prior[full > 0].max() == 0 and np.array_equal(prior[full == 0], crop.extract(rgb)[full == 0])


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    err = (a.astype(float) - b.astype(float))[where]
    mse = float((err**2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("clip", ["movie_hello", "kphotoalbum_movie"])
def test_round_trip_unchanged_face_is_invisible(tracker, clip):
    frame, obs = _track(tracker, asset_path(clip), limit=10)[-1]
    rgb = frame.rgb
    crop = FaceCrop.from_box(obs.box, CropConfig(size=96, padding=0.15))
    mask = full_mask(crop.to_crop(obs.landmarks), 96)
    inside = cv2.warpAffine(mask, crop.crop_to_frame(), (rgb.shape[1], rgb.shape[0])) > 0.5
    outside = cv2.warpAffine(mask, crop.crop_to_frame(), (rgb.shape[1], rgb.shape[0])) == 0
    replaced = paste_back(rgb, crop.extract(rgb), crop, mask, mode="replace")
    assert _psnr(replaced, rgb, inside) > 40.0
    assert np.array_equal(replaced[outside], rgb[outside])
    detail = paste_back(rgb, crop.extract(rgb), crop, mask, mode="detail")
    assert np.array_equal(detail, rgb)  # lossless whatever the face size


def test_paste_back_has_no_seam_and_matches_colour(face_frame):
    rgb, obs = face_frame
    crop = FaceCrop.from_box(obs.box, CropConfig(size=96, padding=0.15))
    mask = full_mask(crop.to_crop(obs.landmarks), 96)
    tinted = np.clip(crop.extract(rgb).astype(int) + np.array([30, 10, -20]), 0, 255).astype(np.uint8)
    out = paste_back(rgb, tinted, crop, mask)
    hard = cv2.warpAffine(mask, crop.crop_to_frame(), (rgb.shape[1], rgb.shape[0]), flags=cv2.INTER_NEAREST)
    edge = cv2.morphologyEx(hard, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    diff = out.astype(float) - rgb
    # along the mask boundary the output equals the frame (the blend reaches 0 there)
    assert np.abs(diff[edge]).max() <= 2
    # colour matching removed the tint: inside the face the mean difference is small
    assert np.abs(diff[hard > 0].mean(axis=0)).max() < 5
    # and the change grows smoothly: no step between neighbouring pixels larger than the tint / 3
    step = np.abs(np.diff(diff, axis=1))
    assert step[np.logical_and(edge[:, 1:], edge[:, :-1])].max() <= 10


# ----------------------------------------------------------------------------- faces command


def test_faces_command_writes_json_and_preview(tmp_path):
    from wav2lip_emotion.cli import main

    src = asset_path("kphotoalbum_movie")
    code = main(["faces", str(src), "--json", str(tmp_path / "f.json"), "--preview", str(tmp_path / "p.mp4")])
    assert code == 0
    data = json.loads((tmp_path / "f.json").read_text())
    info = probe_video(src)
    assert data["summary"]["frames"] == len(data["frames"]) == info.frame_count
    first = next(f for f in data["frames"] if f["found"])
    assert len(first["box"]) == 4 and len(first["landmarks"]) == 468
    preview = probe_video(tmp_path / "p.mp4")
    assert (preview.width, preview.height) == (info.width, info.height)
    assert preview.frame_count == info.frame_count


def test_faces_command_on_an_image(tmp_path, capsys):
    from wav2lip_emotion.cli import main

    assert main(["faces", str(asset_path("astronaut")), "--preview", str(tmp_path / "a.png")]) == 0
    assert read_image(tmp_path / "a.png").shape == (512, 512, 3)
    assert "face found in 1/1 frames" in capsys.readouterr().out


def test_faces_command_bad_input(tmp_path, capsys):
    from wav2lip_emotion.cli import main

    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 1000)
    assert main(["faces", str(tmp_path / "broken.mp4"), "--preview", str(tmp_path / "p.mp4")]) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and err.count("\n") == 1
    assert not (tmp_path / "p.mp4").exists()
    assert main(["faces", str(tmp_path / "missing.mp4")]) == 1


def test_rolled_faces_are_tracked_with_their_roll():
    """The mesh's crop undoes the face's roll (it once doubled it: landmarks on a face rolled 20 degrees
    came out nearly level, and at 30 degrees no face was found)."""
    import cv2

    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.faces.mesh import eye_angle
    from wav2lip_emotion.media import read_image

    img = read_image(asset_path("grace_hopper"))
    h, w = img.shape[:2]

    def roll(rgb):
        tracker = FaceTracker()
        for _ in range(3):
            obs = tracker.update(rgb, 0.0)
        assert obs.found
        return np.degrees(eye_angle(obs.landmarks[33, :2], obs.landmarks[263, :2]))

    upright = roll(img)
    for degrees in (-30, -15, 15, 30):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)  # counter-clockwise on screen
        rotated = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        assert roll(rotated) == pytest.approx(upright - degrees, abs=4.0), degrees
