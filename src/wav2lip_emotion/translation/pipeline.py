"""Video in -> the same video with another facial emotion out: :func:`translate`.

The learned engine runs the stages of :mod:`.stages` (open the input, plan, track faces, generate, paste
back and encode, finish); the faces, generator and encode stages run at once on the threads of a
:class:`~.conveyor.Conveyor`, joined by bounded queues, so memory does not grow with the video's length.
The mesh engine (:mod:`.mesh_engine`) is dispatched from here and reported the same way.

The input's own audio is muxed into the output (copied bit for bit when MP4 allows its codec, else
transcoded to AAC), and the output has the input's frame count, frame rate and size. The output (and
the side-by-side video) are written to temporary files renamed into place only when everything
succeeded: an error or Ctrl-C leaves no OUTPUT behind.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MediaError
from ..faces import FaceTracker
from ..media import VideoReader, is_image_path
from ..media.video import MP4_AUDIO_COPY_CODECS, Frame
from .config import TranslateConfig
from .conveyor import Conveyor
from .result import TranslateResult, frame_ranges
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

#: output names translate writes (H.264 in an MP4 container)
OUTPUT_SUFFIXES = (".mp4", ".m4v", ".mov")


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


def translate(
    input: str | Path,
    output: str | Path,
    to: str | None = None,
    *,
    config: TranslateConfig | None = None,
    translator: EmotionTranslator | None = None,
    **options: Any,
) -> TranslateResult:
    """Translate the facial emotion of the main face in ``input`` to ``to`` and write ``output`` (MP4).

    Settings are a :class:`TranslateConfig` (``config``) or its fields as keyword arguments
    (``source``, ``intensity``, ``checkpoint``, ``mask``, ``batch_size``, ``device``, ``side_by_side``,
    ``faces``, ``paste``, ...). ``translator`` reuses an already loaded model for several videos.
    Raises a :class:`~wav2lip_emotion.errors.Wav2LipEmotionError` subclass with a one-line message on
    bad input; nothing is written then.
    """
    if config is None:
        if to is None:
            raise ConfigError("translate needs the destination emotion (to=...)")
        config = TranslateConfig(to=to, **options)
    elif to is not None or options:
        config = config.with_overrides(**({"to": to} if to is not None else {}), **options)
    input_path, output = Path(input), Path(output)
    if config.engine_for(translator is not None) == "mesh":
        if translator is not None:
            raise ConfigError("a learned translator was given, but the engine is mesh; pass engine='model'")
        return _translate_with_mesh(input_path, output, config)
    if isinstance(config.intensity, str) or (config.intensity is not None and config.intensity > 1):
        config = config.with_overrides(engine="model")  # the learned engine's reading of the intensity
    if is_image_path(input_path):
        raise ConfigError(
            f"{input_path}: the learned engine translates videos with speech; use the mesh engine for photos"
        )
    _check_paths(input_path, output, config.side_by_side)
    start = time.perf_counter()

    import torch

    previous_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    previous_mask = translator.mask if translator is not None else None
    try:
        return _translate_with_model(input_path, output, config, translator, start)
    finally:
        # a one-off setting of this call never sticks to the caller's torch or translator
        torch.set_num_threads(previous_threads)
        if translator is not None and config.mask is not None:
            translator.mask = previous_mask


def _translate_with_model(
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


def _translate_with_mesh(input_path: Path, output: Path, config: TranslateConfig) -> TranslateResult:
    """The mesh engine's run, reported like a learned model's."""
    from .face_track import FaceTrackFile
    from .mesh_engine import MeshEngine
    from .mesh_run import check_outputs, translate_mesh

    check_outputs(input_path, output, config.side_by_side)
    start = time.perf_counter()
    occluders = None
    if config.occluders:
        from ..faces.occluders import OccluderDetector

        occluders = OccluderDetector()
    engine = MeshEngine(
        config.to, source=config.source, intensity=config.intensity, occluders=occluders, glasses=config.glasses
    )
    tracker = FaceTracker(config.tracker)
    run = translate_mesh(
        input_path,
        output,
        engine,
        tracker=tracker,
        side_by_side=config.side_by_side,
        crf=config.crf_for("mesh"),
        preset=config.preset,
        deadzones=config.deadzones_for("mesh"),
        progress=config.progress,
        on_progress=config.on_progress,
        faces=FaceTrackFile(config.faces) if config.faces is not None else None,
        resume_every=config.resume_every,
    )
    codec = run.audio_codec or ""
    result = TranslateResult(
        input=str(input_path),
        output=str(output),
        side_by_side=str(config.side_by_side) if config.side_by_side else None,
        model="mesh engine (training-free warp of the real face)",
        to=config.to,
        source=config.source,
        intensity=engine.schedule.peak,
        mask="face",
        frames=run.frames,
        faces=run.faces,
        passed_through=len(run.missing),
        missing_ranges=frame_ranges(run.missing),
        width=run.width,
        height=run.height,
        fps=run.fps,
        audio=("copied" if codec in MP4_AUDIO_COPY_CODECS else f"{codec} -> AAC") if run.has_audio else "none",
        engine="mesh",
        schedule=engine.schedule.describe(),
        flipped_triangles=run.flipped,
        damped_points=run.damped_points,
        occluded_frames=run.occluded_frames,
        resting={k: round(v, 3) for k, v in run.resting.items()},
        notes=list(run.notes),
    )
    if run.glasses:
        result.notes.append(run.glasses)
    if run.resting:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(run.resting.items()))
        result.notes.append(f"resting expression removed ({run.resting_source}): {shown}")
    if not engine.schedule.is_constant:
        result.notes.append(f"intensity schedule {engine.schedule.describe()}")
    result.seconds = time.perf_counter() - start
    return result
