"""The learned engine's run: :func:`translate_with_model`, the stages of :mod:`.stages` (open the input,
plan, track faces, generate, paste back and encode, finish); the faces, generator and encode stages run at
once on the threads of a :class:`~.conveyor.Conveyor`, joined by bounded queues, so memory does not grow
with the video's length. Imported only when the learned engine runs: the mesh engine never loads torch.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import torch

from ..errors import ConfigError, MediaError
from ..media import VideoReader, is_image_path
from ..media.video import Frame
from .config import OUTPUT_SUFFIXES, TranslateConfig
from .conveyor import Conveyor
from .result import TranslateResult
from .stages import (
    Encoders,
    FaceStage,
    FrameWork,
    GeneratorStage,
    PasteStage,
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
    """The learned engine's stages, in order; the faces and encode stages on the conveyor's threads."""
    source = open_input(input_path)
    plan = plan_translation(source, output, config, translator)
    faces = FaceStage(plan, source)
    with contextlib.ExitStack() as stack:  # unwinds: threads joined, reader closed, outputs removed, bar closed
        progress = stack.enter_context(Progress(config, source.info.frame_count or None))
        encoders = stack.enter_context(Encoders(plan, source))
        reader = stack.enter_context(VideoReader(input_path, threads=plan.codec_threads))
        conveyor: Conveyor[Frame, FrameWork] = stack.enter_context(
            Conveyor(frames_capacity=2 * plan.batch_size, exclusive_generator=plan.cpu, label=str(output))
        )
        generator = GeneratorStage(plan, conveyor.generator_turn)
        tally = Tally()
        conveyor.start(iter(reader), faces, PasteStage(plan, encoders), progress)
        for batch in conveyor.batches(plan.batch_size):
            generator(batch)
            tally.add(batch)
            conveyor.send(batch)
        conveyor.finish()
        return finish(plan, tally, generator, encoders, start)
