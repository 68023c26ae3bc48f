"""The mesh engine's inputs and outputs: anamorphic pixels, a variable frame rate, files cut short and
photos with an alpha channel (small clips made with PyAV from the first frames of single_face.mp4), and
the encoder settings that keep a real face's fine texture."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli import main
from wav2lip_emotion.evaluation.realism import face_region
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video, read_image_alpha, write_image
from wav2lip_emotion.translation import TranslateConfig, TranslateResult

from .test_video import encode, tone, write_wav

FRAMES = 8


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    """The first frames of single_face.mp4 (640x360, a real face)."""
    with VideoReader(asset_path("single_face"), max_frames=FRAMES) as reader:
        return [f.rgb for f in reader]


def translate(src: Path, out: Path) -> TranslateResult:
    return wav2lip_emotion.translate(src, out, "happy", occluders=False, progress=False)


def ended_early(result: TranslateResult) -> bool:
    return any("ended early" in note for note in result.notes)


def test_anamorphic_pixels_keep_their_aspect(tmp_path, faces):
    squeezed = [np.asarray(Image.fromarray(f).resize((480, 360), Image.Resampling.LANCZOS)) for f in faces]
    src = encode(tmp_path / "anamorphic.mp4", squeezed, sample_aspect_ratio=Fraction(4, 3))
    assert probe_video(src).sample_aspect_ratio == Fraction(4, 3)
    out, side = tmp_path / "happy.mp4", tmp_path / "side.mp4"
    result = wav2lip_emotion.translate(src, out, "happy", occluders=False, progress=False, side_by_side=side)
    assert result.faces == FRAMES and not result.notes
    for video in (out, side):
        assert probe_video(video).sample_aspect_ratio == Fraction(4, 3)
        with av.open(str(video)) as container:  # tagged in the MP4 as well as in the H.264 stream
            assert container.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    assert (probe_video(out).width, probe_video(side).width) == (480, 960)


def test_variable_frame_rate_keeps_frames_and_duration_with_a_note(tmp_path, faces):
    pts = [0, 40, 70, 140, 150, 200, 260, 300]  # milliseconds
    src = encode(tmp_path / "vfr.mp4", faces, pts=pts, time_base=Fraction(1, 1000))
    source = probe_video(src)
    assert source.variable_frame_rate
    out = tmp_path / "happy.mp4"
    result = translate(src, out)
    info = probe_video(out)
    assert info.frame_count == result.frames == FRAMES and not info.variable_frame_rate
    assert info.fps == pytest.approx(source.fps, rel=1e-3)
    assert abs(info.duration - source.duration) <= 1 / source.fps
    assert "note: variable frame rate input: its 8 frames are written at their average rate" in result.describe()
    assert not ended_early(result)


def _cut(path: Path, keep: int) -> Path:
    """``path``'s first ``keep`` bytes, in cut.SUFFIX beside it."""
    cut = path.with_name(f"cut{path.suffix}")
    cut.write_bytes(path.read_bytes()[:keep])
    return cut


