"""The picture helpers: the line chart (matplotlib) and the mel spectrogram image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wav2lip_emotion.visual import EMOTION_COLOURS, line_chart, save_mel_png


def _has_colour(img: Image.Image, rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    a = np.asarray(img.convert("RGB"), dtype=int)
    return bool((np.abs(a - np.array(rgb)).max(axis=-1) <= tolerance).any())


def test_line_chart_draws_a_png_of_the_given_size(tmp_path):
    t = np.linspace(0.0, 2.0, 50)
    happy = 0.5 + 0.4 * np.sin(3 * t)
    happy[10:20] = np.nan  # a gap
    sad = np.full_like(t, 1.7)  # above ylim: drawn at the top edge
    sad[30] = np.nan
    out = line_chart(
        t, {"happy": happy, "sad": sad, "other": 0.5 * np.ones_like(t)}, tmp_path / "p" / "c.png", title="T"
    )
    assert out == tmp_path / "p" / "c.png"
    assert [p.name for p in out.parent.iterdir()] == ["c.png"]  # no temporary file left
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (900, 360)
        assert _has_colour(img, EMOTION_COLOURS["happy"]) and _has_colour(img, EMOTION_COLOURS["sad"])
        assert _has_colour(img, (31, 119, 180))  # a series without a colour of its own: the palette's
    with Image.open(line_chart([], {}, tmp_path / "empty.png", size=(300, 200))) as img:
        assert img.size == (300, 200)
    with pytest.raises(ValueError, match="3 values for 2 x values"):
        line_chart([0, 1], {"happy": [0, 1, 2]}, tmp_path / "bad.png")


def test_save_mel_png(tmp_path):
    mel = np.linspace(-4, 4, 80 * 20).reshape(80, 20)
    with Image.open(save_mel_png(mel, tmp_path / "m" / "mel.png")) as img:
        assert img.size == (20 * 3 // 2, 80 * 3)
