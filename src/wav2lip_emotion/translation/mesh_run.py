"""The mesh engine's video and image pipeline: track every frame, then edit, paste and encode each.

:func:`translate_mesh` runs :class:`~wav2lip_emotion.translation.mesh_engine.MeshEngine` over a clip in
two passes (the plan needs the whole clip's faces): the first only tracks; the second decodes ahead on
a thread, warps frames on a small pool of threads, pastes them in order and encodes on another thread
(the same frames whatever the threads' timing). Photos go through the same engine.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MediaError, TranslationError, Wav2LipEmotionError
from ..faces import FaceTracker
from ..faces.glasses import GlassesEvidence, GlassesSampler, glasses_evidence, glasses_note
from ..media import (
    Frame,
    VideoInfo,
    VideoReader,
    VideoWriter,
    is_image_path,
    probe_video,
    read_image_alpha,
    write_image,
)
from ..media.images import ALPHA_SUFFIXES
from ..media.planes import Colour, paste_rgb
from ..media.segments import SegmentedVideoWriter
from .config import OUTPUT_SUFFIXES
from .face_track import FaceTrackFile
from .face_window import face_windows, in_rgb_around_faces, planes_pay
from .frame_threads import occluded_ahead, occlusion_thread, prefetched, warp_pool, warped_ahead
from .mesh_engine import FrameEdit, MeshEngine, MeshPlan, ShotPlans, Warped, with_region
from .resume import ResumeFolder, TrackPass, frames_from, resume_point


@dataclass
class MeshRun:
    """Totals of one mesh-engine run (folded into TranslateResult by :func:`translate_mesh`)."""

    frames: int = 0
    faces: int = 0
    missing: list[int] = field(default_factory=list)
    damped_points: int = 0
    would_flip: int = 0
    flipped: int = 0
    occluded_frames: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    has_audio: bool = False
    audio_codec: str | None = None
    resting: dict[str, float] = field(default_factory=dict)
    resting_source: str = ""
    track_seconds: float = 0.0
    edit_seconds: float = 0.0
    #: what the user should know about the input (an early end, a variable frame rate, an alpha channel)
    notes: list[str] = field(default_factory=list)
    #: what was done about glasses (see :func:`~wav2lip_emotion.faces.glasses.glasses_note`)
    glasses: str = ""
    #: frames whose calm mouth is borrowed by smiling frames (see translation/mouth_donor.py)
    borrowed: list[int] = field(default_factory=list)


Progress = Callable[[int, int | None], None]


def track_faces(
    frames: Iterable[Any],
    tracker: FaceTracker | None = None,
    tick: Callable[[], None] | None = None,
    look: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Track the face through ``frames`` (objects with ``rgb`` and ``time``, e.g. a VideoReader's):
    (landmarks [n, 468, 3] float32, zeros where no face; found [n] bool; times [n] seconds; tracks [n]
    int, the tracker's track of each face, -1 where none), what :meth:`MeshEngine.plan` takes. Only the
    landmarks are kept, never the frames. ``look(i, rgb, landmarks)`` is called on each frame with a
    face (e.g. a :class:`~wav2lip_emotion.faces.glasses.GlassesSampler`)."""
    tracker = tracker or FaceTracker()
    lms: list[np.ndarray] = []
    valid: list[bool] = []
    times: list[float] = []
    tracks: list[int] = []
    for frame in frames:
        obs = tracker.update(frame.rgb, frame.time)
        valid.append(bool(obs.found and obs.landmarks is not None))
        lms.append(obs.landmarks.astype(np.float32) if valid[-1] else np.zeros((468, 3), np.float32))
        times.append(frame.time)
        tracks.append(obs.track if valid[-1] else -1)
        if look is not None and valid[-1]:
            look(len(valid) - 1, frame.rgb, lms[-1])
        if tick is not None:
            tick()
    landmarks = np.stack(lms) if lms else np.zeros((0, 468, 3), np.float32)
    return landmarks, np.array(valid, bool), np.array(times), np.array(tracks, np.int64)


