"""The paper's tables from evaluation summaries, as (header, rows): one implementation for ``evaluate`` and
``reproduce``.

* :func:`table2`, :func:`table3`, :func:`table4`: the evaluation's own forms (every variant it measured, with
  what the paper lacked: p(destination), identity distance, mouth correlation, PSNR / SSIM).
* :func:`table2_with_paper`, :func:`table3_with_paper`: the reproduction's forms, our numbers next to the
  paper's (:data:`PAPER_TABLE2`, :data:`PAPER_TABLE3`), one row per expected variant / pair even when it is
  missing.
* :func:`column_names`: LSE or LSE*, FID or FD-faceapi, from the evaluation's labels; every column says what it
  measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .scores import Summary

if TYPE_CHECKING:
    from .runner import EvaluationResult

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

#: Table 2's metrics (evaluation form), in column order
VARIANT_KEYS = (
    "lse_d",
    "lse_c",
    "frechet",
    "delta_valence",
    "delta_arousal",
    "p_destination",
    "p_destination_source",
    "accuracy",
    "identity_distance",
    "mouth_correlation",
    "psnr",
    "ssim",
    "videos",
)
#: Table 3's metrics (evaluation form), in column order
PAIR_KEYS = ("delta_valence", "delta_arousal", "p_destination", "accuracy", "lse_d", "lse_c", "frechet", "videos")
#: Table 2 next to the paper's: (metric, index of the paper's number in a PAPER_TABLE2 row, or None: no such column)
COMPARED_KEYS: tuple[tuple[str, int | None], ...] = (
    ("lse_d", 0),
    ("lse_c", 1),
    ("frechet", 2),
    ("delta_valence", 3),
    ("delta_arousal", 4),
    ("p_destination", None),
    ("mouth_correlation", None),
    ("identity_distance", None),
    ("videos", None),
)
_PAPER_TITLES = {"lse_d": "LSE-D", "lse_c": "LSE-C", "frechet": "FID", "delta_valence": "dV", "delta_arousal": "dA"}


def is_comparable(flag: object) -> bool:
    """A label's ``*_comparable`` flag: a boolean, or the string "True" of files written before it was one."""
    return flag is True or flag == "True"


def column_names(labels: Mapping[str, Any]) -> tuple[str, str]:
    """(LSE or LSE*, FID or FD-faceapi): the names of the lip-sync and Frechet columns for these labels."""
    lse = "LSE" if is_comparable(labels.get("lse_comparable")) else "LSE*"
    fd = "FID" if is_comparable(labels.get("frechet_comparable")) else "FD-faceapi"
    return lse, fd


def metric_titles(labels: Mapping[str, Any]) -> dict[str, str]:
    """Metric key -> column title (the lip-sync and Frechet ones named by :func:`column_names`)."""
    lse, fd = column_names(labels)
    return {
        "lse_d": f"{lse}-D",
        "lse_c": f"{lse}-C",
        "frechet": fd,
        "delta_valence": "dV",
        "delta_arousal": "dA",
        "p_destination": "p(dst)",
        "p_destination_source": "p(dst) source",
        "accuracy": "emotion acc.",
        "identity_distance": "identity dist.",
        "mouth_correlation": "mouth corr.",
        "psnr": "PSNR",
        "ssim": "SSIM",
        "videos": "videos",
    }


def find_summary(summaries: Sequence[Summary], variant: str, pair: str = "all") -> Summary:
    """The summary of ``variant`` on ``pair`` ("all": the variant's average); KeyError when there is none."""
    for s in summaries:
        if s.variant == variant and s.pair == pair:
            return s
    raise KeyError(f"no summary for {variant} / {pair}")


def summary_value(s: Summary | None, key: str) -> Any:
    """One cell: a metric of ``s`` ("frechet" and "videos" included); NaN (0 videos) for a missing summary."""
    if key == "videos":
        return s.videos if s is not None else 0
    if s is None:
        return math.nan
    return s.frechet if key == "frechet" else s.values.get(key, math.nan)