def _packet(path: Path, kind: str, index: int) -> tuple[int, int]:
    """(byte position, size) of the ``index``-th packet of ``path``'s first ``kind`` stream."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(**{kind: 0}) if p.size]
        return packets[index].pos, packets[index].size


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_file_cut_short_is_translated_as_far_as_it_decodes_with_a_note(tmp_path, faces, capsys, suffix):
    """An MP4 written with its index first, cut in the middle of an audio packet, ends in a damaged packet;
    a Matroska file simply stops short of the length its header gives. Both come out with the frames
    that decode and the audio that does, and the command says so."""
    speech = tone(16_000, FRAMES / 25)
    if suffix == ".mp4":
        wav = write_wav(tmp_path / "speech.wav", speech)
        with VideoWriter(tmp_path / "whole.mp4", 25, 640, 360, preset="ultrafast", audio_from=wav) as writer:
            for rgb in faces:
                writer.write(rgb)
        whole = writer.path
        wav.unlink()
        pos, size = _packet(whole, "audio", 3)
        cut = _cut(whole, pos + size // 2)
    else:
        whole = encode(tmp_path / "whole.mkv", faces, audio=("aac", 16_000, speech))
        cut = _cut(whole, whole.stat().st_size * 6 // 10)
    out = tmp_path / "happy.mp4"
    assert main(["translate", str(cut), "-o", str(out), "--to", "happy", "--no-occluders", "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"note: {cut} ended early (" in printed
    frames = probe_video(out).frame_count
    assert 0 < frames < FRAMES
    assert f"the output has the {frames} frames that decode" in printed
    with av.open(str(out)) as container:  # decodes to the end: a damaged last audio packet was left out
        audio_frames = sum(1 for _ in container.decode(audio=0))
    assert audio_frames > 0 or suffix == ".mkv"  # the mkv's audio was muxed after its video: all cut away
    assert not ended_early(translate(whole, tmp_path / "whole_happy.mp4"))


@pytest.mark.parametrize("faststart", [True, False])
def test_a_file_without_a_frame_that_decodes_is_a_one_line_error(tmp_path, faces, capsys, faststart):
    if faststart:  # the index first: cut inside the first frame's packet
        with VideoWriter(tmp_path / "whole.mp4", 25, 640, 360, preset="ultrafast") as writer:
            for rgb in faces[:3]:
                writer.write(rgb)
        cut = _cut(writer.path, _packet(writer.path, "video", 0)[0] + 10)
    else:  # the index last (a plain MP4): cut in half, it has none
        whole = encode(tmp_path / "whole.mp4", faces[:3])
        cut = _cut(whole, whole.stat().st_size // 2)
    out = tmp_path / "happy.mp4"
    assert main(["translate", str(cut), "-o", str(out), "--to", "happy", "--no-occluders", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(cut) in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "whole.mp4"]


def test_a_png_keeps_its_alpha_channel(tmp_path, faces, capsys):
    rgb = faces[0]
    h, w = rgb.shape[:2]
    alpha = np.broadcast_to(np.linspace(0, 255, w).astype(np.uint8), (h, w)).copy()
    alpha[:40, :40] = 0
    photo = write_image(tmp_path / "photo.png", rgb, alpha=alpha)
    assert Image.open(photo).mode == "RGBA"
    out = tmp_path / "out.png"
    assert main(["translate", str(photo), "-o", str(out), "--to", "happy", "--no-occluders", "-q"]) == 0
    assert "note: the alpha channel is the input's" in capsys.readouterr().out
    with Image.open(out) as img:
        assert img.mode == "RGBA"
    edited, kept = read_image_alpha(out)
    assert kept is not None and np.array_equal(kept, alpha)
    assert np.abs(edited.astype(int) - rgb).max() > 20  # the face was edited
    assert read_image_alpha(tmp_path / "photo.png")[1] is not None
    write_image(tmp_path / "opaque.png", rgb)
    assert read_image_alpha(tmp_path / "opaque.png")[1] is None


def test_interlaced_and_hdr_inputs_are_translated_with_a_note(tmp_path, faces):
    """An interlaced file is deinterlaced before tracking and written progressive; an HDR one (PQ
    transfer, 10 bits) is translated, with a note that its colours are not tone mapped."""
    for name, options, pix_fmt, transfer, says in [
        ("interlaced.mp4", {"x264-params": "interlaced=1:tff=1"}, "yuv420p", None, "interlaced input: 8 of its 8"),
        ("hdr.mp4", {}, "yuv420p10le", 16, "HDR input (PQ)"),
    ]:
        src = tmp_path / name
        with av.open(str(src), "w") as container:
            stream = container.add_stream("libx264", rate=30, options=options)
            stream.width, stream.height, stream.pix_fmt = faces[0].shape[1], faces[0].shape[0], pix_fmt
            if transfer is not None:
                stream.codec_context.color_trc = transfer
            for rgb in faces:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode())
        assert (probe_video(src).hdr is not None) == (transfer is not None)
        result = translate(src, tmp_path / f"out_{name}")
        assert result.frames == FRAMES and result.faces == FRAMES
        assert sum(says in note for note in result.notes) == 1, result.notes
        with VideoReader(tmp_path / f"out_{name}") as reader:
            assert sum(1 for _ in reader) == FRAMES and reader.deinterlaced == 0  # written progressive
        # the same notes when the faces come from a file (the edit pass reads the input then)
        track = tmp_path / f"{name}.json"
        assert main(["faces", str(src), "--json", str(track), "-q"]) == 0
        again = wav2lip_emotion.translate(
            src, tmp_path / f"again_{name}", "happy", occluders=False, progress=False, faces=track
        )
        assert sum(says in note for note in again.notes) == 1, again.notes


def test_a_face_track_file_replaces_the_tracking_pass(tmp_path, faces, monkeypatch, capsys):
    """`faces VIDEO --json F` once, then `translate VIDEO --faces F` for each emotion: the mesh engine
    reads the faces (468 points with depth) instead of tracking them, and gives the tracked run's
    result; a file made from another video, or by the old 2D `faces --json`, is a one-line error and
    nothing is written."""
    import json

    def clip(name: str, frames: list[np.ndarray]) -> Path:
        path = tmp_path / name
        with VideoWriter(path, 30, frames[0].shape[1], frames[0].shape[0], crf=12) as writer:
            for rgb in frames:
                writer.write(rgb)
        return path

    src = clip("src.mp4", faces)
    track = tmp_path / "faces.json"
    assert main(["faces", str(src), "--json", str(track), "-q"]) == 0
    capsys.readouterr()
    tracked = translate(src, tmp_path / "tracked.mp4")

    def no_tracking(*args, **kwargs):
        raise AssertionError("the tracker ran")

    monkeypatch.setattr(FaceTracker, "update", no_tracking)
    out = tmp_path / "from_file.mp4"
    result = wav2lip_emotion.translate(src, out, "happy", occluders=False, progress=False, faces=track)
    assert result.frames == result.faces == FRAMES
    assert any("not tracked" in note for note in result.notes)
    with VideoReader(out) as a, VideoReader(tmp_path / "tracked.mp4") as b:
        diffs = [np.abs(x.rgb.astype(np.int16) - y.rgb).mean() for x, y in zip(a, b, strict=True)]
    assert tracked.frames == FRAMES and max(diffs) < 1.0  # the file's landmarks are rounded to 0.01 px

    for name, frames, says in [
        ("longer.mp4", faces + faces[:2], "covers 8 frames, .* has more"),
        ("shorter.mp4", faces[:6], "covers 8 frames, .* has 6"),
    ]:
        bad = tmp_path / f"out_{name}"
        args = ["translate", str(clip(name, frames)), "-o", str(bad), "--to", "sad", "--faces", str(track), "-q"]
        assert main(args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(says, err[0]) and "made from this video" in err[0], err
        assert not bad.exists()
    flat = json.loads(track.read_text())
    for record in flat["frames"]:
        record["landmarks"] = [point[:2] for point in record["landmarks"]]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(flat))
    bad = tmp_path / "out_old.mp4"
    assert main(["translate", str(src), "-o", str(bad), "--to", "sad", "--faces", str(old), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "468x2" in err[0] and "468x3" in err[0], err
    assert not bad.exists()


def test_the_mesh_engines_encoder_keeps_the_faces_fine_texture(tmp_path):
    """movie-hello's first 40 frames re-encoded unchanged: x264's own dead zones at crf 12 (the mesh
    engine's settings until 2026-12-05) rounded away part of the face's finest texture, so every edit
    lost sharpness before it was made; the engine's crf 14 with small dead zones keeps it, at about
    the same fidelity (PSNR)."""
    with VideoReader(asset_path("movie_hello"), max_frames=40) as reader:
        frames = [f.rgb for f in reader]
    height, width = frames[0].shape[:2]
    x0, y0, x1, y1 = face_region(FaceTracker().update(frames[0], 0.0).box, frames[0].shape)

    def detail(rgb: np.ndarray) -> float:
        grey = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(cv2.Laplacian(grey, cv2.CV_32F).var())

    def encoded(crf: int, deadzones: tuple[int, int] | None) -> tuple[float, float]:
        out = tmp_path / f"crf{crf}.mp4"
        with VideoWriter(out, 25, width, height, crf=crf, deadzones=deadzones) as writer:
            for f in frames:
                writer.write(f)
        with VideoReader(out) as reader:
            got = [f.rgb for f in reader]
        sharpness = np.mean([detail(b) / detail(a) for a, b in zip(frames, got, strict=True)])
        mse = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(frames, got, strict=True)])
        return float(sharpness), float(10 * np.log10(255**2 / mse))

    config = TranslateConfig("happy")
    engine = encoded(config.crf_for("mesh"), config.deadzones_for("mesh"))
    before = encoded(12, None)
    assert config.deadzones_for("model") is None
    assert engine[0] > 0.98 and engine[0] > before[0] + 0.02, (engine, before)
    assert engine[1] > before[1] - 0.5, (engine, before)


def test_the_mesh_engine_never_imports_torch(tmp_path, faces):
    """The command line's mesh-engine run of a photo and of a short clip, in a fresh interpreter: torch
    (about 1.5 s and 300 MB to import) is the learned engine's alone."""
    photo = write_image(tmp_path / "photo.png", faces[0])
    clip = encode(tmp_path / "clip.mp4", faces[:4])
    code = (
        "import sys\n"
        "from wav2lip_emotion.cli import main\n"
        f"assert main(['translate', {str(photo)!r}, '-o', {str(tmp_path / 'out.png')!r}, '--to', 'sad', '-q']) == 0\n"
        f"assert main(['translate', {str(clip)!r}, '-o', {str(tmp_path / 'out.mp4')!r}, '--to', 'sad', '-q']) == 0\n"
        "sys.exit(3 if 'torch' in sys.modules else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out.png").is_file() and probe_video(tmp_path / "out.mp4").frame_count == 4