def translate_mesh(
    input_path: Path,
    output: Path,
    engine: MeshEngine,
    *,
    tracker: FaceTracker,
    side_by_side: Path | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    deadzones: tuple[int, int] | None = None,
    progress: bool = True,
    on_progress: Progress | None = None,
    faces: FaceTrackFile | None = None,
    resume_every: float = 0.0,
) -> MeshRun:
    """Edit a video (H.264 MP4 out, the input's audio copied when it has any, its pixel aspect kept) or a
    photo (same format out, its alpha channel kept). Nothing is written unless everything succeeded.

    A video cut short is edited as far as it decodes, and a variable frame rate is written at its
    average rate; ``notes`` says so. ``crf``, ``preset``, ``deadzones``: the x264 settings (see
    :class:`~wav2lip_emotion.media.VideoWriter`). ``faces``: the video's face track from ``faces --json``,
    used instead of the tracking pass (the video is then decoded once); it must cover every frame.
    ``resume_every``: seconds per piece of a resumable run (translation/resume.py); 0 = not resumable."""
    if faces is not None and is_image_path(input_path):
        raise ConfigError(f"{faces.path}: a face-track file is for a video; {input_path} is a photo")
    run = MeshRun()
    if is_image_path(input_path):
        return _translate_image(input_path, output, engine, tracker, run)
    info = probe_video(input_path)
    run.width, run.height, run.fps = info.width, info.height, info.fps
    run.has_audio, run.audio_codec = info.has_audio, info.audio_codec
    total = info.frame_count or None
    passes = 1 if faces is not None else 2
    piece = max(1, round(resume_every * info.fps)) if resume_every > 0 else 0
    folder = None
    if piece:
        settings = {
            "engine": engine.settings(),
            "tracker": repr(tracker.config),
            "side_by_side": side_by_side,
            "faces": None if faces is None else [faces.path, faces.path.stat().st_size, faces.path.stat().st_mtime_ns],
            "encoder": [crf, preset, deadzones],
            "piece_frames": piece,
        }
        folder = ResumeFolder(output, input_path, settings)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=passes * total if total else None, unit="frame", desc="mesh engine", dynamic_ncols=True)
    done = [0]

    def tick(n: int = 1) -> None:
        done[0] += n
        if bar is not None:
            bar.update(n)
        if on_progress is not None:
            on_progress(done[0], passes * total if total else None)

    try:
        t0 = time.perf_counter()
        kept = folder.load_track() if folder is not None and faces is None else None
        ended_early, deinterlaced = None, 0
        if kept is not None:
            landmarks, valid, times, tracks = kept.landmarks, kept.valid, kept.times, kept.tracks
            glasses = GlassesEvidence.from_json(kept.glasses) if kept.glasses is not None else None
            ended_early, deinterlaced = kept.ended_early, kept.deinterlaced
            tick(len(valid))
        elif faces is None:
            # the tracker only looks at the frames: swscale's fast colour conversion (a third of the
            # cost, about a grey level off) is enough there; the edit pass converts exactly
            with (
                VideoReader(input_path, allow_truncated=True, fast_colour=True) as reader,
                prefetched(reader) as frames,
            ):
                look = GlassesSampler() if engine.glasses != "off" else None
                landmarks, valid, times, tracks = track_faces(frames, tracker, tick, look)
                glasses = look.verdict() if look is not None else None
            ended_early, deinterlaced = reader.ended_early, reader.deinterlaced
            if folder is not None and len(valid):
                evidence = glasses.to_json() if glasses is not None else None
                folder.save_track(TrackPass(landmarks, valid, times, tracks, evidence, ended_early, deinterlaced))
        else:
            # the glasses measured by `faces --json` as this pass would have measured them
            glasses = faces.glasses if engine.glasses != "off" else None
            landmarks, valid, times, tracks = faces.mesh_track()
        run.track_seconds = time.perf_counter() - t0
        run.frames = len(valid)
        if faces is None:
            if run.frames == 0:
                raise MediaError(f"{input_path}: has no video frames that decode" + _why(ended_early))
            run.notes.extend(_input_notes(input_path, info, ended_early, times, deinterlaced))
        else:
            run.notes.append(f"faces read from {faces.path} (not tracked)")
        run.faces = int(valid.sum())
        run.missing = [int(i) for i in np.flatnonzero(~valid)]
        if run.faces == 0:
            raise TranslationError(
                f"{input_path}: no face was found in any of its {run.frames} frames; nothing was written "
                "(`wav2lip-emotion faces` shows what the detector sees)"
            )
        plan = engine.plan(landmarks, valid, times, tracks, glasses=glasses)
        run.glasses = glasses_note(engine.glasses, glasses, engine.glasses_rings(glasses) is not None)
        run.resting, run.resting_source = plan.plans[0].fit.resting, plan.plans[0].fit.resting_source
        if len(plan.plans) > 1:
            run.notes.append(
                f"{len(plan.plans)} shots or faces, each fitted on its own (a shot cut or a face lost for long "
                "may bring someone else)"
            )
        if total is not None and bar is not None and total != run.frames:
            bar.total = passes * run.frames
        run.borrowed = _read_donors(input_path, plan)
        if run.borrowed:
            shown = ", ".join(str(j) for j in run.borrowed[:8]) + (", ..." if len(run.borrowed) > 8 else "")
            run.notes.append(
                f"where the source smiles, the mouth is borrowed from frame{'s' if len(run.borrowed) > 1 else ''} "
                f"{shown}, where it is calm (a warp cannot hide teeth)"
            )
        t1 = time.perf_counter()
        audio = input_path if info.has_audio else None
        # where the face is small in the frame, the frames' decoded planes are kept and encoded as they
        # are: only the part of each frame that editing its face reads is converted to RGB, and only the
        # pixels the edit changed are written back (media/planes.py), every other pixel exactly as
        # decoded. Not with a side-by-side video (its left half is the source in RGB), nor for video
        # that is not 8-bit 4:2:0 shown as stored (the reader then keeps no planes)
        windows = face_windows(engine, plan, landmarks, (info.width, info.height))
        planar = side_by_side is None and planes_pay(windows, (info.width, info.height))
        reader = VideoReader(input_path, allow_truncated=True, keep_planes=planar, planes_only=planar)
        totals: dict[int, list[int]] = {}  # each piece's totals (damped, would flip, flipped, occluded)
        with contextlib.ExitStack() as stack:
            encoding = {
                "fps": info.fps,
                "height": info.height,
                "audio_from": audio,
                "crf": crf,
                "preset": preset,
                "sample_aspect_ratio": info.sample_aspect_ratio,
                "deadzones": deadzones,
            }

            def open_writer(path: Path, width: int, colour: Colour | None, part: str, kept: bool) -> Any:
                if folder is None:
                    return VideoWriter(path, width=width, colour=colour, **encoding)
                keep = functools.partial(folder.piece_done, totals) if kept else None
                return SegmentedVideoWriter(
                    path, folder.path / part, piece, width=width, colour=colour, on_piece=keep, **encoding
                )

            writer = open_writer(output, info.width, reader.colour, "video", True)
            stack.callback(writer.abort)
            side = None
            if side_by_side is not None:
                side = open_writer(side_by_side, 2 * info.width, None, "side", False)
                stack.callback(side.abort)
            skip = 0
            if folder is not None:
                skip, before = resume_point(folder, writer, side)
                run.damped_points, run.would_flip, run.flipped, run.occluded_frames = before
                run.notes.extend(folder.notes(skip))
            stack.enter_context(reader)
            # frames are decoded ahead on one thread, warped on a few (several frames at once: the warp
            # reads only its frame and the plan, and the remap and numpy release the GIL), their occluder
            # masks worked out in frame order on another (they follow the clip), pasted here in frame
            # order and encoded on another thread; the frames encoded are the same whatever the threads'
            # timing. At most a few frames are in flight. The stack unwinds last-in first-out: the pools
            # finish their work before any writer is aborted, and the decoding thread stops before the
            # reader is closed
            frames = stack.enter_context(prefetched(in_rgb_around_faces(reader, reader.colour, windows)))
            encoder = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="mesh-encode"))
            workers = stack.enter_context(warp_pool())
            pending: Future[None] | None = None
            if run.borrowed:
                frames = _keeping_donors(frames, plan)
            decoded = [0]  # frames decoded: one more than the clip's when a video outlasts its face-track file
            frames = frames_from(_counted(frames, decoded), skip, tick)
            masks = stack.enter_context(occlusion_thread())
            warps = warped_ahead(frames, engine, plan, landmarks, valid, workers, run.frames)
            ahead = occluded_ahead(stack.enter_context(contextlib.closing(warps)), engine, landmarks, piece, masks)
            for frame, warped, occlusion in stack.enter_context(contextlib.closing(ahead)):
                i = frame.index
                pasted, stats = engine.paste_region(frame.rgb, landmarks[i], i, warped, occlusion=occlusion)
                if frame.planes is not None:
                    job: Callable[[], None] = functools.partial(_write_planes, writer, frame, warped, pasted)
                else:
                    out = with_region(frame.rgb, warped, pasted)
                    job = functools.partial(_write, writer, side, frame.rgb, out)
                _add(run, stats, totals.setdefault(i - i % piece, [0, 0, 0, 0]) if piece else None)
                if pending is not None:
                    pending.result()
                pending = encoder.submit(job)
                tick()
            if pending is not None:
                pending.result()
            if faces is not None and decoded[0] != run.frames:
                raise TranslationError(
                    f"{faces.path}: covers {run.frames} frames, {input_path} has "
                    f"{decoded[0] if decoded[0] < run.frames else 'more'}; was it made from this video? "
                    "Nothing was written"
                )
            if faces is not None:  # the notes on the input come from the edit pass's reading of it
                run.notes.extend(_input_notes(input_path, info, reader.ended_early, times, reader.deinterlaced))
            if side is not None:
                side.close()
            writer.close()
        run.edit_seconds = time.perf_counter() - t1
        if folder is not None:
            folder.remove()
    except Wav2LipEmotionError:
        if folder is not None:  # the input or the settings are at fault: running again would fail alike
            folder.remove()
        raise
    finally:
        if bar is not None:
            bar.close()
    return run


