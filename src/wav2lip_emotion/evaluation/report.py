"""An evaluation's outputs: tables in the paper's form (Markdown and CSV; built by :mod:`.tables`), plots (PNG,
matplotlib) and report.md.

* Table 2: per variant (mask, strategy): LSE-D, LSE-C, FID, delta valence, delta arousal, plus what
  the paper lacked: judge p(destination) and accuracy, identity distance, mouth-opening correlation,
  PSNR / SSIM against the aligned ground truth (world only).
* Table 3: per variant and emotion pair: delta valence / arousal (and the rest).
* Table 4 (user-study form): sync, quality and delta emotion per variant, filled AUTOMATICALLY here
  (sync = LSE-C, quality = the Frechet distance, emotion = the judge on the study's 1-5 scale); the real
  Table 4 comes from human ratings (``wav2lip-emotion study``).
* Table 5 (ours): realism against the source video and the realistic-edit verdict (evaluation/realism.py);
  the report ranks the variants by the share of their videos that are realistic edits.
Every column says what it measured: LSE* and FD-faceapi mark numbers not comparable to published ones.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_path, write_json_atomic, write_text_atomic
from .scores import REALISM_METRICS, Summary
from .tables import column_names, paper_table2, table2, table3, table4
from .verdicts import EditThresholds, RealismThresholds

if TYPE_CHECKING:
    from .runner import EvaluateConfig, EvaluationResult


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf"
        return f"{v:.{digits}f}"
    return str(v)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if (isinstance(c, float) and math.isnan(c)) else fmt(c, 6) for c in row])
    return path


def _rank_key(s: Summary) -> tuple[float, float, float]:
    def v(key: str) -> float:
        x = s.values.get(key, math.nan)
        return -math.inf if math.isnan(x) else x

    return (-v("realistic_edit"), -v("realistic"), -v("emotion_gain"))


def ranked(summaries: Sequence[Summary]) -> list[Summary]:
    """The per-variant summaries (pair "all"), best first: by the share of realistic edits, then the share
    of realistic videos, then the emotion gain (never by p(destination) alone)."""
    return sorted((s for s in summaries if s.pair == "all"), key=_rank_key)


def realism_table(summaries: Sequence[Summary]) -> tuple[list[str], list[list[Any]]]:
    """Table 5: per variant, best first, every realism number and the shares passing the verdicts."""
    header = ["rank", "variant", *(title for _, title, _ in REALISM_METRICS), "videos"]
    rows = [
        [i + 1, s.variant, *(s.values.get(key, math.nan) for key, _, _ in REALISM_METRICS), s.videos]
        for i, s in enumerate(ranked(summaries))
    ]
    return header, rows


def ranking_table(summaries: Sequence[Summary]) -> tuple[list[str], list[list[Any]]]:
    header = ["rank", "variant", "realistic edit", "realistic", "emotion gain", "lips kept", "p(dst)", "videos"]
    rows = [
        [
            i + 1,
            s.variant,
            s.values.get("realistic_edit", math.nan),
            s.values.get("realistic", math.nan),
            s.values.get("emotion_gain", math.nan),
            s.values.get("lip_kept", math.nan),
            s.values.get("p_destination", math.nan),
            s.videos,
        ]
        for i, s in enumerate(ranked(summaries))
    ]
    return header, rows


def realism_definitions(realism: RealismThresholds | None = None, edit: EditThresholds | None = None) -> list[str]:
    """report.md lines: what each realism number is and the thresholds of the verdicts (None: the defaults)."""
    r, e = realism or RealismThresholds(), edit or EditThresholds()
    return [
        "Realism, per video against its untouched source, frame by frame inside the face (the convex hull of "
        "the 468-point mesh), at the video's own resolution (docs/evaluation.md, Realism):",
        "",
        f"- **sharpness ratio**: variance of the Laplacian in the face, output over source. Realistic: "
        f"{r.min_sharpness_ratio:g}..{r.max_sharpness_ratio:g} (a real change of expression moves it by up to "
        "1.5x either way; blur divides it, grain and blotches multiply it).",
        f"- **flicker ratio**: mean absolute change from the previous frame warped onto this one by the mesh's "
        f"similarity transform (head motion removed), output over source; a translation is aligned and masked with "
        f"its source's mesh, so both are measured the same way. Realistic: <= {r.max_flicker_ratio:g}.",
        f"- **FD to source**: Frechet distance of the output's face-crop features to the source clip's own. "
        f"Realistic: <= {r.max_frechet_source:g} (real emotion changes of one person: up to ~310).",
        f"- **BRISQUE** (the `brisque` package: no-reference quality, 0..100, lower is better) of the face, output "
        f"and source, and **BRISQUE diff.** = output - source. Realistic: diff. <= +{r.max_quality_difference:g}.",
        f"- **mesh score**: the face mesh's face-presence score (output, source); **faces kept**: share of the "
        f"source's face frames where the output has a face. Realistic: score at most {r.max_face_score_drop:g} "
        f"below the source's, faces kept >= {r.min_faces_kept:g}.",
        f"- **emotion gain**: the judge's p(destination), output minus source; **lips kept**: mouth-opening "
        f"correlation with the source >= {e.min_mouth_correlation:g} (or, when the source's mouth hardly moves, "
        f"the opening within {e.max_still_mouth_change:g} eye distances of the source's).",
        "- **realistic**: every measured realism check passes. **realistic edit**: realistic, emotion gain >= "
        f"{e.min_emotion_gain:g} and lips kept. Both are shares of videos (1 = all pass); the variants are "
        "ranked by the realistic-edit share, then the realistic share, then the emotion gain.",
        "",
    ]


# ------------------------------------------------------------------------------------------- plots


#: bar colours, one per group (the first two grey: the baselines come first in an evaluation's variants)
_PALETTE = ("#7f7f7f", "#c8c8c8", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_PALETTE += ("#17becf", "#bcbd22")


def bar_chart(
    groups: Sequence[str],
    metrics: dict[str, Sequence[float]],
    path: Path,
    *,
    title: str = "",
    columns: int = 4,
    panel: tuple[int, int] = (300, 220),
) -> Path:
    """Small multiples: one panel per metric, one bar per group (matplotlib's Figure API, no pyplot state).

    NaN draws no bar, +inf a full-height bar marked "inf"; a metric with no finite value says "not measured".
    ``panel`` is the size of one panel in pixels."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from ..visual import save_figure

    names = list(metrics)
    rows = max(1, math.ceil(len(names) / columns))
    legend_px = 18 * math.ceil(len(groups) / 3) + 10
    dpi = 100
    fig = Figure(
        figsize=(panel[0] * columns / dpi, (panel[1] * rows + 30 + legend_px) / dpi), dpi=dpi, layout="constrained"
    )
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(groups))]
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    for ax, name in zip(axes, names, strict=False):
        vals = [float(v) for v in metrics[name]]
        finite = [v for v in vals if math.isfinite(v)]
        ax.set_title(name, fontsize="small", loc="left")
        ax.set_xticks([])
        if not finite:
            ax.set_yticks([])
            ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center", color="grey")
            continue
        lo, hi = min(0.0, *finite), max(0.0, *finite)
        if hi - lo < 1e-12:
            hi = lo + 1.0
        ax.set_ylim(lo, hi)
        ax.axhline(0.0, color="black", linewidth=0.8)
        for i, v in enumerate(vals):
            shown = v if math.isfinite(v) else (hi if v == math.inf else None)
            if shown is None:
                continue
            ax.bar(i, shown, width=0.8, color=colours[i])
            if v == math.inf:
                ax.text(i, hi, "inf", ha="center", va="top", color="white", fontsize="small")
        ax.set_xlim(-0.6, max(1, len(vals)) - 0.4)
        ax.tick_params(labelsize="small")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize="medium")
    handles = [Patch(color=c, label=g) for g, c in zip(groups, colours, strict=True)]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize="small", frameon=False)
    return save_figure(fig, path)


