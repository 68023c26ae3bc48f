"""Streaming video input and output with PyAV (no ffmpeg subprocess, no frame lists in memory).

* :func:`probe_video` reads the facts a pipeline needs (display size, frame rate, rotation, audio) and
  checks that the first frame decodes.
* :class:`VideoReader` decodes lazily, one frame at a time, optionally resampled to a constant rate.
* :class:`VideoWriter` encodes H.264 into an MP4 written under a temporary name and renamed into place
  only when it is complete, optionally muxing the audio of another file (copied bit-exact when MP4 can
  hold its codec, otherwise transcoded to AAC).

Every failure of a media file raises :class:`~wav2lip_emotion.errors.MediaError` with a one-line message
that starts with the file's path. See ``docs/media.md``.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import new_file_mode
from ..errors import ConfigError, MediaError

# codecs copied packet for packet into the MP4 output; anything else is transcoded to AAC
MP4_AUDIO_COPY_CODECS = frozenset({"aac", "mp3", "alac", "opus", "flac", "ac3", "eac3"})
_AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AAC_LAYOUTS = frozenset({"mono", "stereo", "3.0", "4.0", "5.0", "5.1", "5.0(side)", "5.1(side)", "7.1"})
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

_TIMESTAMP_SAMPLE = 240  # packets demuxed to judge a variable frame rate when the container has no full index
_MAX_INDEX_ENTRIES = 200_000  # full-index timestamps looked at (MP4/MOV keep one entry per frame)
_EPS = 1e-6  # seconds; absorbs float error when an output tick falls exactly on a source timestamp
_MAX_DECODE_THREADS = 8  # frame threading keeps about one decoded frame per thread: keep it bounded


# --------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video file.

    ``width``/``height`` are the *display* size (rotation metadata applied, so a portrait phone video
    stored as 1920x1080 with a 90 degree rotation reports 1080x1920). ``fps`` is the average frame rate.
    ``frame_count`` is exact when the container records the number of frames (MP4/MOV, AVI) and
    estimated as ``round(duration * fps)`` otherwise (Matroska/WebM, MPEG-TS, ...); the reader may
    then yield a few frames more or fewer. ``rotation`` is the clockwise angle (0, 90, 180 or 270) the
    stored frames are turned by for display; readers return frames already turned.
    """

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    rotation: int
    variable_frame_rate: bool
    codec: str
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None


