"""From per-video measurements to per-video scores, per-pair and per-variant averages.

Averaging order (the paper's): every metric is first a per-video number (mean over the video's frames);
a pair's value is the mean over its videos; a variant's value is the **micro-average** over all its
videos of all pairs (each video counts once, so a pair with more videos weighs more). With the same
number of videos per pair this equals the mean of the pair means. Deltas that cannot be computed
(source and destination videos with the same affect) are skipped and counted. FID-like metrics are
set-level: computed over the pooled crops of a pair; a variant's value is the mean over its pairs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..perception.affect import affect_delta, proxy_track
from .measure import VideoMeasurement, pearson
from .realism import realism_scores
from .verdicts import EditThresholds, RealismThresholds, edit_verdict, lip_movement_kept, realism_verdict

#: per-video metrics, in table order: (key, column title, higher is better?)
VIDEO_METRICS: tuple[tuple[str, str, bool | None], ...] = (
    ("lse_d", "LSE-D", False),
    ("lse_c", "LSE-C", True),
    ("delta_valence", "dV", True),
    ("delta_arousal", "dA", True),
    ("p_destination", "p(dst)", True),
    ("accuracy", "emotion acc.", True),
    ("identity_distance", "identity dist.", False),
    ("mouth_correlation", "mouth corr.", True),
    ("psnr", "PSNR", True),
    ("ssim", "SSIM", True),
)
#: realism metrics and verdicts (evaluation/realism.py), in table order: (key, column title, higher is better?)
REALISM_METRICS: tuple[tuple[str, str, bool | None], ...] = (
    ("sharpness_ratio", "sharpness ratio", None),
    ("flicker_ratio", "flicker ratio", False),
    ("frechet_source", "FD to source", False),
    ("quality", "BRISQUE", False),
    ("quality_source", "BRISQUE source", False),
    ("quality_difference", "BRISQUE diff.", False),
    ("face_score", "mesh score", True),
    ("face_score_source", "mesh score source", True),
    ("faces_kept", "faces kept", True),
    ("emotion_gain", "emotion gain", True),
    ("lip_kept", "lips kept", True),
    ("realistic", "realistic", True),
    ("realistic_edit", "realistic edit", True),
)


def emotion_scale(probs_mean: dict[str, float]) -> float:
    """The user study's 1 (very sad) - 3 (neutral) - 5 (very happy) scale from a judge's mean probabilities:
    ``3 + 2 (p(happy) - p(sad))``. An automatic stand-in for the raters' emotion score, nothing more."""
    return 3.0 + 2.0 * (probs_mean.get("happy", 0.0) - probs_mean.get("sad", 0.0))


def affect_of(m: VideoMeasurement) -> tuple[float, float]:
    """Per-video (valence, arousal) of the circumplex proxy over the frames with a face."""
    from ..emotions import parse_emotion

    ok = np.isfinite(m.probs).all(axis=1)
    names = [parse_emotion(c).value for c in m.classes]
    frames = [dict(zip(names, row, strict=True)) for row in m.probs[ok]]
    return proxy_track(frames).mean()


def mean_probabilities(m: VideoMeasurement) -> dict[str, float]:
    from ..emotions import parse_emotion

    ok = np.isfinite(m.probs).all(axis=1)
    means = m.probs[ok].mean(axis=0) if ok.any() else np.full(len(m.classes), np.nan)
    return {parse_emotion(c).value: float(v) for c, v in zip(m.classes, means, strict=True)}


def emotion_hits(m: VideoMeasurement, emotion: str) -> tuple[float, float]:
    """(mean p(emotion), fraction of frames whose top class is ``emotion``) over the frames with a face."""
    p = m.class_probability(None, emotion)
    ok = np.isfinite(p)
    tops = [t for t in m.top_classes() if t is not None]
    return (float(p[ok].mean()) if ok.any() else math.nan), (
        float(np.mean([t == emotion for t in tops])) if tops else math.nan
    )


