"""Streaming video and image I/O (wav2lip_emotion.media) on tiny synthetic files made with PyAV."""

from __future__ import annotations

import inspect
import os
import wave
import weakref
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from wav2lip_emotion.audio import load_audio
from wav2lip_emotion.errors import ConfigError, MediaError
from wav2lip_emotion.media import (
    Frame,
    VideoReader,
    VideoWriter,
    is_image_path,
    iter_frames,
    probe_video,
    read_image,
    write_image,
)

# --------------------------------------------------------------------------- synthetic media


def smooth(i: int, h: int, w: int) -> np.ndarray:
    """Smooth moving colour gradients (easy for H.264, so round-trip errors stay small)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 90 * np.sin(x / 41 + i / 5)
    g = 128 + 90 * np.cos(y / 37 - i / 7)
    b = 128 + 60 * np.sin((x + y) / 59 + i / 3)
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


def flat(value: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.uint8)


def quadrants(h: int = 32, w: int = 64) -> np.ndarray:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)
    img[: h // 2, w // 2 :] = (0, 255, 0)
    img[h // 2 :, : w // 2] = (0, 0, 255)
    img[h // 2 :, w // 2 :] = (255, 255, 255)
    return img


def encode(
    path: Path,
    frames: list[np.ndarray],
    *,
    rate: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: float | None = None,
    metadata: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    audio: tuple[str, int, np.ndarray] | None = None,
    sample_aspect_ratio: Fraction | None = None,
) -> Path:
    """Write a video the plain PyAV way (independent of VideoWriter). audio: (codec, rate, samples)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        if metadata:
            stream.metadata.update(metadata)
        a_stream = None
        if audio is not None:
            a_codec, a_rate, _ = audio
            a_stream = out.add_stream(a_codec, rate=a_rate, layout="mono")
        for i, rgb in enumerate(frames):
            if pix_fmt == "gray":
                frame = av.VideoFrame.from_ndarray(rgb[..., 0].copy(), format="gray")
            else:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            if time_base is not None:
                frame.time_base = time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if a_stream is not None and audio is not None:
            a_codec, a_rate, samples = audio
            fmt = "u8" if a_codec == "pcm_u8" else "fltp"
            chunk = 1024
            for start in range(0, len(samples), chunk):
                block = samples[start : start + chunk]
                aframe = av.AudioFrame.from_ndarray(block[None], format=fmt, layout="mono")
                aframe.sample_rate, aframe.pts = a_rate, start
                out.mux(a_stream.encode(aframe))
            out.mux(a_stream.encode(None))
    return path


def tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t) * np.sin(2 * np.pi * 1.5 * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def audio_packets(path: Path) -> list[tuple[bytes, int | None]]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [(bytes(p), p.pts) for p in container.demux(stream) if p.size]


def stream_fmt(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.pix_fmt


# --------------------------------------------------------------------------- round trips


def test_write_read_round_trip(tmp_path):
    out = tmp_path / "rt.mp4"
    with VideoWriter(out, 25, 96, 64) as writer:
        for i in range(20):
            writer.write(smooth(i, 64, 96))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rt.mp4"]  # no temp file left
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count, info.rotation) == (96, 64, 20, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(0.8, abs=1e-3)
    assert info.codec == "h264" and not info.variable_frame_rate and not info.has_audio
    assert info.audio_codec is None and info.audio_sample_rate is None
    assert stream_fmt(out) == "yuv420p"

    frames = list(iter_frames(out))
    assert [f.index for f in frames] == list(range(20))
    assert [f.time for f in frames] == pytest.approx([i / 25 for i in range(20)])
    for f in frames:
        assert isinstance(f, Frame)
        assert f.rgb.shape == (64, 96, 3) and f.rgb.dtype == np.uint8 and f.rgb.flags.c_contiguous
        err = np.abs(f.rgb.astype(np.int16) - smooth(f.index, 64, 96)).mean()
        assert err < 2.0, (f.index, err)


def test_odd_size_round_trips_exactly_sized(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 30, 161, 121) as writer:
        for i in range(4):
            writer.write(smooth(i, 121, 161))
    assert writer.pix_fmt == "yuv444p" and stream_fmt(out) == "yuv444p"
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (161, 121, 4)
    frames = list(VideoReader(out))
    assert len(frames) == 4
    for f in frames:
        assert f.rgb.shape == (121, 161, 3) and f.rgb.flags.c_contiguous
        assert np.abs(f.rgb.astype(np.int16) - smooth(f.index, 121, 161)).mean() < 3.0  # 4:4:4 at crf 18


def test_max_frames_and_reader_context(tmp_path):
    src = encode(tmp_path / "v.mp4", [flat(10 * i) for i in range(12)])
    with VideoReader(src, max_frames=5) as reader:
        assert [f.index for f in reader] == [0, 1, 2, 3, 4]
    with VideoReader(src, fps=25, max_frames=3) as reader:
        assert len(list(reader)) == 3
    assert list(VideoReader(src, max_frames=0)) == []


# --------------------------------------------------------------------------- audio


def test_aac_audio_is_copied_bit_exact(tmp_path):
    src = encode(tmp_path / "src.mp4", [smooth(i, 48, 64) for i in range(25)], audio=("aac", 44_100, tone(44_100, 1.2)))
    info = probe_video(src)
    assert info.has_audio and info.audio_codec == "aac" and info.audio_sample_rate == 44_100
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 25, 64, 48, audio_from=src) as writer:
        assert writer.audio_mode == "copy"
        for f in iter_frames(src):
            writer.write(f.rgb)
    source, copied = audio_packets(src), audio_packets(out)
    assert len(copied) == len(source) > 40
    assert [p[0] for p in copied] == [p[0] for p in source]  # payload bytes identical
    assert [p[1] for p in copied] == [p[1] for p in source]  # same timestamps (same 1/44100 time base)
    a, b = load_audio(src), load_audio(out)
    assert len(a) == len(b) and np.array_equal(a, b)
    # audio (1.2 s) longer than the video (1.0 s) is kept, not trimmed
    assert len(b) == pytest.approx(1.2 * 16_000, abs=400)
    assert probe_video(out).frame_count == 25


def test_pcm_u8_audio_from_avi_is_transcoded_to_aac(tmp_path):
    rate = 8000
    pcm = np.clip(np.rint(128 + 200 * tone(rate, 1.0, hz=300)), 0, 255).astype(np.uint8)
    src = encode(
        tmp_path / "src.avi", [smooth(i, 48, 64) for i in range(25)], codec="mpeg4", audio=("pcm_u8", rate, pcm)
    )
    assert probe_video(src).audio_codec == "pcm_u8"
    out = tmp_path / "out.mp4"
    # ultrafast emits video packets at once: the AAC stream must exist before the header is written
    with VideoWriter(out, 25, 64, 48, audio_from=src, preset="ultrafast") as writer:
        assert writer.audio_mode == "aac"
        for i in range(25):
            writer.write(smooth(i, 48, 64))
    info = probe_video(out)
    assert info.audio_codec == "aac" and info.audio_sample_rate == rate
    a, b = load_audio(src), load_audio(out)
    assert abs(len(a) - len(b)) <= 16_000 / 25  # same duration within one video frame
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99


def test_audio_source_without_audio_is_an_error(tmp_path):
    silent = encode(tmp_path / "silent.mp4", [flat(0)] * 3)
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match=r"silent\.mp4: has no audio stream"):
        VideoWriter(out, 25, 64, 48, audio_from=silent)
    with pytest.raises(MediaError, match=r"nothere\.wav: no such audio file"):
        VideoWriter(out, 25, 64, 48, audio_from=tmp_path / "nothere.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.mp4"]


# --------------------------------------------------------------------------- frame rates


