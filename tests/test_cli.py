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
