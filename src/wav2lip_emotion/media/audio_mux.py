"""The audio side of :class:`~wav2lip_emotion.media.writer.VideoWriter`: the audio stream of another file
put into an MP4, copied packet for packet when MP4 can hold its codec (:data:`MP4_AUDIO_COPY_CODECS`),
otherwise transcoded to AAC. Each function yields ``(start in seconds, packet)`` pairs for the writer to
interleave with its video, with timestamps shifted so that the source's first video frame lines up with
the first written frame."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import MediaError
from .avio import describe_av_error, guarded, guarded_call

# codecs copied packet for packet into the MP4 output; anything else is transcoded to AAC
MP4_AUDIO_COPY_CODECS = frozenset({"aac", "mp3", "alac", "opus", "flac", "ac3", "eac3"})
_AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AAC_LAYOUTS = frozenset({"mono", "stereo", "3.0", "4.0", "5.0", "5.1", "5.0(side)", "5.1(side)", "7.1"})


def source_offset(src: Any) -> float:
    """Seconds to remove from the audio timestamps of the opened input ``src``: the start of its first
    video stream (0 when it has none)."""
    offset = 0.0
    if src.streams.video and src.streams.video[0].start_time is not None:
        v_src = src.streams.video[0]
        offset = float(v_src.start_time * v_src.time_base)
    return offset


def add_copied_stream(out: Any, a_in: Any) -> Any | None:
    """An output stream of ``out`` copying ``a_in`` as it is, or None when the MP4 muxer refuses it."""
    import av

    try:
        return out.add_stream_from_template(a_in)
    except (ValueError, av.error.FFmpegError):
        return None


def copied_packets(src: Any, a_in: Any, a_out: Any, offset: float, source: Path | None) -> Iterator[tuple[float, Any]]:
    """The packets of ``a_in`` (in the opened input ``src`` read from ``source``), shifted by ``offset``
    seconds and re-addressed to ``a_out``."""
    shift = round(offset / a_in.time_base) if offset else 0
    for packet in intact_packets(src, a_in, source):
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


def audio_into(out: Any, src: Any, source: Path, path: Path) -> tuple[str, Iterator[tuple[float, Any]]]:
    """Add the first audio stream of the opened input ``src`` (read from ``source``) to ``out`` (written
    to ``path``): ("copy", its packets) when MP4 can hold its codec, else ("aac", the packets of its
    AAC transcoding); timestamps shifted so that the source's first video frame is at 0."""
    if not src.streams.audio:
        raise MediaError(f"{source}: has no audio stream to put into {path}")
    a_in = src.streams.audio[0]
    offset = source_offset(src)  # seconds removed from the source timestamps
    if a_in.codec_context.name in MP4_AUDIO_COPY_CODECS:
        a_out = add_copied_stream(out, a_in)
        if a_out is not None:
            return "copy", copied_packets(src, a_in, a_out, offset, source)
    return "aac", transcoded_packets(out, src, a_in, offset, source, path)


def intact_packets(src: Any, a_in: Any, source: Path | None) -> Iterator[Any]:
    """The packets of ``a_in`` demuxed from ``src``, the flush packet included, less a damaged last one (a
    file cut short ends in one); a damaged packet with more after it is kept, as players keep it."""
    damaged = None
    for packet in guarded(src.demux(a_in), f"{source}: audio stream is corrupt or truncated"):
        if packet.size and damaged is not None:
            yield damaged
        damaged = None
        if packet.size and packet.is_corrupt:
            damaged = packet
        else:
            yield packet


def transcoded_packets(
    out: Any, src: Any, a_in: Any, offset: float, source: Path | None, path: Path
) -> Iterator[tuple[float, Any]]:
    """Add the AAC stream to ``out`` (written to ``path``) now, before the header is written, and return
    the generator of its packets: ``a_in`` decoded, resampled and encoded."""
    import av

    ctx = a_in.codec_context
    rate = ctx.sample_rate if ctx.sample_rate in _AAC_SAMPLE_RATES else 48000
    channels = ctx.channels or 1
    layout = "mono" if channels == 1 else ctx.layout.name if ctx.layout.name in _AAC_LAYOUTS else "stereo"
    try:
        a_out = out.add_stream("aac", rate=rate, layout=layout)
        a_out.bit_rate = max(128_000, min(320_000, 96_000 * a_out.codec_context.channels))
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaError(f"{path}: cannot set up the AAC encoder ({describe_av_error(exc)})") from None
    return _aac_packets(src, a_in, a_out, resampler, rate, offset, source, path)


def _aac_packets(
    src: Any, a_in: Any, a_out: Any, resampler: Any, rate: int, offset: float, source: Path | None, path: Path
) -> Iterator[tuple[float, Any]]:
    tb = Fraction(1, rate)
    position = 0  # output sample index of the next resampled frame

    def encode(frames: list[Any]) -> Iterator[tuple[float, Any]]:
        nonlocal position
        for out in frames:
            out.pts, out.time_base = position, tb
            position += out.samples
            for packet in guarded_call(a_out.encode, out, f"{path}: AAC encoding failed"):
                yield float(packet.pts * packet.time_base), packet

    first = True
    message = f"{source}: audio stream is corrupt or truncated"
    for frame in (f for p in intact_packets(src, a_in, source) for f in guarded_call(a_in.decode, p, message)):
        if first and frame.pts is not None and frame.time_base is not None:
            # keep the source's start relative to its first video frame (silence is not inserted
            # for gaps later on; samples are laid end to end)
            position = max(0, round((float(frame.pts * frame.time_base) - offset) * rate))
        first = False
        frame.pts = None  # the resampler counts samples itself
        yield from encode(guarded_call(resampler.resample, frame, f"{source}: cannot resample audio"))
    yield from encode(guarded_call(resampler.resample, None, f"{source}: cannot resample audio"))
    for packet in guarded_call(a_out.encode, None, f"{path}: AAC encoding failed"):
        yield float(packet.pts * packet.time_base), packet