def test_constant_rate_resampling_30_to_25(tmp_path):
    src = encode(tmp_path / "v30.mp4", [flat(8 * i) for i in range(30)], rate=30)
    info = probe_video(src)
    assert info.fps == pytest.approx(30.0) and info.frame_count == 30 and not info.variable_frame_rate
    frames = list(VideoReader(src, fps=25.0))
    assert len(frames) == 25  # 1 s of video
    assert [f.time for f in frames] == pytest.approx([k / 25 for k in range(25)])
    shown = [round(float(f.rgb.mean()) / 8) for f in frames]
    # output frame k shows the source frame on display at k/25 s: index floor(k * 30 / 25)
    assert shown == [(k * 30) // 25 for k in range(25)]


def test_upsampling_repeats_frames_as_independent_arrays(tmp_path):
    src = encode(tmp_path / "v10.mp4", [flat(20 * i) for i in range(10)], rate=10)
    frames = list(iter_frames(src, fps=25))
    assert len(frames) == 25
    assert [round(float(f.rgb.mean()) / 20) for f in frames] == [(k * 10) // 25 for k in range(25)]
    frames[0].rgb[:] = 255  # frames 0..2 show the same source frame; they must not share memory
    assert frames[1].rgb.max() < 50


def test_variable_frame_rate(tmp_path):
    pts = [0, 40, 70, 140, 150, 200, 260, 300, 310, 400]  # milliseconds
    src = encode(tmp_path / "vfr.mp4", [flat(20 * i) for i in range(len(pts))], pts=pts, time_base=Fraction(1, 1000))
    info = probe_video(src)
    assert info.variable_frame_rate
    assert info.frame_count == len(pts)
    assert info.fps == pytest.approx(info.frame_count / info.duration)
    assert 0.4 < info.duration < 0.45 and 20 < info.fps < 26

    native = list(iter_frames(src))  # fps=None: every frame at its own time
    assert [f.time for f in native] == pytest.approx([p / 1000 for p in pts])
    assert [round(float(f.rgb.mean()) / 20) for f in native] == list(range(len(pts)))

    regular = list(iter_frames(src, fps=25))
    expected = [max(i for i, p in enumerate(pts) if p <= 40 * k) for k in range(11)]  # [0,1,2,2,4,5,5,6,8,8,9]
    assert len(regular) == 11  # 0.00 .. 0.40 s; the last frame is shown until about 0.41 s
    assert [f.time for f in regular] == pytest.approx([k / 25 for k in range(11)])
    assert [round(float(f.rgb.mean()) / 20) for f in regular] == expected


# --------------------------------------------------------------------------- rotation, greyscale


@pytest.mark.parametrize(
    ("ccw_degrees", "rotation", "turn"),
    [(-90, 90, lambda a: np.rot90(a, -1)), (90, 270, lambda a: np.rot90(a, 1)), (180, 180, lambda a: np.rot90(a, 2))],
)
def test_rotation_from_display_matrix(tmp_path, ccw_degrees, rotation, turn):
    img = quadrants(32, 64)
    src = encode(tmp_path / "rot.mp4", [img] * 3, pix_fmt="yuv444p", rotation=ccw_degrees)
    info = probe_video(src)
    assert info.rotation == rotation
    expected = turn(img)
    assert (info.height, info.width) == expected.shape[:2]
    frames = list(iter_frames(src))
    assert len(frames) == 3
    for f in frames:
        assert f.rgb.shape == expected.shape and f.rgb.flags.c_contiguous
        assert np.abs(f.rgb.astype(np.int16) - expected).mean() < 3


def test_fast_colour_frames_are_close_to_the_exact_ones_and_keep_rotation(tmp_path):
    # the tracker's reading: the same frames, times and orientation, within a grey level or two
    src = encode(tmp_path / "rot.mp4", [smooth(i, 48, 64) for i in range(4)], rotation=90)
    with VideoReader(src) as exact, VideoReader(src, fast_colour=True) as fast:
        pairs = list(zip(exact, fast, strict=True))
    assert len(pairs) == 4
    for a, b in pairs:
        assert (a.index, a.time, a.rgb.shape) == (b.index, b.time, b.rgb.shape) and b.rgb.flags.c_contiguous
        err = np.abs(a.rgb.astype(np.int16) - b.rgb)
        assert 0 < err.mean() < 2.5 and np.percentile(err, 99) <= 8


def test_rotation_from_legacy_rotate_tag(tmp_path):
    img = quadrants(32, 64)
    src = encode(tmp_path / "tag.mkv", [img] * 2, codec="ffv1", pix_fmt="yuv444p", metadata={"rotate": "90"})
    info = probe_video(src)
    assert (info.rotation, info.width, info.height) == (90, 32, 64)
    f = next(iter_frames(src))
    assert np.abs(f.rgb.astype(np.int16) - np.rot90(img, -1)).max() <= 2


@pytest.mark.parametrize(("name", "codec"), [("gray.mkv", "ffv1"), ("gray.avi", "rawvideo")])
def test_greyscale_video_reads_as_rgb(tmp_path, name, codec):
    g = (np.arange(48 * 64).reshape(48, 64) % 251).astype(np.uint8)
    src = encode(tmp_path / name, [np.repeat(g[..., None], 3, axis=2)] * 3, codec=codec, pix_fmt="gray")
    info = probe_video(src)
    assert (info.width, info.height, info.frame_count) == (64, 48, 3)  # Matroska: estimated from duration
    frames = list(iter_frames(src))
    assert len(frames) == 3
    for f in frames:
        assert f.rgb.shape == (48, 64, 3) and f.rgb.dtype == np.uint8
        assert (
            np.array_equal(f.rgb[..., 0], g) and np.array_equal(f.rgb[..., 1], g) and np.array_equal(f.rgb[..., 2], g)
        )


# --------------------------------------------------------------------------- bounded memory


def _rss() -> int | None:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def test_reader_streams_in_bounded_memory(tmp_path):
    h, w, n = 720, 1280, 60
    base = smooth(0, h, w)
    src = tmp_path / "long.mp4"
    with VideoWriter(src, 25, w, h, preset="ultrafast", crf=30) as writer:
        for i in range(n):
            writer.write(np.roll(base, 4 * i, axis=1))
    frame_bytes = h * w * 3

    reader = VideoReader(src)
    it = iter(reader)
    assert inspect.isgenerator(it)  # lazy: nothing is decoded before it is asked for
    it.close()

    # The reader keeps no reference to frames it has handed out: once the caller drops one it is gone.
    # Process memory (decoder buffers included, which tracemalloc cannot see) stays flat between frame 10
    # and frame 60, where keeping the frames in between would take about 138 MB.
    alive: list[weakref.ref] = []
    rss: dict[int, int | None] = {}
    for f in VideoReader(src):
        alive.append(weakref.ref(f.rgb))
        if f.index in (10, n - 1):
            rss[f.index] = _rss()
        del f
        assert sum(r() is not None for r in alive) == 0
    assert len(alive) == n
    if rss[10] is None or rss[n - 1] is None:
        pytest.skip("no /proc/self/statm to read the resident set size")
    assert rss[n - 1] - rss[10] < 10 * frame_bytes


# --------------------------------------------------------------------------- bad input


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MediaError, match=r"missing\.mp4: no such video file"):
        probe_video(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match=r"missing\.mp4: no such video file"):
        VideoReader(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match=r"missing\.mp4: no such video file"):
        iter_frames(tmp_path / "missing.mp4")  # raised at once, not at the first next()
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4: is empty"):
        probe_video(tmp_path / "empty.mp4")


def test_random_bytes_and_half_cut_mp4(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(MediaError, match=r"junk\.mp4: not a readable media file or corrupt"):
        probe_video(junk)
    # a plain MP4 has its index (moov) at the end: cut in half, it is not a usable file at all
    whole = encode(tmp_path / "whole.mp4", [smooth(i, 48, 64) for i in range(20)]).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaError, match=r"half\.mp4: not a readable media file or corrupt"):
        probe_video(half)


def test_truncated_stream_fails_midway_naming_the_frame(tmp_path):
    # VideoWriter puts the index first (faststart): a cut file opens, and breaks part-way
    rng = np.random.default_rng(1)
    full = tmp_path / "noise.mp4"
    with VideoWriter(full, 25, 64, 64, preset="ultrafast") as writer:
        for _ in range(30):
            writer.write(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    info = probe_video(cut)
    assert info.frame_count == 30  # the header still promises all frames
    seen: list[int] = []
    with pytest.raises(MediaError, match=r"cut\.mp4: video stream is corrupt or truncated at frame \d+") as err:
        for f in iter_frames(cut):
            seen.append(f.index)
    assert 0 < len(seen) < 30
    assert f"at frame {len(seen)}" in str(err.value)
    assert "\n" not in str(err.value)


def test_audio_only_files_have_no_video_stream(tmp_path):
    wav = write_wav(tmp_path / "speech.wav", tone(16_000, 0.5))
    with pytest.raises(MediaError, match=r"speech\.wav: has no video stream \(audio only\?\)"):
        probe_video(wav)
    m4a = tmp_path / "speech.m4a"
    with av.open(str(m4a), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=16_000, layout="mono")
        samples = tone(16_000, 0.5)
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16_000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(MediaError, match=r"speech\.m4a: has no video stream \(audio only\?\)"):
        VideoReader(m4a)


def test_zero_frame_video(tmp_path):
    path = tmp_path / "zero.avi"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()  # header with a video stream, then no frames at all
    with av.open(str(path)) as check:
        assert len(check.streams.video) == 1
    with pytest.raises(MediaError, match=r"zero\.avi: video stream has no frames"):
        probe_video(path)


# --------------------------------------------------------------------------- writer failure


def test_writer_leaves_nothing_when_the_block_fails(tmp_path):
    out = tmp_path / "result.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, 25, 64, 48) as writer:
        writer.write(smooth(0, 48, 64))
        writer.write(smooth(1, 48, 64))
        assert len(list(tmp_path.iterdir())) == 1  # only the hidden temporary file so far
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []

    # an existing file at the destination is left untouched
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError), VideoWriter(out, 25, 64, 48, audio_from=None) as writer:
        writer.write(smooth(0, 48, 64))
        raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.mp4"]


def test_writer_rejects_bad_frames_and_empty_output(tmp_path):
    out = tmp_path / "result.mp4"
    with pytest.raises(ValueError, match="48x64x3 uint8"), VideoWriter(out, 25, 64, 48) as writer:
        writer.write(np.zeros((48, 64, 3), dtype=np.float32))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match=r"result\.mp4: no frames were written"), VideoWriter(out, 25, 64, 48):
        pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MediaError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "dir" / "x.mp4", 25, 64, 48)