@dataclass
class VideoScore:
    """The per-video numbers of one translated video (one variant, one case)."""

    variant: str
    case: str
    actor: str
    sentence: str
    pair: str
    source_emotion: str
    destination_emotion: str
    video: str
    source_video: str
    destination_video: str
    frames: int
    faces_found: int
    lse_d: float = math.nan
    lse_c: float = math.nan
    lse_offset: float = math.nan
    valence: float = math.nan
    arousal: float = math.nan
    valence_source: float = math.nan
    arousal_source: float = math.nan
    valence_destination: float = math.nan
    arousal_destination: float = math.nan
    delta_valence: float = math.nan
    delta_arousal: float = math.nan
    p_destination: float = math.nan
    accuracy: float = math.nan
    p_destination_source: float = math.nan
    accuracy_source: float = math.nan
    emotion_rating: float = math.nan
    emotion_rating_source: float = math.nan
    emotion_rating_destination: float = math.nan
    delta_emotion: float = math.nan
    identity_distance: float = math.nan
    mouth_correlation: float = math.nan
    psnr: float = math.nan
    ssim: float = math.nan
    #: realism against the source video (evaluation/realism.py: RealismScores)
    sharpness_ratio: float = math.nan
    flicker_ratio: float = math.nan
    frechet_source: float = math.nan
    quality: float = math.nan
    quality_source: float = math.nan
    quality_difference: float = math.nan
    face_score: float = math.nan
    face_score_source: float = math.nan
    faces_kept: float = math.nan
    #: p(destination) of the output minus the source's
    emotion_gain: float = math.nan
    #: verdicts as 1 (pass) / 0 (fail), so that their mean over videos is the share passing; NaN = not
    #: judged (no realism values measured)
    lip_kept: float = math.nan
    realistic: float = math.nan
    realistic_edit: float = math.nan
    #: why the realistic-edit verdict failed, one item per failed check
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def score_video(
    variant: str,
    case_id: str,
    actor: str,
    sentence: str,
    source_emotion: str,
    destination_emotion: str,
    generated: VideoMeasurement,
    source: VideoMeasurement,
    destination: VideoMeasurement | None,
    *,
    affect: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] | None = None,
    lse: tuple[float, float, float] | None = None,
    min_gap: float = 0.0,
    realism_thresholds: RealismThresholds | None = None,
    edit_thresholds: EditThresholds | None = None,
) -> VideoScore:
    """Scores of one generated video against its source and destination measurements.

    ``destination``: the real destination take; None for a clip without one (in-the-wild evaluation:
    the affect deltas are NaN then). ``affect``: ((v, a) generated, source, destination) from an
    external model; None = the judge's circumplex proxy. ``lse``: (LSE-D, LSE-C, offset) of the
    generated video, when measured. ``min_gap``: deltas whose real source and destination differ by at
    most this much are NaN (skipped); 0 = the paper's rule (only d == s is skipped). The realism and
    realistic-edit verdicts use ``realism_thresholds`` / ``edit_thresholds`` (None: the defaults).
    """
    neutral = destination_emotion == "neutral"
    nan2 = (math.nan, math.nan)
    (vg, ag), (vs, as_), (vd, ad) = affect or (
        affect_of(generated),
        affect_of(source),
        affect_of(destination) if destination is not None else nan2,
    )
    p_dst, acc = emotion_hits(generated, destination_emotion)
    p_dst_src, acc_src = emotion_hits(source, destination_emotion)
    eg, es = (emotion_scale(mean_probabilities(m)) for m in (generated, source))
    ed = emotion_scale(mean_probabilities(destination)) if destination is not None else math.nan
    identity = math.nan
    if generated.identity is not None and source.identity is not None:
        identity = float(np.linalg.norm(generated.identity - source.identity))
    out = VideoScore(
        variant=variant,
        case=case_id,
        actor=actor,
        sentence=sentence,
        pair=f"{source_emotion}->{destination_emotion}",
        source_emotion=source_emotion,
        destination_emotion=destination_emotion,
        video=generated.path,
        source_video=source.path,
        destination_video=destination.path if destination is not None else "",
        frames=generated.frames,
        faces_found=generated.faces_found,
        valence=vg,
        arousal=ag,
        valence_source=vs,
        arousal_source=as_,
        valence_destination=vd,
        arousal_destination=ad,
        delta_valence=affect_delta(vg, vs, vd, neutral, min_gap=min_gap),
        delta_arousal=affect_delta(ag, as_, ad, neutral, min_gap=min_gap),
        p_destination=p_dst,
        accuracy=acc,
        p_destination_source=p_dst_src,
        accuracy_source=acc_src,
        emotion_rating=eg,
        emotion_rating_source=es,
        emotion_rating_destination=ed,
        delta_emotion=affect_delta(eg, es, ed, neutral, min_gap=min_gap),
        identity_distance=identity,
        mouth_correlation=pearson(generated.opening, source.opening),
        psnr=generated.psnr,
        ssim=generated.ssim,
        notes=list(generated.notes),
    )
    if lse is not None:
        out.lse_d, out.lse_c, out.lse_offset = lse
    judge_realism(out, generated, source, realism_thresholds, edit_thresholds)
    return out


