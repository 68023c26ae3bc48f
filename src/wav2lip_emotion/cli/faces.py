"""Commands that look at the face of a clip: ``faces`` (tracking) and ``emotions`` (per-frame classifiers).

Their back-ends are :mod:`.face_report` and :mod:`.emotion_report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .options import Command, add_option, add_quiet, config_from_args

if TYPE_CHECKING:
    from ..faces import TrackerConfig


def tracker_config(args: argparse.Namespace) -> TrackerConfig:
    """The face tracker settings of ``faces``: the options given, the rest TrackerConfig's defaults."""
    from ..faces import DetectorKind, TrackerConfig

    values = {"detector": DetectorKind(args.detector)} if "detector" in args else {}
    return config_from_args(TrackerConfig, args, **values)


def _run_faces(args: argparse.Namespace) -> int:
    from ..faces import FaceTracker
    from .face_report import analyse_faces

    summary = analyse_faces(
        args.input,
        json_out=args.json,
        preview_out=args.preview,
        tracker=FaceTracker(tracker_config(args)),
        landmarks_in_json=not args.no_landmarks,
        progress=not args.quiet,
    )
    print(summary.describe())
    for path in (args.json, args.preview):
        if path:
            print(f"wrote {path}")
    return 0


def _faces_options(p: argparse.ArgumentParser) -> None:
    from ..faces import DetectorKind, TrackerConfig

    p.add_argument("input", help="video (any format PyAV reads) or image (.jpg, .png, ...)")
    p.add_argument("--json", metavar="OUT.json", help="write per-frame results as JSON")
    p.add_argument(
        "--preview", metavar="OUT.mp4", help="write a video (or image, for an image input) with the faces drawn"
    )
    add_option(
        p,
        "--detector",
        source=TrackerConfig,
        choices=[k.value for k in DetectorKind],
        help=f"{DetectorKind.BLAZEFACE.value}: short+full range models and tiles, finds small faces; "
        f"{DetectorKind.BLAZEFACE_SHORT.value}: short-range model only, faster, for close-ups (default %(default)s)",
    )
    add_option(
        p,
        "--max-misses",
        source=TrackerConfig,
        type=int,
        help="frames to search near a lost face before a full search (default %(default)s)",
    )
    add_option(
        p,
        "--no-smoothing",
        source=TrackerConfig,
        field="smooth",
        action="store_false",
        help="raw per-frame boxes and landmarks (no One-Euro filter)",
    )
    p.add_argument("--no-landmarks", action="store_true", help="leave the 468 landmarks out of the JSON")
    add_option(
        p,
        "--threads",
        source=TrackerConfig,
        field="num_threads",
        type=int,
        help="threads of the TFLite runtime (default %(default)s)",
    )
    add_quiet(p)


def _run_emotions(args: argparse.Namespace) -> int:
    from ..perception.affect import valence_arousal
    from ..perception.emotions import load_emotion_model
    from .emotion_report import analyse_emotions, plot_emotions, write_emotions_csv, write_emotions_json

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


def _emotions_options(p: argparse.ArgumentParser) -> None:
    from .emotion_report import DEFAULT_MODELS

    default = ",".join(DEFAULT_MODELS)
    p.add_argument("input", help="video or image")
    p.add_argument("--models", default=default, help=f"comma-separated: fer, faceapi, densenet121 (default {default})")
    p.add_argument("--densenet", metavar="PATH", help="the paper's DenseNet121 FER2013 checkpoint (adds densenet121)")
    p.add_argument("--json", metavar="OUT.json", help="per-frame probabilities as JSON")
    p.add_argument("--csv", metavar="OUT.csv", help="per-frame probabilities as CSV (one column per model:emotion)")
    p.add_argument("--plot", metavar="OUT.png", help="plot p(emotion) over time (one PNG per model)")
    add_quiet(p)


COMMANDS = (
    Command(
        "faces",
        "detect and track the main face in a video or image; write per-frame JSON and a preview",
        _run_faces,
        _faces_options,
        description="Run face detection (BlazeFace) and 468-point landmarks (face mesh) with tracking of the "
        "main speaker over a video or an image. Prints how many frames have a face and which do not (those "
        "frames would be passed through untouched by translate). --json writes per-frame boxes, landmarks and "
        "a found flag; --preview draws them (green: tracked face, blue: model crop, orange: detector "
        "candidates).",
    ),
    Command(
        "emotions",
        "per-frame emotion probabilities of the face in a video or image (fer, face-api, DenseNet121)",
        _run_emotions,
        _emotions_options,
        description="Track the face and classify its emotion in every frame. fer is the model the training "
        "objective uses; face-api is the independent judge the evaluation uses; DenseNet121 is the paper's "
        "classifier, from a checkpoint you supply. Prints the mean probabilities; writes per-frame JSON/CSV "
        "and a plot of p(emotion) over time.",
    ),
)