def interlaced_frames(n: int, h: int = 96, w: int = 128) -> list[np.ndarray]:
    """What a field-based camera records of a white bar moving right: the even rows (top field) at
    time k, the odd rows (bottom field) half a frame later, 6 px further on, so each frame is combed."""
    frames = []
    for k in range(n):
        rgb = np.full((h, w, 3), 30, np.uint8)
        for rows, x in ((slice(0, None, 2), 12 * k), (slice(1, None, 2), 12 * k + 6)):
            rgb[rows, 10 + x : 34 + x] = 230
        frames.append(rgb)
    return frames


def combing(rgb: np.ndarray) -> float:
    """Mean distance of each odd row from the mean of the rows above and below it (grey levels)."""
    g = rgb[..., 1].astype(np.float64)
    return float(np.abs(g[1:-1:2] - (g[0:-2:2] + g[2::2]) / 2).mean())


def test_interlaced_video_is_deinterlaced_frame_for_frame(tmp_path):
    """An interlaced H.264 file (fields half a frame apart): the reader deinterlaces it (bwdif), one
    frame per frame at the same times, and the combing is gone; ``deinterlace=False`` gives the frames
    as decoded, and a progressive file is read as it was."""
    path = encode(tmp_path / "i.mp4", interlaced_frames(8), options={"x264-params": "interlaced=1:tff=1", "crf": "10"})
    reader = VideoReader(path)
    frames = list(reader)
    raw = list(VideoReader(path, deinterlace=False))
    assert reader.deinterlaced == 8 and len(frames) == len(raw) == 8
    assert [f.time for f in frames] == pytest.approx([k / 25 for k in range(8)])
    assert min(combing(f.rgb) for f in raw) > 15.0  # as recorded (18.8)
    assert max(combing(f.rgb) for f in frames) < 0.1 * min(combing(f.rgb) for f in raw)
    progressive = encode(tmp_path / "p.mp4", [smooth(i, 48, 64) for i in range(6)])
    plain = VideoReader(progressive)
    assert all(
        np.array_equal(a.rgb, b.rgb) for a, b in zip(plain, VideoReader(progressive, deinterlace=False), strict=True)
    )
    assert plain.deinterlaced == 0


