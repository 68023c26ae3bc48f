"""Commands that measure results: ``evaluate`` (:class:`~wav2lip_emotion.evaluation.runner.EvaluateConfig`) and
``study`` (a blinded user study)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import (
    Command,
    add_device,
    add_option,
    add_quiet,
    comma_list,
    comma_list_or_all,
    config_from_args,
    default_of,
    given,
)

if TYPE_CHECKING:
    from ..evaluation.runner import EvaluateConfig


def evaluate_config(args: argparse.Namespace) -> EvaluateConfig:
    """The ``evaluate`` options given, the rest EvaluateConfig's defaults."""
    from ..errors import ConfigError
    from ..evaluation.cases import parse_pairs
    from ..evaluation.runner import EvaluateConfig

    if "videos" in args and "pairs" in args:
        raise ConfigError("--pairs is for a dataset (--data); clips (--videos) take their destinations from --to")
    values: dict[str, Any] = {"progress": not args.quiet}
    if args.no_baselines:
        values["baselines"] = ()
    elif args.skip:
        skipped = comma_list(args.skip)
        values["baselines"] = tuple(b for b in default_of(EvaluateConfig, "baselines") if b not in skipped)
    if "pairs" in args:
        values["pairs"] = parse_pairs(args.pairs)
    return config_from_args(EvaluateConfig, args, **values)


def _run_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.runner import evaluate

    config = evaluate_config(args)
    result = evaluate(config)
    table = "wild_variants.md" if config.videos else "table2_variants.md"
    print((config.out / "tables" / table).read_text(), end="")
    print(
        f"{len(result.scores)} videos of {len(result.cases)} cases scored in {result.seconds:.0f} s; "
        f"report {config.out / 'report.md'}, tables {config.out / 'tables'}, plots {config.out / 'plots'}"
    )
    return 0


def _evaluate_options(p: argparse.ArgumentParser) -> None:
    from ..data.splits import SPLIT_NAMES
    from ..evaluation.runner import EvaluateConfig

    def option(*flags: str, **kwargs: Any) -> None:
        add_option(p, *flags, source=EvaluateConfig, **kwargs)

    option("--data", type=Path, help="dataset root: a generated world (synth) or MEAD (or --videos)")
    option(
        "--videos",
        nargs="+",
        action="extend",
        metavar="FILE_OR_DIR",
        help="in the wild instead of a dataset: real clips (files, or directories of videos) to translate into "
        "each --to emotion; the untouched clip is the copy baseline, there is no ground truth",
    )
    option(
        "--to", type=comma_list, metavar="EMOTIONS", help="with --videos: comma-separated destinations, e.g. happy,sad"
    )
    option("--layout", choices=["world", "mead"], help="directory layout (default %(default)s)")
    option("--out", type=Path, required=True, help="output directory (tables/, plots/, report.md, caches)")
    option(
        "--checkpoint",
        field="checkpoints",
        action="append",
        metavar="[NAME=]PATH",
        help="a generator to evaluate (repeatable); NAME defaults to mask/strategy recorded in the file",
    )
    option(
        "--engine",
        field="engines",
        action="append",
        metavar="[NAME=]ENGINE[@INTENSITY]",
        help="a translation engine as a variant (repeatable): mesh (training-free), mesh@0.5, gentle=mesh@0.5, "
        "model (the shipped model)",
    )
    option(
        "--generated",
        action="append",
        metavar="[NAME=]DIR",
        help="videos generated elsewhere, as DIR/<actor>/<sentence>/<source>_to_<destination>.mp4 (repeatable)",
    )
    p.add_argument("--no-baselines", action="store_true", help="skip the ground-truth and copy baselines")
    p.add_argument("--skip", metavar="BASELINES", help="skip some baselines: ground-truth, copy")
    option(
        "--pairs", help="comma-separated source:destination pairs (default: the paper's 6 among neutral, happy, sad)"
    )
    option("--level", type=int, help="intensity level of non-neutral takes (default %(default)s)")
    option(
        "--actors",
        type=comma_list_or_all,
        help="comma-separated actors to evaluate (default: the split below, else all)",
    )
    option("--splits", type=Path, help="directory with train/val/test.txt file lists (as for training)")
    option("--split", choices=SPLIT_NAMES, help="which split (default %(default)s)")
    option("--val-actors", type=int, help="draw the split like the trainer: actors held out for val")
    option("--test-actors", type=int, help="... and for test (with --seed, as data.test_actors)")
    option("--seed", type=int, help="seed of the drawn split (the trainer's runtime.seed; default %(default)s)")
    option("--no-aligned", field="use_aligned", action="store_false", help="ignore the world's aligned ground truth")
    option("--max-cases", type=int, help="evaluate at most this many cases")
    option("--judge", help="emotion judge: faceapi, fer, densenet121 (default %(default)s)")
    option(
        "--affect-csv",
        type=Path,
        metavar="DIR",
        help="per-frame valence/arousal CSVs of an external model (e.g. NISL2020) instead of the proxy",
    )
    option(
        "--min-affect-gap",
        type=float,
        metavar="G",
        help="skip deltas where the real source and destination differ by <= G (default %(default)s: the paper's rule)",
    )
    option("--syncnet", type=Path, metavar="PATH", help="joonson/syncnet_python syncnet_v2.model: comparable LSE")
    option(
        "--expert",
        type=Path,
        metavar="PATH",
        help="our SyncNet expert for LSE* without --syncnet (default: the shipped one)",
    )
    option(
        "--inception",
        type=Path,
        metavar="PATH",
        help="pytorch-fid pt_inception-2015-12-05 weights: real FID (else FD-faceapi)",
    )
    option("--no-lse", field="lse", action="store_false", help="skip the lip-sync metrics")
    option("--no-identity", field="identity", action="store_false", help="skip the dlib identity distance")
    option("--no-realism", field="realism", action="store_false", help="skip the realism metrics and verdicts")
    option(
        "--quality-every",
        type=int,
        metavar="K",
        help="BRISQUE of the face on every K-th frame (default %(default)s; 0 = none)",
    )
    add_device(p, EvaluateConfig, "translation device (default %(default)s)")
    option("--batch-size", type=int, help="faces per generator call when translating")
    add_quiet(p)


