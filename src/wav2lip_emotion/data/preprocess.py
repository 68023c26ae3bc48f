"""``wav2lip-emotion preprocess``: videos -> the face cache (see :mod:`.cache` for the format).

Per video: resample to 25 fps while decoding, track the face (faces.FaceTracker), crop it at the model
size with the full-face mask, and compute the mel spectrogram of its 16 kHz audio (a separate audio file
when the dataset has one, as MEAD does). Videos are processed by ``workers`` processes. Resumable: a
finished video has its ``meta.json``, written last inside a directory renamed into place, so a crash or
Ctrl-C loses only the videos in progress and a re-run skips the finished ones. Bad videos are skipped
and listed with their reason in ``failed.json`` and in the summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, Wav2LipEmotionError
from ..messages import first_line
from .cache import CachedVideo, CacheInfo, FaceCache, FaceCacheWriter, clean_partial, write_json_atomic
from .layouts import SourceVideo, discover, discover_aligned


@dataclass
class PreprocessConfig:
    """What to preprocess and how."""

    layout: str
    src: Path
    out: Path
    #: face crop side (the model's face size: 96 for the paper profile)
    size: int = 96
    #: frames are resampled to this rate (the models' 25 fps)
    fps: float = 25.0
    #: margin around the face (landmark box), as a fraction of its side
    padding: float = 0.1
    emotions: tuple[str, ...] | None = None
    levels: tuple[int, ...] | None = None
    views: tuple[str, ...] | None = ("front",)
    workers: int = 1
    #: a video is rejected when a face is found in fewer of its frames than this
    min_face_ratio: float = 0.5
    #: and when it is shorter than this many frames (two 5-frame windows and the sync offset)
    min_frames: int = 12
    #: world layout: also cache the aligned renders (L1 targets of ``data.targets = "aligned"``), each
    #: cropped with its take's face track so that the two line up pixel for pixel
    aligned: bool = False

    def __post_init__(self) -> None:
        self.src, self.out = Path(self.src), Path(self.out)
        if self.size < 32 or self.workers < 1 or self.fps <= 0:
            raise ConfigError("size must be >= 32, workers >= 1 and fps > 0")
        if self.aligned and self.layout != "world":
            raise ConfigError(f"aligned renders exist only in the generated world, not in layout {self.layout!r}")


@dataclass
class PreprocessSummary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    frames: int = 0

    def describe(self) -> str:
        lines = [
            f"{self.total} videos: {self.done} preprocessed, {self.skipped} already in the cache, "
            f"{len(self.failed)} skipped as unusable ({self.frames} frames in {self.seconds:.1f} s)"
        ]
        for vid, reason in list(self.failed.items())[:20]:
            lines.append(f"  skipped {vid}: {reason}")
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more (see failed.json)")
        return "\n".join(lines)


Face = tuple[Any, np.ndarray]  # (FaceCrop, uint8 full-face mask at the crop size)


class _Worker:
    """Per-process state: one face tracker, created once."""

    tracker = None
    #: (take key, its faces): the last aligned render's take, reused by its other renders
    take: tuple[tuple[object, ...], list[Face | None]] | None = None


def _init_worker() -> None:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from ..faces import FaceTracker

    _Worker.tracker = FaceTracker()


def _tracked(path: Path, config: PreprocessConfig, tracker: Any) -> Iterator[tuple[Any, Face | None]]:
    """Each frame of ``path`` (at ``config.fps``) with its face crop and mask, None where no face was found."""
    from ..faces import CropConfig, FaceCrop, full_mask
    from ..media import VideoReader

    crop_cfg = CropConfig(size=config.size, padding=config.padding)
    tracker.reset()
    with VideoReader(path, fps=config.fps) as reader:
        for frame in reader:
            obs = tracker.update(frame.rgb, frame.time)
            if obs.found and obs.box is not None and obs.landmarks is not None:
                crop = FaceCrop.from_box(obs.box, crop_cfg)
                yield frame, (crop, (full_mask(crop.to_crop(obs.landmarks), config.size) * 255).astype(np.uint8))
            else:
                yield frame, None


def _take_track(path: Path, config: PreprocessConfig, tracker: Any) -> list[Face | None]:
    """The faces of an aligned render's take. A take's renders are queued one after another (id order), so
    the process keeps the last take's track: a take is tracked at most once per worker, not per render."""
    from ..media import probe_video

    probe_video(path)  # a clear error for a missing or broken take
    key = (str(path), path.stat().st_mtime_ns, config.size, config.padding, config.fps)
    if _Worker.take is None or _Worker.take[0] != key:
        _Worker.take = (key, [face for _, face in _tracked(path, config, tracker)])
    return _Worker.take[1]


def _add(writer: FaceCacheWriter, frame: Any, face: Face | None) -> None:
    if face is None:
        writer.add(None, None)
    else:
        writer.add(face[0].extract(frame.rgb), face[1])


