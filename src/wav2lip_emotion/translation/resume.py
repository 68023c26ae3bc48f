"""Resuming a video translation that stopped (a crash, Ctrl-C, the machine switched off).

While either engine translates a video, what it has finished is kept in a hidden folder next to the
output, ``.OUTPUT.resume/`` (:func:`resume_folder`): the output (and the side-by-side video) in pieces
of a few seconds (:class:`~wav2lip_emotion.media.segments.SegmentedVideoWriter`), each with a record of
its frames (``totals_*.json``: the mesh engine's totals; the learned engine's counts and the mask it
uses), and the mesh engine's tracking pass (``track.npz`` and ``track.json``). The same command run
again finds them, skips the finished pieces (and the mesh engine's tracking pass), and goes on from the
first frame after them, handing the encoder the frames of an uninterrupted run (the mesh engine
restarts the occluder masks at each piece, and the learned one batches each piece alike, in every
run). The folder is removed when the output is in place, and when the run fails on its input (a
one-line error: running it again would fail the same way). A folder made with other settings, for
another input, or for an input that changed since, is not used: it is discarded and the run starts
afresh.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..atomic import atomic_path, write_text_atomic
from ..errors import MediaError

RUN_FILE = "run.json"
#: what each piece's totals count
TOTAL_NAMES = ("damped_points", "would_flip", "flipped", "occluded_frames")
TOTALS = re.compile(r"^totals_(\d{9})\.json$")


def resume_folder(output: Path) -> Path:
    """Where an unfinished translation to ``output`` keeps its work."""
    return output.parent / f".{output.name}.resume"


def fingerprint(input_path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """What must be the same for a run to go on with another's work: the input file (path, size, time of
    its last change), the settings that shape the output, and the package version."""
    st = input_path.stat()
    return {
        "input": str(input_path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "version": __version__,
        "settings": json.loads(json.dumps(settings, default=str)),
    }


@dataclass
class TrackPass:
    """What the tracking pass found (see :func:`~wav2lip_emotion.translation.mesh_run.track_faces`)."""

    landmarks: np.ndarray
    valid: np.ndarray
    times: np.ndarray
    tracks: np.ndarray
    #: the glasses evidence (GlassesEvidence.to_json()), None when not looked for
    glasses: dict[str, Any] | None
    #: the reader's account of the input: why it ended early (or None), frames deinterlaced
    ended_early: str | None
    deinterlaced: int


class ResumeFolder:
    """The work of one translation, kept until its output is in place."""

    def __init__(self, output: Path, input_path: Path, settings: dict[str, Any]) -> None:
        self.path = resume_folder(output)
        self.fingerprint = fingerprint(input_path, settings)
        #: what happened to an earlier run's work: "resumed", "discarded" (other settings or input), ""
        self.found = ""
        if self.path.is_dir():
            try:
                same = json.loads((self.path / RUN_FILE).read_text()) == self.fingerprint
            except (OSError, ValueError):
                same = False
            if same:
                self.found = "resumed"
            else:
                self.found = "discarded"
                shutil.rmtree(self.path, ignore_errors=True)
        try:
            if not self.path.is_dir() and self.path.exists():
                self.path.unlink()
            self.path.mkdir(exist_ok=True)
            if self.found != "resumed":
                write_text_atomic(self.path / RUN_FILE, json.dumps(self.fingerprint, indent=1))
        except OSError as exc:
            raise MediaError(
                f"{self.path}: cannot keep the run's work there ({exc.strerror}); --resume-every 0 keeps none"
            ) from None

    # ------------------------------------------------------------------ the tracking pass

    def save_track(self, track: TrackPass) -> None:
        with atomic_path(self.path / "track.npz", suffix=".npz") as tmp:
            np.savez(tmp, landmarks=track.landmarks, valid=track.valid, times=track.times, tracks=track.tracks)
        about = {"glasses": track.glasses, "ended_early": track.ended_early, "deinterlaced": track.deinterlaced}
        write_text_atomic(self.path / "track.json", json.dumps(about))

    def load_track(self) -> TrackPass | None:
        """The tracking pass of the earlier run, or None (not finished, or unreadable)."""
        try:
            about = json.loads((self.path / "track.json").read_text())
            with np.load(self.path / "track.npz") as data:
                arrays = {k: data[k] for k in ("landmarks", "valid", "times", "tracks")}
        except (OSError, ValueError, KeyError):
            return None
        return TrackPass(
            **arrays,
            glasses=about.get("glasses"),
            ended_early=about.get("ended_early"),
            deinterlaced=int(about.get("deinterlaced", 0)),
        )

    # ------------------------------------------------------------------ the pieces' totals

    def piece_done(self, totals: dict[int, list[int]], start: int, count: int) -> None:
        """Record the totals of the piece that starts at ``start`` (``totals[start]``: frames damped, that
        would flip, flipped, occluded), once the piece is in place (a SegmentedVideoWriter's on_piece)."""
        counts = totals.get(start, [0, 0, 0, 0])
        self.keep_piece(start, dict(zip(TOTAL_NAMES, counts, strict=True)))

    def keep_piece(self, start: int, record: dict[str, Any]) -> None:
        """Keep what a run needs to know of the piece that starts at ``start`` (JSON-able), once the piece
        is in place: a piece counts as finished only with its record (:func:`resume_point`)."""
        write_text_atomic(self.path / f"totals_{start:09d}.json", json.dumps(record))

    def load_totals(self) -> dict[int, dict[str, Any]]:
        """The totals of each finished piece, by its first frame."""
        out = {}
        for p in self.path.iterdir():
            m = TOTALS.match(p.name)
            if m:
                try:
                    out[int(m.group(1))] = json.loads(p.read_text())
                except (OSError, ValueError):
                    continue
        return out

    def notes(self, start: int) -> list[str]:
        """What the run's notes say about this folder, the run going on from frame ``start``."""
        if start:
            kept = f"frames 0-{start - 1} were kept from it ({self.path.name} next to the output)"
            return [f"resumed an unfinished run: {kept}"]
        if self.found == "discarded":
            return [f"an unfinished run with other settings or another input was discarded ({self.path.name})"]
        return []

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def resume_point(folder: ResumeFolder, writer: Any, side: Any | None) -> tuple[int, list[int]]:
    """The first frame a resumed run edits: after the pieces that both outputs (``writer`` and ``side``,
    SegmentedVideoWriters) finished and whose totals were kept; 0 when none were. Both writers restart
    there. Also the totals of the frames before it (in the order of :data:`TOTAL_NAMES`)."""
    totals = folder.load_totals()
    side_ends = None if side is None else {first + count for first, count, _ in side.pieces}
    start = 0
    for first, count, _ in writer.pieces:
        if first not in totals or (side_ends is not None and first + count not in side_ends):
            break
        start = first + count
    writer.restart_at(start)
    if side is not None:
        side.restart_at(start)
    before = [0] * len(TOTAL_NAMES)
    for first, kept in totals.items():
        if first < start:
            for k, name in enumerate(TOTAL_NAMES):
                before[k] += int(kept.get(name, 0))
    return start, before


def frames_from(frames: Iterable[Any], first: int, tick: Callable[[int], None]) -> Iterator[Any]:
    """``frames`` (objects with an ``index``) from index ``first`` on; ``tick(1)`` for each one before."""
    for frame in frames:
        if frame.index < first:
            tick(1)
            continue
        yield frame
