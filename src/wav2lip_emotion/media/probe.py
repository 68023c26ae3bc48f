"""Probing a video file with PyAV: :func:`probe_video` reads the facts a pipeline needs (display size,
frame rate, rotation, audio) and checks that the first frame decodes; :class:`Orientation` is how a
stored frame is turned for display (the reader applies it). See ``docs/media.md``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError
from .avio import describe_av_error, open_input
from .planes import Colour, planar_colour

_TIMESTAMP_SAMPLE = 240  # packets demuxed to judge a variable frame rate when the container has no full index
_MAX_INDEX_ENTRIES = 200_000  # full-index timestamps looked at (MP4/MOV keep one entry per frame)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video file.

    ``width``/``height`` are the *display* size (rotation metadata applied, so a portrait phone video
    stored as 1920x1080 with a 90 degree rotation reports 1080x1920). ``fps`` is the average frame rate.
    ``frame_count`` is exact when the container records the number of frames (MP4/MOV, AVI) and
    estimated as ``round(duration * fps)`` otherwise (Matroska/WebM, MPEG-TS, ...); the reader may
    then yield a few frames more or fewer. ``rotation`` is the clockwise angle (0, 90, 180 or 270) the
    stored frames are turned by for display; readers return frames already turned.
    ``sample_aspect_ratio`` is the shape of a pixel of those turned frames (width / height; 1 for square
    pixels, 4/3 for an anamorphic 480x360 picture shown at 640x360). ``hdr`` is "PQ" or "HLG" when the
    stream says its colours use a high-dynamic-range transfer (SMPTE ST 2084 or ARIB STD-B67), else
    None: frames are read as 8-bit RGB without tone mapping (see docs/media.md).
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
    sample_aspect_ratio: Fraction = Fraction(1)
    hdr: str | None = None
    #: the colour description of a video whose decoded planes can be kept as they are (8-bit 4:2:0,
    #: limited range, BT.601/BT.709 matrix; see media/planes.py), read from its first frame; else None
    colour: Colour | None = None


#: FFmpeg's colour transfer characteristics (AVColorTransferCharacteristic) that are high dynamic range
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}


@dataclass(frozen=True)
class Orientation:
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
    return probe_oriented(Path(path))[0]


def probe_oriented(path: Path) -> tuple[VideoInfo, Orientation]:
    """:func:`probe_video` and the :class:`Orientation` its frames are turned by for display."""
    import av

    container = open_input(path, "video")
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

        stream_duration = float(stream.duration * tb) if stream.duration else _tagged_duration(stream)
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
        sar = _sample_aspect_ratio(stream)
        if orientation.rotation in (90, 270):
            width, height, sar = height, width, 1 / sar
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
            sample_aspect_ratio=sar,
            hdr=HDR_TRANSFERS.get(int(stream.codec_context.color_trc or 0)),
            colour=planar_colour(first),
        )
    return info, orientation


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
            reason = describe_av_error(exc)
            raise MediaError(f"{path}: video stream is corrupt, its first frame cannot be decoded ({reason})") from None
    if first is None:
        raise MediaError(f"{path}: video stream has no frames")
    return first, pts


def _orientation(first: Any, stream: Any) -> Orientation:
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
                return Orientation(rotation=round(float(value) / 90) * 90 % 360)
            except ValueError:
                break
    return Orientation()


def _orientation_from_matrix(m: np.ndarray) -> Orientation:
    """FFmpeg's own autorotate rule (fftools ``get_rotation`` and the transpose/flip choice)."""
    a, b, c, d = (float(m[i]) for i in (0, 1, 3, 4))
    if math.hypot(a, c) == 0 or math.hypot(b, d) == 0:
        return Orientation()
    # av_display_rotation_get() is the counter-clockwise angle -atan2(b, a); fftools negates it again
    theta = float(round(math.degrees(math.atan2(b / math.hypot(b, d), a / math.hypot(a, c)))))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    quarter = round(theta / 90) * 90 % 360  # other angles are rounded to the nearest quarter turn
    if quarter == 90:
        # 'cclock_flip' (a plain transpose) when m[3] > 0, else 'clock'
        return Orientation(270, vflip=True) if c > 0 else Orientation(90)
    if quarter == 270:
        # 'clock_flip' (an anti-transpose) when m[3] < 0, else 'cclock'
        return Orientation(90, vflip=True) if c < 0 else Orientation(270)
    if quarter == 180:
        if a < 0 and d < 0:
            return Orientation(180)
        return Orientation(0, hflip=a < 0, vflip=d < 0)
    return Orientation(0, vflip=d < 0)


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


def _sample_aspect_ratio(stream: Any) -> Fraction:
    """The stored pixels' shape (width / height) from the container or the bitstream; 1 when unknown."""
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if sar is not None and sar > 0:
            return Fraction(sar)
    return Fraction(1)


def _tagged_duration(stream: Any) -> float:
    """A Matroska track's DURATION tag ('00:00:01.200000000') in seconds; 0 without one. The container's
    duration is the longest stream's (often the audio), so the video's own is preferred."""
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d*)?)", stream.metadata.get("DURATION", "").strip())
    if match is None:
        return 0.0
    hours, minutes, seconds = match.groups()
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def _plausible_fps(fps: float) -> bool:
    return math.isfinite(fps) and 0.5 <= fps <= 1000.0
