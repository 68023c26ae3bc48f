"""Reading video with PyAV: :class:`VideoReader` decodes lazily, one :class:`Frame` at a time (no frame
lists in memory), optionally resampled to a constant rate; :func:`iter_frames` is its one-call form."""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MediaError
from .avio import describe_av_error, open_input
from .planes import Colour, frame_planes, planar_colour
from .probe import Orientation, probe_oriented

_EPS = 1e-6  # seconds; absorbs float error when an output tick falls exactly on a source timestamp
_MAX_DECODE_THREADS = 8  # frame threading keeps about one decoded frame per thread: keep it bounded


@dataclass
class Frame:
    """One output frame of a :class:`VideoReader`."""

    index: int  # 0-based output frame index
    time: float  # presentation time in seconds, 0.0 at the first frame of the stream
    rgb: np.ndarray  # HxWx3 uint8, C-contiguous, display orientation
    #: the decoded 4:2:0 planes, packed [h * 3 / 2, w] uint8 (see media/planes.py), when the reader was
    #: asked to keep them and can (``VideoReader.colour``); else None
    planes: np.ndarray | None = None


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
    iteration without an error. ``allow_truncated=True`` also ends it without an error at a damaged
    packet that is the file's last (an MP4 cut short); a damaged packet with more after it still
    raises. After an iteration, ``ended_early`` says (one phrase) why the frames stopped before the
    length the file's header gives, or is None.

    **Interlaced video** (frames the decoder flags as interlaced, as broadcast and camcorder 1080i/576i
    footage is) is deinterlaced with FFmpeg's ``bwdif`` filter, one frame out per frame in (the frame
    rate and timestamps kept; frames flagged progressive pass unchanged), so that no combing reaches a
    face tracker or an output; ``deinterlaced`` counts those frames. ``deinterlace=False`` yields the
    frames as decoded.

    ``fast_colour=True`` converts to RGB with swscale's fast path (4:2:0 chroma replicated, not
    interpolated; on single_face.mp4 2.2 -> 0.5 ms per 640x360 frame, a mean error of about 1.2 grey
    levels): for frames that are only looked at, such as a face tracker's, never for pixels written out.

    ``keep_planes=True`` also hands out each frame's decoded 4:2:0 planes (``Frame.planes``), for an
    edit that writes back only the pixels it changes (:func:`~wav2lip_emotion.media.planes.paste_rgb`)
    and encodes the planes as they are. Only for 8-bit 4:2:0 limited-range video shown as stored (no
    rotation or mirroring): ``colour`` is then its colour description, else None and no planes.
    ``planes_only=True`` (with ``keep_planes``) leaves such frames unconverted: their ``rgb`` is an
    empty [0, 0, 3] array, for a caller that converts only the part it looks at
    (:func:`~wav2lip_emotion.media.planes.planes_to_rgb`).

    Use as a context manager (or call :meth:`close`) to release an iteration that was not run to the
    end; each ``iter()`` opens the file anew.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | None = None,
        max_frames: int | None = None,
        threads: int | None = None,
        *,
        allow_truncated: bool = False,
        deinterlace: bool = True,
        fast_colour: bool = False,
        keep_planes: bool = False,
        planes_only: bool = False,
    ) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ConfigError(f"output frame rate must be a positive number, got {fps!r}")
        if max_frames is not None and max_frames < 0:
            raise ConfigError(f"max_frames must be >= 0, got {max_frames!r}")
        self.path = Path(path)
        self.info, self._orientation = probe_oriented(self.path)
        self.fps: float = float(fps) if fps is not None else self.info.fps  # rate of the frames yielded
        self._resample = fps is not None
        self.max_frames = max_frames
        #: decoder threads (None = one per core, at most 8); 1 decodes on the calling thread only
        self.threads = threads
        self.allow_truncated = allow_truncated
        self.deinterlace = deinterlace
        self.fast_colour = fast_colour
        #: the video's colour description when its planes are handed out (``keep_planes``), else None
        self.colour: Colour | None = None
        self.planes_only = planes_only
        if keep_planes and self._orientation == Orientation():
            self.colour = self.info.colour
        #: frames of the last iteration that were interlaced and deinterlaced (see the class docstring)
        self.deinterlaced = 0
        #: why the last iteration's frames stopped short of the header's length (None: they did not)
        self.ended_early: str | None = None
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

        if self.fast_colour:
            return np.ascontiguousarray(self._orientation.apply(frame.to_ndarray(format="rgb24")))
        # full-resolution chroma interpolation with exact rounding: swscale's default fast path
        # replicates 4:2:0 chroma (mean error ~1.3 grey levels on smooth content, ~0.3 this way)
        flags = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND
        rgb = frame.to_ndarray(format="rgb24", interpolation=flags)
        return np.ascontiguousarray(self._orientation.apply(rgb))

    def _frame(self, index: int, t: float, frame: Any) -> Frame:
        planes = None
        if self.colour is not None and planar_colour(frame) == self.colour:
            planes = frame_planes(frame)
            if self.planes_only:
                return Frame(index=index, time=t, rgb=np.empty((0, 0, 3), np.uint8), planes=planes)
        return Frame(index=index, time=t, rgb=self._rgb(frame), planes=planes)

    def _frames(self) -> Iterator[Frame]:
        limit = self.max_frames if self.max_frames is not None else math.inf
        if limit <= 0:
            return
        container = open_input(self.path, "video")
        with container:
            stream = container.streams.video[0]
            if self.threads != 1:
                stream.thread_type = "AUTO"
                stream.thread_count = self.threads or min(os.cpu_count() or 1, _MAX_DECODE_THREADS)
            self.ended_early = None
            self.deinterlaced = 0
            frames = _video_frames(container, stream, self.path)
            if self.deinterlace:
                frames = self._progressive(frames, stream)
            decoded = self._checked(_timed(frames, stream, self.info.fps))
            if not self._resample:
                for index, (t, _, frame) in enumerate(decoded):
                    if index >= limit:
                        return
                    yield self._frame(index, t, frame)
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
                        yield self._frame(k, k * step, prev[2])
                        k += 1
                    if cur[0] > prev[0]:
                        interval = cur[0] - prev[0]
                prev = cur
            if prev is not None:
                end = prev[0] + (prev[1] or interval)
                while k * step + _EPS < end and k < limit:
                    yield self._frame(k, k * step, prev[2])
                    k += 1

    def _progressive(self, frames: Iterator[Any], stream: Any) -> Iterator[Any]:
        """``frames`` with the interlaced ones deinterlaced (bwdif, one frame per frame): from the first
        interlaced frame on, every frame goes through the filter, which passes progressive ones as they
        are and holds one frame back (released at the end)."""
        import av

        graph = None
        try:
            for frame in frames:
                if graph is None and not frame.interlaced_frame:
                    yield frame
                    continue
                if graph is None:
                    graph = av.filter.Graph()
                    source = graph.add_buffer(template=stream)
                    bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")
                    sink = graph.add("buffersink")
                    source.link_to(bwdif)
                    bwdif.link_to(sink)
                    graph.configure()
                self.deinterlaced += int(frame.interlaced_frame)
                graph.push(frame)
                yield from _pulled(graph)
            if graph is not None:
                graph.push(None)
                yield from _pulled(graph)
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{self.path}: cannot deinterlace its video ({describe_av_error(exc)})") from None

    def _checked(self, decoded: Iterator[tuple[float, float, Any]]) -> Iterator[tuple[float, float, Any]]:
        """``decoded`` as it is; at its end, ``ended_early`` is set when it stopped well short of the
        header's length (a cut Matroska file ends without a damaged packet)."""
        end = count = 0
        interval = 1.0 / self.info.fps
        try:
            for t, duration, frame in decoded:
                count += 1
                end = t + (duration or interval)
                yield t, duration, frame
        except _CutShort as exc:
            if not self.allow_truncated:
                raise
            self.ended_early = f"it is cut short: a damaged packet follows its first {exc.frames} frames"
            return
        if self.ended_early is None and count and self.info.duration - end > max(2.5 * interval, 0.1):
            self.ended_early = f"its frames stop at {end:.2f} s of the {self.info.duration:.2f} s its header gives"


