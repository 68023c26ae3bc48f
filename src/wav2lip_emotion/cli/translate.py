"""The ``translate`` command: one video or photo to another emotion (:class:`~wav2lip_emotion.TranslateConfig`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .options import Command, add_device, add_option, add_quiet, config_from_args

if TYPE_CHECKING:
    from ..translation import TranslateConfig


def translate_config(args: argparse.Namespace) -> TranslateConfig:
    """The ``translate`` options given, the rest TranslateConfig's (and TrackerConfig's) defaults."""
    from ..faces import TrackerConfig
    from ..translation import TranslateConfig

    tracker = config_from_args(TrackerConfig, args)
    return config_from_args(TranslateConfig, args, progress=not args.quiet, tracker=tracker)


def _run_translate(args: argparse.Namespace) -> int:
    from ..translation import translate

    try:
        result = translate(args.input, args.output, config=translate_config(args))
    except KeyboardInterrupt:
        from pathlib import Path

        from ..translation.resume import resume_folder

        if resume_folder(Path(args.output)).is_dir():
            print(
                "wav2lip-emotion: interrupted; what was finished is kept: run the same command again to go on",
                file=sys.stderr,
            )
        raise
    print(result.describe())
    if args.json:
        from ..atomic import write_json_atomic

        write_json_atomic(args.json, result.to_json())
    return 0


def _translate_options(p: argparse.ArgumentParser) -> None:
    from ..faces import MaskMode, PasteMode, TrackerConfig
    from ..translation.config import ENGINES, MESH_CRF, MODEL_CRF, TranslateConfig

    p.add_argument("input", help="video (with a face; the learned engine also needs its audio) or a PNG/JPEG photo")
    p.add_argument(
        "-o", "--output", required=True, help="file to write: .mp4 for a video, the input's format for a photo"
    )
    p.add_argument("--to", required=True, metavar="EMOTION", help="destination emotion (happy, sad, neutral, ...)")
    add_option(
        p,
        "--engine",
        source=TranslateConfig,
        choices=list(ENGINES),
        help="mesh (training-free, any real footage; default) or model (a learned generator; the default when "
        "--checkpoint is given)",
    )
    add_option(
        p,
        "--from",
        source=TranslateConfig,
        field="source",
        metavar="EMOTION",
        help="the emotion the person shows now (mesh: the expression held at rest, removed first; default: "
        "estimated from the face. model: default the checkpoint's source emotion, or unknown)",
    )
    add_option(
        p,
        "--intensity",
        source=TranslateConfig,
        help="strength: 0..1.5 (0 = unchanged, 1 = the prototype, above 1 exaggerated), level1..level3, or a "
        "schedule over time such as '0s:0,2s:1,5.5s:1,6s:0' (smoothly eased; mesh engine). The model engine "
        "takes 0..1 or a MEAD level 1..3 (conditional checkpoints only). Default 1",
    )
    add_option(
        p,
        "--no-occluders",
        source=TranslateConfig,
        field="occluders",
        action="store_false",
        help="mesh: do not fade the edit where a hand or object covers the face",
    )
    add_option(
        p,
        "--glasses",
        source=TranslateConfig,
        choices=["auto", "on", "off"],
        help="mesh: hold the eyes and brows under a glasses frame still so that the frame never bends (on), "
        "never (off), or where a frame is clearly seen (auto, the default: thick frames; pass 'on' for thin "
        "or rimless ones that bend)",
    )
    add_option(
        p,
        "--checkpoint",
        source=TranslateConfig,
        help="generator: ours (.safetensors, paired or conditional) or an official Wav2Lip / Wav2Lip-Emotion .pth "
        "(default: the model shipped with the package)",
    )
    add_option(
        p,
        "--mask",
        source=TranslateConfig,
        choices=[m.value for m in MaskMode],
        help="half = lower face (Wav2Lip), full = whole face (Wav2Lip-Emotion), none = the whole face visible "
        "(editing models trained so); default: from the checkpoint, inferred for official .pth files",
    )
    add_option(
        p,
        "--batch-size",
        source=TranslateConfig,
        type=int,
        help="faces per generator call (default 8 on CPU, 32 on GPU)",
    )
    add_device(p, TranslateConfig)
    add_option(
        p,
        "--side-by-side",
        source=TranslateConfig,
        metavar="OUT.mp4",
        help="also write source | translated side by side",
    )
    add_option(
        p,
        "--faces",
        source=TranslateConfig,
        metavar="JSON",
        help="face track from `wav2lip-emotion faces INPUT --json F` instead of tracking here: track once, then "
        "translate the same video to several emotions (the mesh engine then decodes it once, not twice)",
    )
    add_option(
        p,
        "--paste",
        source=TranslateConfig,
        choices=[m.value for m in PasteMode],
        help="replace (as published) or detail (add only the generator's change, keeping full resolution; "
        "default %(default)s)",
    )
    add_option(
        p,
        "--crf",
        source=TranslateConfig,
        type=int,
        help=f"x264 quality: 0 lossless .. 51 worst (default {MESH_CRF} with the mesh engine, which also encodes "
        f"with small dead zones to keep the source's fine texture; {MODEL_CRF} learned)",
    )
    add_option(
        p,
        "--resume-every",
        source=TranslateConfig,
        type=float,
        metavar="SECONDS",
        help="video, either engine: encode in pieces of this many seconds, kept in a hidden folder next to the "
        "output until the whole is joined; a run stopped by a crash or Ctrl-C goes on where it stopped when the "
        "same command is run again (default %(default)s; 0 = one piece, a stopped run starts over)",
    )
    add_option(p, "--threads", source=TranslateConfig, type=int, help="torch CPU threads (default: all cores)")
    add_option(
        p,
        "--max-misses",
        source=TrackerConfig,
        type=int,
        help="frames a lost face is searched for nearby (default %(default)s)",
    )
    p.add_argument("--json", metavar="F", help="write the run's summary as JSON")
    add_quiet(p)


COMMANDS = (
    Command(
        "translate",
        "change the facial emotion in a video or photo, keeping its speech, lip sync, identity and pose",
        _run_translate,
        _translate_options,
        description="Translate the main face of INPUT (a video, or a PNG/JPEG photo) to another emotion and write "
        "OUTPUT: H.264 MP4 for a video, with the input's own audio (copied bit for bit when MP4 allows its codec), "
        "frame rate, size and length; the same image format for a photo. Frames without a face are copied through "
        "untouched. The output appears only when everything succeeded; a video's run stopped by a crash or "
        "Ctrl-C goes on where it stopped when the same command is run again (--resume-every).\n\n"
        "Two engines. mesh (the default): a training-free warp of the real face on its tracked face mesh; it keeps "
        "the person's own skin, speech and blinks, needs no audio (silent clips and photos work) and runs on any "
        "real footage; where a clip smiles and the destination does not, the smiling mouth is replaced by the "
        "person's own calm mouth from another moment of the clip (docs/mesh_engine.md). model (or any "
        "--checkpoint): a learned Wav2Lip-style generator "
        "(the shipped one knows only the generated world; docs/translate.md).",
        epilog="examples:\n"
        "  wav2lip-emotion translate clip.mp4 -o happy.mp4 --to happy\n"
        "  wav2lip-emotion translate photo.jpg -o sad.jpg --to sad --intensity 0.6\n"
        "  wav2lip-emotion translate clip.mp4 -o out.mp4 --to surprised --intensity '0s:0,2s:1,5.5s:1,6s:0'\n"
        "  wav2lip-emotion translate smiling.mp4 -o calm.mp4 --to neutral --side-by-side compare.mp4\n"
        "  wav2lip-emotion translate clip.mp4 -o happy.mp4 --to happy --checkpoint runs/world/conditional/"
        "generator.safetensors\n"
        "  wav2lip-emotion translate clip.mp4 -o out.mp4 --to happy --checkpoint wav2lip_emotion.pth --mask half",
        raw_text=True,
    ),
)
