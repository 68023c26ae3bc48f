"""The learned engine's run: :func:`translate_with_model`, the stages of :mod:`.stages` (open the input,
plan, track faces, generate, paste back and encode, finish); the faces, generator and encode stages run at
once on the threads of a :class:`~.conveyor.Conveyor`, joined by bounded queues, so memory does not grow
with the video's length. Imported only when the learned engine runs: the mesh engine never loads torch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, MediaError, Wav2LipEmotionError
from ..faces import MaskMode
from ..media import VideoReader, is_image_path
from ..media.video import Frame
from .config import OUTPUT_SUFFIXES, TranslateConfig
from .conveyor import Conveyor
from .result import TranslateResult
from .resume import ResumeFolder, resume_point
from .stages import (
    Encoders,
    FaceStage,
    FrameWork,
    GeneratorStage,
    PasteStage,
    Plan,
    Progress,
    Tally,
    finish,
    open_input,
    plan_translation,
)
from .translator import EmotionTranslator


def _check_paths(input_path: Path, output: Path, side_by_side: Path | None) -> None:
    if not input_path.is_file():
        raise MediaError(f"{input_path}: no such video file")
    for out in (output, side_by_side):
        if out is None:
            continue
        if out.suffix.lower() not in OUTPUT_SUFFIXES:
            raise ConfigError(
                f"{out}: translate writes H.264 video in an MP4 container; name the output .mp4 (or .m4v, .mov)"
            )
        if out.resolve() == input_path.resolve():
            raise ConfigError(f"{out}: is the input video; write the translation to another file")
        if not out.parent.is_dir():
            raise MediaError(f"{out}: output directory {out.parent} does not exist")
    if side_by_side is not None and side_by_side.resolve() == output.resolve():
        raise ConfigError(f"{side_by_side}: is also the output; give the side-by-side video another name")


def translate_with_model(
    input_path: Path, output: Path, config: TranslateConfig, translator: EmotionTranslator | None
) -> TranslateResult:
    """:func:`~.pipeline.translate` with the learned engine (``config`` says which checkpoint)."""
    if isinstance(config.intensity, str) or (config.intensity is not None and config.intensity > 1):
        config = config.with_overrides(engine="model")  # the learned engine's reading of the intensity
    if is_image_path(input_path):
        raise ConfigError(
            f"{input_path}: the learned engine translates videos with speech; use the mesh engine for photos"
        )
    _check_paths(input_path, output, config.side_by_side)
    start = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    previous_mask = translator.mask if translator is not None else None
    try:
        return _run_stages(input_path, output, config, translator, start)
    finally:
        # a one-off setting of this call never sticks to the caller's torch or translator
        torch.set_num_threads(previous_threads)
        if translator is not None and config.mask is not None:
            translator.mask = previous_mask


def _run_stages(
    input_path: Path, output: Path, config: TranslateConfig, translator: EmotionTranslator | None, start: float
) -> TranslateResult:
    """The learned engine's stages, in order; the faces and encode stages on the conveyor's threads. With
    ``config.resume_every`` the outputs are written in pieces kept in a :class:`~.resume.ResumeFolder`
    until they are in place: a run that stopped goes on after its last finished piece (its frames
    before that are only tracked again, so the tracker is where an uninterrupted run's would be; each
    piece is batched alike in every run; the mask inferred at the start is kept with the pieces)."""
    source = open_input(input_path)
    plan = plan_translation(source, output, config, translator)
    piece = max(1, round(config.resume_every * source.info.fps)) if config.resume_every > 0 else 0
    folder = ResumeFolder(output, input_path, _settings(plan, piece)) if piece else None
    faces = FaceStage(plan, source)
    try:
        with contextlib.ExitStack() as stack:  # unwinds: threads joined, reader closed, outputs removed, bar closed
            progress = stack.enter_context(Progress(config, source.info.frame_count or None))
            tally, pieces = Tally(), _PieceTallies(piece)
            generator: GeneratorStage | None = None

            def piece_done(first: int, count: int) -> None:
                assert folder is not None and generator is not None
                folder.keep_piece(first, pieces.record(first, plan.translator.mask, generator))

            encoders = stack.enter_context(Encoders(plan, source, folder, piece, piece_done))
            skip = 0
            if folder is not None:
                skip, _ = resume_point(folder, encoders.video, encoders.side)
            reader = stack.enter_context(VideoReader(input_path, threads=plan.codec_threads))
            conveyor: Conveyor[Frame, FrameWork] = stack.enter_context(
                Conveyor(frames_capacity=2 * plan.batch_size, exclusive_generator=plan.cpu, label=str(output))
            )
            generator = GeneratorStage(plan, conveyor.generator_turn)
            if folder is not None and skip:
                _restore(folder.load_totals(), skip, tally, plan.translator, generator)
            frames = _tracked_until(iter(reader), skip, faces, progress)
            conveyor.start(frames, faces, PasteStage(plan, encoders), progress)
            for batch in conveyor.batches(plan.batch_size, boundary=piece):
                generator(batch)
                tally.add(batch)
                pieces.add(batch)
                conveyor.send(batch)
            conveyor.finish()
            result = finish(plan, tally, generator, encoders, start)
        if folder is not None:
            result.notes.extend(folder.notes(skip))
            folder.remove()
        return result
    except Wav2LipEmotionError:
        if folder is not None:  # the input or the settings are at fault: running again would fail alike
            folder.remove()
        raise


def _settings(plan: Plan, piece: int) -> dict[str, Any]:
    """What shapes a resumable run's output: every setting but the progress display, the checkpoint
    and face-track files as they are now, the batch size and device chosen, the piece's length."""
    config = plan.config
    kept = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("progress", "on_progress")}

    def file(path: Path | None) -> list[Any] | None:
        if path is None:
            return None
        st = Path(path).stat()
        return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]

    return {
        "engine": "model",
        "config": kept,
        "checkpoint": file(config.checkpoint),
        "faces": file(config.faces),
        "generator": plan.translator.describe(),
        "batch_size": plan.batch_size,
        "piece_frames": piece,
    }