def test_bad_dead_zones_are_refused_before_anything_is_written(tmp_path):
    for bad in [(6,), (40, 4), (-1, 4)]:
        with pytest.raises(ConfigError, match="deadzones must be two integers"):
            VideoWriter(tmp_path / "bad.mp4", 25, 128, 96, deadzones=bad)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- images


def test_image_round_trip_and_conversions(tmp_path):
    rgb = smooth(3, 40, 50)
    assert write_image(tmp_path / "a.png", rgb) == tmp_path / "a.png"
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.flags.c_contiguous and np.array_equal(back, rgb)
    write_image(tmp_path / "a.jpg", rgb)
    assert np.abs(read_image(tmp_path / "a.jpg").astype(np.int16) - rgb).mean() < 3

    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    grey = read_image(tmp_path / "grey.png")
    assert (
        grey.shape == (40, 50, 3)
        and np.array_equal(grey[..., 0], rgb[..., 0])
        and np.array_equal(grey[..., 2], rgb[..., 0])
    )
    rgba = np.dstack([rgb, np.full((40, 50), 7, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    assert np.array_equal(read_image(tmp_path / "alpha.png"), rgb)
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png").shape == (40, 50, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_image_exif_orientation_is_applied(tmp_path):
    img = quadrants(32, 64)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(tmp_path / "phone.jpg", exif=exif, quality=98)
    shown = read_image(tmp_path / "phone.jpg")
    assert shown.shape == (64, 32, 3)
    assert np.abs(shown.astype(np.int16) - np.rot90(img, -1)).mean() < 6


def test_bad_images_and_suffixes(tmp_path):
    with pytest.raises(MediaError, match=r"nope\.png: no such image file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(MediaError, match=r"bad\.png: not an image"):
        read_image(tmp_path / "bad.png")
    write_image(tmp_path / "ok.png", smooth(0, 64, 64))
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"cut\.png: image is corrupt or truncated"):
        read_image(tmp_path / "cut.png")
    with pytest.raises(MediaError, match=r"x\.gif: unknown image suffix"):
        write_image(tmp_path / "x.gif", smooth(0, 8, 8))
    assert is_image_path("a/B.JPG") and is_image_path("c.tiff") and is_image_path(Path("d.webp"))
    assert not is_image_path("clip.mp4") and not is_image_path("noext")


def test_single_threaded_codecs_give_the_same_frames(tmp_path):
    """threads=1 (used by translate on CPU, so no codec thread competes with the generator) changes
    where the work runs, not the result."""
    frames = [smooth(i, 48, 64) for i in range(12)]
    outs = []
    for threads in (None, 1):
        path = tmp_path / f"t{threads}.mp4"
        with VideoWriter(path, 25, 64, 48, threads=threads) as writer:
            for rgb in frames:
                writer.write(rgb)
        with VideoReader(path, threads=threads) as reader:
            outs.append(np.stack([f.rgb for f in reader]))
    assert outs[0].shape == outs[1].shape == (12, 48, 64, 3)
    # x264 with frame threads searches and looks ahead differently (its output may differ by a few
    # levels where a frame's encoding decision changes): both are as close to the source as the other
    source = np.stack(frames).astype(int)
    errors = [np.abs(out - source) for out in outs]
    assert all(e.mean() < 1.5 for e in errors)
    assert abs(errors[0].mean() - errors[1].mean()) < 0.3
    with VideoReader(tmp_path / "tNone.mp4", threads=1) as a, VideoReader(tmp_path / "tNone.mp4") as b:
        assert all(np.array_equal(x.rgb, y.rgb) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- decoded planes kept (media/planes.py)


def _colour_tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return int(ctx.colorspace), int(ctx.color_primaries), int(ctx.color_trc), int(ctx.color_range)


def test_kept_planes_are_the_decoded_ones_and_are_encoded_as_they_are(tmp_path):
    from wav2lip_emotion.media.planes import Colour, split_planes

    src = encode(tmp_path / "in.mp4", [smooth(i, 48, 64) for i in range(4)], options={"crf": "23"})
    info = probe_video(src)
    assert info.colour == Colour(2, 2, 2, 0)  # PyAV writes no colour description: all unspecified
    with VideoReader(src, keep_planes=True) as reader:
        frames = list(reader)
        out = tmp_path / "out.mp4"
        with VideoWriter(out, 25, 64, 48, crf=0, colour=reader.colour) as writer:  # crf 0: lossless
            for f in frames:
                writer.write_planes(f.planes)
    assert reader.colour == info.colour
    for f in frames:
        assert f.planes is not None and f.planes.shape == (72, 64) and f.planes.dtype == np.uint8
        y, u, v = split_planes(f.planes)
        assert y.shape == (48, 64) and u.shape == v.shape == (24, 32)
        # the planes are the picture the RGB frame was converted from (BT.601 for an unspecified matrix)
        luma = f.rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) * 219 / 255 + 16
        assert np.abs(luma - y).mean() < 1.0
    with VideoReader(out, keep_planes=True) as again:
        assert all(np.array_equal(a.planes, b.planes) for a, b in zip(frames, again, strict=True))
    assert _colour_tags(out) == (2, 2, 2, 0)  # the input's own description, so players show both alike


def test_only_the_changed_pixels_are_written_back_into_the_planes():
    from wav2lip_emotion.media.planes import BT709, paste_rgb, rgb_to_planes, split_planes

    rng = np.random.default_rng(3)
    picture = smooth(2, 40, 60)
    planes = rgb_to_planes(picture, BT709)
    before = picture[5:35, 7:49].copy()  # an odd box (x0 = 7, y0 = 5, x1 = 49, y1 = 35)
    after = before.copy()
    after[10:20, 11:25] = (30, 200, 90)  # frame pixels x 18-31, y 15-24
    after[0, 0] = rng.integers(0, 255, 3)  # a lone pixel at the box's odd corner (x 7, y 5)
    edited = planes.copy()
    assert paste_rgb(edited, (7, 5, 49, 35), before, after, BT709) == 141
    (y0, u0, v0), (y1, u1, v1) = split_planes(planes), split_planes(edited)
    changed = np.zeros((40, 60), bool)
    changed[15:25, 18:32] = True
    changed[5, 7] = True
    assert np.array_equal(y0[~changed], y1[~changed])  # every other luma sample as it was
    blocks = changed.reshape(20, 2, 30, 2).any(axis=(1, 3))
    assert np.array_equal(u0[~blocks], u1[~blocks]) and np.array_equal(v0[~blocks], v1[~blocks])
    assert not np.array_equal(y0[changed], y1[changed])
    # inside the patch the planes now hold its colour
    expected = split_planes(rgb_to_planes(np.full((10, 14, 3), (30, 200, 90), np.uint8), BT709))
    assert np.abs(y1[16:24, 19:31].astype(int) - expected[0][0, 0]).max() <= 1
    assert np.abs(u1[8:12, 10:15].astype(int) - expected[1][0, 0]).max() <= 1
    # nothing changed: nothing written
    assert paste_rgb(edited, (7, 5, 49, 35), before, before.copy(), BT709) == 0


def test_planes_are_kept_only_for_8_bit_420_limited_range_shown_as_stored(tmp_path):
    frames = [smooth(i, 32, 48) for i in range(2)]
    cases = {
        "rotated": encode(tmp_path / "rot.mp4", frames, rotation=-90),
        "444": encode(tmp_path / "444.mp4", frames, pix_fmt="yuv444p"),
        "full range": encode(tmp_path / "full.mp4", frames, pix_fmt="yuvj420p"),
    }
    for name, path in cases.items():
        with VideoReader(path, keep_planes=True) as reader:
            got = list(reader)
        assert reader.colour is None and all(f.planes is None for f in got), name
        assert len(got) == 2 and got[0].rgb.dtype == np.uint8
    with VideoReader(encode(tmp_path / "plain.mp4", frames)) as reader:  # not asked for
        assert reader.colour is None and all(f.planes is None for f in reader)


def test_writer_refuses_planes_of_the_wrong_shape_or_an_odd_size(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", 25, 64, 48) as writer:
        with pytest.raises(ValueError, match="72x64 uint8 4:2:0 planes"):
            writer.write_planes(np.zeros((48, 64), np.uint8))
        writer.write_planes(np.full((72, 64), 128, np.uint8))
    with VideoWriter(tmp_path / "b.mp4", 25, 63, 48) as odd:
        with pytest.raises(ValueError, match="even-sized"):
            odd.write_planes(np.zeros((72, 63), np.uint8))
        odd.write(np.zeros((48, 63, 3), np.uint8))


def test_part_of_the_planes_converts_to_the_readers_rgb_within_a_level(tmp_path):
    """planes_to_rgb of a part (odd corners included) and of the whole frame agrees with the reader's
    exact conversion of the whole frame, for BT.601 (unspecified) and BT.709 streams; planes_only
    frames come unconverted."""
    from wav2lip_emotion.media.planes import planes_to_rgb

    frames = [smooth(i, 48, 64) for i in range(3)]
    frames[1][10:30, 20:44] = (250, 20, 40)  # a saturated block: sharp colour edges
    paths = [encode(tmp_path / "601.mp4", frames, options={"crf": "18"}), tmp_path / "709.mp4"]
    with VideoWriter(paths[1], 25, 64, 48, crf=18) as writer:  # tagged BT.709
        for rgb in frames:
            writer.write(rgb)
    for path in paths:
        with (
            VideoReader(path, keep_planes=True) as reader,
            VideoReader(path, keep_planes=True, planes_only=True) as bare,
        ):
            pairs = list(zip(reader, bare, strict=True))
        assert reader.colour is not None and reader.colour.matrix == ("itu709" if path == paths[1] else "itu601")
        for full, planes_only in pairs:
            assert planes_only.rgb.shape == (0, 0, 3) and np.array_equal(planes_only.planes, full.planes)
            for box in ((0, 0, 64, 48), (7, 5, 41, 33), (1, 1, 2, 2)):
                x0, y0, x1, y1 = box
                part = planes_to_rgb(full.planes, box, reader.colour)
                err = np.abs(part.astype(int) - full.rgb[y0:y1, x0:x1])
                assert part.shape == (y1 - y0, x1 - x0, 3) and err.max() <= 1 and err.mean() < 0.05, (path, box)