def timeline_chart(panels: Sequence[tuple[str, np.ndarray, dict[str, np.ndarray]]], path: Path) -> Path:
    """Per-frame class probabilities of several videos, one line chart per video, stacked vertically
    (matplotlib's Figure API; NaN = a gap; each emotion in its colour of ``visual.EMOTION_COLOURS``)."""
    from matplotlib.figure import Figure

    from ..visual import EMOTION_COLOURS, save_figure

    fig = Figure(figsize=(9.0, 3.6 * max(1, len(panels))), dpi=100, layout="constrained")
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, (title, times, series) in zip(axes, panels, strict=False):
        for name, ys in series.items():
            rgb = EMOTION_COLOURS.get(name)
            colour = tuple(c / 255 for c in rgb) if rgb is not None else None
            ax.plot(times, np.clip(np.asarray(ys, dtype=float), 0.0, 1.0), label=name, color=colour, linewidth=1.5)
        ax.set_ylim(0.0, 1.0)
        ax.set_title(title, loc="left", fontsize="medium")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("p")
        ax.grid(alpha=0.3)
        if series:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    return save_figure(fig, path)


BAR_METRICS = (
    ("lse_d", "D"),
    ("lse_c", "C"),
    ("frechet", ""),
    ("delta_valence", "dV"),
    ("delta_arousal", "dA"),
    ("p_destination", "p(dst)"),
    ("accuracy", "emotion acc."),
    ("identity_distance", "identity dist. (dlib)"),
    ("mouth_correlation", "mouth-opening corr."),
    ("psnr", "PSNR (dB)"),
    ("ssim", "SSIM"),
    ("sharpness_ratio", "sharpness ratio"),
    ("flicker_ratio", "flicker ratio"),
    ("realistic", "realistic (share)"),
    ("realistic_edit", "realistic edit (share)"),
)