def _donor_slots(plan: MeshPlan | ShotPlans) -> dict[int, tuple[MeshPlan, int, int]]:
    """Each donor frame of the clip (its index in the clip) -> (its plan, its index there, the first
    frame of the clip that borrows its mouth)."""
    shots = plan.shots if isinstance(plan, ShotPlans) else [(0, len(plan.intensity), plan)]
    slots = {}
    for a, _, p in shots:
        if p.mouth is None:
            continue
        borrowing = (p.mouth.donor >= 0) & (p.mouth.weight > 0)
        for j in p.mouth.frames:
            slots[a + j] = (p, j, a + int(np.flatnonzero(borrowing & (p.mouth.donor == j))[0]))
    return slots


def _read_donors(input_path: Path, plan: MeshPlan | ShotPlans) -> list[int]:
    """Read, before the edit pass, the donor frames that lend their mouth to an earlier frame (only
    the pixels around each mouth are kept); the others are kept as the edit pass decodes them
    (:func:`_keeping_donors`), before any frame that borrows from them. The donor frames' indices in
    the clip."""
    slots = _donor_slots(plan)
    early = {k for k, (_, _, first) in slots.items() if first < k}
    if early:
        with VideoReader(input_path, allow_truncated=True, max_frames=max(early) + 1) as reader:
            for frame in reader:
                if frame.index in early:
                    p, j, _ = slots[frame.index]
                    p.mouth.keep(j, frame.rgb, p.placement[j])  # type: ignore[union-attr,index]
    return sorted(slots)


