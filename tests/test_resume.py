"""A stopped translation goes on where it stopped: the pieces of a SegmentedVideoWriter, the resume folder,
and a real run killed with SIGKILL and run again (translation/resume.py, media/segments.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.atomic import new_file_mode
from wav2lip_emotion.errors import ConfigError, TranslationError
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video
from wav2lip_emotion.media.segments import SegmentedVideoWriter, finished_pieces
from wav2lip_emotion.translation import TranslateConfig, TranslateResult, mesh_engine
from wav2lip_emotion.translation.resume import resume_folder


def _same_picture(a: Path, b: Path) -> None:
    """Two encodes of the same frames: the same frames at the same times, their pixels within x264's own
    variation. (The encoder does not give the same bytes for the same frames every time: measured on
    8 frames at 960x540, 1 to 7 different files in 25 encodes, pixels up to 10 grey levels apart, for
    RGB and planes alike, with one thread or several; docs/media.md.) What the run hands the encoder is
    compared exactly where a test can see it."""
    with VideoReader(a) as ra, VideoReader(b) as rb:
        pairs = list(zip(ra, rb, strict=True))
    assert pairs
    for fa, fb in pairs:
        assert fa.index == fb.index and abs(fa.time - fb.time) < 1e-6
        assert np.abs(fa.rgb.astype(np.int16) - fb.rgb.astype(np.int16)).mean() < 1.0, fa.index


def _frames(n: int) -> list[np.ndarray]:
    """Smooth frames, each with a bright square at its own place (every frame tells itself apart)."""
    y, x = np.mgrid[0:72, 0:96]
    base = np.stack([x * 2, y * 3, 255 - x * 2], axis=-1).astype(np.uint8)
    out = []
    for i in range(n):
        f = base.copy()
        f[8 + 2 * i : 20 + 2 * i, 4 * i : 4 * i + 12] = 255
        out.append(f)
    return out


def test_pieces_join_into_one_video_with_the_audio_and_resume_after_a_stop(tmp_path: Path) -> None:
    speech = asset_path("movie_hello")  # has audio
    frames = _frames(23)
    out, work = tmp_path / "out.mp4", tmp_path / "work"
    writer = SegmentedVideoWriter(out, work, 5, 25.0, 96, 72, audio_from=speech, crf=16)
    for f in frames[:13]:
        writer.write(f)
    writer.abort()  # a crash in the third piece
    assert [(s, c) for s, c, _ in finished_pieces(work)] == [(0, 5), (5, 5)]
    assert not out.exists()

    seen: list[tuple[int, int]] = []
    writer = SegmentedVideoWriter(
        out, work, 5, 25.0, 96, 72, audio_from=speech, crf=16, on_piece=lambda s, c: seen.append((s, c))
    )
    assert writer.done == 10
    for f in frames[writer.done :]:
        writer.write(f)
    writer.close()
    assert seen == [(10, 5), (15, 5), (20, 3)]
    info = probe_video(out)
    assert info.frame_count == 23 and info.has_audio and info.audio_codec == "aac"
    assert os.stat(out).st_mode & 0o777 == new_file_mode()
    # the joined file holds the pieces' frames, in order, at their times
    with VideoReader(out) as reader:
        joined = list(reader)
    pieces = []
    for _, _, path in finished_pieces(work):
        with VideoReader(path) as reader:
            pieces += [f.rgb for f in reader]
    assert len(joined) == len(pieces) == 23
    assert all(np.array_equal(a.rgb, b) for a, b in zip(joined, pieces, strict=True))
    assert np.allclose([f.time for f in joined], np.arange(23) / 25.0, atol=1e-3)
    errors = [np.abs(joined[17].rgb.astype(int) - f).mean() for f in frames]
    assert int(np.argmin(errors)) == 17 and errors[17] < 3  # the frame, not another


def test_a_restart_keeps_only_the_pieces_before_it(tmp_path: Path) -> None:
    frames = _frames(12)
    work = tmp_path / "work"
    with SegmentedVideoWriter(tmp_path / "a.mp4", work, 4, 25.0, 96, 72) as writer:
        for f in frames:
            writer.write(f)
    writer = SegmentedVideoWriter(tmp_path / "a.mp4", work, 4, 25.0, 96, 72)
    assert writer.done == 12
    with pytest.raises(ValueError, match="no piece ends at frame 6"):
        writer.restart_at(6)
    writer.restart_at(4)
    assert [(s, c) for s, c, _ in finished_pieces(work)] == [(0, 4)]
    for f in frames[4:]:
        writer.write(f)
    with pytest.raises(ValueError, match="before any frame"):
        writer.restart_at(0)
    writer.close()
    assert probe_video(tmp_path / "a.mp4").frame_count == 12
    with pytest.raises(ConfigError, match="at least one frame"):
        SegmentedVideoWriter(tmp_path / "b.mp4", work, 0, 25.0, 96, 72)


def _stopping(monkeypatch: pytest.MonkeyPatch, method: str, at: int, exc: BaseException) -> None:
    """MeshEngine.``method`` (paste_region, which both the RGB and the planes path call) raises ``exc`` on
    frame ``at``: the run stops there."""
    original = getattr(mesh_engine.MeshEngine, method)

    def stop(self, rgb, landmarks, i, warped, occlusion=None):  # type: ignore[no-untyped-def]
        if i == at:
            raise exc
        return original(self, rgb, landmarks, i, warped, occlusion=occlusion)

    monkeypatch.setattr(mesh_engine.MeshEngine, method, stop)


def _translate(clip: Path, out: Path, **options: object) -> TranslateResult:
    return wav2lip_emotion.translate(clip, out, "sad", progress=False, resume_every=0.25, **options)


def _stopped_run(monkeypatch: pytest.MonkeyPatch, clip: Path, out: Path, **options: object) -> None:
    """A run of ``_translate`` that a power cut stops at frame 15."""
    with monkeypatch.context() as m:
        _stopping(m, "paste_region", 15, RuntimeError("power cut"))
        with pytest.raises(RuntimeError, match="power cut"):
            _translate(clip, out, **options)


def test_a_run_killed_midway_goes_on_and_writes_the_same_video(clip: Path, tmp_path: Path) -> None:
    """SIGKILL (no clean-up at all) once two pieces are in place; the same command again finishes the
    video from there, as an uninterrupted run (the same frames; x264's own variation aside), with the
    same totals."""
    whole = _translate(clip, tmp_path / "whole.mp4")
    out = tmp_path / "cut.mp4"
    cmd = [sys.executable, "-m", "wav2lip_emotion", "translate", str(clip), "-o", str(out), "--to", "sad"]
    cmd += ["--resume-every", "0.25", "--quiet"]
    pieces = resume_folder(out) / "video"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(finished_pieces(pieces)) < 2:
            assert proc.poll() is None, "the run ended before it could be stopped"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    kept = finished_pieces(pieces)
    assert len(kept) >= 2

    again = _translate(clip, out)
    _same_picture(out, tmp_path / "whole.mp4")
    assert any(n.startswith("resumed an unfinished run: frames 0-") for n in again.notes)
    assert (again.damped_points, again.flipped_triangles, again.occluded_frames) == (
        whole.damped_points,
        whole.flipped_triangles,
        whole.occluded_frames,
    )
    assert not resume_folder(out).exists()  # removed once the output is in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "whole.mp4"]


def test_a_crash_resumes_both_outputs_and_other_settings_start_afresh(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = tmp_path / "side_whole.mp4"
    _translate(clip, tmp_path / "whole.mp4", side_by_side=side)

    out, out_side = tmp_path / "out.mp4", tmp_path / "side.mp4"
    _stopped_run(monkeypatch, clip, out, side_by_side=out_side)
    assert not out.exists() and not out_side.exists()
    assert resume_folder(out).is_dir()  # an unexpected stop keeps the work

    # another destination does not use it
    other = wav2lip_emotion.translate(clip, out, "happy", progress=False, resume_every=0.25)
    assert any("other settings" in n for n in other.notes) and not any("resumed" in n for n in other.notes)
    out.unlink()

    _stopped_run(monkeypatch, clip, out, side_by_side=out_side)
    result = _translate(clip, out, side_by_side=out_side)
    assert any(n.startswith("resumed") for n in result.notes)
    _same_picture(out, tmp_path / "whole.mp4")
    _same_picture(out_side, side)


def test_an_input_error_leaves_no_resume_folder_and_zero_keeps_none(tmp_path: Path) -> None:
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, 25.0, 96, 72) as writer:
        for _ in range(6):
            writer.write(np.full((72, 96, 3), 128, np.uint8))
    out = tmp_path / "out.mp4"
    with pytest.raises(TranslationError, match="no face was found"):
        _translate(blank, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.mp4"]
    with pytest.raises(ConfigError, match="resume_every"):
        TranslateConfig("sad", resume_every=-1)


def test_without_pieces_nothing_is_kept_while_it_runs(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    paste = mesh_engine.MeshEngine.paste_region

    def looking(self, rgb, landmarks, i, warped, occlusion=None):  # type: ignore[no-untyped-def]
        seen.append(resume_folder(tmp_path / "out.mp4").exists())
        return paste(self, rgb, landmarks, i, warped, occlusion=occlusion)

    monkeypatch.setattr(mesh_engine.MeshEngine, "paste_region", looking)
    wav2lip_emotion.translate(clip, tmp_path / "out.mp4", "sad", progress=False, resume_every=0)
    assert seen and not any(seen)


def test_the_planes_path_resumes_to_the_same_frames(
    small_face_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small face in a wide frame (the decoded planes kept and encoded as they are) stopped midway:
    the frames handed to the encoder are the uninterrupted run's, exactly; the file holds them."""
    written: dict[str, list[np.ndarray]] = {}
    write_planes = VideoWriter.write_planes
    run = ["whole"]

    def keep(self, planes):  # type: ignore[no-untyped-def]
        written.setdefault(run[0], []).append(np.array(planes))
        write_planes(self, planes)

    monkeypatch.setattr(VideoWriter, "write_planes", keep)
    _translate(small_face_clip, tmp_path / "whole.mp4")
    assert written["whole"]  # the planes path was taken
    out = tmp_path / "out.mp4"
    run[0] = "stopped"
    with monkeypatch.context() as m:
        _stopping(m, "paste_region", 13, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            _translate(small_face_clip, out)
    assert len(finished_pieces(resume_folder(out) / "video")) >= 1
    run[0] = "resumed"
    result = _translate(small_face_clip, out)
    assert any(n.startswith("resumed") for n in result.notes)
    whole, stopped, resumed = written["whole"], written["stopped"], written["resumed"]
    first = len(whole) - len(resumed)  # the first frame the resumed run edited
    for i, frame in enumerate(stopped[:first]):
        assert np.array_equal(frame, whole[i]), f"frame {i} of the stopped run differs from the whole run's"
    for i, frame in enumerate(resumed, start=first):
        diff = np.abs(frame.astype(int) - whole[i].astype(int))
        assert not diff.any(), f"frame {i}: {int((diff > 0).sum())} values differ, by up to {diff.max()}"
    _same_picture(out, tmp_path / "whole.mp4")


def test_ctrl_c_says_how_to_go_on(clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import wav2lip_emotion.translation as translation
    from wav2lip_emotion.cli import main

    out = tmp_path / "out.mp4"

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        resume_folder(out).mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(translation, "translate", interrupted)
    assert main(["translate", str(clip), "-o", str(out), "--to", "sad", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "run the same command again to go on" in err and "interrupted" in err


def test_a_run_on_a_face_track_file_resumes_and_a_new_file_starts_afresh(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wav2lip_emotion.cli import main

    track = tmp_path / "faces.json"
    assert main(["faces", str(clip), "--json", str(track), "--quiet"]) == 0
    _translate(clip, tmp_path / "whole.mp4", faces=track)
    out = tmp_path / "out.mp4"
    _stopped_run(monkeypatch, clip, out, faces=track)
    result = _translate(clip, out, faces=track)
    assert any(n.startswith("resumed") for n in result.notes)
    _same_picture(out, tmp_path / "whole.mp4")
    out.unlink()
    _stopped_run(monkeypatch, clip, out, faces=track)
    os.utime(track, ns=(time.time_ns(), time.time_ns() + 10**9))  # the file made again
    result = _translate(clip, out, faces=track)
    assert not any(n.startswith("resumed") for n in result.notes)
    assert any("other settings" in n for n in result.notes)