def _run_study(args: argparse.Namespace) -> int:
    from ..evaluation import study

    if args.study_command == "make":
        files = study.make_study_from_evaluation(
            Path(args.evaluation), Path(args.out), **given(study.make_study_from_evaluation, args)
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


def _study_options(p: argparse.ArgumentParser) -> None:
    from ..evaluation.study import make_study_from_evaluation

    ssub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    a = ssub.add_parser("make", help="blinded clips + form.html + rating_sheet.csv + key.csv (keep the key)")
    a.add_argument("evaluation", help="an evaluate output directory")
    a.add_argument("--out", required=True, help="study directory to create")
    add_option(a, "--count", source=make_study_from_evaluation, type=int, help="translations to sample (default all)")
    add_option(a, "--seed", source=make_study_from_evaluation, type=int, help="default %(default)s")
    add_option(
        a,
        "--overwrite",
        source=make_study_from_evaluation,
        action="store_true",
        help="replace an existing study in --out",
    )
    a.set_defaults(func=_run_study)
    a = ssub.add_parser("score", help="Table 4 from returned ratings")
    a.add_argument("key", help="the study's key.csv")
    a.add_argument("ratings", nargs="+", help="returned rating CSV files")
    a.add_argument("--csv", help="also write the table as CSV")
    a.set_defaults(func=_run_study)


COMMANDS = (
    Command(
        "evaluate",
        "the paper's metrics (LSE, FID, delta valence/arousal) and more, over a test split, for many models",
        _run_evaluate,
        _evaluate_options,
        description="Translate every (actor, sentence, emotion pair) of a test split with each variant (checkpoints, "
        "videos generated elsewhere, and the ground-truth and copy baselines), measure every video (lip sync, "
        "Frechet distance to the ground truth, affect deltas, judge probabilities, identity, mouth movement, and "
        "PSNR/SSIM against the generated world's aligned ground truth) and write tables in the paper's form "
        "(Markdown + CSV), plots and report.md. Resumes: finished videos and measurements are cached in OUT. "
        "Metrics that are not the published ones are labelled (LSE*, FD-faceapi, proxy valence/arousal).",
    ),
    Command(
        "study",
        "a blinded user study: make a rating sheet from an evaluation, score the returned ratings",
        _run_study,
        _study_options,
        description="'study make' samples translated videos of an evaluation (with their real source and destination "
        "videos) into shuffled, blinded clips with an HTML form and a CSV sheet; 'study score' turns the returned "
        "1-5 ratings into the paper's Table 4 (sync, quality, delta emotion).",
    ),
)