def metric_bars(result: EvaluationResult, path: Path) -> Path:
    lse, fd = column_names(result.labels)
    alls = [s for s in result.summaries if s.pair == "all"]
    metrics: dict[str, list[float]] = {}
    for key, title in BAR_METRICS:
        name = f"{lse}-{title}" if key.startswith("lse") else fd if key == "frechet" else title
        metrics[name] = [s.frechet if key == "frechet" else s.values.get(key, math.nan) for s in alls]
    return bar_chart([s.variant for s in alls], metrics, path, title="per-variant averages (all pairs)")


# ------------------------------------------------------------------------------------------ output


def summary_json(s: Summary) -> dict[str, Any]:
    """One summary as JSON (summary.json): NaN as null, infinity as "inf"."""

    def clean(v: float) -> float | str | None:
        return None if math.isnan(v) else ("inf" if math.isinf(v) else v)

    return {
        "variant": s.variant,
        "pair": s.pair,
        "videos": s.videos,
        "frechet": clean(s.frechet),
        "values": {k: clean(v) for k, v in s.values.items()},
        "counts": s.counts,
    }


def write_outputs(result: EvaluationResult, config: EvaluateConfig) -> dict[str, Path]:
    """Write tables (Markdown + CSV), plots, per-video scores, a JSON summary and report.md under ``config.out``."""
    from .runner import write_scores_csv

    out = config.out
    files: dict[str, Path] = {}
    tables = {
        "table2_variants": table2(result),
        "table3_pairs": table3(result),
        "table4_study_form": table4(result),
        "table5_realism": realism_table(result.summaries),
    }
    for name, (header, rows) in tables.items():
        files[f"{name}.csv"] = write_csv(out / "tables" / f"{name}.csv", header, rows)
        files[f"{name}.md"] = write_text_atomic(out / "tables" / f"{name}.md", markdown_table(header, rows))
    files["videos.csv"] = write_scores_csv(result.scores, out / "videos.csv")
    files["metrics.png"] = metric_bars(result, out / "plots" / "metrics.png")
    for case_id, panels in result_timelines(result).items():
        name = f"emotions_{case_id.replace('/', '_')}.png"
        files[name] = timeline_chart(panels, out / "plots" / name)
    files["summary.json"] = write_json_atomic(
        out / "summary.json",
        {
            "config": config.as_dict(),
            "labels": result.labels,
            "cases": len(result.cases),
            "variants": [
                {"name": v.name, "kind": v.kind, "mask": v.mask, "strategy": v.strategy, "about": v.description}
                for v in result.variants
            ],
            "summaries": [summary_json(s) for s in result.summaries],
            "skipped": result.skipped,
            "seconds": round(result.seconds, 1),
        },
    )
    files["report.md"] = write_text_atomic(out / "report.md", report_markdown(result, tables))
    return files


