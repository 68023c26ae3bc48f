"""``wav2lip-emotion evaluate``: translate a test split with one or more variants, measure, tabulate, plot.

Two modes: a dataset's test split (``data``: the generated world or MEAD, with real destination takes and,
in the world, the aligned ground truth), or **in the wild** (``videos``: any real clips, each translated
into each emotion of ``to``, with the untouched clip as the copy baseline; :mod:`.wild`).

Everything is cached under ``OUT/cache`` (generated videos under ``OUT/generated``), each file written
atomically, so an interrupted evaluation resumes where it stopped and a second run with another
checkpoint only measures what is new. The tables and plots are rebuilt from the cache every run.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..assets import file_sha256
from ..atomic import write_json_atomic
from ..errors import ConfigError, MediaError, TranslationError
from .cases import (
    Case,
    Variant,
    baseline_variant,
    checkpoint_variant,
    engine_variant,
    generated_variant,
    parse_named,
    plan_cases,
    select_actors,
)
from .config import EvaluateConfig
from .measure import VideoMeasurement, measure_video
from .naming import safe_name
from .realism import REALISM_VERSION
from .scores import Summary, VideoScore, score_video, summarise
from .tables import find_summary

if TYPE_CHECKING:
    from .wild import WildCase

log = logging.getLogger(__name__)

#: the world SyncNet expert shipped with the package (used for LSE when no syncnet_v2 weights are given)
SHIPPED_EXPERT = "world_syncnet.safetensors"


def shipped_expert() -> Path | None:
    """The package's own SyncNet expert, or None when this install has none."""
    from ..checkpoints import shipped_weights

    return shipped_weights(SHIPPED_EXPERT)


@dataclass
class EvaluationResult:
    out: Path
    #: dataset cases, or in-the-wild cases (clip, destination)
    cases: list[Case] | list[WildCase]
    variants: list[Variant]
    scores: list[VideoScore]
    summaries: list[Summary]
    #: what the metrics are (text), and whether LSE / the Frechet distance are comparable (booleans)
    labels: dict[str, str | bool]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    def summary(self, variant: str, pair: str = "all") -> Summary:
        return find_summary(self.summaries, variant, pair)


def fingerprint(path: Path | None) -> str | None:
    """Path, size and modification time: enough to notice a file that was replaced since it was measured."""
    if path is None:
        return None
    st = Path(path).stat()
    return f"{Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns}"


