"""Video in -> the same video with another facial emotion out, streamed end to end.

Three stages run at once, joined by bounded queues, so memory does not grow with the video's length:

1. **faces** (a thread): decode a frame, track the face (or read it from a ``--faces`` JSON), crop it
   at the model size, compute its face-mesh hull and its mel window;
2. **generator** (the calling thread): batches of crops -> :class:`EmotionTranslator`;
3. **paste + encode** (a thread): the generated face is pasted back (feathered, colour-matched) and
   the frame encoded; frames without a face are written untouched.

The input's own audio is muxed into the output (copied bit for bit when MP4 allows its codec, else
transcoded to AAC), and the output has the input's frame count, frame rate and size. The output (and
the side-by-side video) are written to temporary files renamed into place only when everything
succeeded: an error or Ctrl-C leaves no OUTPUT behind.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import MEL_STEPS_PER_SECOND, MEL_WINDOW, load_audio, melspectrogram
from ..errors import ConfigError, MediaError, TranslationError
from ..faces import CropConfig, FaceCrop, FaceObservation, FaceTracker, MaskMode, full_mask, paste_back
from ..media import VideoReader, VideoWriter, is_image_path, probe_video
from ..media.video import MP4_AUDIO_COPY_CODECS
from ..messages import listing
from .config import TranslateConfig
from .translator import EmotionTranslator, MaskProbe

#: output names translate writes (H.264 in an MP4 container)
OUTPUT_SUFFIXES = (".mp4", ".m4v", ".mov")
#: CPU default batch: the paper generator's best throughput on a 2-core machine; GPU default
CPU_BATCH, GPU_BATCH = 8, 32
_END = object()


@dataclass
class TranslateResult:
    """What a translation did (printed by the command, returned by the API)."""

    input: str
    output: str
    side_by_side: str | None
    model: str
    to: str
    source: str | None
    intensity: float
    mask: str
    frames: int = 0
    faces: int = 0
    #: frames written untouched because no face was found in them
    passed_through: int = 0
    #: [first, last] ranges of passed-through frames
    missing_ranges: list[tuple[int, int]] = field(default_factory=list)
    #: frames whose mel window had to be clamped to the end of the audio (audio shorter than video)
    beyond_audio: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio: str = ""
    seconds: float = 0.0
    #: seconds spent inside the generator (the rest is decoding, faces, paste-back and encoding)
    generator_seconds: float = 0.0
    mask_probe: str | None = None
    notes: list[str] = field(default_factory=list)
    #: mesh (training-free warp) or model (a learned generator)
    engine: str = "model"
    #: the mesh engine's intensity schedule, triangles flipped by its warp (always 0), control points
    #: its fold guard damped, frames where an occluder covered part of the face, and the resting
    #: expression it removed (AU coefficients)
    schedule: str | None = None
    flipped_triangles: int = 0
    damped_points: int = 0
    occluded_frames: int = 0
    resting: dict[str, float] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing_ranges"] = [list(r) for r in self.missing_ranges]
        out["frames_per_second"] = round(self.frames_per_second, 2)
        return out

    def describe(self) -> str:
        change = f"{self.source or 'any'} -> {self.to}"
        strength = self.schedule if self.schedule and ":" in self.schedule else f"{self.intensity:.2f}"
        lines = [
            f"{self.output}: {self.frames} frames {self.width}x{self.height} at {self.fps:.3f} fps, {change}"
            + (f" (intensity {strength})" if strength != "1.00" else "")
            + f", {self.mask} mask; audio {self.audio}",
            f"  faces translated in {self.faces}/{self.frames} frames; {self.passed_through} passed through untouched"
            + (f"; {self.beyond_audio} frames beyond the end of the audio" if self.beyond_audio else ""),
        ]
        if self.missing_ranges:
            shown = listing([f"{a}" if a == b else f"{a}-{b}" for a, b in self.missing_ranges], 10)
            lines.append(f"  no face in frames {shown}")
        lines.append(
            f"  {self.seconds:.1f} s, {self.frames_per_second:.1f} frames/s "
            + (
                f"({self.generator_seconds:.1f} s in the generator); model: {self.model}"
                if self.engine == "model"
                else f"engine: {self.model}; {self.flipped_triangles} flipped triangles, "
                f"{self.occluded_frames} frames with an occluder"
            )
        )
        if self.side_by_side:
            lines.append(f"  side by side (source | translated): {self.side_by_side}")
        if self.mask_probe:
            lines.append(f"  {self.mask_probe}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass
class _Work:
    """One frame on its way through the pipeline."""

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


class _TurnTaking:
    """A readers-writer lock with writer preference: the video stages (readers) may work together, the
    generator (writer) only alone; once it asks for its turn no stage starts another frame."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stages = 0
        self._generating = False
        self._generator_waiting = 0

    @contextlib.contextmanager
    def stage(self) -> Iterator[None]:
        with self._cond:
            while self._generating or self._generator_waiting:
                self._cond.wait()
            self._stages += 1
        try:
            yield
        finally:
            with self._cond:
                self._stages -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def generator(self) -> Iterator[None]:
        with self._cond:
            self._generator_waiting += 1
            while self._generating or self._stages:
                self._cond.wait()
            self._generator_waiting -= 1
            self._generating = True
        try:
            yield
        finally:
            with self._cond:
                self._generating = False
                self._cond.notify_all()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


