"""The command line: help texts, one-line errors with a non-zero exit, conversion and inspection."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from wav2lip_emotion.checkpoints import load_discriminator
from wav2lip_emotion.cli import main
from wav2lip_emotion.models import build_model

from .conftest import save_official


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("models", "inspect", "convert", "mel", "demo"):
        assert command in out


def test_error_is_one_line_with_nonzero_exit(tmp_path, capsys):
    code = main(["inspect", str(tmp_path / "missing.pth")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "missing.pth: no such checkpoint file" in err


def test_convert_then_inspect(tmp_path, capsys):
    disc = build_model("discriminator", "tiny", form="lower_half")
    src = save_official(tmp_path / "visual_quality_disc.pth", disc.state_dict())
    out = tmp_path / "disc.safetensors"
    assert main(["convert", str(src), str(out), "--form", "lower_half"]) == 0
    assert load_discriminator(out).form.value == "lower_half"
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "discriminator" in text and "lower_half" in text and "tiny" in text


def test_models_table(capsys):
    assert main(["models", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "generator" in out and "syncnet" in out and "lower_half" in out


def test_mel_command_writes_png_and_npy(tmp_path, capsys):
    import wave

    import numpy as np

    t = np.arange(16_000) / 16_000  # 1 s of a 220 Hz tone, syllable-rate modulated
    pcm = (0.4 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "s.wav"), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(16_000)
        fh.writeframes(pcm.tobytes())
    assert main(["mel", str(tmp_path / "s.wav"), "-o", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").stat().st_size > 0
    assert main(["mel", str(tmp_path / "s.wav"), "-o", str(tmp_path / "m.npy")]) == 0
    assert np.load(tmp_path / "m.npy").shape == (80, 81)


def test_console_script_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "wav2lip_emotion", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "wav2lip-emotion" in result.stdout


def test_no_torch_load_without_weights_only():
    import inspect

    import wav2lip_emotion.checkpoints as ck

    assert "weights_only=True" in inspect.getsource(ck)
    assert torch.__version__


# ------------------------------------------------------------------ one source of truth: the configs' defaults


def _parse(*argv: str):
    from wav2lip_emotion.cli import build_parser

    return build_parser(argv[0]).parse_args(list(argv))


def test_parser_defaults_are_the_config_defaults():
    """Options the user did not give leave every field at its dataclass default (no default is restated)."""
    from pathlib import Path

    from wav2lip_emotion.app import AppOptions
    from wav2lip_emotion.cli.app import app_options
    from wav2lip_emotion.cli.data import preprocess_config, world_config
    from wav2lip_emotion.cli.demo import demo_config
    from wav2lip_emotion.cli.evaluate import evaluate_config
    from wav2lip_emotion.cli.faces import tracker_config
    from wav2lip_emotion.cli.reproduce import reproduce_config
    from wav2lip_emotion.cli.translate import translate_config
    from wav2lip_emotion.data.preprocess import PreprocessConfig
    from wav2lip_emotion.demo import DemoConfig
    from wav2lip_emotion.demo_world import WorldDemoConfig
    from wav2lip_emotion.evaluation.runner import EvaluateConfig
    from wav2lip_emotion.faces import TrackerConfig
    from wav2lip_emotion.reproduce import ReproduceConfig
    from wav2lip_emotion.translation import TranslateConfig
    from wav2lip_emotion.world.synth import WorldConfig

    assert translate_config(_parse("translate", "in.mp4", "-o", "out.mp4", "--to", "happy")) == TranslateConfig(
        to="happy"
    )
    assert evaluate_config(_parse("evaluate", "--data", "w", "--out", "o")) == EvaluateConfig(
        data=Path("w"), out=Path("o")
    )
    assert world_config(_parse("synth", "--out", "w")) == WorldConfig()
    assert preprocess_config(_parse("preprocess", "--layout", "world", "--src", "s", "--out", "c")) == (
        PreprocessConfig("world", Path("s"), Path("c"))
    )
    assert reproduce_config(_parse("reproduce")) == ReproduceConfig()
    assert tracker_config(_parse("faces", "in.mp4")) == TrackerConfig()
    assert app_options(_parse("app")) == AppOptions()
    assert demo_config(_parse("demo")) == DemoConfig()
    assert demo_config(_parse("demo", "--world")) == WorldDemoConfig()


def test_given_options_override_the_config_defaults():
    from wav2lip_emotion.cli.app import app_options
    from wav2lip_emotion.cli.data import world_config
    from wav2lip_emotion.cli.evaluate import evaluate_config
    from wav2lip_emotion.cli.translate import translate_config

    argv = ["translate", "a.mp4", "-o", "b.mp4", "--to", "sad", "--no-occluders", "--crf", "20", "--max-misses", "3",
            "--paste", "detail", "-q"]  # fmt: skip
    config = translate_config(_parse(*argv))
    assert (config.occluders, config.crf, config.tracker.max_misses, config.paste.value) == (False, 20, 3, "detail")
    assert config.progress is False and config.device == "auto"
    argv = ["evaluate", "--data", "w", "--out", "o", "--skip", "copy", "--checkpoint", "a=x.safetensors",
            "--checkpoint", "y.safetensors", "--no-lse", "--actors", "R001,R002",
            "--pairs", "neutral:happy"]  # fmt: skip
    evaluation = evaluate_config(_parse(*argv))
    assert evaluation.baselines == ("ground-truth",) and evaluation.checkpoints == ("a=x.safetensors", "y.safetensors")
    assert evaluation.lse is False and evaluation.actors == ("R001", "R002")
    assert evaluation.pairs == (("neutral", "happy"),)
    assert evaluate_config(_parse("evaluate", "--data", "w", "--out", "o", "--no-baselines")).baselines == ()
    world = world_config(_parse("synth", "--out", "w", "--identities", "real", "--levels", "1,3", "--no-aligned"))
    assert (world.real_identities, world.procedural_identities, world.levels, world.aligned) == (
        True,
        False,
        (1, 3),
        False,
    )
    app = app_options(_parse("app", "--max-upload-mb", "1.5", "--no-analysis"))
    assert app.limits.max_bytes == int(1.5 * 1024 * 1024) and app.analyse is False and app.port == 7860


def test_help_texts_show_the_config_defaults():
    from wav2lip_emotion.cli import build_parser
    from wav2lip_emotion.cli.options import BOUND, bound_actions, default_of, shown

    #: bound options whose help explains the default in words instead of showing the value
    in_words = {("EvaluateConfig", "pairs"), ("ReproduceConfig", "threads")}
    checked = 0
    for action in bound_actions(build_parser()):
        source, name = getattr(action, BOUND)
        try:
            default = default_of(source, name)
        except TypeError:  # a required field
            assert action.required, name
            continue
        if default is None or isinstance(default, bool) or default == () or (source.__name__, name) in in_words:
            continue
        value = f"{default / 2**20:g}" if name == "max_bytes" else shown(default)
        assert value in action.help, (source.__name__, name, action.help)
        checked += 1
    assert checked >= 30


def test_device_choices_come_from_devices():
    from wav2lip_emotion.cli import build_parser
    from wav2lip_emotion.devices import DEVICES

    for command in ("translate", "evaluate", "reproduce", "demo"):
        parser = build_parser(command)
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        device = next(a for a in sub._actions if a.dest == "device")
        assert tuple(device.choices) == DEVICES


def test_help_imports_no_torch():
    code = "import sys; from wav2lip_emotion.cli import build_parser; build_parser(''); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "False\n"


# ------------------------------------------------------------------ output streams


def test_status_lines_go_to_stderr_results_to_stdout(tmp_path, capsys):
    """faces: the progress bar on stderr; the summary and the written paths on stdout."""
    from wav2lip_emotion.assets import asset_path

    assert main(["faces", str(asset_path("kphotoalbum_movie")), "--json", str(tmp_path / "f.json")]) == 0
    captured = capsys.readouterr()
    assert "faces" in captured.err and "frame" in captured.err  # the tqdm bar
    lines = captured.out.splitlines()
    assert "face found in" in lines[0] and lines[-1] == f"wrote {tmp_path / 'f.json'}"
    assert "frame/s]" not in captured.out


def test_demo_step_lines_go_to_stderr(capsys):
    from wav2lip_emotion import demo, demo_world

    for module in (demo, demo_world):
        module._status("[1/3] step")
        module._say("report: x")
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("report: x\n", "[1/3] step\n")