class EvaluationContext:
    """Loaded models (judge, features, identity, lip sync) and cache paths of one evaluation, shared by the
    dataset and the in-the-wild modes: cached measurements and the variants' generated videos."""

    def __init__(self, config: EvaluateConfig) -> None:
        from ..perception.emotions import load_emotion_model
        from .fid import make_feature_extractor

        self.config = config
        self.cache = config.out / "cache"
        self.judge = load_emotion_model(config.judge)
        self.extractor = make_feature_extractor(config.inception)
        self.identity = None
        if config.identity:
            from ..perception.identity import FaceIdentity

            self.identity = FaceIdentity()
        self.scorer = _lip_sync_scorer(config) if config.lse else None
        self._checked: set[str] = set()

    def measurement(
        self, key: str, video: Path, reference: Path | None = None, align_to: VideoMeasurement | None = None
    ) -> VideoMeasurement:
        """The measurement of ``video``: from the cache when it was made the same way from the same file.
        ``align_to``: the source's measurement when ``video`` was translated from it (its flicker is then
        measured in the source's alignment: evaluation/realism.py)."""
        path = self.cache / "measure" / f"{key}.npz"
        setup = json.dumps(
            {
                "video": fingerprint(video),
                "reference": fingerprint(reference) if reference is not None else None,
                "align_to": fingerprint(Path(align_to.path)) if align_to is not None else None,
                "judge": self.judge.name,
                "features": self.extractor.label,
                "inception": fingerprint(self.config.inception) if self.config.inception else None,
                "identity": self.identity is not None,
                "realism": REALISM_VERSION if self.config.realism else None,
                "quality_every": self.config.quality_every if self.config.realism else None,
            },
            sort_keys=True,
        )
        cached = VideoMeasurement.load(path)
        if cached is not None and cached.setup == setup:
            return cached
        m = measure_video(
            video,
            self.judge,
            features=self.extractor,
            identity=self.identity,
            reference=reference,
            realism=self.config.realism,
            quality_every=self.config.quality_every,
            align_to=align_to,
        )
        m.setup = setup
        m.save(path)
        return m

    def check_variant_directory(self, variant: Variant) -> None:
        """Generated videos of ``variant`` left by an earlier run with ANOTHER checkpoint (or engine setting)
        under the same name are removed (they would be taken for this one's); the directory records what
        made it."""
        if variant.name in self._checked or variant.kind not in ("checkpoint", "engine"):
            return
        self._checked.add(variant.name)
        directory = self.config.out / "generated" / safe_name(variant.name)
        marker = directory / "variant.json"
        if variant.kind == "engine":
            from .. import __version__

            made_by: dict[str, Any] = {"engine": variant.engine, "intensity": variant.intensity, "version": __version__}
        else:
            assert variant.path is not None
            made_by = {"checkpoint": str(variant.path.resolve()), "sha256": file_sha256(variant.path)}
        if marker.is_file() and json.loads(marker.read_text()) != made_by:
            log.warning("%s: made by another checkpoint; generating %s's videos again", directory, variant.name)
            print(f"{directory}: made by another {variant.kind} setting; generating again", file=sys.stderr)
            shutil.rmtree(directory)
        write_json_atomic(marker, made_by)

    def lip_sync(self, key: str, video: Path) -> tuple[float, float, float] | None:
        if self.scorer is None:
            return None
        path = self.cache / "lse" / f"{key}.json"
        weights = self.config.syncnet or self.config.expert or shipped_expert()
        setup = {"video": fingerprint(video), "scorer": self.scorer.label, "weights": fingerprint(weights)}
        if path.is_file():
            got = json.loads(path.read_text())
            if got.get("setup") == setup:
                return got["lse_d"], got["lse_c"], got["offset"]
        r = self.scorer.score(video)
        write_json_atomic(
            path,
            {
                "setup": setup,
                "lse_d": float(r.lse_d),
                "lse_c": float(r.lse_c),
                "offset": int(r.offset),
            },
        )
        return float(r.lse_d), float(r.lse_c), float(r.offset)


def _lip_sync_scorer(config: EvaluateConfig) -> Any:
    from ..ports.syncnet_v2 import load_joonson_syncnet
    from .lip_sync import ExpertLipSync, JoonsonLipSync

    if config.syncnet is not None:
        return JoonsonLipSync(load_joonson_syncnet(config.syncnet))
    from ..checkpoints import load_syncnet, read_checkpoint

    expert_path = config.expert or shipped_expert()
    if expert_path is None:
        raise ConfigError(
            "LSE needs SyncNet weights: give --syncnet syncnet_v2.model (comparable LSE) or --expert "
            "YOUR_EXPERT.safetensors (LSE*, not comparable), or --no-lse"
        )
    expert = load_syncnet(expert_path).eval()
    padding = (read_checkpoint(expert_path).config.get("extra") or {}).get("crop_padding", 0.1)
    return ExpertLipSync(expert, crop_padding=float(padding))


def _affect_from_csv(config: EvaluateConfig, key: str) -> tuple[float, float]:
    from ..perception.affect import read_affect_csv

    assert config.affect_csv is not None
    path = config.affect_csv / f"{key}.csv"
    if not path.is_file():
        raise ConfigError(f"{path}: no valence/arousal CSV for this video (see docs/evaluation.md for the names)")
    return read_affect_csv(path).mean()