# --------------------------------------------------------------------------- faces from a file


class FaceTrackFile:
    """Per-frame faces from ``wav2lip-emotion faces --json`` (``frames``: index, found, box, landmarks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: no such face-track file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{self.path}: not a face-track JSON file ({exc})") from None
        frames = data.get("frames") if isinstance(data, dict) else None
        if not isinstance(frames, list) or not frames:
            raise ConfigError(f"{self.path}: has no 'frames' list (write it with `wav2lip-emotion faces VIDEO --json`)")
        self.frames: dict[int, dict[str, Any]] = {}
        for i, rec in enumerate(frames):
            if not isinstance(rec, dict) or not isinstance(rec.get("index", i), int):
                raise ConfigError(f"{self.path}: frame record {i} is not an object with an integer index")
            self.frames[int(rec.get("index", i))] = rec
        self.count = max(self.frames) + 1

    def observation(self, index: int, time_s: float) -> FaceObservation:
        rec = self.frames.get(index)
        if rec is None:
            raise TranslationError(
                f"{self.path}: has no record for frame {index} (it covers {self.count} frames); was it made from "
                "this video?"
            )
        if not rec.get("found") or rec.get("box") is None:
            return FaceObservation(index, time_s, False)
        try:
            box = np.asarray(rec["box"], dtype=np.float64).reshape(4)
            lm = rec.get("landmarks")
            landmarks = None if lm is None else np.asarray(lm, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise TranslationError(f"{self.path}: frame {index} has a malformed box or landmarks") from None
        if landmarks is not None:
            landmarks = np.concatenate([landmarks, np.zeros((len(landmarks), 1))], axis=1)
        return FaceObservation(index, time_s, True, box=box, landmarks=landmarks, score=float(rec.get("score", 1.0)))


# --------------------------------------------------------------------------- helpers


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


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put without blocking forever when the other side has stopped; False if stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue[Any], stop: threading.Event, alive: Callable[[], bool]) -> Any:
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set() or not alive():
                return _Failure(RuntimeError("a pipeline stage stopped unexpectedly"))


def _ranges(indices: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


# --------------------------------------------------------------------------- the pipeline


class _Pipeline:
    def __init__(self, config: TranslateConfig, translator: EmotionTranslator, input_path: Path) -> None:
        self.config = config
        self.translator = translator
        self.input = input_path
        self.stop = threading.Event()
        self.size = translator.face_size
        self.crop_config = CropConfig(
            size=self.size,
            padding=config.crop_padding if config.crop_padding is not None else translator.crop_padding,
        )
        self.paste_grow = config.paste_grow
        # On a CPU the generator's OpenMP threads stall whenever another thread takes one of their cores
        # (every layer ends in a barrier), which costs more than the other stages' own work. There the
        # generator therefore runs alone, and the two other stages run together (one core each) while
        # it waits for its next batch; their codecs run single-threaded so no background thread
        # competes with it. On a GPU everything overlaps freely.
        cpu = translator.device.type == "cpu"
        self.turns: _TurnTaking | None = _TurnTaking() if cpu else None
        self.codec_threads = 1 if cpu else None

    def stage_turn(self) -> Any:
        return self.turns.stage() if self.turns is not None else contextlib.nullcontext()

    def generator_turn(self) -> Any:
        return self.turns.generator() if self.turns is not None else contextlib.nullcontext()

    # stage 1 -----------------------------------------------------------------

    def faces(
        self,
        frames: Iterator[Any],
        observe: Callable[[np.ndarray, int, float], FaceObservation],
        mel: np.ndarray,
        fps: float,
        vfr: bool,
        out: queue.Queue[Any],
    ) -> None:
        steps = mel.shape[1]
        try:
            while not self.stop.is_set():
                with self.stage_turn():
                    work = self._next_work(frames, observe, mel, steps, fps, vfr)
                if work is None:
                    break
                if not _put(out, work, self.stop):
                    return
            _put(out, _END, self.stop)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            _put(out, _Failure(exc), self.stop)

    def _next_work(
        self,
        frames: Iterator[Any],
        observe: Callable[[np.ndarray, int, float], FaceObservation],
        mel: np.ndarray,
        steps: int,
        fps: float,
        vfr: bool,
    ) -> _Work | None:
        """Decode the next frame and prepare its face and mel window (None at the end of the video)."""
        frame = next(frames, None)
        if frame is None:
            return None
        work = _Work(frame.index, frame.rgb)
        t = frame.time if vfr else frame.index / fps
        # the original's indexing: frame i starts at mel step int(80 * i / fps); the last windows
        # are clamped to the end of the audio
        start = int(MEL_STEPS_PER_SECOND * t)
        first = min(start, steps - MEL_WINDOW)
        work.mel = mel[None, :, first : first + MEL_WINDOW]
        work.beyond_audio = start >= steps
        obs = observe(frame.rgb, frame.index, frame.time)
        if obs.found and obs.box is not None:
            crop = FaceCrop.from_box(obs.box, self.crop_config)
            work.crop = crop
            work.face = crop.extract(frame.rgb)
            if obs.landmarks is not None:
                lm = crop.to_crop(obs.landmarks)
                work.hull = full_mask(lm, self.size) > 0
                work.paste_hull = full_mask(lm, self.size, grow=self.paste_grow)
        return work

    # stage 3 -----------------------------------------------------------------

    def paste_and_encode(
        self,
        inbox: queue.Queue[Any],
        writer: VideoWriter,
        side: VideoWriter | None,
        tick: Callable[[int], None],
        errors: list[BaseException],
    ) -> None:
        cfg = self.config
        try:
            while True:
                batch = _get(inbox, self.stop, lambda: True)
                if batch is _END or isinstance(batch, _Failure):
                    return
                for work in batch:
                    with self.stage_turn():
                        out = work.rgb
                        if work.generated is not None and work.crop is not None:
                            mask = self.paste_mask(work)
                            out = paste_back(work.rgb, work.generated, work.crop, mask, mode=cfg.paste)
                        writer.write(out)
                        if side is not None:
                            side.write(np.concatenate([work.rgb, out], axis=1))
                tick(len(batch))
        except BaseException as exc:
            errors.append(exc)
            self.stop.set()

    def paste_mask(self, work: _Work) -> np.ndarray:
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
    info = probe_video(input_path)
    if not info.has_audio:
        raise TranslationError(
            f"{input_path}: has no audio stream; the generator needs the video's own speech to keep the lips in sync"
        )
    wav = load_audio(input_path)
    if len(wav) < MEL_WINDOW * 16000 / MEL_STEPS_PER_SECOND:
        raise TranslationError(f"{input_path}: its audio lasts {len(wav) / 16000:.3f} s, less than one 0.2 s window")
    mel = melspectrogram(wav)
    del wav
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
    batch_size = config.batch_size or (CPU_BATCH if translator.device.type == "cpu" else GPU_BATCH)
    result = TranslateResult(
        input=str(input_path),
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

    pipe = _Pipeline(config, translator, input_path)
    tracker = None if track_file is not None else FaceTracker(config.tracker)

    def observe(rgb: np.ndarray, index: int, time_s: float) -> FaceObservation:
        if track_file is not None:
            return track_file.observation(index, time_s)
        assert tracker is not None
        return tracker.update(rgb, time_s)

    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=info.frame_count or None, unit="frame", desc="translate", dynamic_ncols=True)
    frames_done = [0]

    def tick(n: int) -> None:
        if bar is not None:
            bar.update(n)
        frames_done[0] += n
        if config.on_progress is not None:
            config.on_progress(frames_done[0], info.frame_count or None)

    frames_q: queue.Queue[Any] = queue.Queue(maxsize=2 * batch_size)
    batches_q: queue.Queue[Any] = queue.Queue(maxsize=2)
    writer_errors: list[BaseException] = []
    missing: list[int] = []
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.close)
        writer = VideoWriter(
            output,
            info.fps,
            info.width,
            info.height,
            audio_from=input_path,
            crf=config.crf_for("model"),
            preset=config.preset,
            threads=pipe.codec_threads,
        )
        stack.callback(writer.abort)  # a no-op once closed
        side = None
        if config.side_by_side is not None:
            side = VideoWriter(
                config.side_by_side,
                info.fps,
                2 * info.width,
                info.height,
                audio_from=input_path,
                crf=config.crf_for("model"),
                preset=config.preset,
                threads=pipe.codec_threads,
            )
            stack.callback(side.abort)
        reader = stack.enter_context(VideoReader(input_path, threads=pipe.codec_threads))
        producer = threading.Thread(
            target=pipe.faces,
            args=(iter(reader), observe, mel, info.fps, info.variable_frame_rate, frames_q),
            name="translate-faces",
            daemon=True,
        )
        consumer = threading.Thread(
            target=pipe.paste_and_encode,
            args=(batches_q, writer, side, tick, writer_errors),
            name="translate-encode",
            daemon=True,
        )

        def shut_down() -> None:
            pipe.stop.set()
            for th in (producer, consumer):
                if th.is_alive():
                    th.join(timeout=30)

        stack.callback(shut_down)
        producer.start()
        consumer.start()

        batch: list[_Work] = []

        def flush() -> None:
            faced = [w for w in batch if w.face is not None]
            if faced:
                if translator.mask is None:
                    probe = _infer_mask(translator, faced, result)
                    if probe is not None:
                        result.mask_probe = probe.describe()
                t0 = time.perf_counter()
                hulls = np.stack([w.hull if w.hull is not None else np.zeros((pipe.size,) * 2, bool) for w in faced])
                if translator.mask is MaskMode.FULL and any(w.hull is None for w in faced):
                    raise TranslationError(
                        f"{config.faces}: the full mask needs face landmarks, and this face file has none"
                    )
                with pipe.generator_turn():
                    generated = translator.generate(
                        np.stack([w.mel for w in faced]).astype(np.float32, copy=False),
                        np.stack([w.face for w in faced]),
                        translator.prior_masks(hulls),
                    )
                result.generator_seconds += time.perf_counter() - t0
                for w, g in zip(faced, generated, strict=True):
                    w.generated = g
            for w in batch:
                result.frames += 1
                if w.face is None:
                    missing.append(w.index)
                result.beyond_audio += int(w.beyond_audio)
            if writer_errors:
                raise writer_errors[0]
            if not _put(batches_q, list(batch), pipe.stop):
                raise writer_errors[0] if writer_errors else TranslationError(f"{output}: the encoder stopped")
            batch.clear()

        while True:
            item = _get(frames_q, pipe.stop, producer.is_alive)
            if isinstance(item, _Failure):
                if writer_errors:
                    raise writer_errors[0]
                raise item.exc
            if item is _END:
                break
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        _put(batches_q, _END, pipe.stop)
        consumer.join()
        if writer_errors:
            raise writer_errors[0]
        result.faces = result.frames - len(missing)
        if result.faces == 0:
            raise TranslationError(
                f"{input_path}: no face was found in any of its {result.frames} frames; nothing was written "
                "(`wav2lip-emotion faces` shows what the detector sees)"
            )
        if side is not None:
            side.close()
        writer.close()
    result.passed_through = len(missing)
    result.missing_ranges = _ranges(missing)
    result.mask = translator.mask.value if translator.mask is not None else "?"
    result.seconds = time.perf_counter() - start
    return result


def _translate_with_mesh(input_path: Path, output: Path, config: TranslateConfig) -> TranslateResult:
    """The mesh engine's run, reported like a learned model's."""
    from .mesh_engine import MeshEngine, check_outputs, translate_mesh

    check_outputs(input_path, output, config.side_by_side)
    start = time.perf_counter()
    occluders = None
    if config.occluders:
        from ..faces.occluders import OccluderDetector

        occluders = OccluderDetector()
    engine = MeshEngine(config.to, source=config.source, intensity=config.intensity, occluders=occluders)
    tracker = FaceTracker(config.tracker)
    run = translate_mesh(
        input_path,
        output,
        engine,
        tracker=tracker,
        side_by_side=config.side_by_side,
        crf=config.crf_for("mesh"),
        preset=config.preset,
        progress=config.progress,
        on_progress=config.on_progress,
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
        missing_ranges=_ranges(run.missing),
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
    )
    if run.resting:
        shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(run.resting.items()))
        result.notes.append(f"resting expression removed ({run.resting_source}): {shown}")
    if not engine.schedule.is_constant:
        result.notes.append(f"intensity schedule {engine.schedule.describe()}")
    result.seconds = time.perf_counter() - start
    return result


def _infer_mask(translator: EmotionTranslator, faced: list[_Work], result: TranslateResult) -> MaskProbe | None:
    """Infer the mask mode of a checkpoint that does not record it from the first faces of the video."""
    with_hull = [w for w in faced if w.hull is not None]
    if not with_hull:
        translator.mask = MaskMode.HALF
        result.notes.append("the mask could not be inferred without landmarks; used half (Wav2Lip's)")
        return None
    return translator.infer_mask(
        np.stack([w.mel for w in with_hull]).astype(np.float32, copy=False),
        np.stack([w.face for w in with_hull]),
        np.stack([w.hull for w in with_hull]),
    )
