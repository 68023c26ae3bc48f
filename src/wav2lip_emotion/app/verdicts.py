"""The realism verdicts the page shows for a job: :func:`realism_report` turns the measurements of
source and result into the checks of ``evaluation/realism.py`` (each with its value, limit and
meaning), plus dlib's identity distance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: dlib's same-person rule (identity distance below this), shown next to the realism verdict
IDENTITY_MAX = 0.6


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded to ``digits``; None for a missing or non-finite value (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _check(name: str, value: float | None, limit: str, passed: bool | None, meaning: str) -> dict[str, Any]:
    value = None if value is None or not math.isfinite(value) else value
    return {
        "name": name,
        "value": rounded(value, 3),
        "limit": limit,
        "passed": None if value is None or passed is None else bool(passed),
        "meaning": meaning,
    }


def realism_report(source: Any, result: Any, emotion_gain: float, video: bool) -> dict[str, Any]:
    """The verdicts of ``evaluation/realism.py`` (realistic face; realistic edit: the emotion changed and
    the lips still follow the speech) with each check, plus dlib's identity distance."""
    from ..evaluation.realism import realism_scores
    from ..evaluation.verdicts import (
        EditThresholds,
        RealismThresholds,
        edit_verdict,
        lip_movement_kept,
        realism_verdict,
    )

    rt, et = RealismThresholds(), EditThresholds()
    if video:
        mouth, kept = lip_movement_kept(result.opening, source.opening, et)
    else:
        mouth, kept = math.nan, True  # a photo has no speech to follow
    scores = realism_scores(
        result.realism, source.realism, output_features=result.features, source_features=source.features
    )
    realism = realism_verdict(scores, rt)
    edit = edit_verdict(realism, emotion_gain, kept, et)
    identity = math.nan
    if source.identity is not None and result.identity is not None:
        identity = float(np.linalg.norm(result.identity - source.identity))
    drop = scores.face_score_source - scores.face_score
    checks = [
        _check(
            "emotion gain",
            emotion_gain,
            f">= {et.min_emotion_gain:+g}",
            emotion_gain >= et.min_emotion_gain,
            "the judge's mean p(destination), result minus source",
        ),
        _check(
            "mouth-opening correlation",
            mouth,
            f">= {et.min_mouth_correlation:g}",
            kept if video else None,
            "the lip gap per frame follows the source's (a still mouth must stay still instead)",
        ),
        _check(
            "identity distance",
            identity,
            f"< {IDENTITY_MAX:g}",
            identity < IDENTITY_MAX,
            "dlib face-descriptor distance from the source (< 0.6: the same person)",
        ),
        _check(
            "sharpness ratio",
            scores.sharpness_ratio,
            f"{rt.min_sharpness_ratio:g}..{rt.max_sharpness_ratio:g}",
            rt.min_sharpness_ratio <= scores.sharpness_ratio <= rt.max_sharpness_ratio,
            "fine detail in the face, result over source (< 1: blurred)",
        ),
        _check(
            "flicker ratio",
            scores.flicker_ratio,
            f"<= {rt.max_flicker_ratio:g}",
            scores.flicker_ratio <= rt.max_flicker_ratio,
            "frame-to-frame change in the face beyond the head's motion, result over source",
        ),
        _check(
            "BRISQUE difference",
            scores.quality_difference,
            f"<= {rt.max_quality_difference:+g}",
            scores.quality_difference <= rt.max_quality_difference,
            "no-reference image quality of the face, result minus source (> 0: worse)",
        ),
        _check(
            "FD to source",
            scores.frechet_source,
            f"<= {rt.max_frechet_source:g}",
            scores.frechet_source <= rt.max_frechet_source,
            "Frechet distance of the face-api features of the result's faces to the source's",
        ),
        _check(
            "face score drop",
            drop,
            f"<= {rt.max_face_score_drop:g}",
            drop <= rt.max_face_score_drop,
            "how much less sure the face mesh is that it sees a face",
        ),
        _check(
            "faces kept",
            scores.faces_kept,
            f">= {rt.min_faces_kept:g}",
            scores.faces_kept >= rt.min_faces_kept,
            "share of the source's face frames where the result still has a face",
        ),
    ]
    same_person = not math.isfinite(identity) or identity < IDENTITY_MAX
    if edit.passed and same_person:
        verdict = "realistic edit: the emotion changed, the lips follow the speech, the face is still realistic"
    elif realism.passed and same_person:
        verdict = "realistic face, but not an emotion edit: " + "; ".join(edit.failures)
    else:
        problems = [*realism.failures] + ([] if same_person else [f"identity distance {identity:.2f} >= 0.6"])
        verdict = "not realistic: " + "; ".join(problems)
    return {
        "source": "evaluation/realism.py",
        "verdict": verdict,
        "passed": bool(edit.passed and same_person),
        "realistic": bool(realism.passed and same_person),
        "failures": list(edit.failures) + ([] if same_person else ["identity distance"]),
        "unmeasured": list(edit.unmeasured),
        "checks": checks,
        "scores": {k: rounded(v, 4) if isinstance(v, float) else v for k, v in scores.as_dict().items()},
    }