def plan_variants(config: EvaluateConfig) -> list[Variant]:
    """The variants of ``config``: its baselines, checkpoints, engines and directories of generated videos,
    in that order; ConfigError for two variants of one name, or none at all."""
    out: list[Variant] = [baseline_variant(b) for b in config.baselines]
    for item in config.checkpoints:
        name, path = parse_named(item)
        out.append(checkpoint_variant(path, name))
    for item in config.engines:
        out.append(engine_variant(item))
    for item in config.generated:
        name, path = parse_named(item)
        out.append(generated_variant(path, name))
    names = [v.name for v in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"two variants are named {', '.join(dup)}; name them with NAME=PATH")
    if not out:
        raise ConfigError("nothing to evaluate: give --checkpoint, --engine, --generated or a baseline")
    return out


def _generated_video(ctx: EvaluationContext, variant: Variant, case: Case) -> Path | None:
    """The video of ``variant`` for ``case``: made (and cached) here for checkpoints; None if it has none."""
    if variant.kind == "ground-truth":
        return case.ground_truth
    if variant.kind == "copy":
        return case.source.path
    if variant.kind == "generated":
        assert variant.path is not None
        path = variant.path / f"{case.id}.mp4"
        return path if path.is_file() else None
    path = ctx.config.out / "generated" / safe_name(variant.name) / f"{case.id}.mp4"
    return translate_variant(ctx, variant, case.source.path, path, case.destination_emotion, case.source_emotion)


def _translate_has_engines() -> bool:
    from ..translation.config import TranslateConfig

    return "engine" in {f.name for f in fields(TranslateConfig)}


def translate_variant(
    ctx: EvaluationContext, variant: Variant, clip: Path, path: Path, to: str, source: str | None = None
) -> Path:
    """``path``: ``clip`` translated into ``to`` by a checkpoint or engine ``variant``, made once (cached)."""
    ctx.check_variant_directory(variant)
    if path.is_file():
        return path
    from ..translation.pipeline import translate

    options: dict[str, Any] = {"device": ctx.config.device, "batch_size": ctx.config.batch_size, "progress": False}
    if variant.kind == "engine":
        if not _translate_has_engines():
            raise ConfigError(f"variant {variant.name}: this version of translate has no engine option")
        options["engine"] = variant.engine
        if variant.intensity is not None:
            options["intensity"] = variant.intensity
    else:
        options["checkpoint"] = variant.path
    path.parent.mkdir(parents=True, exist_ok=True)
    translate(clip, path, to=to, source=source, **options)
    return path


