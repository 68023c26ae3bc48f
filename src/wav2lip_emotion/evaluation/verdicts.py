"""Verdicts on the realism measurements (:mod:`.realism`): is the output a realistic face, and a realistic
edit (the emotion changed, the lips still follow the speech)? The thresholds and why each is where it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .realism import RealismScores, paired_finite


@dataclass(frozen=True)
class RealismThresholds:
    """What a person would still accept as the same, real face (docs/evaluation.md, "Realism", has the
    reasoning and the measurements). Each bound leaves room for what a REAL change of expression of the
    same person does to the metric (the world's aligned ground truth and real takes), and none was moved
    to make a constructed case pass or fail."""

    #: fine-detail energy within a factor 2 of the source's, either way. A real change of expression moves
    #: it by up to a factor 1.5 (a smile's creases and teeth appear or vanish: 0.67..1.47 in the world's
    #: aligned truth), a just-visible blur (sigma 0.85 px on a 180 px face) divides it by 3, grain
    #: multiplies it. (The first guess, 0.8..1.5, failed the ideal translation itself: removing a smile
    #: gives 0.67..0.75.)
    min_sharpness_ratio: float = 0.5
    max_sharpness_ratio: float = 2.0
    #: half again as much frame-to-frame change as the source's own motion (speech, blinks) is visible
    #: shimmer, boiling texture or a shaking face; real expression changes stay within 0.90..1.15 (the
    #: world's aligned truth in its source's alignment; 0.79..1.30 for takes aligned with their own mesh)
    max_flicker_ratio: float = 1.5
    #: BRISQUE points worse than the source: ~10 points is a step between quality grades on its 0..100
    #: scale (a clean image against a mildly blurred or compressed one)
    max_quality_difference: float = 10.0
    #: FD of the face-crop features to the source's own. face-api's features describe the expression,
    #: so a real emotion change moves them too (47..311 between real takes of one person in the world);
    #: only a distance beyond any real change of expression, by a third, is "no longer this face"
    max_frechet_source: float = 400.0
    #: the mesh must still be as sure it sees a face: at most 0.05 below the source's mean score
    max_face_score_drop: float = 0.05
    #: the output keeps a face in at least 95% of the frames where the source has one
    min_faces_kept: float = 0.95


@dataclass(frozen=True)
class EditThresholds:
    """What makes an edit an emotion edit that keeps the speech."""

    #: the judge's p(destination) must rise by 0.2 over the source's: a fifth more probability on the
    #: destination, where an unchanged video gains exactly 0
    min_emotion_gain: float = 0.2
    #: mouth opening still follows the source's (the ideal world translation keeps 0.87; the L1-only
    #: model that draws a smiling mouth which ignores the speech scores 0.20)
    min_mouth_correlation: float = 0.5
    #: below this range of the source's mouth opening (5th..95th percentile, in eye distances) the mouth
    #: hardly moves (a silent clip) and its correlation is noise; the output's opening must then stay
    #: within ``max_still_mouth_change`` of the source's on average instead
    still_mouth_range: float = 0.05
    max_still_mouth_change: float = 0.05


@dataclass(frozen=True)
class Verdict:
    """A pass/fail with every check's outcome, so a failure says why."""

    passed: bool
    #: check name -> passed; checks whose metric was not measured are left out
    checks: dict[str, bool] = field(default_factory=dict)
    #: one line per failed check, e.g. "sharpness ratio 0.41 < 0.8"
    failures: tuple[str, ...] = ()
    #: checks skipped because their metric was not measured
    unmeasured: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.passed


def _judge(items: Sequence[tuple[str, float, bool, str]]) -> Verdict:
    checks: dict[str, bool] = {}
    failures: list[str] = []
    unmeasured: list[str] = []
    for name, value, ok, text in items:
        if isinstance(value, float) and math.isnan(value):
            unmeasured.append(name)
            continue
        checks[name] = bool(ok)
        if not ok:
            failures.append(text)
    return Verdict(not failures, checks, tuple(failures), tuple(unmeasured))


def realism_verdict(s: RealismScores, t: RealismThresholds = RealismThresholds()) -> Verdict:
    """Pass when every measured realism metric is within ``t``; unmeasured ones are listed, not failed."""
    drop = s.face_score_source - s.face_score
    return _judge(
        [
            (
                "sharpness",
                s.sharpness_ratio,
                t.min_sharpness_ratio <= s.sharpness_ratio <= t.max_sharpness_ratio,
                f"sharpness ratio {s.sharpness_ratio:.2f} outside {t.min_sharpness_ratio}..{t.max_sharpness_ratio}",
            ),
            (
                "flicker",
                s.flicker_ratio,
                s.flicker_ratio <= t.max_flicker_ratio,
                f"flicker ratio {s.flicker_ratio:.2f} > {t.max_flicker_ratio}",
            ),
            (
                "quality",
                s.quality_difference,
                s.quality_difference <= t.max_quality_difference,
                f"BRISQUE {s.quality_difference:+.1f} over the source's (max +{t.max_quality_difference:g})",
            ),
            (
                "frechet",
                s.frechet_source,
                s.frechet_source <= t.max_frechet_source,
                f"FD to source {s.frechet_source:.1f} > {t.max_frechet_source:g}",
            ),
            (
                "face_score",
                drop,
                drop <= t.max_face_score_drop,
                f"mesh face score {s.face_score:.3f} vs the source's {s.face_score_source:.3f}",
            ),
            (
                "faces_kept",
                s.faces_kept,
                s.faces_kept >= t.min_faces_kept,
                f"face found in {100 * s.faces_kept:.0f}% of the source's face frames",
            ),
        ]
    )


def lip_movement_kept(
    output_opening: np.ndarray, source_opening: np.ndarray, t: EditThresholds = EditThresholds()
) -> tuple[float, bool]:
    """(mouth-opening correlation with the source, kept?). When the source's mouth hardly moves the
    correlation is noise, so the output's opening must instead stay close to the source's."""
    from .measure import pearson

    corr = pearson(output_opening, source_opening)
    a, b = paired_finite(np.asarray(output_opening), np.asarray(source_opening))
    if len(b) >= 3:
        lo, hi = np.percentile(b, [5, 95])
        if hi - lo < t.still_mouth_range:
            return corr, bool(np.mean(np.abs(a - b)) <= t.max_still_mouth_change)
    return corr, bool(corr >= t.min_mouth_correlation) if math.isfinite(corr) else False


def edit_verdict(
    realism: Verdict,
    emotion_gain: float,
    lip_kept: bool,
    t: EditThresholds = EditThresholds(),
) -> Verdict:
    """The realistic-edit verdict: the emotion changed (p(destination) rose by ``t.min_emotion_gain``),
    the lip movement was kept, and the face is still realistic (``realism``)."""
    items = [
        (
            "emotion_gain",
            emotion_gain,
            emotion_gain >= t.min_emotion_gain,
            f"emotion gain {emotion_gain:+.2f} < {t.min_emotion_gain}",
        ),
        ("lip_movement", 0.0, lip_kept, "lip movement not kept"),
    ]
    own = _judge(items)
    if math.isnan(emotion_gain):  # no judge reading at all: not an edit anyone can credit
        own = Verdict(False, own.checks, (*own.failures, "emotion gain not measured"), own.unmeasured)
    return Verdict(
        own.passed and realism.passed,
        {**own.checks, **{f"realism.{k}": v for k, v in realism.checks.items()}},
        (*own.failures, *realism.failures),
        (*own.unmeasured, *realism.unmeasured),
    )