class _PieceTallies:
    """Each piece's frames through the generator, without a face, beyond the audio (as :class:`Tally`)."""

    def __init__(self, piece: int) -> None:
        self.piece = piece
        self.tallies: dict[int, Tally] = {}

    def add(self, batch: list[FrameWork]) -> None:
        if self.piece:  # a batch holds frames of one piece (Conveyor.batches' boundary)
            self.tallies.setdefault(batch[0].index - batch[0].index % self.piece, Tally()).add(batch)

    def record(self, first: int, mask: MaskMode | None, generator: GeneratorStage) -> dict[str, Any]:
        """What is kept with the piece that starts at ``first``: its tally, and the mask the run uses
        (inferred from the first faces, which a resumed run does not see again)."""
        t = self.tallies.pop(first, Tally())
        return {
            "frames": t.frames,
            "missing": t.missing,
            "beyond_audio": t.beyond_audio,
            "mask": None if mask is None else mask.value,
            "mask_probe": generator.mask_probe,
            "notes": list(generator.notes),
        }


def _restore(
    records: dict[int, dict[str, Any]],
    skip: int,
    tally: Tally,
    translator: EmotionTranslator,
    generator: GeneratorStage,
) -> None:
    """A resumed run's tally of the frames before ``skip``, and the mask the stopped run used."""
    for first in sorted(records):
        if first < skip:
            r = records[first]
            tally.frames += int(r.get("frames", 0))
            tally.missing.extend(int(i) for i in r.get("missing", []))
            tally.beyond_audio += int(r.get("beyond_audio", 0))
    last = records[max(f for f in records if f < skip)]
    if translator.mask is None and last.get("mask") is not None:
        translator.mask = MaskMode(last["mask"])
        generator.mask_probe = last.get("mask_probe")
        generator.notes.extend(last.get("notes", []))


def _tracked_until(frames: Iterator[Frame], skip: int, faces: FaceStage, progress: Progress) -> Iterator[Frame]:
    """``frames`` from index ``skip`` on; those before are only tracked (a resumed run's tracker then
    follows the face as an uninterrupted run's did) and counted as done."""
    for frame in frames:
        if frame.index < skip:
            faces.observe(frame)
            progress(1)
            continue
        yield frame