def judge_realism(
    score: VideoScore,
    generated: VideoMeasurement,
    source: VideoMeasurement,
    realism_thresholds: RealismThresholds | None = None,
    edit_thresholds: EditThresholds | None = None,
) -> None:
    """Fill ``score``'s realism numbers and verdicts (evaluation/realism.py) from the two measurements."""
    rt, et = realism_thresholds or RealismThresholds(), edit_thresholds or EditThresholds()
    score.emotion_gain = score.p_destination - score.p_destination_source
    _, kept = lip_movement_kept(generated.opening, source.opening, et)
    score.lip_kept = float(kept)
    if not generated.realism.frames or not source.realism.frames:
        return  # measured without realism values: no verdicts
    r = realism_scores(
        generated.realism, source.realism, output_features=generated.features, source_features=source.features
    )
    for key in (
        "sharpness_ratio",
        "flicker_ratio",
        "frechet_source",
        "quality",
        "quality_source",
        "quality_difference",
        "face_score",
        "face_score_source",
        "faces_kept",
    ):
        setattr(score, key, getattr(r, key))
    realism = realism_verdict(r, rt)
    edit = edit_verdict(realism, score.emotion_gain, kept, et)
    score.realistic = float(realism.passed)
    score.realistic_edit = float(edit.passed)
    score.failures = list(edit.failures)


@dataclass
class Summary:
    """Averages of one variant, over one pair or over all its pairs."""

    variant: str
    pair: str  # "all" for the variant's micro-average
    videos: int
    values: dict[str, float]
    #: how many videos had a finite value, per metric (deltas with d == s are skipped)
    counts: dict[str, int]
    #: Frechet distance of the pooled crops to the ground truth's (NaN when not measured)
    frechet: float = math.nan


def average(scores: Sequence[VideoScore], keys: Iterable[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Mean of each metric over the videos where it is finite (inf counts: PSNR of identical videos)."""
    values: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key in keys:
        xs = [float(getattr(s, key)) for s in scores]
        good = [x for x in xs if not math.isnan(x)]
        counts[key] = len(good)
        values[key] = float(np.mean(good)) if good else math.nan
    return values, counts


def summarise(scores: Sequence[VideoScore], keys: Sequence[str] | None = None) -> list[Summary]:
    """Per (variant, pair) means, then per variant the micro-average over all its videos (pair "all")."""
    keys = list(
        keys
        or [k for k, _, _ in VIDEO_METRICS]
        + ["p_destination_source", "accuracy_source"]
        + [k for k, _, _ in REALISM_METRICS]
    )
    keys += [k for k in ("delta_emotion", "emotion_rating") if k not in keys]
    out: list[Summary] = []
    variants = list(dict.fromkeys(s.variant for s in scores))
    for variant in variants:
        mine = [s for s in scores if s.variant == variant]
        for pair in dict.fromkeys(s.pair for s in mine):
            rows = [s for s in mine if s.pair == pair]
            values, counts = average(rows, keys)
            out.append(Summary(variant, pair, len(rows), values, counts))
        values, counts = average(mine, keys)
        out.append(Summary(variant, "all", len(mine), values, counts))
    return out
