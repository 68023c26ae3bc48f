"""The realism verdict on what the engines really produce (issue: metrics a disfigured face cannot pass).

The shipped learned model knows only the generated world: its translations, in the world and of a real
person's clip, are flagged. The mesh engine moves the person's own pixels: on a real clip its happy, sad
and surprised pass.
The thresholds are the evaluation's own (``RealismThresholds``), not tuned here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wav2lip_emotion.evaluation.realism import realism_scores
from wav2lip_emotion.evaluation.verdicts import realism_verdict

#: frames of the real clip used (1 s of movie-hello at 30 fps)
SECONDS = 1.0


@pytest.fixture(scope="module")
def judge():
    from wav2lip_emotion.evaluation.fid import FaceApiFeatures
    from wav2lip_emotion.perception.emotions import load_emotion_model

    return load_emotion_model("faceapi"), FaceApiFeatures()


def _verdict(output: Path, source: Path, judge):
    from wav2lip_emotion.evaluation.measure import measure_video

    model, features = judge
    src = measure_video(source, model, features=features)
    out = measure_video(output, model, features=features, align_to=src)
    scores = realism_scores(out.realism, src.realism, output_features=out.features, source_features=src.features)
    return scores, realism_verdict(scores)


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory) -> Path:
    """The first second of movie-hello.mp4 (a real person speaking; video and speech)."""
    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.demo import cut_clip

    return cut_clip(asset_path("movie_hello"), tmp_path_factory.mktemp("real") / "hello.mp4", SECONDS)


def test_the_shipped_model_is_flagged_on_a_real_clip(real_clip: Path, judge, tmp_path: Path) -> None:
    from wav2lip_emotion.translation import translate

    out = translate(real_clip, tmp_path / "model.mp4", "happy", engine="model", progress=False).output
    scores, verdict = _verdict(out, real_clip, judge)
    assert not verdict.passed, scores
    assert "sharpness" in {k for k, ok in verdict.checks.items() if not ok}  # the blur of an in-world model


def test_the_shipped_model_is_flagged_in_its_own_world(eval_world: Path, judge, tmp_path: Path) -> None:
    """Even on the generated world it was trained for, the shipped model's faces are not realistic next to
    the take they translate (the aligned renders of the same takes pass: tests/test_realism.py)."""
    from wav2lip_emotion.evaluation.cases import PAPER_PAIRS, plan_cases
    from wav2lip_emotion.translation import translate

    case = next(c for c in plan_cases(eval_world, pairs=PAPER_PAIRS) if c.pair == ("neutral", "happy"))
    out = translate(case.source.path, tmp_path / "world.mp4", "happy", engine="model", progress=False).output
    scores, verdict = _verdict(out, case.source.path, judge)
    assert not verdict.passed, scores


@pytest.mark.parametrize("to", ["happy", "sad", "surprised"])
def test_the_mesh_engine_on_a_real_clip(real_clip: Path, judge, tmp_path: Path, to: str) -> None:
    """Every realism check passes: the engine moves the person's own pixels and draws nothing. (Its flicker
    is 1.03-1.09 of the source's in the source's alignment; aligned with the mesh re-tracked on the edited
    face, sad and surprised measured 1.8 and 1.65, the tracker's jitter: docs/mesh_engine.md.)"""
    from wav2lip_emotion.translation import translate

    out = translate(real_clip, tmp_path / f"{to}.mp4", to, progress=False).output
    scores, verdict = _verdict(out, real_clip, judge)
    assert verdict.passed, (verdict.failures, scores)
    assert not verdict.unmeasured
