"""``run_reproduction``: the steps of :mod:`.stages` in order, each skipped when finished, then the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import write_text_atomic
from .budgets import BASELINE_ROWS
from .config import STAGES, ReproduceConfig, ReproductionResult, StepTime, TrainingRun
from .report import merge_scores, report_markdown, table2, table3, timing_table
from .stages import Reproduction, say


def run_reproduction(config: ReproduceConfig) -> ReproductionResult:
    """Run (or resume) the reproduction described by ``config`` up to ``config.until``; see the package docstring.

    Progress lines go to stderr. ``config.threads`` applies to this call only (restored afterwards)."""
    if not config.threads:
        return _run(config)
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(config.threads)
    cv2.setNumThreads(config.threads)
    try:
        return _run(config)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _stops_after(config: ReproduceConfig, stage: str) -> bool:
    """Whether ``stage`` is the last one to run (``config.until``) and the report is not wanted."""
    return config.until == stage != STAGES[-1]


def _stopped(config: ReproduceConfig, rep: Reproduction, runs: list[TrainingRun], started: float) -> ReproductionResult:
    seconds = time.perf_counter() - started
    say(f"stopped after {config.until} (until): {config.out} ({seconds:.0f} s in this run)")
    return ReproductionResult(
        out=config.out,
        report=None,
        tables={},
        budget=rep.budget,
        split=rep.split,
        runs=runs,
        timings=rep.timings,
        summaries=[],
        labels={},
        table2=([], []),
        table3=([], []),
        seconds=seconds,
        stopped_after=config.until,
    )


def _run(config: ReproduceConfig) -> ReproductionResult:
    from ..evaluation.report import write_csv
    from ..evaluation.scores import VideoScore

    started = time.perf_counter()
    rep = Reproduction(config)
    b = rep.budget
    runs = rep.plan_runs()  # every config found and valid before anything is written
    config.out.mkdir(parents=True, exist_ok=True)
    rep.load_state()
    total = 2 + len(runs) + 2
    say(
        f"reproduce: budget {b.name}, {len(runs)} trainings, output {config.out} "
        f"({sum(r.steps for r in runs)} training steps in all)"
    )
    index = 1
    label = f"world: {b.actors} actors x {b.sentences} sentences at {b.size} px"
    rep.step(index, total, "world", label, rep.world_done(), rep.make_world)
    if _stops_after(config, "world"):
        return _stopped(config, rep, runs, started)
    index += 1
    label = f"preprocess: faces at {b.face_size()} px"
    rep.step(index, total, "preprocess", label, rep.preprocess_done(), rep.make_cache)
    rep.check_split()
    if _stops_after(config, "preprocess"):
        return _stopped(config, rep, runs, started)
    for run in runs:
        index += 1
        rep.step(
            index,
            total,
            f"train:{run.name}",
            f"{run.label} ({run.steps} steps)",
            rep.run_done(run),
            lambda run=run: rep.train_run(run),
        )
    if _stops_after(config, "train"):
        return _stopped(config, rep, runs, started)
    checkpoints, names = rep.eval_names(runs)
    index += 1
    n_variants = len(set(names.values())) + len(BASELINE_ROWS)
    rep.step(
        index,
        total,
        "evaluate",
        f"evaluating {n_variants} variants ({len(checkpoints)} models) on test actors {', '.join(rep.split['test'])}",
        rep.eval_done(checkpoints),
        lambda: rep.evaluate(checkpoints),
    )
    if _stops_after(config, "evaluate"):
        return _stopped(config, rep, runs, started)
    saved = json.loads(rep.scores_path.read_text())
    scores = [VideoScore(**s) for s in saved["scores"]]
    labels: dict[str, str | bool] = saved["labels"]  # "True"/"False" strings in files of older versions
    summaries = merge_scores(scores, [tuple(f) for f in saved["frechet"]], names)  # type: ignore[misc]

    index += 1
    say(f"[{index}/{total}] report...")
    report_start = time.perf_counter()
    tables = {"table2": table2(summaries, labels), "table3": table3(summaries)}
    report_seconds = time.perf_counter() - report_start
    rep.timings.append(StepTime("report", "report", report_seconds, report_seconds, False))
    tables["timing"] = timing_table(rep.timings, time.perf_counter() - started)
    files: dict[str, Path] = {}
    for name, (header, rows) in tables.items():
        files[f"{name}.csv"] = write_csv(config.out / "tables" / f"{name}.csv", header, rows)
    report = write_text_atomic(
        config.out / "reproduction.md",
        report_markdown(config, runs, rep.split, labels, tables, saved),
    )
    files["reproduction.md"] = report
    seconds = time.perf_counter() - started
    say(f"[{index}/{total}] report: {report} ({seconds:.0f} s in this run)")
    return ReproductionResult(
        out=config.out,
        report=report,
        tables=files,
        budget=b,
        split=rep.split,
        runs=runs,
        timings=rep.timings,
        summaries=summaries,
        labels=labels,
        table2=tables["table2"],
        table3=tables["table3"],
        evaluation_names=names,
        cases=int(saved.get("cases") or 0),
        seconds=seconds,
    )
