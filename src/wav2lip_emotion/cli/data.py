"""Commands that make training data: ``synth`` (a generated world), ``preprocess`` (the face cache), ``splits``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .options import (
    Command,
    add_option,
    add_quiet,
    comma_list,
    comma_list_or_all,
    config_from_args,
    default_of,
    given,
    int_list,
    int_list_or_all,
)

if TYPE_CHECKING:
    from ..data.preprocess import PreprocessConfig
    from ..world.synth import WorldConfig

#: --identities: which kinds of actor the world has -> (real_identities, procedural_identities)
IDENTITIES = {"both": (True, True), "real": (True, False), "procedural": (False, True)}


def world_config(args: argparse.Namespace) -> WorldConfig:
    """The ``synth`` options given, the rest WorldConfig's defaults."""
    from ..world.synth import WorldConfig

    values = {}
    if "identities" in args:
        values["real_identities"], values["procedural_identities"] = IDENTITIES[args.identities]
    return config_from_args(WorldConfig, args, **values)


def _run_synth(args: argparse.Namespace) -> int:
    from ..world.synth import synthesize

    manifest = synthesize(world_config(args), args.out, progress=not args.quiet)
    real = sum(1 for a in manifest.actors if a["real"])
    frames = sum(int(t["frames"]) for t in manifest.takes)
    print(
        f"{args.out}: {len(manifest.actors)} actors ({real} real photos, {len(manifest.actors) - real} procedural), "
        f"{len(manifest.takes)} takes ({frames} frames), {len(manifest.aligned)} aligned ground-truth renders; "
        f"manifest {Path(args.out) / 'world.json'}"
    )
    return 0


def _synth_options(p: argparse.ArgumentParser) -> None:
    from ..world.synth import WorldConfig

    p.add_argument("--out", required=True, help="output directory")
    add_option(p, "--actors", source=WorldConfig, type=int, help="number of actors (default %(default)s)")
    add_option(p, "--sentences", source=WorldConfig, type=int, help="sentences per actor (default %(default)s)")
    add_option(
        p,
        "--emotions",
        source=WorldConfig,
        type=comma_list,
        help="comma-separated MEAD emotions: angry, contempt, disgusted, fear, happy, neutral, sad, surprised "
        "(default %(default)s)",
    )
    add_option(
        p,
        "--levels",
        source=WorldConfig,
        type=int_list,
        help="comma-separated intensity levels 1-3 (neutral always level 1; default %(default)s)",
    )
    add_option(
        p,
        "--size",
        source=WorldConfig,
        type=int,
        help="frame side in px (the face is about 60%%; default %(default)s)",
    )
    add_option(p, "--seed", source=WorldConfig, type=int, help="default %(default)s")
    kinds = (default_of(WorldConfig, "real_identities"), default_of(WorldConfig, "procedural_identities"))
    default = next(name for name, value in IDENTITIES.items() if value == kinds)
    p.add_argument(
        "--identities",
        choices=list(IDENTITIES),
        default=argparse.SUPPRESS,
        help=f"real photos first then procedural faces (both), or only one kind (default {default})",
    )
    add_option(
        p,
        "--time-warp",
        source=WorldConfig,
        type=float,
        help="max relative timing change between takes (0: aligned; default %(default)s)",
    )
    add_option(
        p,
        "--no-aligned",
        source=WorldConfig,
        field="aligned",
        action="store_false",
        help="skip the aligned ground-truth renders",
    )
    add_option(
        p,
        "--aligned-actors",
        source=WorldConfig,
        type=comma_list,
        metavar="IDS",
        help="render the aligned ground truth only for these comma-separated actors (e.g. the test split: P005); "
        "the takes of every actor are the same either way",
    )
    add_quiet(p)


def preprocess_config(args: argparse.Namespace) -> PreprocessConfig:
    """The ``preprocess`` options given, the rest PreprocessConfig's defaults."""
    from ..data.preprocess import PreprocessConfig

    return config_from_args(PreprocessConfig, args)


def _run_preprocess(args: argparse.Namespace) -> int:
    from ..data.preprocess import preprocess

    config = preprocess_config(args)
    summary = preprocess(config, progress=not args.quiet)
    print(summary.describe())
    print(f"cache: {config.out} (failed videos and reasons: {config.out / 'failed.json'})")
    return 0


