"""The demos end to end: the real-footage demo (``make demo``) on the first second of movie-hello.mp4 with the
mesh engine and the shipped model, and the generated-world demo (``demo --world``) at a tiny size with an
untrained conditional model (the shipped one is checked by ``demo --world`` itself)."""

from __future__ import annotations

import contextlib
import io
import math
import re
from pathlib import Path

import pytest
import torch
from markupsafe import escape

from wav2lip_emotion.checkpoints import save_model
from wav2lip_emotion.cli import main
from wav2lip_emotion.demo import DemoConfig, run_demo, verdict
from wav2lip_emotion.demo_world import DEMO_PAIRS, WorldDemoConfig, run_world_demo
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.models import ConditionalGenerator

#: the real demo's results: (variant, destination), in the demo's order
RESULTS = (("mesh", "happy"), ("mesh", "sad"), ("mesh", "surprised"), ("model", "happy"))
#: how the console names them
CONSOLE = {"mesh": "mesh", "model": "learned in-world model"}


# ------------------------------------------------------------------------------ the real-footage demo


def _run(config: DemoConfig):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = run_demo(config)
    return result, printed.getvalue()


@pytest.fixture(scope="module")
def real_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("real_demo")
    return _run(DemoConfig(out=root / "demo", max_seconds=1.0, progress=False))


def test_real_demo_report_has_videos_grid_plots_and_verdicts(real_demo) -> None:
    demo, _ = real_demo
    out = demo.out
    page = demo.report.read_text()
    assert demo.report == out / "report.html"
    assert [(r.variant, r.destination) for r in demo.rows] == list(RESULTS)
    # side by side (source | result) per result, referenced by the page
    assert page.count("<video") == len(RESULTS)
    for variant, d in RESULTS:
        video = out / "videos" / f"{variant}_to_{d}.mp4"
        assert video.is_file() and f'src="videos/{variant}_to_{d}.mp4"' in page
    # the frame grid (matplotlib): a source row and one row per result, 8 moments
    from PIL import Image

    assert 'src="frames.png"' in page
    with Image.open(demo.frames_png) as im:
        assert im.width >= 8 * 100 and im.height >= 5 * 100
    # per-frame emotion plots: ours, and the evaluation's per-destination checks
    assert (out / "plots" / "emotions.png").is_file() and 'src="plots/emotions.png"' in page
    for d in ("happy", "sad", "surprised"):
        plot = f"evaluation/plots/frames_movie-hello_to_{d}.png"
        assert (out / plot).is_file() and f'src="{plot}"' in page
    # the verdict table, the labels and what each number means
    assert "Checks and verdicts" in page and "What the numbers mean" in page
    assert page.count('<tr class="edit">') + page.count('<tr class="noedit">') == len(RESULTS)
    assert "learned in-world model (knows only the generated world)" in page and "mesh engine" in page
    for row in demo.rows:
        assert row.score.realistic in (0.0, 1.0) and row.score.realistic_edit in (0.0, 1.0)
        assert str(escape(verdict(row.score))) in page
    for key in ("sharpness", "flicker", "FD to source", "BRISQUE diff.", "mesh score", "identity", "verdict"):
        assert f"<dt>{key}" in page
    assert "CC-BY-SA-4.0" in page and "single_face" in page and "160x120" in page
    # relative links only: the folder can be moved or shared
    assert not re.search(r"(src|href)=[\"'](/|file:)", page)


def test_real_demo_measures_every_result_against_the_clip(real_demo) -> None:
    demo, _ = real_demo
    assert demo.clip == demo.out / "clip" / "movie-hello.mp4"
    from wav2lip_emotion.media import probe_video

    info = probe_video(demo.clip)
    assert info.frame_count == 30 and info.has_audio and info.width == 1280  # 1.0 s at 30 fps, with speech
    for row in demo.rows:
        s = row.score
        assert s.frames == 30 and s.faces_found == 30
        for value in (s.p_destination, s.p_destination_source, s.identity_distance, s.mouth_correlation):
            assert math.isfinite(value)
        assert s.sharpness_ratio > 0 and s.flicker_ratio > 0
        assert s.identity_distance < 0.6  # the same person: no engine swaps the face
        side = probe_video(row.side_by_side)
        assert side.has_audio and side.width == 2 * side.height and side.frame_count == 30
    # the evaluation's own outputs, kept for a closer look
    assert (demo.out / "evaluation" / "report.md").is_file() and (demo.out / "evaluation" / "videos.csv").is_file()


def test_real_demo_prints_one_line_of_checks_per_result(real_demo) -> None:
    demo, printed = real_demo
    for (variant, d), row in zip(RESULTS, demo.rows, strict=True):
        s = row.score
        line = next(ln for ln in printed.splitlines() if ln.startswith(f"{CONSOLE[variant]} -> {d}: "))
        assert line == row.line
        assert f"p({d}) {s.p_destination_source:.2f} -> {s.p_destination:.2f} ({s.emotion_gain:+.2f})" in line
        assert f"identity {s.identity_distance:.2f}" in line and f"mouth corr. {s.mouth_correlation:.2f}" in line
        assert f"sharpness x{s.sharpness_ratio:.2f}" in line and f"flicker x{s.flicker_ratio:.2f}" in line
        assert line.endswith(f"; {verdict(s)}")
        assert re.match(r"realistic edit$|realistic, not a realistic edit: |not realistic: ", verdict(s))
    assert f"{demo.realistic_edits} of 4 results are realistic edits" in printed
    assert f"report: {demo.report.resolve()}" in printed