@dataclass(frozen=True)
class _Orientation:
    """How to turn a stored frame for display: clockwise quarter turns, then optional mirroring."""

    rotation: int = 0  # clockwise degrees
    hflip: bool = False
    vflip: bool = False

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        out = rgb
        if self.rotation:
            out = np.rot90(out, k=-(self.rotation // 90))  # np.rot90 turns counter-clockwise for k > 0
        if self.hflip:
            out = out[:, ::-1]
        if self.vflip:
            out = out[::-1]
        return out


def probe_video(path: str | Path) -> VideoInfo:
    """Facts about the first video stream of ``path``; its first frame is decoded to check it.

    Raises :class:`MediaError` naming the file when it is missing, not a media file or corrupt, has no
    video stream (the message says "has no video stream (audio only?)" when it holds audio) or a video
    stream without frames.
    """
    return _probe(Path(path))[0]


def _probe(path: Path) -> tuple[VideoInfo, _Orientation]:
    import av

    container = _open_input(path, "video")
    with container:
        stream = _first_video_stream(container, path)
        audio = container.streams.audio[0] if container.streams.audio else None
        tb = stream.time_base or Fraction(1, 1_000_000)

        first, sample_pts = _first_frame_and_timestamps(container, stream, path)
        orientation = _orientation(first, stream)

        index = stream.index_entries
        timestamps: list[int] = []
        if stream.frames > 1 and len(index) >= stream.frames:  # full per-frame index (MP4/MOV)
            timestamps = [e.timestamp for e in index[:_MAX_INDEX_ENTRIES] if not e.is_discard]
        if len(timestamps) < 3:
            timestamps = sample_pts
        vfr, sample_rate = _judge_timestamps(timestamps, tb)

        stream_duration = float(stream.duration * tb) if stream.duration else 0.0
        if stream_duration <= 0 and container.duration:
            stream_duration = container.duration / av.time_base
        exact_count = stream.frames > 0

        fps = 0.0
        if vfr and exact_count and stream_duration > 0:
            fps = stream.frames / stream_duration
        elif vfr and sample_rate:
            fps = sample_rate
        for candidate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if not _plausible_fps(fps) and candidate:
                fps = float(candidate)
        if not _plausible_fps(fps) and sample_rate:
            fps = sample_rate
        if not _plausible_fps(fps) and exact_count and stream_duration > 0:
            fps = stream.frames / stream_duration
        if not _plausible_fps(fps):
            fps = 25.0  # a single still frame and nothing else to go by

        frame_count = stream.frames if exact_count else max(1, round(stream_duration * fps))
        duration = stream_duration if stream_duration > 0 else frame_count / fps

        width, height = first.width, first.height
        if orientation.rotation in (90, 270):
            width, height = height, width
        info = VideoInfo(
            path=path,
            width=width,
            height=height,
            fps=fps,
            frame_count=frame_count,
            duration=duration,
            rotation=orientation.rotation,
            variable_frame_rate=vfr,
            codec=stream.codec_context.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_sample_rate=(audio.codec_context.sample_rate or None) if audio is not None else None,
        )
    return info, orientation


def _open_input(path: Path, kind: str) -> Any:
    import av

    if not path.exists():
        raise MediaError(f"{path}: no such {kind} file")
    if not path.is_file():
        raise MediaError(f"{path}: is not a file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: is empty (0 bytes)")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: not a readable media file or corrupt ({_describe(exc)})") from None


def _first_video_stream(container: Any, path: Path) -> Any:
    if container.streams.video:
        return container.streams.video[0]
    if container.streams.audio:
        raise MediaError(f"{path}: has no video stream (audio only?)")
    raise MediaError(f"{path}: has no video stream")


def _first_frame_and_timestamps(container: Any, stream: Any, path: Path) -> tuple[Any, list[int]]:
    """Decode the first frame while collecting the pts of up to ``_TIMESTAMP_SAMPLE`` packets."""
    import av

    first = None
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size:
                pts.append(packet.pts)
            if first is None:
                frames = stream.decode(packet)  # the empty packet at the end flushes the decoder
                if frames:
                    first = frames[0]
            if first is not None and len(pts) >= _TIMESTAMP_SAMPLE:
                break
    except av.error.FFmpegError as exc:
        if first is None:
            reason = _describe(exc)
            raise MediaError(f"{path}: video stream is corrupt, its first frame cannot be decoded ({reason})") from None
    if first is None:
        raise MediaError(f"{path}: video stream has no frames")
    return first, pts


def _orientation(first: Any, stream: Any) -> _Orientation:
    """Rotation and mirroring from the display matrix (frame side data), else a legacy 'rotate' tag."""
    from av.sidedata.sidedata import Type

    matrix = None
    for side in first.side_data:
        if side.type == Type.DISPLAYMATRIX and len(bytes(side)) >= 36:
            matrix = np.frombuffer(bytes(side)[:36], dtype=np.int32)  # native-endian int32[9]
            break
    if matrix is not None:
        return _orientation_from_matrix(matrix)
    for key, value in stream.metadata.items():
        if key.lower() == "rotate":
            try:
                return _Orientation(rotation=round(float(value) / 90) * 90 % 360)
            except ValueError:
                break
    return _Orientation()


def _orientation_from_matrix(m: np.ndarray) -> _Orientation:
    """FFmpeg's own autorotate rule (fftools ``get_rotation`` and the transpose/flip choice)."""
    a, b, c, d = (float(m[i]) for i in (0, 1, 3, 4))
    if math.hypot(a, c) == 0 or math.hypot(b, d) == 0:
        return _Orientation()
    # av_display_rotation_get() is the counter-clockwise angle -atan2(b, a); fftools negates it again
    theta = float(round(math.degrees(math.atan2(b / math.hypot(b, d), a / math.hypot(a, c)))))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    quarter = round(theta / 90) * 90 % 360  # other angles are rounded to the nearest quarter turn
    if quarter == 90:
        # 'cclock_flip' (a plain transpose) when m[3] > 0, else 'clock'
        return _Orientation(270, vflip=True) if c > 0 else _Orientation(90)
    if quarter == 270:
        # 'clock_flip' (an anti-transpose) when m[3] < 0, else 'cclock'
        return _Orientation(90, vflip=True) if c < 0 else _Orientation(270)
    if quarter == 180:
        if a < 0 and d < 0:
            return _Orientation(180)
        return _Orientation(0, hflip=a < 0, vflip=d < 0)
    return _Orientation(0, vflip=d < 0)


def _judge_timestamps(pts: list[int], tb: Fraction) -> tuple[bool, float | None]:
    """(variable frame rate?, frames per second measured over the timestamps) for packet pts."""
    ts = np.unique(np.asarray(pts, dtype=np.int64))
    if len(ts) < 3:
        return False, None
    deltas = np.diff(ts)
    median = float(np.median(deltas))
    if median <= 0:
        return False, None
    tolerance = max(1.5, 0.02 * median)  # container rounding (e.g. 33/34 ms in Matroska) is not VFR
    vfr = bool(np.any(np.abs(deltas - median) > tolerance))
    span = float((int(ts[-1]) - int(ts[0])) * tb)
    rate = (len(ts) - 1) / span if span > 0 else None
    return vfr, rate


def _plausible_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0.5 <= fps <= 1000.0


# --------------------------------------------------------------------------- reading


@dataclass
class Frame:
    """One output frame of a :class:`VideoReader`."""

    index: int  # 0-based output frame index
    time: float  # presentation time in seconds, 0.0 at the first frame of the stream
    rgb: np.ndarray  # HxWx3 uint8, C-contiguous, display orientation


class VideoReader:
    """Decode the first video stream of ``path`` lazily, one :class:`Frame` at a time.

    ``fps=None`` yields every decoded frame with its own timestamp. ``fps=25.0`` resamples to a
    constant rate: output frame ``k`` (time ``k / fps`` after the first frame) is the source frame on
    display at that time, i.e. the last one whose timestamp is ``<= k / fps``; source frames are
    dropped or repeated as needed, which also regularises variable-frame-rate input. The stream ends
    when the last source frame's display time (its duration, else the previous frame interval) is
    over, so 30 frames at 30 fps give 25 frames at 25 fps. ``max_frames`` stops after that many output
    frames. ``self.fps`` is the rate of the frames yielded (``info.fps`` when ``fps`` is None).

    Only the frame being decoded and the one before it are held, so memory does not grow with the
    length of the video. A decoding error part-way, or a packet the demuxer marks as damaged (cut
    short), raises :class:`MediaError` naming the file and the source frame index reached; a stream
    that simply ends early (the demuxer reports end of file, as with a cut Matroska file) ends the
    iteration without an error.

    Use as a context manager (or call :meth:`close`) to release an iteration that was not run to the
    end; each ``iter()`` opens the file anew.
    """

    def __init__(
        self, path: str | Path, fps: float | None = None, max_frames: int | None = None, threads: int | None = None
    ) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ConfigError(f"output frame rate must be a positive number, got {fps!r}")
        if max_frames is not None and max_frames < 0:
            raise ConfigError(f"max_frames must be >= 0, got {max_frames!r}")
        self.path = Path(path)
        self.info, self._orientation = _probe(self.path)
        self.fps: float = float(fps) if fps is not None else self.info.fps  # rate of the frames yielded
        self._resample = fps is not None
        self.max_frames = max_frames
        #: decoder threads (None = one per core, at most 8); 1 decodes on the calling thread only
        self.threads = threads
        self._iterations: weakref.WeakSet[Any] = weakref.WeakSet()

    def __iter__(self) -> Iterator[Frame]:
        gen = self._frames()
        self._iterations.add(gen)
        return gen

    def close(self) -> None:
        """Stop every running iteration (closing its file)."""
        for gen in list(self._iterations):
            gen.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rgb(self, frame: Any) -> np.ndarray:
        from av.video.reformatter import Interpolation

        # full-resolution chroma interpolation with exact rounding: swscale's default fast path
        # replicates 4:2:0 chroma (mean error ~1.3 grey levels on smooth content, ~0.3 this way)
        flags = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND
        rgb = frame.to_ndarray(format="rgb24", interpolation=flags)
        return np.ascontiguousarray(self._orientation.apply(rgb))

    def _frames(self) -> Iterator[Frame]:
        limit = self.max_frames if self.max_frames is not None else math.inf
        if limit <= 0:
            return
        container = _open_input(self.path, "video")
        with container:
            stream = container.streams.video[0]
            if self.threads != 1:
                stream.thread_type = "AUTO"
                stream.thread_count = self.threads or min(os.cpu_count() or 1, _MAX_DECODE_THREADS)
            decoded = _timed(container, stream, self.path, self.info.fps)
            if not self._resample:
                for index, (t, _, frame) in enumerate(decoded):
                    if index >= limit:
                        return
                    yield Frame(index=index, time=t, rgb=self._rgb(frame))
                return

            step = 1.0 / self.fps
            k = 0
            prev: tuple[float, float, Any] | None = None
            interval = 1.0 / self.info.fps  # display time of the last frame when it carries no duration
            for cur in decoded:
                if prev is not None:
                    # output frames whose time lies before `cur` starts show `prev` (converted anew each
                    # time, so that repeated frames are independent arrays)
                    while k * step + _EPS < cur[0]:
                        if k >= limit:
                            return
                        yield Frame(index=k, time=k * step, rgb=self._rgb(prev[2]))
                        k += 1
                    if cur[0] > prev[0]:
                        interval = cur[0] - prev[0]
                prev = cur
            if prev is not None:
                end = prev[0] + (prev[1] or interval)
                while k * step + _EPS < end and k < limit:
                    yield Frame(index=k, time=k * step, rgb=self._rgb(prev[2]))
                    k += 1


def _timed(container: Any, stream: Any, path: Path, nominal_fps: float) -> Iterator[tuple[float, float, Any]]:
    """(seconds since the first frame, the frame's own duration or 0, av.VideoFrame) in display order.

    Timestamps never go backwards (a frame stamped earlier than its predecessor gets the same time);
    a frame without a timestamp is placed one nominal frame interval after the previous one.
    """
    tb = stream.time_base or Fraction(1, 1_000_000)
    nominal = 1.0 / nominal_fps
    first_pts: int | None = None
    prev_t: float | None = None
    for frame in _video_frames(container, stream, path):
        if frame.pts is None:
            t = prev_t + nominal if prev_t is not None else 0.0
        else:
            if first_pts is None:
                first_pts = frame.pts
            t = float((frame.pts - first_pts) * tb)
        if prev_t is not None:
            t = max(t, prev_t)
        prev_t = t
        yield t, float(frame.duration * tb) if frame.duration else 0.0, frame


def _video_frames(container: Any, stream: Any, path: Path) -> Iterator[Any]:
    """Decoded frames; MediaError naming the source frame index on a decoding error or damaged packet."""
    import av

    count = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets, None)
            if packet is None:
                return
            if packet.is_corrupt and packet.size:  # e.g. the short last packet of a cut file
                raise MediaError(f"{path}: video stream is corrupt or truncated at frame {count} (damaged packet)")
            frames = stream.decode(packet)  # the final empty packet flushes the decoder
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"{path}: video stream is corrupt or truncated at frame {count} ({_describe(exc)})"
            ) from None
        for frame in frames:
            yield frame
            count += 1


