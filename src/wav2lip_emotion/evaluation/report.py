"""Tables in the paper's form (Markdown and CSV), plots (PNG) and a report of an evaluation.

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
from .realism import EditThresholds, RealismThresholds
from .scores import REALISM_METRICS, Summary

if TYPE_CHECKING:
    from .runner import EvaluateConfig, EvaluationResult

#: the paper's Table 2 (MEAD, averaged over the 6 pairs): (mask, strategy) -> LSE-D, LSE-C, FID, dV, dA
PAPER_TABLE2: dict[tuple[str, str], tuple[float, float, float, float | None, float | None]] = {
    ("full", "l1+emotion"): (11.357, 1.378, 103.016, 0.729, 0.400),
    ("full", "emotion"): (10.993, 1.855, 73.046, 0.044, 0.200),
    ("full", "l1"): (11.413, 1.477, 141.719, 0.995, 0.803),
    ("half", "l1+emotion"): (10.563, 2.101, 71.508, 1.000, 0.522),
    ("half", "emotion"): (10.443, 2.328, 48.819, 0.095, 0.244),
    ("half", "l1"): (10.673, 2.000, 82.709, 0.945, 0.595),
    ("original Wav2Lip", "-"): (10.032, 2.751, 31.813, None, None),
    ("ground truth", "-"): (10.651, 2.533, 26.302, None, None),
}
#: the paper's Table 3 (best variant, half mask L1 + emotion): pair -> (dV, dA)
PAPER_TABLE3: dict[str, tuple[float, float]] = {
    "happy->neutral": (0.661, 0.826),
    "happy->sad": (3.537, 0.455),
    "neutral->happy": (1.063, 1.032),
    "neutral->sad": (0.383, 0.441),
    "sad->happy": (1.246, -0.444),
    "sad->neutral": (-0.888, 0.825),
}


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


def _column_names(labels: dict[str, str]) -> tuple[str, str]:
    lse = "LSE" if labels.get("lse_comparable") == "True" else "LSE*"
    fd = "FID" if labels.get("frechet_comparable") == "True" else "FD-faceapi"
    return lse, fd


def table2(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    lse, fd = _column_names(result.labels)
    header = [
        "variant",
        "mask",
        "strategy",
        f"{lse}-D",
        f"{lse}-C",
        fd,
        "dV",
        "dA",
        "p(dst)",
        "p(dst) source",
        "emotion acc.",
        "identity dist.",
        "mouth corr.",
        "PSNR",
        "SSIM",
        "videos",
    ]
    by_name = {v.name: v for v in result.variants}
    rows = []
    for s in result.summaries:
        if s.pair != "all":
            continue
        v = by_name[s.variant]
        x = s.values
        rows.append(
            [
                s.variant,
                v.mask,
                v.strategy,
                x["lse_d"],
                x["lse_c"],
                s.frechet,
                x["delta_valence"],
                x["delta_arousal"],
                x["p_destination"],
                x["p_destination_source"],
                x["accuracy"],
                x["identity_distance"],
                x["mouth_correlation"],
                x["psnr"],
                x["ssim"],
                s.videos,
            ]
        )
    return header, rows


def table3(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    lse, fd = _column_names(result.labels)
    header = ["variant", "pair", "dV", "dA", "p(dst)", "emotion acc.", f"{lse}-D", f"{lse}-C", fd, "videos"]
    rows = []
    for s in result.summaries:
        if s.pair == "all":
            continue
        x = s.values
        rows.append(
            [
                s.variant,
                s.pair,
                x["delta_valence"],
                x["delta_arousal"],
                x["p_destination"],
                x["accuracy"],
                x["lse_d"],
                x["lse_c"],
                s.frechet,
                s.videos,
            ]
        )
    return header, rows


def table4(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    lse, fd = _column_names(result.labels)
    header = ["variant", f"sync ({lse}-C)", f"quality ({fd}, lower is better)", "delta emotion (judge, 1-5 scale)"]
    rows = [
        [s.variant, s.values["lse_c"], s.frechet, s.values["delta_emotion"]]
        for s in result.summaries
        if s.pair == "all"
    ]
    return header, rows


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
        f"similarity transform (head motion removed), output over source. Realistic: <= {r.max_flicker_ratio:g}.",
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


def paper_table2() -> tuple[list[str], list[list[Any]]]:
    header = ["mask", "strategy", "LSE-D", "LSE-C", "FID", "dV", "dA"]
    return header, [[m, s, *vals] for (m, s), vals in PAPER_TABLE2.items()]


# ------------------------------------------------------------------------------------------- plots


def bar_chart(
    groups: Sequence[str],
    metrics: dict[str, Sequence[float]],
    path: Path,
    *,
    title: str = "",
    columns: int = 4,
    panel: tuple[int, int] = (300, 220),
) -> Path:
    """Small multiples: one panel per metric, one bar per group (Pillow only; NaN = no bar)."""
    from PIL import Image, ImageDraw, ImageFont

    palette = [(127, 127, 127), (200, 200, 200), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    palette += [(148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207), (188, 189, 34)]
    names = list(metrics)
    rows = math.ceil(len(names) / columns)
    legend_h = 18 * math.ceil(len(groups) / 3) + 10
    w, h = panel[0] * columns, panel[1] * rows + 30 + legend_h
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text((10, 8), title, fill="black", font=font)
    for k, name in enumerate(names):
        ox, oy = (k % columns) * panel[0], 30 + (k // columns) * panel[1]
        vals = [float(v) for v in metrics[name]]
        finite = [v for v in vals if math.isfinite(v)]
        d.text((ox + 10, oy + 2), name, fill="black", font=font)
        if not finite:
            d.text((ox + 10, oy + 40), "not measured", fill=(120, 120, 120), font=font)
            continue
        lo, hi = min(0.0, *finite), max(0.0, *finite)
        if hi - lo < 1e-12:
            hi = lo + 1.0
        x0, x1, y0, y1 = ox + 40, ox + panel[0] - 10, oy + 20, oy + panel[1] - 20

        def py(v: float, y0: int = y0, y1: int = y1, lo: float = lo, hi: float = hi) -> float:
            return y1 - (v - lo) / (hi - lo) * (y1 - y0)

        d.rectangle([x0, y0, x1, y1], outline=(200, 200, 200))
        d.line([(x0, py(0.0)), (x1, py(0.0))], fill="black")
        d.text((ox + 2, y0 - 4), f"{hi:.3g}", fill="black", font=font)
        d.text((ox + 2, y1 - 8), f"{lo:.3g}", fill="black", font=font)
        bw = (x1 - x0) / max(1, len(vals))
        for i, v in enumerate(vals):
            shown = v if math.isfinite(v) else (hi if v == math.inf else None)
            if shown is None:
                continue
            top, bottom = sorted((py(shown), py(0.0)))
            d.rectangle([x0 + i * bw + 2, top, x0 + (i + 1) * bw - 2, bottom], fill=palette[i % len(palette)])
            if v == math.inf:
                d.text((x0 + i * bw + 2, top + 2), "inf", fill="white", font=font)
    ly = h - legend_h + 4
    for i, g in enumerate(groups):
        lx = 10 + (i % 3) * (w // 3)
        yy = ly + 18 * (i // 3)
        d.rectangle([lx, yy + 2, lx + 14, yy + 12], fill=palette[i % len(palette)])
        d.text((lx + 20, yy), g, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp.png") as tmp:
        img.save(tmp)
    return path


def timeline_chart(panels: Sequence[tuple[str, np.ndarray, dict[str, np.ndarray]]], path: Path) -> Path:
    """Per-frame class probabilities of several videos, one line chart per video, stacked vertically."""
    import tempfile

    from PIL import Image

    from ..visual import line_chart

    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (title, times, series) in enumerate(panels):
            p = line_chart(times, series, Path(tmp) / f"{k}.png", title=title, xlabel="time (s)", ylabel="p")
            with Image.open(p) as im:
                images.append(im.convert("RGB").copy())
    w = max(im.width for im in images)
    out = Image.new("RGB", (w, sum(im.height for im in images)), "white")
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp.png") as tmp_path:
        out.save(tmp_path)
    return path


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
    lse, fd = _column_names(result.labels)
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
    lse, fd = _column_names(result.labels)
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