def _pulled(graph: Any) -> Iterator[Any]:
    """The frames a filter graph has ready."""
    import av

    while True:
        try:
            yield graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return


def _timed(frames: Iterator[Any], stream: Any, nominal_fps: float) -> Iterator[tuple[float, float, Any]]:
    """(seconds since the first frame, the frame's own duration or 0, av.VideoFrame) in display order,
    for ``frames`` decoded from ``stream``.

    Timestamps never go backwards (a frame stamped earlier than its predecessor gets the same time);
    a frame without a timestamp is placed one nominal frame interval after the previous one.
    """
    stream_tb = stream.time_base or Fraction(1, 1_000_000)
    nominal = 1.0 / nominal_fps
    first: Fraction | None = None
    prev_t: float | None = None
    for frame in frames:
        # a decoded frame counts in the stream's time base, a deinterlaced one in the filter's
        tb = frame.time_base or stream_tb
        if frame.pts is None:
            t = prev_t + nominal if prev_t is not None else 0.0
        else:
            at = frame.pts * tb
            if first is None:
                first = at
            t = float(at - first)
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
                last = _is_last(packets)
                for frame in stream.decode(None) if last else ():  # the frames the decoder still holds
                    yield frame
                    count += 1
                message = f"{path}: video stream is corrupt or truncated at frame {count} (damaged packet)"
                raise _CutShort(message, count) if last else MediaError(message)
            frames = stream.decode(packet)  # the final empty packet flushes the decoder
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"{path}: video stream is corrupt or truncated at frame {count} ({describe_av_error(exc)})"
            ) from None
        for frame in frames:
            yield frame
            count += 1


class _CutShort(MediaError):
    """The video stream ends in a damaged packet (a file cut short) after ``frames`` decoded frames."""

    def __init__(self, message: str, frames: int) -> None:
        super().__init__(message)
        self.frames = frames


def _is_last(packets: Iterator[Any]) -> bool:
    """True when nothing but the flush packet follows in ``packets`` (one packet is consumed)."""
    import av

    try:
        following = next(packets, None)
    except av.error.EOFError:
        return True
    except av.error.FFmpegError:
        return False
    return following is None or not following.size


def iter_frames(path: str | Path, fps: float | None = None) -> Iterator[Frame]:
    """Stream the frames of ``path`` (see :class:`VideoReader`). The file is probed at once (so a bad
    file raises here, not at the first ``next``) and closed when the iterator ends or is closed."""
    return iter(VideoReader(path, fps=fps))
