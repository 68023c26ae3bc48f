"""The ``train`` command: a stage from a TOML config (whose defaults are :mod:`wav2lip_emotion.train.config`'s)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import Wav2LipEmotionError
from .options import Command, add_option, default_of


def _run_train(args: argparse.Namespace) -> int:
    import logging

    from ..train import load_config, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress lines: stderr
    config = load_config(args.config, args.set or [])
    if args.print_config:
        print(config.to_toml(), end="")
        return 0
    if args.validate:
        from ..train import Trainer
        from ..train.data import build_data

        split = vars(args).get("eval_split", default_of(build_data, "eval_split"))
        trainer = Trainer(config, data=build_data(config, eval_split=split))
        step = trainer.try_resume()
        if step is None:
            raise Wav2LipEmotionError(f"{config.runtime.output}: no training checkpoint to validate")
        metrics = trainer.validate()
        print(json.dumps({"step": step, "split": split, "windows": trainer.validated_windows, **metrics}, indent=1))
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


def _train_options(p: argparse.ArgumentParser) -> None:
    from ..train.data import build_data

    p.add_argument(
        "config",
        help="TOML config file, or a config shipped with the package by name: world/syncnet, mead/conditional, ...",
    )
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
    add_option(
        p,
        "--split",
        source=build_data,
        field="eval_split",
        choices=["val", "test"],
        help="split used by --validate (default %(default)s)",
    )


COMMANDS = (
    Command(
        "train",
        "train a stage (syncnet, wav2lip, emotion, conditional) from a TOML config; resumes automatically",
        _run_train,
        _train_options,
        description="Train from a TOML config (see configs/ and docs/training.md). Running the same command again "
        "resumes from the newest checkpoint in runtime.output and continues the same trajectory. Multi-GPU or "
        "multi-node: launch it with torchrun (torchrun --nproc_per_node N -m wav2lip_emotion.cli train CONFIG).",
    ),
)
