"""The ``reproduce`` command: the paper's experiment end to end
(:class:`~wav2lip_emotion.reproduce.ReproduceConfig`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .options import Command, add_device, add_option, config_from_args

if TYPE_CHECKING:
    from ..reproduce import ReproduceConfig


def reproduce_config(args: argparse.Namespace) -> ReproduceConfig:
    """The ``reproduce`` options given, the rest ReproduceConfig's defaults."""
    from ..reproduce import ReproduceConfig

    return config_from_args(ReproduceConfig, args)


def _run_reproduce(args: argparse.Namespace) -> int:
    import logging

    from ..reproduce import run_reproduction

    config = reproduce_config(args)
    logging.basicConfig(level=logging.WARNING if config.quiet else logging.INFO, format="%(message)s")
    result = run_reproduction(config)
    if result.report is None:
        print(f"stopped after {result.stopped_after}: {result.out}")
        return 0
    print(f"report: {result.report}; tables: {result.out / 'tables'}; evaluation: {result.out / 'eval' / 'report.md'}")
    return 0


def _reproduce_options(p: argparse.ArgumentParser) -> None:
    from ..reproduce import PUBLIC_BUDGETS, STAGES, ReproduceConfig

    add_option(
        p,
        "--budget",
        source=ReproduceConfig,
        metavar="{" + ",".join(PUBLIC_BUDGETS) + "}",
        help="small: 6 actors, one emotion pair per variant, about 30 min on 2 CPU cores; full: 10 actors, "
        "all 6 pairs per variant (36 models), hours (default %(default)s)",
    )
    add_option(
        p,
        "--out",
        source=ReproduceConfig,
        type=Path,
        help="output directory (default: ./%(default)s)",
    )
    add_option(
        p,
        "--seed",
        source=ReproduceConfig,
        type=int,
        help="seed of the world, the actor split and training (default %(default)s)",
    )
    add_option(
        p,
        "--threads",
        source=ReproduceConfig,
        type=int,
        help="CPU threads (default: all; 1 is faster when other jobs share the CPU)",
    )
    add_device(p, ReproduceConfig, "training device (default %(default)s)")
    add_option(
        p,
        "--until",
        source=ReproduceConfig,
        choices=STAGES,
        help="stop after this step (default: %(default)s, the whole reproduction); run again without it to go on",
    )
    add_option(
        p,
        "-q",
        "--quiet",
        source=ReproduceConfig,
        action="store_true",
        help="no progress bars (step lines are still printed)",
    )


COMMANDS = (
    Command(
        "reproduce",
        "the paper's experiment in the generated world, end to end: world, training of every variant, "
        "evaluation, Tables 2 and 3",
        _run_reproduce,
        _reproduce_options,
        description="Generate a world (neutral, happy and sad at level 3), preprocess it, train the SyncNet expert, "
        "Wav2Lip (half and full mask), the paper's six variants (mask x L1 + emotion / emotion / L1, one model per "
        "emotion pair) and the conditional model from the package's configs/world/, evaluate them with the "
        "ground-truth and copy "
        "baselines on the held-out test actors, and write OUT/reproduction.md with Tables 2 and 3 next to the "
        "paper's numbers and the time of every step. Resumable: running it again skips every finished step.",
    ),
)
