"""Resumable video writing: :class:`SegmentedVideoWriter` encodes a long video as pieces of a few
seconds in a work folder, each a complete MP4 renamed into place when its last frame is encoded, and at
the end joins them into the final file (:func:`join_pieces`: their packets copied, nothing encoded
again) with the audio of another file. A run that stops (a crash, Ctrl-C, the machine switched off)
loses only the piece it was writing: a new writer on the same folder finds the pieces already there
(:attr:`SegmentedVideoWriter.done`) and the caller goes on from the frame after them.

Each piece starts with a key frame, so the joined file plays and seeks like one encoded in one go; it
differs from one only in those key frames (one every few seconds, as x264 places anyway)."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import new_file_mode
from ..errors import ConfigError, MediaError
from .audio_mux import audio_into
from .avio import describe_av_error, open_input, remove_quietly
from .planes import BT709, Colour
from .probe import probe_video
from .writer import VideoWriter

#: a finished piece: the index of its first frame in the whole video
PIECE = re.compile(r"^piece_(\d{9})\.mp4$")


def piece_name(start: int) -> str:
    return f"piece_{start:09d}.mp4"


def finished_pieces(folder: Path) -> list[tuple[int, int, Path]]:
    """The pieces in ``folder`` that follow on from frame 0 without a gap: (first frame, frames, path),
    in order. A piece that does not open, or one after a gap, ends the list."""
    if not folder.is_dir():
        return []
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := PIECE.match(p.name)))
    pieces: list[tuple[int, int, Path]] = []
    expected = 0
    for start, path in found:
        if start != expected:
            break
        try:
            count = probe_video(path).frame_count
        except MediaError:
            break
        if not count:
            break
        pieces.append((start, count, path))
        expected = start + count
    return pieces


class SegmentedVideoWriter:
    """Encode frames as :class:`~wav2lip_emotion.media.writer.VideoWriter` does, to ``path``, but in pieces
    of ``piece_frames`` frames kept in ``folder`` until :meth:`close` joins them (with the audio of
    ``audio_from``) and renames the whole into place.

    Pieces already in ``folder`` (from a run that stopped) are kept: :attr:`done` is the number of frames
    they hold, and the frames written next are frames ``done``, ``done + 1``, ... of the video. Call
    :meth:`restart_at` to keep fewer. ``on_piece(start, count)`` is called after each piece is in place.
    :meth:`abort` (or an exception leaving the ``with`` block) removes only the piece being written;
    ``path`` is never touched unless :meth:`close` succeeds. The other arguments are VideoWriter's."""

    def __init__(
        self,
        path: str | Path,
        folder: str | Path,
        piece_frames: int,
        fps: float,
        width: int,
        height: int,
        *,
        audio_from: str | Path | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        sample_aspect_ratio: Fraction | None = None,
        deadzones: tuple[int, int] | None = None,
        colour: Colour | None = None,
        threads: int | None = None,
        on_piece: Callable[[int, int], None] | None = None,
    ) -> None:
        if int(piece_frames) < 1:
            raise ConfigError(f"a piece must hold at least one frame, got {piece_frames}")
        self.path, self.folder = Path(path), Path(folder)
        self.piece_frames = int(piece_frames)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.colour = colour or BT709
        self.on_piece = on_piece
        # each piece: a VideoWriter of these settings (no audio: the join adds it)
        self._piece_writer = functools.partial(
            VideoWriter,
            fps=fps,
            width=width,
            height=height,
            crf=crf,
            preset=preset,
            sample_aspect_ratio=sample_aspect_ratio,
            deadzones=deadzones,
            colour=colour,
            threads=threads,
        )
        if self.path.is_dir():
            raise MediaError(f"{self.path}: is a directory, cannot write a video there")
        if not self.path.parent.is_dir():
            raise MediaError(f"{self.path}: output directory {self.path.parent} does not exist")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(f"{self.folder}: cannot create the folder for the pieces ({exc.strerror})") from None
        self.pieces = finished_pieces(self.folder)
        self._remove_others()
        self._writer: VideoWriter | None = None
        self._start = self.done
        self._closed = False
        # the settings are checked now (a bad crf or size fails here, not at the first frame)
        self._open()

    @property
    def done(self) -> int:
        """Frames in the finished pieces."""
        return sum(count for _, count, _ in self.pieces)

    @property
    def frames_written(self) -> int:
        """Frames of the video written so far, the finished pieces' included."""
        return self._start + (self._writer.frames_written if self._writer is not None else 0)

    def restart_at(self, frame: int) -> None:
        """Keep only the finished pieces that end by ``frame`` (0 or where one ends); the next frame
        written is ``frame``. Call before writing any frame."""
        keep = [p for p in self.pieces if p[0] + p[1] <= frame]
        if sum(c for _, c, _ in keep) != frame:
            raise ValueError(f"{self.folder}: no piece ends at frame {frame}")
        if self._writer is None or self._writer.frames_written:
            raise ValueError(f"{self.folder}: restart_at must come before any frame is written")
        self.pieces = keep
        self._writer.abort()
        self._remove_others()
        self._start = frame
        self._open()

    def _remove_others(self) -> None:
        """Remove what is not a kept piece: later pieces, and half-written ones a crash left behind."""
        kept = {p for _, _, p in self.pieces}
        for p in self.folder.iterdir():
            if p not in kept and (PIECE.match(p.name) or p.name.startswith(".piece_")):
                remove_quietly(p)

    def _open(self) -> None:
        self._writer = self._piece_writer(self.folder / piece_name(self._start))

    # ------------------------------------------------------------------ writing

    def write(self, rgb: np.ndarray) -> None:
        """Append one HxWx3 uint8 RGB frame."""
        self._current().write(rgb)
        self._after_frame()

    def write_planes(self, planes: np.ndarray) -> None:
        """Append one frame of packed 4:2:0 planes (see :meth:`VideoWriter.write_planes`)."""
        self._current().write_planes(planes)
        self._after_frame()

    def _current(self) -> VideoWriter:
        if self._closed:
            raise MediaError(f"{self.path}: the video writer is already closed")
        if self._writer is None:
            self._open()
        assert self._writer is not None
        return self._writer

    def _after_frame(self) -> None:
        assert self._writer is not None
        if self._writer.frames_written >= self.piece_frames:
            self._finish_piece()

    def _finish_piece(self) -> None:
        writer, self._writer = self._writer, None
        assert writer is not None
        count = writer.frames_written
        writer.close()
        self.pieces.append((self._start, count, writer.path))
        start, self._start = self._start, self._start + count
        if self.on_piece is not None:
            self.on_piece(start, count)

    def close(self) -> None:
        """Finish the last piece, join all of them into ``path`` (with the audio) and rename it into
        place; the pieces stay in the folder (the caller removes it). On failure ``path`` is untouched."""
        if self._closed:
            return
        if self._writer is not None and self._writer.frames_written:
            self._finish_piece()
        elif self._writer is not None:
            self._writer.abort()
            self._writer = None
        self._closed = True
        if not self.pieces:
            raise MediaError(f"{self.path}: no frames were written; no video was saved")
        join_pieces([p for _, _, p in self.pieces], self.path, audio_from=self.audio_from)

    def abort(self) -> None:
        """Give up: the piece being written is removed; the finished ones stay for the next run."""
        self._closed = True
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def __enter__(self) -> SegmentedVideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def join_pieces(pieces: list[Path], path: Path, *, audio_from: Path | None = None) -> None:
    """Join MP4 pieces of one H.264 stream (the same encoder settings, each starting with a key frame)
    into ``path``, their packets copied one after the other, with the first audio stream of
    ``audio_from`` muxed in as :class:`VideoWriter` does. Written under a temporary name and renamed into
    place when complete."""
    import av

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    src = None
    try:
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}))
            first = stack.enter_context(av.open(str(pieces[0])))
            v_out = out.add_stream_from_template(first.streams.video[0])
            audio: Iterator[tuple[float, Any]] | None = None
            if audio_from is not None:
                src = stack.enter_context(open_input(audio_from, "audio"))
                _, audio = audio_into(out, src, audio_from, path)
            pending: tuple[float, Any] | None = None

            def mux_audio(until: float) -> None:
                nonlocal pending, audio
                while audio is not None:
                    if pending is None:
                        pending = next(audio, None)
                        if pending is None:
                            audio = None
                            return
                    if pending[0] >= until:
                        return
                    out.mux(pending[1])
                    pending = None

            offset = Fraction(0)  # seconds before this piece
            for piece in pieces:
                with av.open(str(piece)) as container:
                    stream = container.streams.video[0]
                    tb = stream.time_base
                    shift = round(offset / tb)
                    end = offset
                    for packet in container.demux(stream):
                        if packet.size == 0 or packet.dts is None:
                            continue
                        packet.dts += shift
                        if packet.pts is not None:
                            packet.pts += shift
                            end = max(end, (packet.pts + (packet.duration or 0)) * tb)
                        mux_audio(float(packet.dts * tb))
                        packet.stream = v_out
                        out.mux(packet)
                    offset = Fraction(end)
            mux_audio(math.inf)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except av.error.FFmpegError as exc:
        remove_quietly(tmp)
        raise MediaError(f"{path}: cannot join the encoded pieces ({describe_av_error(exc)})") from None
    except BaseException:
        remove_quietly(tmp)
        raise