def table2(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    """Per variant (all pairs): every metric of :data:`VARIANT_KEYS`."""
    titles = metric_titles(result.labels)
    header = ["variant", "mask", "strategy", *(titles[k] for k in VARIANT_KEYS)]
    by_name = {v.name: v for v in result.variants}
    rows = [
        [s.variant, by_name[s.variant].mask, by_name[s.variant].strategy, *(summary_value(s, k) for k in VARIANT_KEYS)]
        for s in result.summaries
        if s.pair == "all"
    ]
    return header, rows


def table3(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    """Per variant and pair: every metric of :data:`PAIR_KEYS`."""
    titles = metric_titles(result.labels)
    header = ["variant", "pair", *(titles[k] for k in PAIR_KEYS)]
    rows = [[s.variant, s.pair, *(summary_value(s, k) for k in PAIR_KEYS)] for s in result.summaries if s.pair != "all"]
    return header, rows


def table4(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    """The user study's form (sync, quality, delta emotion), filled automatically."""
    lse, fd = column_names(result.labels)
    header = ["variant", f"sync ({lse}-C)", f"quality ({fd}, lower is better)", "delta emotion (judge, 1-5 scale)"]
    rows = [
        [s.variant, s.values["lse_c"], s.frechet, s.values["delta_emotion"]]
        for s in result.summaries
        if s.pair == "all"
    ]
    return header, rows


def paper_table2() -> tuple[list[str], list[list[Any]]]:
    """The paper's Table 2 as published."""
    header = ["mask", "strategy", "LSE-D", "LSE-C", "FID", "dV", "dA"]
    return header, [[m, s, *vals] for (m, s), vals in PAPER_TABLE2.items()]


def paper_row(variant: str) -> tuple[float | None, ...] | None:
    """The paper's Table 2 row of one of our variants ("half/l1+emotion", "ground-truth"); None when it has none."""
    if variant == "ground-truth":
        return PAPER_TABLE2.get(("ground truth", "-"))
    if "/" not in variant:
        return None
    mask, strategy = variant.split("/", 1)
    return PAPER_TABLE2.get((mask, strategy))


def table2_with_paper(
    summaries: Sequence[Summary], labels: Mapping[str, Any], variants: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Table 2 with the paper's numbers next to ours: one row per name of ``variants`` (in that order, NaN when
    it was not evaluated), the metrics of :data:`COMPARED_KEYS`."""
    titles = metric_titles(labels)
    header = ["variant"]
    for key, column in COMPARED_KEYS:
        header += [titles[key]] + ([f"paper {_PAPER_TITLES[key]}"] if column is not None else [])
    by_name = {s.variant: s for s in summaries if s.pair == "all"}
    rows: list[list[Any]] = []
    for name in variants:
        paper = paper_row(name) or (None,) * 5
        s = by_name.get(name)
        row: list[Any] = [name]
        for key, column in COMPARED_KEYS:
            row += [summary_value(s, key)] + ([paper[column]] if column is not None else [])
        rows.append(row)
    return header, rows


def table3_with_paper(
    summaries: Sequence[Summary], variants: Sequence[str], pairs: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Table 3 (dV / dA per pair) of ``variants`` side by side, with the paper's (half mask, L1 + emotion)."""
    header = ["pair"]
    header += [f"{v} {t}" for v in variants for t in ("dV", "dA")]
    header += ["paper dV", "paper dA", *(f"{v} videos" for v in variants)]
    by_key = {(s.variant, s.pair): s for s in summaries}
    rows: list[list[Any]] = []
    for pair in pairs:
        mine = [by_key.get((v, pair)) for v in variants]
        row: list[Any] = [pair]
        row += [summary_value(s, key) for s in mine for key in ("delta_valence", "delta_arousal")]
        row += [*PAPER_TABLE3.get(pair, (None, None)), *(summary_value(s, "videos") for s in mine)]
        rows.append(row)
    return header, rows