def process_video(video: SourceVideo, config: PreprocessConfig) -> tuple[str, int]:
    """Preprocess one video into the cache; returns (id, frames). Raises Wav2LipEmotionError if unusable."""
    from ..audio import SAMPLE_RATE, load_audio, melspectrogram, num_video_frames
    from ..faces import FaceTracker
    from ..media import VideoReader, probe_video

    if _Worker.tracker is None:
        _Worker.tracker = FaceTracker()
    tracker = _Worker.tracker
    probe_video(video.path)  # clear error for missing / corrupt / no video stream / zero frames
    audio_path = video.audio or video.path
    wav = load_audio(audio_path)
    if len(wav) < SAMPLE_RATE * config.min_frames / config.fps:
        raise Wav2LipEmotionError(f"audio of {len(wav) / SAMPLE_RATE:.2f} s is too short")
    mel = melspectrogram(wav)
    writer = FaceCacheWriter(config.out, video.id, config.size)
    try:
        if video.track_video is None:
            for frame, face in _tracked(video.path, config, tracker):
                _add(writer, frame, face)
        else:  # an aligned render is cut where its take's face is: the same boxes, frame for frame
            faces = _take_track(video.track_video, config, tracker)
            with VideoReader(video.path, fps=config.fps) as reader:
                for face, frame in zip(faces, reader, strict=False):
                    _add(writer, frame, face)
            if writer.count < len(faces):
                raise Wav2LipEmotionError(f"has {writer.count} frames, fewer than its take {video.track_video}")
        found = sum(writer._found)
        n = writer.count
        if n < config.min_frames:
            raise Wav2LipEmotionError(f"only {n} frames at {config.fps:g} fps (needs {config.min_frames})")
        if found < config.min_face_ratio * n:
            raise Wav2LipEmotionError(f"a face was found in only {found}/{n} frames")
        covered = num_video_frames(mel.shape[1], config.fps)
        if covered < n - 2:
            raise Wav2LipEmotionError(f"audio covers {covered} of {n} frames (audio shorter than video)")
        meta = CachedVideo(
            id=video.id,
            actor=video.actor,
            sentence=video.sentence,
            emotion=video.emotion,
            level=video.level,
            view=video.view,
            gender=video.gender,
            frames=n,
            found=found,
            mel_steps=int(mel.shape[1]),
            source=str(video.path),
            audio_source=str(audio_path),
            aligned_from=video.aligned_from,
        )
        writer.commit(mel, meta)
        return video.id, n
    except BaseException:
        writer.abort()
        raise


def preprocess(
    config: PreprocessConfig, *, progress: bool = True, on_done: Callable[[str], None] | None = None
) -> PreprocessSummary:
    """Preprocess every video of ``config.src`` that is not already in the cache."""
    start = time.perf_counter()
    videos = discover(config.layout, config.src, emotions=config.emotions, levels=config.levels, views=config.views)
    if not videos:
        raise ConfigError(f"{config.src}: no {config.layout}-layout videos found (check --layout and the filters)")
    if config.aligned:
        renders = discover_aligned(config.src, emotions=config.emotions, levels=config.levels)
        if not renders:
            raise ConfigError(f"{config.src}: no aligned renders (aligned/...); render the world without --no-aligned")
        videos += renders
    config.out.mkdir(parents=True, exist_ok=True)
    info = CacheInfo(size=config.size, fps=config.fps, padding=config.padding, layout=config.layout)
    info_path = config.out / "cache.json"
    if info_path.exists():
        existing = FaceCache(config.out).info
        if (existing.size, existing.fps, existing.padding) != (info.size, info.fps, info.padding):
            raise ConfigError(
                f"{config.out}: holds a cache made with size {existing.size}, fps {existing.fps:g}, padding "
                f"{existing.padding:g}; use another --out for size {info.size}, fps {info.fps:g}, "
                f"padding {info.padding:g}"
            )
    else:
        write_json_atomic(info_path, asdict(info))
    clean_partial(config.out)
    have = set(FaceCache(config.out).videos)
    todo = [v for v in videos if v.id not in have]
    summary = PreprocessSummary(total=len(videos), skipped=len(videos) - len(todo))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="video", desc="preprocess")

    def finish(vid: str, result: tuple[str, int] | None, error: BaseException | None) -> None:
        if error is None and result is not None:
            summary.done += 1
            summary.frames += result[1]
            if on_done is not None:
                on_done(vid)
        else:
            summary.failed[vid] = first_line(error)
        if bar is not None:
            bar.update(1)

    try:
        if config.workers == 1:
            for v in todo:
                try:
                    finish(v.id, process_video(v, config), None)
                except Wav2LipEmotionError as exc:
                    finish(v.id, None, exc)
        else:
            with ProcessPoolExecutor(max_workers=config.workers, initializer=_init_worker) as pool:
                pending: dict[Future[tuple[str, int]], str] = {}
                queue = list(todo)
                try:
                    while queue or pending:
                        while queue and len(pending) < 2 * config.workers:
                            v = queue.pop(0)
                            pending[pool.submit(process_video, v, config)] = v.id
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            vid = pending.pop(fut)
                            exc = fut.exception()
                            if exc is None:
                                finish(vid, fut.result(), None)
                            elif isinstance(exc, Wav2LipEmotionError):
                                finish(vid, None, exc)
                            else:
                                raise exc
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        if bar is not None:
            bar.close()
        summary.seconds = time.perf_counter() - start
        failed_path = config.out / "failed.json"
        previous = {}
        if failed_path.exists():
            import json

            try:
                previous = json.loads(failed_path.read_text())
            except ValueError:
                previous = {}
        done_now = set(FaceCache(config.out).videos)
        merged = {k: v for k, v in {**previous, **summary.failed}.items() if k not in done_now}
        write_json_atomic(failed_path, merged)
        write_json_atomic(
            config.out / "manifest.json",
            {
                "videos": sorted(done_now),
                "failed": merged,
                "last_run": asdict(summary) | {"failed": len(summary.failed)},
            },
        )
    return summary
