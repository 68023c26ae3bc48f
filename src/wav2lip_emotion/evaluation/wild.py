"""In-the-wild evaluation: any real clips, each translated into each requested emotion, no ground truth.

``wav2lip-emotion evaluate --videos FILES_OR_DIR --to happy,sad --engine mesh --checkpoint m.safetensors``

Every variant (checkpoints, engines such as the training-free ``mesh``, directories of videos made
elsewhere as ``DIR/<clip>/to_<emotion>.mp4``) translates every clip into every destination it can; the
untouched clip is the ``copy`` baseline. With no destination take and no ground truth, what can be said
is measured against the source clip itself: the judge's gain in p(destination), the kept lip movement
and identity, and realism (:mod:`.realism`). The variants are ranked by their share of realistic edits.

Outputs (under ``OUT``, rebuilt every run; translations and measurements are cached as in the dataset
mode): ``tables/wild_variants.{md,csv}``, ``tables/wild_destinations.{md,csv}``, ``videos.csv``,
``plots/metrics.png``, ``plots/frames_<clip>_to_<emotion>.png`` (per-frame judge, mouth, sharpness,
flicker and mesh score of the source and every variant), ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import ConfigError, MediaError, TranslationError, Wav2LipEmotionError
from ..visual import save_figure
from .cases import Variant
from .measure import VideoMeasurement
from .naming import safe_name
from .report import bar_chart, fmt, markdown_table, ranked, realism_definitions, write_csv
from .scores import VideoScore, score_video, summarise

if TYPE_CHECKING:
    from .runner import EvaluateConfig, EvaluationContext, EvaluationResult

log = logging.getLogger(__name__)

#: file endings taken from a directory given to ``--videos``
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
#: the source's emotion is not known in the wild
UNKNOWN = "unknown"


@dataclass(frozen=True)
class WildCase:
    """One clip to translate into one emotion."""

    clip: Path
    #: unique name of the clip in this evaluation (its file stem, made unique)
    name: str
    destination_emotion: str

    @property
    def id(self) -> str:
        """``<clip>/to_<emotion>``: also the relative path (without .mp4) of its generated videos."""
        return f"{self.name}/to_{self.destination_emotion}"


def collect_clips(items: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """(unique name, path) of every clip: files as given, directories' video files (recursively, sorted).
    ConfigError for a missing path or a directory without videos."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise ConfigError(f"{p}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this directory")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise ConfigError(f"{p}: no such video file or directory")
    out: list[tuple[str, Path]] = []
    used: set[str] = set()
    for p in dict.fromkeys(paths):
        base = safe_name(p.stem) or "clip"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out.append((name, p))
    return out


def plan_wild_cases(clips: Sequence[tuple[str, Path]], destinations: Sequence[str]) -> list[WildCase]:
    return [WildCase(path, name, d) for name, path in clips for d in destinations]


def can_translate(variant: Variant, destination: str) -> bool:
    """Whether ``variant`` can make ``destination`` from a clip of unknown emotion: a paired model only its
    pairs' destinations, a conditional one its emotions, anything else every emotion."""
    if variant.pairs is not None:
        return any(d == destination for _, d in variant.pairs)
    return variant.emotions is None or destination in variant.emotions


def _variants(config: EvaluateConfig) -> tuple[list[Variant], list[str]]:
    """The variants of ``config`` without the ground-truth baseline (a real clip has none), and a note
    when it was asked for."""
    from dataclasses import replace

    from .runner import plan_variants

    notes = []
    if "ground-truth" in config.baselines:
        notes.append("no ground-truth baseline in the wild: a real clip has no ideal translation")
    baselines = tuple(b for b in config.baselines if b != "ground-truth")
    return plan_variants(replace(config, baselines=baselines)), notes


def _generated(ctx: EvaluationContext, variant: Variant, case: WildCase) -> Path | None:
    from .runner import translate_variant

    if variant.kind == "copy":
        return case.clip
    if variant.kind == "generated":
        assert variant.path is not None
        path = variant.path / f"{case.id}.mp4"
        return path if path.is_file() else None
    path = ctx.config.out / "generated" / safe_name(variant.name) / f"{case.id}.mp4"
    return translate_variant(ctx, variant, case.clip, path, case.destination_emotion, None)


