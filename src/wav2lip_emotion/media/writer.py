"""Writing video with PyAV: :class:`VideoWriter` encodes H.264 into an MP4 written under a temporary name
and renamed into place only when it is complete, optionally muxing in the audio of another file (the
audio streams themselves come from :mod:`.audio_mux`)."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import weakref
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import new_file_mode
from ..errors import ConfigError, MediaError
from .audio_mux import audio_into
from .avio import describe_av_error, open_input, remove_quietly
from .planes import BT709, Colour

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


class VideoWriter:
    """Encode RGB frames to H.264 in an MP4 file, optionally with the audio of another file.

    * ``yuv420p`` when ``width`` and ``height`` are even; for an odd size ``yuv444p`` (H.264 High 4:4:4
      profile), because 4:2:0 H.264 cannot describe an odd picture size: the file decodes back to
      exactly ``width`` x ``height``, though some hardware players refuse 4:4:4.
    * Colours are converted with BT.709 coefficients, limited range, and tagged so in the stream; or
      with those of ``colour`` (a :class:`~wav2lip_emotion.media.planes.Colour`, e.g. the input's
      ``VideoReader.colour``), tagged with its codes, so that planes handed to :meth:`write_planes`
      as they were decoded are shown as their source is.
    * The file is written to a temporary name in the destination directory (``tempfile.mkstemp``) and
      renamed to ``path`` only when :meth:`close` succeeds. If an exception leaves the ``with`` block
      (or :meth:`abort` is called) the temporary file is removed and ``path`` is neither created nor
      touched.
    * ``sample_aspect_ratio``: the shape of a pixel (width / height), tagged in the H.264 stream and
      the MP4 container, so an anamorphic picture is shown as wide as its source; default square.
    * ``audio_from``: the first audio stream of that file is muxed in, copied packet for packet when
      MP4 allows its codec (:data:`MP4_AUDIO_COPY_CODECS`), otherwise transcoded to AAC. Its
      timestamps are shifted so that the source's first video frame (if it has video) lines up with
      the first written frame. Audio longer than the video is kept whole.
    * ``deadzones``: x264's quantisation dead zones (inter, intra). None keeps x264's own (21, 11),
      which round fine texture (skin pores, film grain) to nothing; smaller ones keep it, at the cost
      of more bits (see docs/media.md).
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
        sample_aspect_ratio: Fraction | None = None,
        deadzones: tuple[int, int] | None = None,
        colour: Colour | None = None,
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
        if deadzones is not None and (len(deadzones) != 2 or not all(0 <= int(d) <= 32 for d in deadzones)):
            raise ConfigError(f"deadzones must be two integers (inter, intra) in [0, 32], got {deadzones!r}")
        self.colour = colour or BT709
        self.deadzones = None if deadzones is None else (int(deadzones[0]), int(deadzones[1]))
        if sample_aspect_ratio is not None and not sample_aspect_ratio > 0:
            raise ConfigError(f"sample aspect ratio must be positive, got {sample_aspect_ratio}")
        self.path = Path(path)
        self.fps = fps_value
        self.sample_aspect_ratio = Fraction(sample_aspect_ratio or 1).limit_denominator(65_535)
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
            raise MediaError(f"{self.path}: cannot create a file in {parent} ({describe_av_error(exc)})") from None
        os.close(fd)
        self._tmp = Path(tmp)
        self._finalizer = weakref.finalize(self, remove_quietly, self._tmp)
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
            if self.deadzones is not None:
                options["x264-params"] = f"deadzone-inter={self.deadzones[0]}:deadzone-intra={self.deadzones[1]}"

            video = self._out.add_stream("libx264", rate=rate, options=options)
            video.width, video.height, video.pix_fmt = self.width, self.height, self.pix_fmt
            ctx = video.codec_context
            ctx.time_base = 1 / rate
            if self.sample_aspect_ratio != 1:
                ctx.sample_aspect_ratio = self.sample_aspect_ratio
            c = self.colour
            ctx.colorspace, ctx.color_primaries, ctx.color_trc = c.space, c.primaries, c.transfer
            ctx.color_range = c.range
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{self.path}: cannot set up the H.264 encoder ({describe_av_error(exc)})") from None
        self._video = video
        if self.audio_from is not None:
            self._open_audio(self.audio_from)

    def _open_audio(self, source: Path) -> None:
        self._src = open_input(source, "audio")
        self.audio_mode, self._audio_packets = audio_into(self._out, self._src, source, self.path)

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
        self._encode(frame, convert=True)

    def write_planes(self, planes: np.ndarray) -> None:
        """Append one frame given as packed 4:2:0 planes ([h * 3 / 2, w] uint8, Y then U then V, as
        ``VideoReader(keep_planes=True)`` hands them out), encoded as they are: their colours are taken
        to be in the writer's ``colour`` (the input's). Needs an even size."""
        import av

        if self._closed:
            raise MediaError(f"{self.path}: the video writer is already closed")
        arr = np.asarray(planes)
        shape = (self.height * 3 // 2, self.width)
        if self.pix_fmt != "yuv420p" or arr.dtype != np.uint8 or arr.shape != shape:
            raise ValueError(
                f"{self.path}: frame {self.frames_written} must be {shape[0]}x{shape[1]} uint8 4:2:0 planes of an "
                f"even-sized video, got shape {arr.shape} dtype {arr.dtype}"
            )
        self._encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="yuv420p"), convert=False)

    def _encode(self, frame: Any, convert: bool) -> None:
        import av

        try:
            if convert:
                frame = frame.reformat(format=self.pix_fmt, dst_colorspace=self.colour.matrix, dst_color_range="MPEG")
            frame.pts = self.frames_written
            self._out.mux(self._video.encode(frame))
        except av.error.FFmpegError as exc:
            self.abort()
            raise MediaError(
                f"{self.path}: cannot encode frame {self.frames_written} ({describe_av_error(exc)}); nothing was saved"
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
            raise MediaError(f"{self.path}: cannot finish writing the video ({describe_av_error(exc)})") from None
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
        remove_quietly(self._tmp)
        self._finalizer.detach()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