def _keeping_donors(frames: Iterable[Any], plan: MeshPlan | ShotPlans) -> Iterator[Any]:
    """``frames`` handed on in order, each donor frame's mouth kept first (if not kept already)."""
    slots = _donor_slots(plan)
    for frame in frames:
        slot = slots.get(frame.index)
        if slot is not None:
            p, j, _ = slot
            if p.mouth is not None and j not in p.mouth.images and p.placement is not None:
                p.mouth.keep(j, frame.rgb, p.placement[j])
        yield frame


def _counted(frames: Iterable[Any], count: list[int]) -> Iterator[Any]:
    """``frames`` handed on, ``count[0]`` the number handed on so far."""
    for frame in frames:
        count[0] += 1
        yield frame


def _why(reason: str | None) -> str:
    return f" ({reason})" if reason else ""


def _input_notes(
    input_path: Path, info: VideoInfo, ended_early: str | None, times: np.ndarray, deinterlaced: int = 0
) -> list[str]:
    """Notes on a video that ended before its header's length, has a variable frame rate, is interlaced
    or is HDR."""
    notes = []
    if ended_early:
        notes.append(f"{input_path} ended early{_why(ended_early)}: the output has the {len(times)} frames that decode")
    if info.variable_frame_rate:
        drift = float(np.abs(times - np.arange(len(times)) / info.fps).max())
        notes.append(
            f"variable frame rate input: its {len(times)} frames are written at their average rate, "
            f"{info.fps:.3f} fps (each within {1000 * drift:.0f} ms of its own time)"
        )
    if deinterlaced:
        notes.append(
            f"interlaced input: {deinterlaced} of its {len(times)} frames were deinterlaced (bwdif, one frame "
            "per frame); the output is progressive"
        )
    if info.hdr:
        notes.append(
            f"HDR input ({info.hdr}): it is read and written as 8-bit BT.709 without tone mapping, so the "
            "whole picture looks flatter and paler than the original; convert it to SDR first for a faithful result"
        )
    return notes


