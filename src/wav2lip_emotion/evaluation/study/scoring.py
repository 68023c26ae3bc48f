"""Scoring a rated study as the paper's Table 4: per variant the mean sync, quality and delta emotion
next to the paper's numbers, with the real videos as a ground-truth row; per (variant, pair) and per clip too.

The paper's delta emotion is ``(e_g - e_s) / (e_d - e_s)``, with ``e_g``, ``e_s``, ``e_d`` the mean
emotion ratings of the generated video and of the real videos of the same actor and sentence in the
source and destination emotions; ``1 - |1 - delta|`` for a neutral destination (the same formula as
:func:`...perception.affect.affect_delta`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...perception.affect import affect_delta, average_deltas
from .clips import DIMENSIONS
from .install import csv_text, write_utf8
from .ratings import read_key, read_rating_files

#: the paper's user-study numbers (Table 4, half masks): variant -> (sync, quality, delta emotion)
PAPER_TABLE4: dict[str, tuple[float, float, float]] = {
    "half/l1+emotion": (2.467, 2.138, 0.779),
    "half/emotion": (3.492, 2.887, 0.379),
    "half/l1": (2.758, 1.85, 0.732),
}
#: the label of the real videos' row in the scores
GROUND_TRUTH = "ground truth (real videos)"


@dataclass(frozen=True)
class ClipScore:
    """Mean ratings of one clip; ``delta`` for generated clips (None for real ones, NaN when skipped)."""

    clip: str
    role: str
    variant: str | None
    pair: tuple[str, str]
    group: str
    n_raters: int
    sync: float
    quality: float
    emotion: float
    delta: float | None = None
    #: "scored", "equal" (e_d == e_s: nothing to measure) or "unrated" (a missing emotion mean)
    delta_status: str = ""


@dataclass(frozen=True)
class VariantScore:
    """One row of the Table 4 form: a variant (or the real videos) over its clips."""

    variant: str
    n_clips: int
    sync: float
    quality: float
    delta: float
    n_delta: int = 0
    n_equal: int = 0
    n_unrated: int = 0
    paper: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class PairScore:
    """Delta emotion of one variant on one emotion pair."""

    variant: str
    pair: tuple[str, str]
    n_clips: int
    delta: float
    n_delta: int
    n_equal: int
    n_unrated: int


def _mean(values: Iterable[float]) -> float:
    good = [v for v in values if math.isfinite(v)]
    return sum(good) / len(good) if good else math.nan


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass
class StudyScores:
    """The scores of a rated study: per variant, per (variant, pair), per clip, and counts."""

    variants: list[VariantScore]
    ground_truth: VariantScore
    pairs: list[PairScore]
    clips: list[ClipScore]
    n_raters: int
    n_clips: int
    n_clips_rated: int
    ratings_per_clip: tuple[int, int]

    def to_markdown(self) -> str:
        """The paper's Table 4 form next to its numbers, a per-pair delta-emotion table, and the counts."""
        lines = [
            "| variant | sync | quality | delta emotion | n clips | paper sync | paper quality | paper delta emotion |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in [*self.variants, self.ground_truth]:
            paper = row.paper or (None, None, None)
            cells = [_md(row.variant), _fmt(row.sync), _fmt(row.quality), _fmt(row.delta), str(row.n_clips)]
            cells += [_fmt(p) for p in paper]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "| variant | pair | delta emotion | n clips | n scored | skipped (e_d = e_s) | unrated |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for p in self.pairs:
            cells = [_md(p.variant), "->".join(p.pair), _fmt(p.delta), str(p.n_clips), str(p.n_delta)]
            lines.append("| " + " | ".join([*cells, str(p.n_equal), str(p.n_unrated)]) + " |")
        lo, hi = self.ratings_per_clip
        lines += [
            "",
            f"{self.n_raters} raters; {self.n_clips_rated} of {self.n_clips} clips rated; "
            f"{lo}-{hi} raters per clip. Sync and quality: mean over clips of each clip's mean rating. "
            "Delta emotion: (e_g - e_s) / (e_d - e_s) of each generated clip's mean emotion rating against "
            "its real source and destination clips (1 - |1 - delta| for a neutral destination), averaged "
            "over all clips of a variant (every clip weighs the same); clips with e_d = e_s are skipped.",
        ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (NaN as None) for JSON."""
        return _clean(
            {
                "counts": {
                    "raters": self.n_raters,
                    "clips": self.n_clips,
                    "clips_rated": self.n_clips_rated,
                    "ratings_per_clip_min": self.ratings_per_clip[0],
                    "ratings_per_clip_max": self.ratings_per_clip[1],
                },
                "variants": [asdict(v) for v in self.variants],
                "ground_truth": asdict(self.ground_truth),
                "pairs": [asdict(p) for p in self.pairs],
                "clips": [asdict(c) for c in self.clips],
            }
        )

    def to_csv(self, path: str | Path) -> Path:
        """One tidy CSV (written atomically): a row per variant, the real videos, (variant, pair) and clip."""
        header = (
            "level",
            "variant",
            "source_emotion",
            "destination_emotion",
            "clip",
            "role",
            "group",
            "n_clips",
            "n_raters",
            "sync",
            "quality",
            "emotion",
            "delta_emotion",
            "n_delta",
            "n_equal",
            "n_unrated",
            "paper_sync",
            "paper_quality",
            "paper_delta_emotion",
        )

        def num(x: float | None) -> str:
            return "" if x is None or not math.isfinite(x) else repr(float(x))

        rows: list[dict[str, object]] = []
        for level, v in [*(("variant", v) for v in self.variants), ("ground_truth", self.ground_truth)]:
            paper = v.paper or (None, None, None)
            rows.append(
                {
                    "level": level,
                    "variant": v.variant,
                    "n_clips": v.n_clips,
                    "sync": num(v.sync),
                    "quality": num(v.quality),
                    "delta_emotion": num(v.delta),
                    "n_delta": v.n_delta,
                    "n_equal": v.n_equal,
                    "n_unrated": v.n_unrated,
                    "paper_sync": num(paper[0]),
                    "paper_quality": num(paper[1]),
                    "paper_delta_emotion": num(paper[2]),
                }
            )
        for p in self.pairs:
            rows.append(
                {
                    "level": "pair",
                    "variant": p.variant,
                    "source_emotion": p.pair[0],
                    "destination_emotion": p.pair[1],
                    "n_clips": p.n_clips,
                    "delta_emotion": num(p.delta),
                    "n_delta": p.n_delta,
                    "n_equal": p.n_equal,
                    "n_unrated": p.n_unrated,
                }
            )
        for c in self.clips:
            rows.append(
                {
                    "level": "clip",
                    "variant": c.variant or "",
                    "source_emotion": c.pair[0],
                    "destination_emotion": c.pair[1],
                    "clip": c.clip,
                    "role": c.role,
                    "group": c.group,
                    "n_clips": 1,
                    "n_raters": c.n_raters,
                    "sync": num(c.sync),
                    "quality": num(c.quality),
                    "emotion": num(c.emotion),
                    "delta_emotion": num(c.delta),
                }
            )
        table = ([r.get(h, "") for h in header] for r in rows)
        path = Path(path)
        write_utf8(path, csv_text(header, table))
        return path


def score_study(key_path: str | Path, rating_paths: Sequence[str | Path]) -> StudyScores:
    """Score a rated study: the paper's Table 4 (sync, quality, delta emotion per variant) and more.

    Per clip: the mean over raters of each rating (empty cells skipped). Per variant: the mean over
    its generated clips of the clip means (clips nobody rated skipped); the real videos (source and
    destination) make the ground-truth row. Delta emotion per generated clip:
    :func:`affect_delta` of its mean emotion against its group's real source and destination clips
    (neutral-destination rule when the destination is neutral); clips whose source and destination
    means are equal, or that lack a mean, are skipped and counted. Per (variant, pair): the mean over
    its clips; per variant: the mean over all its clips (micro-average: each clip weighs the same,
    whatever its pair). The paper's numbers sit beside the variants named as in :data:`PAPER_TABLE4`.
    """
    key_path = Path(key_path)
    key = read_key(key_path)
    by_clip = {c.clip: c for c in key}
    ratings = read_rating_files(rating_paths, by_clip, str(key_path))

    values: dict[str, dict[str, list[int]]] = {c.clip: {d: [] for d in DIMENSIONS} for c in key}
    raters_of: dict[str, set[str]] = {c.clip: set() for c in key}
    for r in ratings:
        if not r.rated:
            continue
        raters_of[r.clip].add(r.rater)
        for d in DIMENSIONS:
            v = r.get(d)
            if v is not None:
                values[r.clip][d].append(v)
    means = {clip: {d: _mean(map(float, vs[d])) for d in DIMENSIONS} for clip, vs in values.items()}
    real_of: dict[tuple[str, str], str] = {(c.group, c.role): c.clip for c in key if c.role != "generated"}

    clips: list[ClipScore] = []
    for c in sorted(key, key=lambda c: c.clip):
        m = means[c.clip]
        delta: float | None = None
        status = ""
        if c.role == "generated":
            e_g = m["emotion"]
            e_s = means[real_of[c.group, "source"]]["emotion"]
            e_d = means[real_of[c.group, "destination"]]["emotion"]
            if not all(math.isfinite(x) for x in (e_g, e_s, e_d)):
                delta, status = math.nan, "unrated"
            elif e_d == e_s:
                delta, status = math.nan, "equal"
            else:
                delta, status = affect_delta(e_g, e_s, e_d, neutral_destination=c.pair[1] == "neutral"), "scored"
        clips.append(
            ClipScore(
                c.clip,
                c.role,
                c.variant,
                c.pair,
                c.group,
                len(raters_of[c.clip]),
                m["sync"],
                m["quality"],
                m["emotion"],
                delta,
                status,
            )
        )

    def row(name: str, members: list[ClipScore], paper: tuple[float, float, float] | None) -> VariantScore:
        mean_delta, n_delta = average_deltas(c.delta for c in members if c.delta is not None)
        return VariantScore(
            variant=name,
            n_clips=len(members),
            sync=_mean(c.sync for c in members),
            quality=_mean(c.quality for c in members),
            delta=mean_delta,
            n_delta=n_delta,
            n_equal=sum(c.delta_status == "equal" for c in members),
            n_unrated=sum(c.delta_status == "unrated" for c in members),
            paper=paper,
        )

    generated = [c for c in clips if c.role == "generated"]
    variant_names = sorted({c.variant or "" for c in generated})
    variants = [row(v, [c for c in generated if c.variant == v], PAPER_TABLE4.get(v)) for v in variant_names]
    real = [c for c in clips if c.role != "generated"]
    ground_truth = VariantScore(
        GROUND_TRUTH, len(real), _mean(c.sync for c in real), _mean(c.quality for c in real), math.nan
    )

    pairs: list[PairScore] = []
    for v in variant_names:
        for pair in sorted({c.pair for c in generated if c.variant == v}):
            members = [c for c in generated if c.variant == v and c.pair == pair]
            r = row(v, members, None)
            pairs.append(PairScore(v, pair, r.n_clips, r.delta, r.n_delta, r.n_equal, r.n_unrated))

    counts = [len(raters_of[c.clip]) for c in key]
    return StudyScores(
        variants=variants,
        ground_truth=ground_truth,
        pairs=pairs,
        clips=clips,
        n_raters=len({r.rater for r in ratings if r.rated}),
        n_clips=len(key),
        n_clips_rated=sum(n > 0 for n in counts),
        ratings_per_clip=(min(counts), max(counts)),
    )