def result_timelines(result: EvaluationResult) -> dict[str, list[tuple[str, np.ndarray, dict[str, np.ndarray]]]]:
    """Panels of the per-frame emotion plot: for one neutral->happy case (else the first), the source, every
    variant's video and the destination."""
    from .measure import VideoMeasurement

    if not result.scores:
        return {}
    cases = {c.id: c for c in result.cases}
    wanted = next((s.case for s in result.scores if s.pair == "neutral->happy"), result.scores[0].case)
    case = cases[wanted]
    cache = result.out / "cache" / "measure"

    def panel(title: str, key: str) -> tuple[str, np.ndarray, dict[str, np.ndarray]] | None:
        m = VideoMeasurement.load(cache / f"{key}.npz")
        if m is None:
            return None
        times = np.arange(m.frames) / (m.fps or 25.0)
        return title, times, {c: m.probs[:, i] for i, c in enumerate(m.classes)}

    from .naming import safe_name

    panels = [panel(f"source ({case.source_emotion}): {case.source.id}", f"real/{case.source.id}")]
    for s in result.scores:
        if s.case == wanted:
            panels.append(panel(f"{s.variant}: {case.pair_name}", f"{safe_name(s.variant)}/{case.id}"))
    panels.append(
        panel(f"destination ({case.destination_emotion}): {case.destination.id}", f"real/{case.destination.id}")
    )
    return {wanted: [p for p in panels if p is not None]}


def report_markdown(result: EvaluationResult, tables: dict[str, tuple[list[str], list[list[Any]]]]) -> str:
    lse, fd = column_names(result.labels)
    lines = [
        "# Evaluation report",
        "",
        f"{len(result.cases)} cases ({', '.join(sorted({c.pair_name for c in result.cases}))}), "
        f"{len(result.variants)} variants, {len(result.scores)} videos scored in {result.seconds:.0f} s.",
        "",
        "What the numbers are:",
        "",
        f"- **{lse}-D / {lse}-C**: {result.labels['lse']}. Offsets -15..15 frames; D = mean distance at the best "
        "offset (lower is better), C = median minus minimum over offsets (higher is better).",
        f"- **{fd}**: {result.labels['frechet']}; generated face crops against the ground truth's "
        f"({result.labels['ground_truth']}), per pair, then averaged over the pairs.",
        f"- **dV / dA**: (g - s) / (d - s) per video, 1 - |1 - delta| for a neutral destination; valence/arousal: "
        f"{result.labels['affect']}.",
        f"- **p(dst)**, **emotion acc.**: the judge ({result.labels['judge']}, never the training objective): mean "
        "probability of the destination emotion and share of frames where it is the top class; "
        "**p(dst) source** is the same on the untouched source video.",
        "- **identity dist.**: dlib descriptor distance to the source video (< 0.6: the same person).",
        "- **mouth corr.**: correlation of the mouth opening with the source's, frame by frame (lip movement kept).",
        "- **PSNR / SSIM**: whole frames against the aligned ground truth (generated world only).",
        "- Averages: per video, then per pair; a variant's row is the micro-average over all its videos.",
        "",
        "## Ranking: realistic edits (not p(dst) alone)",
        "",
        markdown_table(*ranking_table(result.summaries)),
        *realism_definitions(),
        "## Table 2: per variant (all pairs)",
        "",
        markdown_table(*tables["table2_variants"]),
        "## Table 3: per variant and emotion pair",
        "",
        markdown_table(*tables["table3_pairs"]),
        "## Table 4, user-study form (automatic stand-in; human ratings: `wav2lip-emotion study`)",
        "",
        markdown_table(*tables["table4_study_form"]),
        "## Table 5: realism against the source (best first)",
        "",
        markdown_table(*tables["table5_realism"]),
        "## The paper's numbers (MEAD, NISL2020 valence/arousal, real FID and LSE): for reference only",
        "",
        markdown_table(*paper_table2()),
    ]
    failed = [s for s in result.scores if s.failures]
    if failed:
        lines += ["## Why videos are not realistic edits", ""]
        lines += [f"- {s.variant} {s.case}: {'; '.join(s.failures)}" for s in failed] + [""]
    if result.skipped:
        lines += ["## Skipped", ""] + [f"- {s}" for s in result.skipped] + [""]
    lines += ["Plots: `plots/metrics.png` (bars per variant), `plots/emotions_*.png` (per-frame probabilities).", ""]
    return "\n".join(lines)
