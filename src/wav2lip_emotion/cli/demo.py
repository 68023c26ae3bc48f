"""The ``demo`` command: :class:`~wav2lip_emotion.demo.DemoConfig` (a real clip) or, with ``--world``,
:class:`~wav2lip_emotion.demo_world.WorldDemoConfig` (the generated world)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .options import Command, add_device, add_option, add_quiet, config_from_args, default_of

if TYPE_CHECKING:
    from ..demo import DemoConfig
    from ..demo_world import WorldDemoConfig


def demo_config(args: argparse.Namespace) -> DemoConfig | WorldDemoConfig:
    """The ``demo`` options given, the rest DemoConfig's (or with ``--world``, WorldDemoConfig's) defaults."""
    from ..demo import DemoConfig
    from ..demo_world import WorldDemoConfig

    if args.world:
        if "max_seconds" in args:
            raise ConfigError("--seconds is for the real-footage demo; the world demo renders its own clip")
        return config_from_args(WorldDemoConfig, args, progress=not args.quiet)
    if "actor" in args:
        raise ConfigError("--actor is for the generated-world demo (--world); the default demo shows a real clip")
    return config_from_args(DemoConfig, args, progress=not args.quiet)


def _run_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..demo_world import WorldDemoConfig, run_world_demo

    config = demo_config(args)
    if isinstance(config, WorldDemoConfig):
        world = run_world_demo(config)
        return 0 if all(world.passed.values()) or not args.strict else 1
    real = run_demo(config)
    return 0 if real.realistic_edits == len(real.rows) or not args.strict else 1


def _demo_options(p: argparse.ArgumentParser) -> None:
    from pathlib import Path

    from ..demo import DemoConfig
    from ..demo_world import WorldDemoConfig

    real_out, world_out = default_of(DemoConfig, "out"), default_of(WorldDemoConfig, "out")
    p.add_argument("--world", action="store_true", help=f"the generated-world demo (default OUT: ./{world_out})")
    p.add_argument(
        "--out",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"output directory (default: ./{real_out}, or ./{world_out} with --world)",
    )
    add_option(
        p,
        "--checkpoint",
        source=DemoConfig,
        type=Path,
        help="learned generator to demonstrate (default: the shipped world model)",
    )
    add_option(
        p,
        "--seconds",
        source=DemoConfig,
        field="max_seconds",
        type=float,
        help="only the clip's first SECONDS (default: all 8.3 s)",
    )
    add_option(
        p,
        "--actor",
        source=WorldDemoConfig,
        help="with --world: real-photo world actor R001, R002 or R003 (default %(default)s)",
    )
    add_device(p, DemoConfig)
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a result is not a realistic edit (--world: when a must-show target is missed)",
    )
    add_quiet(p, "no progress bars")


COMMANDS = (
    Command(
        "demo",
        "a real person's clip translated by the mesh engine and the shipped model; writes demo/report.html",
        _run_demo,
        _demo_options,
        description="Translate movie-hello.mp4 (a real clip with its own speech, CC-BY-SA-4.0) with the mesh engine "
        "into happy, sad and surprised and with the shipped learned in-world model into happy, measure every result "
        "against the clip (the in-the-wild evaluation: judge, identity, mouth movement, realism, verdicts) and write "
        "OUT/report.html (side-by-side videos, a frame grid, per-frame plots, the checks and what each number means). "
        "--world: the generated-world demo instead (a world actor rendered and translated by the shipped model). "
        "Resumes where it stopped.",
    ),
)
