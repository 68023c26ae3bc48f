"""The demo end to end at a tiny size with an untrained conditional model (the shipped one is checked by make demo)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from wav2lip_emotion.checkpoints import save_model
from wav2lip_emotion.demo import DEMO_PAIRS, DemoConfig, run_demo
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.models import ConditionalGenerator


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    ckpt = save_model(
        ConditionalGenerator("tiny").eval(),
        root / "cond.safetensors",
        extra={"stage": "conditional", "mask": "half", "emotions": ["happy", "neutral", "sad"], "crop_padding": 0.1},
    )
    config = DemoConfig(out=root / "demo", checkpoint=ckpt, size=96, seconds=1.2, progress=False)
    return run_demo(config)


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
    assert not re.search(r"src=['\"]/", page)  # relative links only: the folder can be moved or shared
    from PIL import Image

    with Image.open(demo_run.frames_png) as im:
        assert im.width > 6 * 96 and im.height >= 5 * 96


def test_demo_refuses_a_bad_actor() -> None:
    with pytest.raises(ConfigError, match=r"R001\.\.R003"):
        DemoConfig(out=Path("x"), actor="P005")
