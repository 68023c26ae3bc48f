"""The reproduction's report: the per-pair models merged into their variant, Tables 2 and 3 next to the paper's
(from :mod:`wav2lip_emotion.evaluation.tables`), the time per step and OUT/reproduction.md."""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.report import markdown_table
from ..evaluation.scores import Summary, VideoScore, summarise
from ..evaluation.tables import column_names, table2_with_paper, table3_with_paper
from .budgets import BASELINE_ROWS, CONDITIONAL, LEVEL, PAIRS, TABLE3_VARIANT, VARIANTS, pair_name
from .config import ReproduceConfig, StepTime, TrainingRun


def merge_scores(
    scores: Sequence[VideoScore], frechet: Sequence[tuple[str, str, float]], names: dict[str, str]
) -> list[Summary]:
    """Per (variant, pair) and per-variant summaries with the evaluated models renamed to their variant.

    ``scores``: VideoScore objects of the evaluation; ``frechet``: (evaluated name, pair, Frechet distance)
    of its summaries; ``names``: evaluated name -> variant (names not in it are kept). Per-pair values are the
    pair models' own; a variant's row is the micro-average over all its videos (as :func:`summarise` does) and
    its Frechet distance the mean over its pairs (as :func:`~wav2lip_emotion.evaluation.runner.evaluate`)."""

    renamed = [dataclasses.replace(s, variant=names.get(s.variant, s.variant)) for s in scores]
    summaries = summarise(renamed)
    per_pair: dict[tuple[str, str], float] = {}
    for name, pair, value in frechet:
        if pair != "all":
            per_pair[(names.get(name, name), pair)] = float(value)
    for s in summaries:
        if s.pair != "all":
            s.frechet = per_pair.get((s.variant, s.pair), math.nan)
    for s in summaries:
        if s.pair == "all":
            finite = [p.frechet for p in summaries if p.variant == s.variant and p.pair != "all"]
            finite = [v for v in finite if math.isfinite(v)]
            s.frechet = float(sum(finite) / len(finite)) if finite else math.nan
    return summaries