def iter_frames(path: str | Path, fps: float | None = None) -> Iterator[Frame]:
    """Stream the frames of ``path`` (see :class:`VideoReader`). The file is probed at once (so a bad
    file raises here, not at the first ``next``) and closed when the iterator ends or is closed."""
    return iter(VideoReader(path, fps=fps))


# --------------------------------------------------------------------------- writing


class VideoWriter:
    """Encode RGB frames to H.264 in an MP4 file, optionally with the audio of another file.

    * ``yuv420p`` when ``width`` and ``height`` are even; for an odd size ``yuv444p`` (H.264 High 4:4:4
      profile), because 4:2:0 H.264 cannot describe an odd picture size: the file decodes back to
      exactly ``width`` x ``height``, though some hardware players refuse 4:4:4.
    * Colours are converted with BT.709 coefficients, limited range, and tagged so in the stream.
    * The file is written to a temporary name in the destination directory (``tempfile.mkstemp``) and
      renamed to ``path`` only when :meth:`close` succeeds. If an exception leaves the ``with`` block
      (or :meth:`abort` is called) the temporary file is removed and ``path`` is neither created nor
      touched.
    * ``audio_from``: the first audio stream of that file is muxed in, copied packet for packet when
      MP4 allows its codec (:data:`MP4_AUDIO_COPY_CODECS`), otherwise transcoded to AAC. Its
      timestamps are shifted so that the source's first video frame (if it has video) lines up with
      the first written frame. Audio longer than the video is kept whole.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        *,
        audio_from: str | Path | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        threads: int | None = None,
    ) -> None:
        try:
            fps_value = float(fps)
        except (TypeError, ValueError):
            fps_value = math.nan
        if not (math.isfinite(fps_value) and fps_value > 0):
            raise ConfigError(f"frame rate must be a positive number, got {fps!r}")
        if int(width) <= 0 or int(height) <= 0:
            raise ConfigError(f"video size must be positive, got {width}x{height}")
        if not 0 <= int(crf) <= 51:
            raise ConfigError(f"crf must be between 0 and 51, got {crf}")
        if preset not in X264_PRESETS:
            raise ConfigError(f"unknown x264 preset {preset!r}; choose one of {', '.join(X264_PRESETS)}")
        self.path = Path(path)
        self.fps = fps_value
        self.width, self.height = int(width), int(height)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        #: x264 threads (None = x264's choice, one per core and more; 1 = encode on the calling thread)
        self.threads = threads
        self.pix_fmt = "yuv420p" if self.width % 2 == 0 and self.height % 2 == 0 else "yuv444p"
        self.audio_mode: str | None = None  # "copy" or "aac" once audio is set up
        self.frames_written = 0
        self._closed = False
        self._out: Any = None
        self._src: Any = None
        self._audio_packets: Iterator[tuple[float, Any]] | None = None
        self._audio_next: tuple[float, Any] | None = None

        parent = self.path.parent
        if self.path.is_dir():
            raise MediaError(f"{self.path}: is a directory, cannot write a video there")
        if not parent.is_dir():
            raise MediaError(f"{self.path}: output directory {parent} does not exist")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=parent)
        except OSError as exc:
            raise MediaError(f"{self.path}: cannot create a file in {parent} ({_describe(exc)})") from None
        os.close(fd)
        self._tmp = Path(tmp)
        self._finalizer = weakref.finalize(self, _remove_quietly, self._tmp)
        try:
            self._open(Fraction(self.fps).limit_denominator(100_000), int(crf), preset)
        except BaseException:
            self.abort()
            raise

    # ------------------------------------------------------------------ setup

    def _open(self, rate: Fraction, crf: int, preset: str) -> None:
        import av

        try:
            self._out = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"})
            options = {"crf": str(crf), "preset": preset}
            if self.threads is not None:
                options["threads"] = str(int(self.threads))
            video = self._out.add_stream("libx264", rate=rate, options=options)
            video.width, video.height, video.pix_fmt = self.width, self.height, self.pix_fmt
            ctx = video.codec_context
            ctx.time_base = 1 / rate
            ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, 1  # BT.709, limited
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{self.path}: cannot set up the H.264 encoder ({_describe(exc)})") from None
        self._video = video
        if self.audio_from is not None:
            self._open_audio(self.audio_from)

    def _open_audio(self, source: Path) -> None:
        import av

        self._src = _open_input(source, "audio")
        if not self._src.streams.audio:
            raise MediaError(f"{source}: has no audio stream to put into {self.path}")
        a_in = self._src.streams.audio[0]
        offset = 0.0  # seconds removed from the source timestamps
        if self._src.streams.video and self._src.streams.video[0].start_time is not None:
            v_src = self._src.streams.video[0]
            offset = float(v_src.start_time * v_src.time_base)
        name = a_in.codec_context.name
        if name in MP4_AUDIO_COPY_CODECS:
            try:
                a_out = self._out.add_stream_from_template(a_in)
            except (ValueError, av.error.FFmpegError):
                a_out = None
            if a_out is not None:
                self.audio_mode = "copy"
                self._audio_packets = self._copied_audio(a_in, a_out, offset)
                return
        self.audio_mode = "aac"
        self._audio_packets = self._transcoded_audio(a_in, offset)

    def _copied_audio(self, a_in: Any, a_out: Any, offset: float) -> Iterator[tuple[float, Any]]:
        source = self.audio_from
        shift = round(offset / a_in.time_base) if offset else 0
        for packet in _guarded(self._src.demux(a_in), f"{source}: audio stream is corrupt or truncated"):
            if packet.size == 0 or (packet.pts is None and packet.dts is None):
                continue  # the flush packet at the end
            if shift:
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            ts = packet.pts if packet.pts is not None else packet.dts
            packet.stream = a_out
            yield float(ts * packet.time_base), packet

    def _transcoded_audio(self, a_in: Any, offset: float) -> Iterator[tuple[float, Any]]:
        """Add the AAC stream now (before the header is written) and return the packet generator."""
        import av

        ctx = a_in.codec_context
        rate = ctx.sample_rate if ctx.sample_rate in _AAC_SAMPLE_RATES else 48000
        channels = ctx.channels or 1
        layout = "mono" if channels == 1 else ctx.layout.name if ctx.layout.name in _AAC_LAYOUTS else "stereo"
        try:
            a_out = self._out.add_stream("aac", rate=rate, layout=layout)
            a_out.bit_rate = max(128_000, min(320_000, 96_000 * a_out.codec_context.channels))
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{self.path}: cannot set up the AAC encoder ({_describe(exc)})") from None
        return self._aac_packets(a_in, a_out, resampler, rate, offset)

    def _aac_packets(
        self, a_in: Any, a_out: Any, resampler: Any, rate: int, offset: float
    ) -> Iterator[tuple[float, Any]]:
        source = self.audio_from
        tb = Fraction(1, rate)
        position = 0  # output sample index of the next resampled frame

        def encode(frames: list[Any]) -> Iterator[tuple[float, Any]]:
            nonlocal position
            for out in frames:
                out.pts, out.time_base = position, tb
                position += out.samples
                for packet in _guarded_call(a_out.encode, out, f"{self.path}: AAC encoding failed"):
                    yield float(packet.pts * packet.time_base), packet

        first = True
        for frame in _guarded(self._src.decode(a_in), f"{source}: audio stream is corrupt or truncated"):
            if first and frame.pts is not None and frame.time_base is not None:
                # keep the source's start relative to its first video frame (silence is not inserted
                # for gaps later on; samples are laid end to end)
                position = max(0, round((float(frame.pts * frame.time_base) - offset) * rate))
            first = False
            frame.pts = None  # the resampler counts samples itself
            yield from encode(_guarded_call(resampler.resample, frame, f"{source}: cannot resample audio"))
        yield from encode(_guarded_call(resampler.resample, None, f"{source}: cannot resample audio"))
        for packet in _guarded_call(a_out.encode, None, f"{self.path}: AAC encoding failed"):
            yield float(packet.pts * packet.time_base), packet

    # ------------------------------------------------------------------ writing

    def write(self, rgb: np.ndarray) -> None:
        """Append one HxWx3 uint8 RGB frame (the size given to the constructor)."""
        import av

        if self._closed:
            raise MediaError(f"{self.path}: the video writer is already closed")
        arr = np.asarray(rgb)
        if arr.dtype != np.uint8 or arr.shape != (self.height, self.width, 3):
            raise ValueError(
                f"{self.path}: frame {self.frames_written} must be a {self.height}x{self.width}x3 uint8 array, "
                f"got shape {arr.shape} dtype {arr.dtype}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        try:
            frame = frame.reformat(format=self.pix_fmt, dst_colorspace="itu709", dst_color_range="MPEG")
            frame.pts = self.frames_written
            self._out.mux(self._video.encode(frame))
        except av.error.FFmpegError as exc:
            self.abort()
            raise MediaError(
                f"{self.path}: cannot encode frame {self.frames_written} ({_describe(exc)}); nothing was saved"
            ) from None
        except BaseException:
            self.abort()
            raise
        self.frames_written += 1
        self._mux_audio(until=self.frames_written / self.fps)

    def _mux_audio(self, until: float) -> None:
        """Interleave the audio packets that start before ``until`` seconds (all of them for inf)."""
        if self._audio_packets is None:
            return
        try:
            while True:
                if self._audio_next is None:
                    self._audio_next = next(self._audio_packets, None)
                    if self._audio_next is None:
                        self._audio_packets = None
                        return
                if self._audio_next[0] >= until:
                    return
                self._out.mux(self._audio_next[1])
                self._audio_next = None
        except BaseException:
            self.abort()
            raise

    def close(self) -> None:
        """Finish the file and rename it to ``path``; on failure remove it and raise :class:`MediaError`."""
        import av

        if self._closed:
            return
        try:
            if self.frames_written == 0:
                raise MediaError(f"{self.path}: no frames were written; no video was saved")
            self._out.mux(self._video.encode(None))
            self._mux_audio(until=math.inf)
            self._out.close()
            self._out = None
            if self._src is not None:
                self._src.close()
                self._src = None
            os.chmod(self._tmp, new_file_mode())
            os.replace(self._tmp, self.path)
        except (av.error.FFmpegError, OSError) as exc:
            self.abort()
            raise MediaError(f"{self.path}: cannot finish writing the video ({_describe(exc)})") from None
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._finalizer.detach()

    def abort(self) -> None:
        """Give up: close everything and remove the temporary file; ``path`` is left as it was."""
        self._closed = True
        self._audio_packets = None
        for container in (self._out, self._src):
            if container is not None:
                with contextlib.suppress(Exception):  # already failing; the temp file goes anyway
                    container.close()
        self._out = self._src = None
        _remove_quietly(self._tmp)
        self._finalizer.detach()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --------------------------------------------------------------------------- helpers


def _guarded(iterable: Any, message: str) -> Iterator[Any]:
    """Iterate, turning FFmpeg errors into MediaError(message (detail))."""
    import av

    it = iter(iterable)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            raise MediaError(f"{message} ({_describe(exc)})") from None
        yield item


def _guarded_call(fn: Callable[[Any], Any], arg: Any, message: str) -> Any:
    import av

    try:
        return fn(arg)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{message} ({_describe(exc)})") from None


def _describe(exc: BaseException) -> str:
    """FFmpeg's reason without the errno and file name PyAV adds ('Invalid data found ...')."""
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