def _check_destinations(config: EvaluateConfig, classes: Sequence[str]) -> None:
    from ..perception.emotions import parse_emotion

    known = {parse_emotion(c).value for c in classes}
    missing = [d for d in config.to if d not in known]
    if missing:
        raise ConfigError(
            f"the judge {config.judge} cannot see {', '.join(missing)}; choose --to among {', '.join(sorted(known))}"
        )


def evaluate_wild(config: EvaluateConfig, only: Mapping[str, Sequence[str]] | None = None) -> EvaluationResult:
    """Translate every clip of ``config.videos`` into every emotion of ``config.to`` with every variant,
    measure against the clip, tabulate, plot (see the module docstring). ``only``: variant name -> the
    destinations that variant is limited to (a variant not named: every destination it can make)."""
    from .runner import EvaluationContext, EvaluationResult

    start = time.perf_counter()
    clips = collect_clips(config.videos)
    cases = plan_wild_cases(clips, config.to)
    variants, notes = _variants(config)
    limits = {name: set(dests) for name, dests in (only or {}).items()}
    unknown = sorted(set(limits) - {v.name for v in variants})
    if unknown:
        raise ConfigError(f"destinations given for unknown variants: {', '.join(unknown)}")
    work = [
        (v, c)
        for c in cases
        for v in variants
        if can_translate(v, c.destination_emotion)
        and c.destination_emotion in limits.get(v.name, {c.destination_emotion})
    ]
    if not work:
        raise ConfigError(f"none of the variants can translate into {', '.join(config.to)}")
    config.out.mkdir(parents=True, exist_ok=True)
    ctx = EvaluationContext(config)
    _check_destinations(config, ctx.judge.classes)
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(work), unit="video", desc="evaluate", file=sys.stderr)
    scores: list[VideoScore] = []
    skipped: list[str] = []
    sources: dict[str, VideoMeasurement | None] = {}
    frames: dict[str, list[tuple[str, VideoMeasurement]]] = {}
    for variant, case in work:
        if bar is not None:
            bar.set_postfix_str(f"{variant.name} {case.id}")
        try:
            if case.name not in sources:
                sources[case.name] = None
                sources[case.name] = ctx.measurement(f"wild/{case.name}", case.clip)
            src = sources[case.name]
            if src is None:
                continue  # the clip itself could not be measured: reported once below
            video = _generated(ctx, variant, case)
            if video is None:
                skipped.append(f"{variant.name}: no video for {case.id}")
                continue
            gen = (
                src
                if variant.kind == "copy"
                else ctx.measurement(f"{safe_name(variant.name)}/{case.id}", video, align_to=src)
            )
        except (TranslationError, MediaError) as exc:
            if sources.get(case.name) is None:
                skipped.append(f"{case.clip}: {exc}")
            else:
                skipped.append(f"{variant.name}: {case.id}: {exc}")
            continue
        finally:
            if bar is not None:
                bar.update(1)
        lse = None
        try:
            lse = ctx.lip_sync(f"{safe_name(variant.name)}/{case.id}", video)
        except Wav2LipEmotionError as exc:  # a silent clip has no lip sync to score
            gen_notes = [f"no LSE: {exc}"]
        else:
            gen_notes = []
        score = score_video(
            variant.name,
            case.id,
            "wild",
            case.name,
            UNKNOWN,
            case.destination_emotion,
            gen,
            src,
            None,
            lse=lse,
        )
        score.notes += gen_notes
        scores.append(score)
        frames.setdefault(case.id, [("source", src)]).append((variant.name, gen))
    if bar is not None:
        bar.close()
    if not scores:
        raise MediaError(f"no video could be scored: {'; '.join(skipped[:3])}")
    summaries = summarise(scores)
    labels = {
        "mode": "wild",
        "judge": config.judge,
        "frechet": ctx.extractor.label,
        "lse": ctx.scorer.label if ctx.scorer is not None else "not measured",
        "notes": "; ".join(notes),
    }
    result = EvaluationResult(
        out=config.out,
        cases=cases,
        variants=variants,
        scores=scores,
        summaries=summaries,
        labels=labels,
        skipped=skipped,
    )
    result.seconds = time.perf_counter() - start
    result.files = write_wild_outputs(result, config, frames)
    return result