def _preprocess_options(p: argparse.ArgumentParser) -> None:
    from ..data.layouts import LAYOUTS
    from ..data.preprocess import PreprocessConfig

    add_option(p, "--layout", source=PreprocessConfig, required=True, choices=LAYOUTS, help="directory layout of --src")
    add_option(
        p,
        "--src",
        source=PreprocessConfig,
        type=Path,
        required=True,
        help="dataset root (MEAD: <actor>/video/<view>/<emotion>/level_<n>/...)",
    )
    add_option(p, "--out", source=PreprocessConfig, type=Path, required=True, help="cache directory")
    add_option(
        p,
        "--size",
        source=PreprocessConfig,
        type=int,
        help="face crop side in px (model face size; default %(default)s)",
    )
    add_option(p, "--fps", source=PreprocessConfig, type=float, help="frame rate of the cache (default %(default)s)")
    add_option(
        p,
        "--emotions",
        source=PreprocessConfig,
        type=comma_list_or_all,
        help="comma-separated emotions to keep (default: all)",
    )
    add_option(
        p,
        "--levels",
        source=PreprocessConfig,
        type=int_list_or_all,
        help="comma-separated levels to keep, e.g. 3 (neutral is always kept; default: all)",
    )
    add_option(
        p,
        "--views",
        source=PreprocessConfig,
        type=comma_list_or_all,
        help="comma-separated camera views (MEAD; default %(default)s)",
    )
    add_option(p, "--workers", source=PreprocessConfig, type=int, help="processes (default %(default)s)")
    add_option(
        p,
        "--aligned",
        source=PreprocessConfig,
        action="store_true",
        help="world layout: also cache the aligned ground-truth renders (cropped with their take's face track), "
        'the L1 targets of a config with data.targets = "aligned"',
    )
    add_quiet(p)


def _run_splits(args: argparse.Namespace) -> int:
    from ..data.cache import FaceCache
    from ..data.splits import split_by_actor, write_filelists

    records = FaceCache(args.cache).records()
    splits = split_by_actor(records, **given(split_by_actor, args))
    paths = write_filelists(splits, records, args.out)
    print(splits.summary())
    for name, path in paths.items():
        print(f"wrote {path} ({len(path.read_text().split())} videos, {name})")
    return 0


def _splits_options(p: argparse.ArgumentParser) -> None:
    from ..data.splits import split_by_actor

    p.add_argument("--cache", required=True, help="preprocessed cache directory")
    p.add_argument("--out", required=True, help="directory for train.txt, val.txt, test.txt")
    add_option(p, "--val", source=split_by_actor, type=int, help="validation actors (default: 5 per 47 actors)")
    add_option(p, "--test", source=split_by_actor, type=int, help="test actors (default: 5 per 47 actors)")
    add_option(p, "--seed", source=split_by_actor, type=int, help="default %(default)s")
    add_option(
        p,
        "--min-minority",
        source=split_by_actor,
        type=int,
        help="smaller gender group actors in val and test (default %(default)s)",
    )


COMMANDS = (
    Command(
        "synth",
        "generate a MEAD-like world of paired emotional talking-face videos (with aligned ground truth)",
        _run_synth,
        _synth_options,
        description="Render talking faces from real photos (and procedural identities) with a face rig driven "
        "by real or procedural speech: every sentence in every requested emotion and level, in MEAD's directory "
        "layout, plus aligned/ renders of every take in every other emotion with the same timing and pose, and "
        "per-frame metadata (landmarks, rig parameters). Deterministic for a seed.",
    ),
    Command(
        "preprocess",
        "turn a dataset (MEAD, LRS2 or a generated world) into the fast face cache used for training",
        _run_preprocess,
        _preprocess_options,
        description="Decode every video at 25 fps, track the face, store face crops at the model size, full-face "
        "masks and the mel spectrogram of the 16 kHz audio in a memory-mappable cache. Resumable: re-running "
        "skips finished videos and a crash loses only the videos in progress. Unusable videos are skipped and "
        "listed with the reason (failed.json).",
    ),
    Command(
        "splits",
        "split a preprocessed cache by actor into train/val/test file lists (MEAD-style 37/5/5)",
        _run_splits,
        _splits_options,
        description="Split the actors of a cache into train, validation and test (5 of every 47 actors each by "
        "default, as the paper's MEAD split), with at least --min-minority actors of the smaller gender group in "
        "validation and test when genders are known (MEAD ids M*/W*, world.json). Seeded. Writes train.txt, "
        "val.txt, test.txt (one video id per line; the original filelists format is also read by training).",
    ),
)