def evaluate(config: EvaluateConfig) -> EvaluationResult:
    """Run the evaluation described by ``config`` (see :class:`EvaluateConfig` and docs/evaluation.md)."""
    if config.videos:
        from .wild import evaluate_wild

        return evaluate_wild(config)
    from ..data.layouts import discover
    from .report import write_outputs

    assert config.data is not None
    start = time.perf_counter()
    emotions = tuple(sorted({e for p in config.pairs for e in p}))
    videos = discover(config.layout, config.data, emotions=emotions)
    actors = select_actors(
        videos,
        actors=config.actors,
        splits=config.splits,
        split=config.split,
        val_actors=config.val_actors,
        test_actors=config.test_actors,
        seed=config.seed,
    )
    cases = plan_cases(
        config.data,
        config.layout,
        pairs=config.pairs,
        level=config.level,
        actors=actors,
        use_aligned=config.use_aligned,
    )
    if config.max_cases is not None:
        cases = cases[: config.max_cases]
    variants = plan_variants(config)
    config.out.mkdir(parents=True, exist_ok=True)
    ctx = EvaluationContext(config)
    work = [(v, c) for v in variants for c in cases if v.can(c)]
    if not work:
        raise ConfigError(
            f"none of the variants can translate the {len(cases)} cases (pairs "
            f"{', '.join(sorted({c.pair_name for c in cases}))})"
        )
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(work), unit="video", desc="evaluate", file=sys.stderr)
    scores: list[VideoScore] = []
    skipped: list[str] = []
    features: dict[tuple[str, str], list[np.ndarray]] = {}
    truth_features: dict[tuple[str, str], list[np.ndarray]] = {}
    for variant, case in work:
        if bar is not None:
            bar.set_postfix_str(f"{variant.name} {case.id}")
        try:  # one unusable video (no face, unreadable) is reported and skipped; the rest goes on
            video = _generated_video(ctx, variant, case)
            if video is None:
                skipped.append(f"{variant.name}: no video for {case.id}")
                if bar is not None:
                    bar.update(1)
                continue
            src = ctx.measurement(f"real/{case.source.id}", case.source.path)
            dst = ctx.measurement(f"real/{case.destination.id}", case.destination.path)
            truth = ctx.measurement(f"truth/{case.id}", case.ground_truth) if case.aligned is not None else dst
            # every variant but a destination take (its own head motion) is made from the source frame by
            # frame with its pose: its flicker is measured in the source's alignment
            own_pose = variant.kind == "ground-truth" and case.aligned is None
            key = f"{safe_name(variant.name)}/{case.id}"
            gen = ctx.measurement(key, video, reference=case.aligned, align_to=None if own_pose else src)
        except (TranslationError, MediaError) as exc:
            skipped.append(f"{variant.name}: {case.id}: {exc}")
            if bar is not None:
                bar.update(1)
            continue
        affect = None
        if config.affect_csv is not None:
            gen_key = (
                case.source.id
                if variant.kind == "copy"
                else f"aligned/{case.id}"
                if variant.kind == "ground-truth" and case.aligned is not None
                else case.destination.id
                if variant.kind == "ground-truth"
                else f"{safe_name(variant.name)}/{case.id}"
            )
            affect = (
                _affect_from_csv(config, gen_key),
                _affect_from_csv(config, case.source.id),
                _affect_from_csv(config, case.destination.id),
            )
        lse = ctx.lip_sync(f"{safe_name(variant.name)}/{case.id}", video)
        scores.append(
            score_video(
                variant.name,
                case.id,
                case.actor,
                case.sentence,
                case.source_emotion,
                case.destination_emotion,
                gen,
                src,
                dst,
                affect=affect,
                lse=lse,
                min_gap=config.min_affect_gap,
            )
        )
        key = (variant.name, case.pair_name)
        features.setdefault(key, []).append(gen.features)
        truth_features.setdefault(key, []).append(truth.features)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if not scores:
        raise MediaError(f"no video could be scored: {'; '.join(skipped[:3])}")
    summaries = summarise(scores)
    from .fid import frechet_from_features

    # set-level: per pair, then the mean over the variant's pairs (as the paper averages over its 6 pairs).
    # Pooling all pairs into one set would reward doing nothing: the copy baseline's sources have the same
    # mix of emotions as the destinations' ground truth.
    for s in summaries:
        got = features.get((s.variant, s.pair))
        if got:
            s.frechet = frechet_from_features(np.concatenate(got), np.concatenate(truth_features[(s.variant, s.pair)]))
    for s in summaries:
        if s.pair == "all":
            per_pair = [p.frechet for p in summaries if p.variant == s.variant and p.pair != "all"]
            finite = [v for v in per_pair if math.isfinite(v)]
            s.frechet = float(np.mean(finite)) if finite else math.nan
    labels = {
        "lse": ctx.scorer.label if ctx.scorer is not None else "not measured",
        "lse_comparable": bool(ctx.scorer is not None and ctx.scorer.comparable),
        "frechet": ctx.extractor.label,
        "frechet_comparable": bool(ctx.extractor.comparable),
        "affect": (
            f"external per-frame valence/arousal CSVs from {config.affect_csv}"
            if config.affect_csv is not None
            else "circumplex PROXY from the judge's probabilities (not NISL2020; not comparable to the paper)"
        ),
        "judge": config.judge,
        "ground_truth": "aligned world renders" if any(c.aligned for c in cases) else "real destination takes",
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
    result.files = write_outputs(result, config)
    return result


def write_scores_csv(scores: Sequence[VideoScore], path: Path) -> Path:
    """Every per-video number, one row per translated video (NaN as an empty cell, notes joined by ';')."""
    from .report import write_csv

    names = [f.name for f in fields(VideoScore)]
    rows = [[";".join(v) if isinstance(v, list) else v for v in (getattr(s, n) for n in names)] for s in scores]
    return write_csv(path, names, rows)
