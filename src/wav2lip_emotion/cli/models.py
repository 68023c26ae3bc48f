"""Commands about the networks and their inputs: ``models``, ``inspect``, ``convert``, ``mel``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .options import Command


def _run_models(args: argparse.Namespace) -> int:
    import torch

    from ..models import PROFILES, build_model
    from ..models.inspection import count_flops, count_parameters, example_inputs

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


def _models_options(p: argparse.ArgumentParser) -> None:
    from ..models.profiles import PROFILES

    p.add_argument("--profile", choices=list(PROFILES), help="only this profile (default: all)")
    p.add_argument("--run", action="store_true", help="also time one forward pass of each on this machine")


def _run_inspect(args: argparse.Namespace) -> int:
    from ..checkpoints import describe_checkpoint

    info = describe_checkpoint(args.checkpoint)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:16} {value}")
    return 0


def _inspect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="official .pth or wav2lip-emotion .safetensors file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _run_convert(args: argparse.Namespace) -> int:
    from ..checkpoints import load_model, save_model

    options = {"form": args.form} if args.form else {}
    model = load_model(args.checkpoint, profile=args.profile, **options)
    out = save_model(model, args.output, extra={"converted_from": Path(args.checkpoint).name})
    print(f"wrote {out} ({model.kind}, profile {model.profile.name})")
    return 0


def _convert_options(p: argparse.ArgumentParser) -> None:
    from ..models.discriminator import DiscriminatorForm

    p.add_argument("checkpoint", help="input .pth (or .safetensors)")
    p.add_argument("output", help="output .safetensors path")
    p.add_argument("--profile", help="expected profile (default: inferred from the tensor shapes)")
    p.add_argument(
        "--form",
        choices=[DiscriminatorForm.FULL_FACE_RESIDUAL.value, DiscriminatorForm.LOWER_HALF.value],
        help="discriminators only: which published form the file is (official files cannot tell; "
        f"Wav2Lip's visual_quality_disc.pth is {DiscriminatorForm.LOWER_HALF.value}; default "
        f"{DiscriminatorForm.FULL_FACE_RESIDUAL.value})",
    )


def _run_mel(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio import MEL_STEPS_PER_SECOND, SAMPLE_RATE, load_audio, melspectrogram, num_video_frames

    wav = load_audio(args.audio)
    mel = melspectrogram(wav)
    seconds = len(wav) / SAMPLE_RATE
    print(
        f"{args.audio}: {seconds:.2f} s of audio -> mel [80, {mel.shape[1]}] "
        f"({MEL_STEPS_PER_SECOND} steps/s, {num_video_frames(mel.shape[1], args.fps)} frames at {args.fps:g} fps), "
        f"range [{mel.min():.2f}, {mel.max():.2f}]"
    )
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".png":
            from ..visual import save_mel_png

            save_mel_png(mel, out)
        else:
            np.save(out, mel.astype(np.float32))
        print(f"wrote {out}")
    return 0


def _mel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("audio", help="any audio or video file with an audio stream")
    p.add_argument("-o", "--output", help="write it: .npy (float32 [80, steps]) or .png (picture)")
    p.add_argument("--fps", type=float, default=25.0, help="video frame rate used to count frames (default 25)")


COMMANDS = (
    Command(
        "models",
        "list the model architectures and profiles with sizes and FLOPs",
        _run_models,
        _models_options,
    ),
    Command(
        "inspect",
        "say what a checkpoint file holds (kind, format, profile, size)",
        _run_inspect,
        _inspect_options,
    ),
    Command(
        "convert",
        "convert an official .pth checkpoint to a self-describing .safetensors file",
        _run_convert,
        _convert_options,
        description="Read an official Wav2Lip / Wav2Lip-Emotion .pth (safely, weights only) and write it "
        "in this package's format: safetensors with its kind and profile recorded, so no flags are "
        "needed to load it again.",
    ),
    Command("mel", "compute the model's mel spectrogram of an audio or video file", _run_mel, _mel_options),
)

__all__ = ["COMMANDS"]
