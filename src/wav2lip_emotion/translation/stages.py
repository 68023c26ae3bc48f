"""The stages of a translation with a learned generator; :func:`.pipeline.translate` runs them in order.

1. :func:`open_input`: probe the video and turn its audio into a mel spectrogram (:class:`SourceMedia`);
2. :func:`plan_translation`: the face-track file, the translator (checkpoint, emotions, intensity, mask),
   batch size, crop, and what the result knows before the first frame (:class:`Plan`); bad input is
   reported here, before any frame is decoded;
3. :class:`FaceStage`: one decoded frame -> its face crop, face hull and mel window (:class:`FrameWork`);
4. :class:`GeneratorStage`: a batch of frames -> their generated faces;
5. :class:`PasteStage`: one frame -> pasted back and written to the :class:`Encoders`;
6. :func:`finish`: the outputs renamed into place (only now: an error leaves no output) and the
   :class:`~.result.TranslateResult`.

Each stage is a plain function or a small class usable on its own. Stages 3 to 5 run at once, on the
threads of a :class:`~.conveyor.Conveyor`, which also carries their errors to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio import MEL_STEPS_PER_SECOND, MEL_WINDOW, SAMPLE_RATE, load_audio, melspectrogram
from ..errors import TranslationError
from ..faces import CropConfig, FaceCrop, FaceObservation, FaceTracker, MaskMode, full_mask, paste_back
from ..media import SegmentedVideoWriter, VideoWriter, probe_video
from ..media.video import MP4_AUDIO_COPY_CODECS, Frame, VideoInfo
from .config import TranslateConfig
from .face_track import FaceTrackFile
from .result import TranslateResult, frame_ranges
from .translator import EmotionTranslator, MaskProbe

if TYPE_CHECKING:
    from .resume import ResumeFolder

#: CPU default batch: the paper generator's best throughput on a 2-core machine; GPU default
CPU_BATCH, GPU_BATCH = 8, 32


# --------------------------------------------------------------------------- 1. open the input


@dataclass(frozen=True)
class SourceMedia:
    """The input video as probed, with the mel spectrogram of its whole audio."""

    path: Path
    info: VideoInfo
    #: [80, steps] at :data:`~wav2lip_emotion.audio.MEL_STEPS_PER_SECOND`
    mel: np.ndarray


def open_input(path: Path) -> SourceMedia:
    """Probe ``path`` and decode its audio; TranslationError when it has no audio, or less than one window."""
    info = probe_video(path)
    if not info.has_audio:
        raise TranslationError(
            f"{path}: has no audio stream; the generator needs the video's own speech to keep the lips in sync"
        )
    wav = load_audio(path)
    if len(wav) < MEL_WINDOW * SAMPLE_RATE / MEL_STEPS_PER_SECOND:
        raise TranslationError(f"{path}: its audio lasts {len(wav) / SAMPLE_RATE:.3f} s, less than one 0.2 s window")
    return SourceMedia(path, info, melspectrogram(wav))


# --------------------------------------------------------------------------- 2. plan


@dataclass
class Plan:
    """Everything decided before the first frame is decoded."""

    config: TranslateConfig
    output: Path
    translator: EmotionTranslator
    batch_size: int
    crop: CropConfig
    #: faces read from ``config.faces``; None: tracked
    track_file: FaceTrackFile | None
    #: the result's fields known before the first frame (the rest is filled by :func:`finish`)
    result: TranslateResult
    #: on a CPU the generator runs alone and the codecs single-threaded (see :class:`~.conveyor.Conveyor`)
    cpu: bool

    @property
    def codec_threads(self) -> int | None:
        """Threads of the decoder and the encoders (None: the codec's choice)."""
        return 1 if self.cpu else None


def plan_translation(
    source: SourceMedia, output: Path, config: TranslateConfig, translator: EmotionTranslator | None = None
) -> Plan:
    """Read the face-track file, load the translator (or set the caller's ``translator``'s mask: the caller
    restores it) and fix the batch size and the crop. Raises on a request the checkpoint cannot serve."""
    track_file = FaceTrackFile(config.faces) if config.faces is not None else None
    if translator is None:
        translator = EmotionTranslator.from_checkpoint(
            config.checkpoint,
            config.to,
            config.source,
            config.intensity,
            mask=config.mask,
            device=config.device,
        )
    elif config.mask is not None:
        translator.mask = config.mask
    req = translator.request
    info = source.info
    cpu = translator.device.type == "cpu"
    result = TranslateResult(
        input=str(source.path),
        output=str(output),
        side_by_side=str(config.side_by_side) if config.side_by_side else None,
        model=translator.card.describe(),
        to=req.to,
        source=req.source,
        intensity=req.intensity,
        mask="",
        width=info.width,
        height=info.height,
        fps=info.fps,
        audio="copied" if (info.audio_codec or "") in MP4_AUDIO_COPY_CODECS else f"{info.audio_codec} -> AAC",
        notes=list(req.notes),
    )
    if info.variable_frame_rate:
        result.notes.append("variable frame rate input: the output has the same frames at a constant rate")
    padding = config.crop_padding if config.crop_padding is not None else translator.crop_padding
    return Plan(
        config=config,
        output=output,
        translator=translator,
        batch_size=config.batch_size or (CPU_BATCH if cpu else GPU_BATCH),
        crop=CropConfig(size=translator.face_size, padding=padding),
        track_file=track_file,
        result=result,
        cpu=cpu,
    )


# --------------------------------------------------------------------------- 3. faces


@dataclass
class FrameWork:
    """One frame on its way through the stages."""

    index: int
    rgb: np.ndarray
    mel: np.ndarray | None = None
    crop: FaceCrop | None = None
    face: np.ndarray | None = None
    hull: np.ndarray | None = None
    paste_hull: np.ndarray | None = None
    generated: np.ndarray | None = None
    #: the frame lies beyond the end of the audio (its mel window is the last one)
    beyond_audio: bool = False


class FaceStage:
    """A decoded frame -> its :class:`FrameWork`: the face (tracked, or read from the face-track file)
    cropped at the model size, its face-mesh hulls, and its mel window."""

    def __init__(self, plan: Plan, source: SourceMedia) -> None:
        self.crop = plan.crop
        self.paste_grow = plan.config.paste_grow
        self.mel = source.mel
        self.fps = source.info.fps
        self.variable_frame_rate = source.info.variable_frame_rate
        self.track_file = plan.track_file
        self.tracker = FaceTracker(plan.config.tracker) if plan.track_file is None else None

    def observe(self, frame: Frame) -> FaceObservation:
        if self.track_file is not None:
            return self.track_file.observation(frame.index, frame.time)
        assert self.tracker is not None
        return self.tracker.update(frame.rgb, frame.time)

    def __call__(self, frame: Frame) -> FrameWork:
        size, steps = self.crop.size, self.mel.shape[1]
        work = FrameWork(frame.index, frame.rgb)
        t = frame.time if self.variable_frame_rate else frame.index / self.fps
        # the original's indexing: frame i starts at mel step int(80 * i / fps); the last windows
        # are clamped to the end of the audio
        start = int(MEL_STEPS_PER_SECOND * t)
        first = min(start, steps - MEL_WINDOW)
        work.mel = self.mel[None, :, first : first + MEL_WINDOW]
        work.beyond_audio = start >= steps
        obs = self.observe(frame)
        if obs.found and obs.box is not None:
            crop = FaceCrop.from_box(obs.box, self.crop)
            work.crop = crop
            work.face = crop.extract(frame.rgb)
            if obs.landmarks is not None:
                lm = crop.to_crop(obs.landmarks)
                work.hull = full_mask(lm, size) > 0
                work.paste_hull = full_mask(lm, size, grow=self.paste_grow)
        return work


# --------------------------------------------------------------------------- 4. generator


class GeneratorStage:
    """A batch of frames -> their generated faces (``FrameWork.generated``), inferring the mask mode from
    the first faces when the checkpoint does not record it. ``turn``: the generator's turn to run."""

    def __init__(self, plan: Plan, turn: Callable[[], AbstractContextManager[object]]) -> None:
        self.translator = plan.translator
        self.size = plan.crop.size
        self.faces_file = plan.config.faces
        self.turn = turn
        #: seconds spent inside the generator
        self.seconds = 0.0
        #: how the mask mode was inferred, if it was
        self.mask_probe: str | None = None
        self.notes: list[str] = []

    def __call__(self, batch: Sequence[FrameWork]) -> None:
        translator = self.translator
        faced = [w for w in batch if w.face is not None]
        if not faced:
            return
        if translator.mask is None:
            probe = self.infer_mask(faced)
            if probe is not None:
                self.mask_probe = probe.describe()
        t0 = time.perf_counter()
        hulls = np.stack([w.hull if w.hull is not None else np.zeros((self.size,) * 2, bool) for w in faced])
        if translator.mask is MaskMode.FULL and any(w.hull is None for w in faced):
            raise TranslationError(
                f"{self.faces_file}: the full mask needs face landmarks, and this face file has none"
            )
        with self.turn():
            generated = translator.generate(
                np.stack([w.mel for w in faced]).astype(np.float32, copy=False),
                np.stack([w.face for w in faced]),
                translator.prior_masks(hulls),
            )
        self.seconds += time.perf_counter() - t0
        for w, g in zip(faced, generated, strict=True):
            w.generated = g

    def infer_mask(self, faced: list[FrameWork]) -> MaskProbe | None:
        """Infer the mask mode of a checkpoint that does not record it from the first faces of the video."""
        with_hull = [w for w in faced if w.hull is not None]
        if not with_hull:
            self.translator.mask = MaskMode.HALF
            self.notes.append("the mask could not be inferred without landmarks; used half (Wav2Lip's)")
            return None
        return self.translator.infer_mask(
            np.stack([w.mel for w in with_hull]).astype(np.float32, copy=False),
            np.stack([w.face for w in with_hull]),
            np.stack([w.hull for w in with_hull]),
        )


@dataclass
class Tally:
    """Frames through the generator, those without a face, and those beyond the end of the audio."""

    frames: int = 0
    missing: list[int] = field(default_factory=list)
    beyond_audio: int = 0

    def add(self, batch: Sequence[FrameWork]) -> None:
        for w in batch:
            self.frames += 1
            if w.face is None:
                self.missing.append(w.index)
            self.beyond_audio += int(w.beyond_audio)


# --------------------------------------------------------------------------- 5. paste back + encode


class Encoders:
    """The output video (and the side-by-side one, source | translated) being written to temporary files:
    :meth:`close` renames them into place; :meth:`abort`, also called on leaving a ``with`` block (a
    no-op once closed), removes them. With a ``folder`` (a resumable run) each is written in pieces of
    ``piece`` frames kept there (:class:`~wav2lip_emotion.media.segments.SegmentedVideoWriter`), and
    ``on_piece(start, count)`` is called when a piece of the output is in place."""

    def __init__(
        self,
        plan: Plan,
        source: SourceMedia,
        folder: ResumeFolder | None = None,
        piece: int = 0,
        on_piece: Callable[[int, int], None] | None = None,
    ) -> None:
        info, config = source.info, plan.config
        options: dict[str, Any] = {
            "audio_from": source.path,
            "crf": config.crf_for("model"),
            "preset": config.preset,
            "threads": plan.codec_threads,
        }

        def writer(
            path: Path, width: int, part: str, done: Callable[[int, int], None] | None
        ) -> VideoWriter | SegmentedVideoWriter:
            if folder is None:
                return VideoWriter(path, info.fps, width, info.height, **options)
            return SegmentedVideoWriter(
                path, folder.path / part, piece, info.fps, width, info.height, on_piece=done, **options
            )

        self.video = writer(plan.output, info.width, "video", on_piece)
        self.side: VideoWriter | SegmentedVideoWriter | None = None
        if config.side_by_side is not None:
            try:
                self.side = writer(config.side_by_side, 2 * info.width, "side", None)
            except BaseException:
                self.video.abort()
                raise

    def write(self, source: np.ndarray, translated: np.ndarray) -> None:
        self.video.write(translated)
        if self.side is not None:
            self.side.write(np.concatenate([source, translated], axis=1))

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
        self.video.close()

    def abort(self) -> None:
        if self.side is not None:
            self.side.abort()
        self.video.abort()

    def __enter__(self) -> Encoders:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.abort()


class PasteStage:
    """One frame -> its generated face pasted back (feathered, colour-matched) and the frame encoded;
    frames without a face are written untouched."""

    def __init__(self, plan: Plan, encoders: Encoders) -> None:
        self.translator = plan.translator
        self.size = plan.crop.size
        self.mode = plan.config.paste
        self.encoders = encoders

    def __call__(self, work: FrameWork) -> None:
        out = work.rgb
        if work.generated is not None and work.crop is not None:
            out = paste_back(work.rgb, work.generated, work.crop, self.mask(work), mode=self.mode)
        self.encoders.write(work.rgb, out)

    def mask(self, work: FrameWork) -> np.ndarray:
        """Where the generated face replaces the frame's, in the crop (the hull grown for paste-back)."""
        s = self.size
        mode = self.translator.mask
        if work.paste_hull is None:  # no landmarks (a face file without them): the model's own region
            mask = np.ones((s, s), np.float32)
            if mode is MaskMode.HALF:
                mask[: s // 2] = 0
            return mask
        if mode is MaskMode.HALF:
            mask = work.paste_hull.copy()
            mask[: s // 2] = 0
            return mask
        return work.paste_hull


class Progress:
    """Frames written: the tqdm bar (``config.progress``) and ``config.on_progress(done, total)``."""

    def __init__(self, config: TranslateConfig, total: int | None) -> None:
        self.total = total
        self.done = 0
        self.on_progress = config.on_progress
        self.bar: Any = None
        if config.progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="frame", desc="translate", dynamic_ncols=True)

    def __call__(self, frames: int) -> None:
        if self.bar is not None:
            self.bar.update(frames)
        self.done += frames
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- 6. finish


def finish(plan: Plan, tally: Tally, generator: GeneratorStage, encoders: Encoders, start: float) -> TranslateResult:
    """Rename the outputs into place and complete the plan's result; TranslationError (nothing written)
    when no frame had a face."""
    result = plan.result
    if tally.frames == len(tally.missing):
        raise TranslationError(
            f"{result.input}: no face was found in any of its {tally.frames} frames; nothing was written "
            "(`wav2lip-emotion faces` shows what the detector sees)"
        )
    encoders.close()
    result.frames = tally.frames
    result.faces = tally.frames - len(tally.missing)
    result.beyond_audio = tally.beyond_audio
    result.passed_through = len(tally.missing)
    result.missing_ranges = frame_ranges(tally.missing)
    result.generator_seconds = generator.seconds
    result.mask_probe = generator.mask_probe
    result.notes.extend(generator.notes)
    result.mask = plan.translator.mask.value if plan.translator.mask is not None else "?"
    result.seconds = time.perf_counter() - start
    return result
