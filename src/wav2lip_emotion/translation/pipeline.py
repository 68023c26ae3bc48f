"""Video in -> the same video with another facial emotion out: :func:`translate`, which runs one of two
engines and reports both the same way (:class:`~.result.TranslateResult`):

* the mesh engine (:mod:`.mesh_engine`, run by :mod:`.mesh_run`), the default;
* the learned engine (:mod:`.model_run`: the stages of :mod:`.stages` on the threads of
  :mod:`.conveyor`), imported only when it runs, so that the mesh engine never loads torch.

The input's own audio is muxed into the output (copied bit for bit when MP4 allows its codec, else
transcoded to AAC), and the output has the input's frame count, frame rate and size. The output (and
the side-by-side video) are written to temporary files renamed into place only when everything
succeeded: an error or Ctrl-C leaves no OUTPUT behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..faces import FaceTracker
from ..media.video import MP4_AUDIO_COPY_CODECS
from .config import TranslateConfig
from .result import TranslateResult, frame_ranges

if TYPE_CHECKING:
    from .translator import EmotionTranslator


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
    from .model_run import translate_with_model

    return translate_with_model(input_path, output, config, translator)


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