def table2(summaries: Sequence[Summary], labels: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The paper's Table 2 in the world: ours next to the paper's, plus our extra columns; one row per variant
    (Table 2's order), the conditional model and the baselines."""
    order = [f"{m}/{s}" for m, s in VARIANTS] + [CONDITIONAL, *BASELINE_ROWS]
    return table2_with_paper(summaries, labels, order)


def table3(summaries: Sequence[Summary]) -> tuple[list[str], list[list[Any]]]:
    """The paper's Table 3 (per pair dV / dA of the half-mask L1 + emotion variant), with the conditional model."""
    return table3_with_paper(summaries, (TABLE3_VARIANT, CONDITIONAL), [pair_name(p) for p in PAIRS])


def timing_table(timings: Sequence[StepTime], total_this_run: float) -> tuple[list[str], list[list[Any]]]:
    header = ["step", "seconds", "this run (s)"]
    rows: list[list[Any]] = [[t.label, t.seconds, "skipped" if t.skipped else t.this_run] for t in timings]
    done = [t.seconds for t in timings if math.isfinite(t.seconds)]
    rows.append(["total", float(sum(done)), total_this_run])
    return header, rows


def report_markdown(
    config: ReproduceConfig,
    runs: Sequence[TrainingRun],
    split: dict[str, list[str]],
    labels: Mapping[str, Any],
    tables: dict[str, tuple[list[str], list[list[Any]]]],
    eval_info: dict[str, Any],
) -> str:
    """OUT/reproduction.md: the budget, the split, Tables 2 and 3, the time per step, the training commands."""
    b = config.plan
    lse, fd = column_names(labels)
    steps = {stage: b.steps(stage) for stage in ("syncnet", "wav2lip", "emotion", "conditional")}
    configs_used = sorted({r.config_file.name for r in runs})
    budget_rows = [[k, json.dumps(v) if isinstance(v, list | dict) else v] for k, v in b.as_dict().items()]
    lines = [
        '# Reproduction of Wav2Lip-Emotion ("Invertible Frowns") in the generated world',
        "",
        "```",
        config.command(),
        "```",
        "",
        f"Budget **{b.name}**: a world of {b.actors} actors x {b.sentences} sentences x neutral / happy {LEVEL} / "
        f"sad {LEVEL} ({b.size} px frames, sentences up to {b.max_seconds:g} s); faces cached at "
        f"{b.face_size()} px for the `{b.profile}` model profile. Actor split (seed {config.seed}, drawn as the "
        f"trainer draws it): train {', '.join(split['train'])}; validation {', '.join(split['val'])}; "
        f"**test {', '.join(split['test'])}** (aligned ground truth rendered for these only).",
        "",
        f"Training steps: expert {steps['syncnet']}, Wav2Lip half / full {steps['wav2lip']} each, each emotion "
        f"model {steps['emotion']} ({len(b.pairs)} pair(s) per variant: "
        f"{', '.join(pair_name(p) for p in b.pairs)}; {6 * len(b.pairs)} models), conditional "
        f"{steps['conditional']} (one model for all pairs). Settings: the package's "
        f"`configs/world/` ({', '.join(configs_used)}) with the overrides listed at the end.",
        "",
        f"Evaluation: {eval_info.get('cases', '?')} test cases (pairs "
        f"{', '.join(pair_name(p) for p in b.eval_pairs)} at level {LEVEL}); the full evaluation with its own "
        f"tables, plots and per-video numbers is in `eval/report.md` and `eval/videos.csv`.",
        "",
        "What is and is not comparable with the paper: the paper measured MEAD with the real LSE (syncnet_v2), "
        f"FID (Inception) and NISL2020 valence/arousal. Here **{lse}** is {labels.get('lse', '?')}; **{fd}** is "
        f"{labels.get('frechet', '?')}; dV / dA use the {labels.get('affect', '?')}. The columns 'paper ...' are "
        "the published MEAD numbers, for orientation only: the ranking of the variants is what can be compared, "
        "not the values. The paper has no row for the conditional model (ours) nor for the copy baseline "
        "(output = input); its ground-truth row is the real MEAD video.",
        "",
        "## Table 2: the variants (all evaluated pairs)",
        "",
        markdown_table(*tables["table2"]),
        "Extra columns (not in the paper): p(dst) = the judge's mean probability of the destination emotion; "
        "mouth corr. = correlation of the mouth opening with the source's; identity dist. = dlib distance to the "
        "source (< 0.6: the same person). Per-pair models of a variant are merged: a variant's row is the "
        f"micro-average over all its videos, its {fd} the mean over its pairs.",
        "",
        f"## Table 3: per pair, {TABLE3_VARIANT} and the conditional model",
        "",
        markdown_table(*tables["table3"]),
    ]
    if len(b.pairs) < len(PAIRS):
        lines += [
            f"This budget trains each variant on {', '.join(pair_name(p) for p in b.pairs)} only, so "
            f"{TABLE3_VARIANT} has no other rows; the conditional model covers every pair.",
            "",
        ]
    lines += [
        "## Time per step",
        "",
        markdown_table(*tables["timing"]),
        "'seconds' is the time a step took when it ran; 'this run' is this call's (skipped: finished earlier).",
        "",
        "## Budget",
        "",
        markdown_table(["setting", "value"], budget_rows),
        "## Training runs (equivalent commands)",
        "",
        "```",
    ]
    for run in runs:
        sets = " ".join(f"--set {shlex.quote(o)}" for o in run.overrides)
        lines.append(f"wav2lip-emotion train {shlex.quote(str(run.config_file))} {sets}")
    lines += ["```", ""]
    if eval_info.get("skipped"):
        lines += ["## Skipped in the evaluation", ""] + [f"- {s}" for s in eval_info["skipped"]] + [""]
    return "\n".join(lines)