def test_real_demo_second_run_reuses_translations_and_measurements(real_demo) -> None:
    demo, _ = real_demo
    evaluation = demo.out / "evaluation"
    made = sorted([*(evaluation / "generated").rglob("*.mp4"), *(evaluation / "cache").rglob("*.npz")])
    assert len(made) == 4 + 5  # four translations; their measurements and the clip's
    before = {p: p.stat().st_mtime_ns for p in made}
    sides = {r.side_by_side: r.side_by_side.stat().st_mtime_ns for r in demo.rows}
    again, _ = _run(DemoConfig(out=demo.out, max_seconds=1.0, progress=False))
    assert {p: p.stat().st_mtime_ns for p in made} == before
    assert {r.side_by_side: r.side_by_side.stat().st_mtime_ns for r in again.rows} == sides
    assert [r.line for r in again.rows] == [r.line for r in demo.rows]


def test_real_demo_refuses_bad_settings(tmp_path) -> None:
    with pytest.raises(ConfigError, match="positive number of seconds"):
        DemoConfig(out=tmp_path, max_seconds=0)
    with pytest.raises(ConfigError, match="at least one destination"):
        DemoConfig(out=tmp_path, mesh_to=())
    with pytest.raises(ConfigError, match="frame grid needs at least 2 columns"):
        DemoConfig(out=tmp_path, columns=1)
    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.evaluation.runner import EvaluateConfig
    from wav2lip_emotion.evaluation.wild import evaluate_wild

    config = EvaluateConfig(out=tmp_path / "e", videos=(asset_path("movie_hello"),), to=("happy",), engines=("mesh",))
    with pytest.raises(ConfigError, match="destinations given for unknown variants: nope"):
        evaluate_wild(config, only={"nope": ("happy",)})


def test_demo_command_options_belong_to_their_demo(capsys) -> None:
    assert main(["demo", "--world", "--seconds", "1"]) == 1
    assert "--seconds is for the real-footage demo" in capsys.readouterr().err
    assert main(["demo", "--actor", "R001"]) == 1
    assert "--actor is for the generated-world demo (--world)" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the generated-world demo


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    ckpt = save_model(
        ConditionalGenerator("tiny").eval(),
        root / "cond.safetensors",
        extra={"stage": "conditional", "mask": "half", "emotions": ["happy", "neutral", "sad"], "crop_padding": 0.1},
    )
    config = WorldDemoConfig(out=root / "demo", checkpoint=ckpt, size=96, seconds=1.2, progress=False)
    return run_world_demo(config)


def test_demo_writes_a_complete_report(demo_run) -> None:
    out = demo_run.out
    page = demo_run.report.read_text()
    assert demo_run.report == out / "report.html"
    assert page.count("<video") == 3 and "frames.png" in page and "What the numbers mean" in page
    for src, dst in DEMO_PAIRS:
        assert (out / "videos" / f"{src}_to_{dst}_side_by_side.mp4").is_file()
        assert (out / "plots" / f"{src}_to_{dst}.png").is_file()
        assert f"videos/{src}_to_{dst}_side_by_side.mp4" in page
    for key in ("p_happy_gain", "identity_distance", "mouth_correlation"):
        assert key in demo_run.numbers and key in demo_run.passed
        # the same number of the ideal translation (the world's aligned render), the ceiling on this clip
        assert f"ideal_{key}" in demo_run.numbers
    assert demo_run.numbers["ideal_p_happy_gain"] > 0.3  # the rig's smile is a smile to the judge
    assert "the ideal translation" in page and "<td>ideal</td>" in page and "<td>copy</td>" in page
    assert (out / "world" / "aligned" / "R003" / "neutral" / "level_1" / "001" / "happy_level_3.mp4").is_file()
    assert "judge p(happy) gain" in page and "mouth-opening correlation" in page and "CC-BY-SA-4.0" in page
    # the realism checks of every video: an untrained model's faces are flagged, the ideal render is not
    realism = page.split("Does it look real?")[1].split("<h2>")[0]
    model_rows = [r for r in realism.split("<tr>") if "<td>model</td>" in r]
    assert len(model_rows) == len(DEMO_PAIRS) and all("not realistic" in r for r in model_rows)
    ideal_rows = [r for r in realism.split("<tr>") if "<td>ideal</td>" in r]
    assert ideal_rows and all("<td>realistic" in r for r in ideal_rows)
    assert not re.search(r"src=['\"]/", page)  # relative links only: the folder can be moved or shared
    from PIL import Image

    with Image.open(demo_run.frames_png) as im:
        assert im.width > 6 * 96 and im.height >= 5 * 96


def test_demo_refuses_a_bad_actor() -> None:
    with pytest.raises(ConfigError, match=r"R001\.\.R003"):
        WorldDemoConfig(out=Path("x"), actor="P005")