def _write(writer: VideoWriter, side: VideoWriter | None, source: np.ndarray, out: np.ndarray) -> None:
    writer.write(out)
    if side is not None:
        side.write(np.concatenate([source, out], axis=1))


def _write_planes(writer: VideoWriter, frame: Frame, warped: Warped | None, pasted: np.ndarray | None) -> None:
    """Encode ``frame``'s own planes with the pixels the paste changed written back into them."""
    assert frame.planes is not None
    if warped is not None and pasted is not None:
        x0, y0, x1, y1 = warped.region
        paste_rgb(frame.planes, warped.region, frame.rgb[y0:y1, x0:x1], pasted, writer.colour)
    writer.write_planes(frame.planes)


def _add(run: MeshRun, stats: FrameEdit, piece: list[int] | None = None) -> None:
    """Add a frame's edit to the run's totals (and to its piece's: damped, would flip, flipped, occluded)."""
    counts = (stats.damped, stats.would_flip, stats.flipped, int(stats.occluded > 0.01))
    run.damped_points += counts[0]
    run.would_flip += counts[1]
    run.flipped += counts[2]
    run.occluded_frames += counts[3]
    if piece is not None:
        for k, c in enumerate(counts):
            piece[k] += c


def _translate_image(input_path: Path, output: Path, engine: MeshEngine, tracker: FaceTracker, run: MeshRun) -> MeshRun:
    rgb, alpha = read_image_alpha(input_path)
    run.height, run.width = rgb.shape[:2]
    obs = tracker.update(rgb, 0.0)
    run.frames = 1
    if not obs.found or obs.landmarks is None:
        raise TranslationError(f"{input_path}: no face was found in the image; nothing was written")
    run.faces = 1
    landmarks = obs.landmarks[None].astype(np.float64)
    glasses = glasses_evidence(rgb, landmarks[0]) if engine.glasses != "off" else None
    plan = engine.plan(landmarks, np.array([True]), np.array([0.0]), glasses=glasses)
    run.glasses = glasses_note(engine.glasses, glasses, engine.glasses_rings(glasses) is not None)
    run.resting, run.resting_source = plan.fit.resting, plan.fit.resting_source
    out, stats = engine.edit(rgb, landmarks[0], plan, 0)
    _add(run, stats)
    if alpha is not None and output.suffix.lower() not in ALPHA_SUFFIXES:
        run.notes.append(f"{input_path}'s alpha channel is dropped: {output.suffix} cannot hold one")
        alpha = None
    elif alpha is not None:
        run.notes.append("the alpha channel is the input's, unchanged (the edit moves the colours only)")
    write_image(output, out, alpha=alpha)
    return run


def check_outputs(input_path: Path, output: Path, side_by_side: Path | None) -> None:
    """Output names that fit the input: a photo gives a photo of the same format, a video an MP4."""
    if not input_path.is_file():
        raise MediaError(f"{input_path}: no such video or image file")
    if output.resolve() == input_path.resolve():
        raise ConfigError(f"{output}: is the input; write the translation to another file")
    if not output.parent.is_dir():
        raise MediaError(f"{output}: output directory {output.parent} does not exist")
    if is_image_path(input_path):
        same = {".jpg": {".jpg", ".jpeg"}, ".jpeg": {".jpg", ".jpeg"}}.get(input_path.suffix.lower())
        if output.suffix.lower() not in (same or {input_path.suffix.lower()}):
            raise ConfigError(
                f"{output}: the input is a {input_path.suffix} image; name the output {input_path.suffix} too"
            )
        if side_by_side is not None:
            raise ConfigError(f"{side_by_side}: a side-by-side video needs a video input, not an image")
        return

    for out in (output, side_by_side):
        if out is not None and out.suffix.lower() not in OUTPUT_SUFFIXES:
            raise ConfigError(
                f"{out}: translate writes H.264 video in an MP4 container; name the output .mp4 (or .m4v, .mov)"
            )
    if side_by_side is not None:
        if side_by_side.resolve() in (output.resolve(), input_path.resolve()):
            raise ConfigError(f"{side_by_side}: give the side-by-side video its own name")
        if not side_by_side.parent.is_dir():
            raise MediaError(f"{side_by_side}: output directory {side_by_side.parent} does not exist")