# ------------------------------------------------------------------------------------------ outputs

#: per-variant columns of the wild tables: (summary key, title)
WILD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("realistic_edit", "realistic edit"),
    ("realistic", "realistic"),
    ("emotion_gain", "emotion gain"),
    ("p_destination", "p(dst)"),
    ("p_destination_source", "p(dst) source"),
    ("mouth_correlation", "mouth corr."),
    ("lip_kept", "lips kept"),
    ("identity_distance", "identity dist."),
    ("sharpness_ratio", "sharpness ratio"),
    ("flicker_ratio", "flicker ratio"),
    ("frechet_source", "FD to source"),
    ("quality_difference", "BRISQUE diff."),
    ("face_score", "mesh score"),
    ("faces_kept", "faces kept"),
    ("lse_c", "LSE*-C"),
)


def wild_variant_table(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    kinds = {v.name: v.kind for v in result.variants}
    header = ["rank", "variant", "kind", *(t for _, t in WILD_COLUMNS), "videos"]
    rows = [
        [i + 1, s.variant, kinds.get(s.variant, "-"), *(s.values.get(k, math.nan) for k, _ in WILD_COLUMNS), s.videos]
        for i, s in enumerate(ranked(result.summaries))
    ]
    return header, rows


def wild_destination_table(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    order = {s.variant: i for i, s in enumerate(ranked(result.summaries))}
    header = ["variant", "destination", *(t for _, t in WILD_COLUMNS[:11]), "videos"]
    rows = [
        [s.variant, s.pair.split("->")[-1], *(s.values.get(k, math.nan) for k, _ in WILD_COLUMNS[:11]), s.videos]
        for s in sorted(
            (s for s in result.summaries if s.pair != "all"), key=lambda s: (order.get(s.variant, 0), s.pair)
        )
    ]
    return header, rows


def frame_plot(title: str, destination: str, series: Sequence[tuple[str, VideoMeasurement]], path: Path) -> Path:
    """Per-frame curves of one case (matplotlib, no pyplot state): the judge's p(destination), the mouth
    opening, the face's sharpness (variance of the Laplacian, log scale), the aligned flicker and the mesh
    score, for the source and every variant."""
    from matplotlib.figure import Figure

    panels = (
        (f"p({destination})", lambda m: m.class_probability(None, destination), False),
        ("mouth opening", lambda m: m.opening, False),
        ("sharpness (Laplacian var.)", lambda m: m.realism.sharpness, True),
        ("flicker (grey levels)", lambda m: m.realism.flicker, False),
        ("mesh score", lambda m: m.realism.face_score, False),
    )
    fig = Figure(figsize=(9, 11), dpi=90, layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True)
    for ax, (name, get, log_scale) in zip(axes, panels, strict=True):
        for k, (label, m) in enumerate(series):
            values = np.asarray(get(m), dtype=np.float64)
            if not len(values):
                continue
            t = np.arange(len(values)) / (m.fps or 25.0)
            style = {"color": "black", "linewidth": 2.0} if k == 0 else {"linewidth": 1.2}
            ax.plot(t, values, label=label, **style)
        ax.set_ylabel(name)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_title(title)
    axes[0].legend(loc="upper left", fontsize="small", ncol=3)
    axes[-1].set_xlabel("time (s)")
    return save_figure(fig, path)


def write_wild_outputs(
    result: EvaluationResult, config: EvaluateConfig, frames: dict[str, list[tuple[str, VideoMeasurement]]]
) -> dict[str, Path]:
    from .report import summary_json
    from .runner import write_scores_csv

    out = config.out
    files: dict[str, Path] = {}
    tables = {"wild_variants": wild_variant_table(result), "wild_destinations": wild_destination_table(result)}
    for name, (header, rows) in tables.items():
        files[f"{name}.csv"] = write_csv(out / "tables" / f"{name}.csv", header, rows)
        files[f"{name}.md"] = write_text_atomic(out / "tables" / f"{name}.md", markdown_table(header, rows))
    files["videos.csv"] = write_scores_csv(result.scores, out / "videos.csv")
    alls = ranked(result.summaries)
    files["metrics.png"] = bar_chart(
        [s.variant for s in alls],
        {title: [s.values.get(key, math.nan) for s in alls] for key, title in WILD_COLUMNS[:14]},
        out / "plots" / "metrics.png",
        title="per-variant averages over all clips and destinations (best first)",
    )
    cases = {c.id: c for c in result.cases}
    for case_id, series in frames.items():
        case = cases[case_id]
        name = f"frames_{case.name}_to_{case.destination_emotion}.png"
        files[name] = frame_plot(
            f"{case.clip.name} -> {case.destination_emotion}", case.destination_emotion, series, out / "plots" / name
        )
    files["summary.json"] = write_json_atomic(
        out / "summary.json",
        {
            "config": config.as_dict(),
            "labels": result.labels,
            "clips": len({c.name for c in result.cases}),
            "cases": len(result.cases),
            "variants": [
                {"name": v.name, "kind": v.kind, "engine": v.engine, "intensity": v.intensity, "about": v.description}
                for v in result.variants
            ],
            "summaries": [summary_json(s) for s in result.summaries],
            "skipped": result.skipped,
            "seconds": round(result.seconds, 1),
        },
    )
    files["report.md"] = write_text_atomic(out / "report.md", wild_report(result, tables))
    return files


def wild_report(result: EvaluationResult, tables: dict[str, tuple[list[str], list[list[Any]]]]) -> str:
    clips = sorted({c.name for c in result.cases})
    dests = list(dict.fromkeys(c.destination_emotion for c in result.cases))
    best = ranked(result.summaries)[0]
    lines = [
        "# In-the-wild evaluation report",
        "",
        f"{len(clips)} clips x {len(dests)} destinations ({', '.join(dests)}), {len(result.variants)} variants, "
        f"{len(result.scores)} videos scored in {result.seconds:.0f} s. No ground truth: every number compares "
        "a translation with its own source clip; `copy` is the untouched clip.",
        "",
        (
            f"Best variant: **{best.variant}**, a realistic edit in "
            f"{fmt(best.values.get('realistic_edit', math.nan))} of its videos."
            if best.values.get("realistic_edit", 0.0) > 0
            else f"No variant makes a realistic edit; first by realism, then emotion gain: **{best.variant}**."
        ),
        "",
        "## Ranking (best first)",
        "",
        markdown_table(*tables["wild_variants"]),
        "What the numbers are:",
        "",
        f"- **p(dst)** / **p(dst) source**: the judge ({result.labels['judge']}) on the translation / the clip; "
        "**emotion gain** is their difference.",
        "- **mouth corr.**: correlation of the mouth opening with the clip's, frame by frame; **identity dist.**: "
        "dlib descriptor distance to the clip (< 0.6: the same person).",
        f"- **LSE\\*-C**: {result.labels['lse']} (empty for a silent clip).",
        f"- Features of the FD to source: {result.labels['frechet']}.",
        "",
        *realism_definitions(),
        "## Per destination",
        "",
        markdown_table(*tables["wild_destinations"]),
    ]
    failed = [s for s in result.scores if s.failures]
    if failed:
        lines += ["## Why videos are not realistic edits", ""]
        lines += [f"- {s.variant} {s.case}: {'; '.join(s.failures)}" for s in failed] + [""]
    if result.labels.get("notes"):
        lines += ["## Notes", "", f"- {result.labels['notes']}", ""]
    if result.skipped:
        lines += ["## Skipped", ""] + [f"- {s}" for s in result.skipped] + [""]
    lines += [
        "Plots: `plots/metrics.png` (bars per variant), `plots/frames_<clip>_to_<emotion>.png` (per-frame judge, "
        "mouth, sharpness, flicker and mesh score of the clip and every variant).",
        "",
    ]
    return "\n".join(lines)
