"""Small picture helpers (Pillow only): mel spectrograms and image grids as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A perceptually ordered dark-blue -> yellow ramp (5 anchors, linearly interpolated).
_RAMP = np.array([[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]], dtype=np.float64)


def colourise(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map a 2-D array to uint8 RGB with the ramp above."""
    t = np.clip((values - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(t).astype(int).clip(0, len(_RAMP) - 2)
    frac = (t - lo)[..., None]
    rgb = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    return rgb.astype(np.uint8)


def save_mel_png(mel: np.ndarray, path: str | Path, scale: int = 3) -> Path:
    """Save a [80, steps] mel spectrogram as a PNG (low frequencies at the bottom)."""
    from PIL import Image

    rgb = colourise(mel[::-1], -4.0, 4.0)
    img = Image.fromarray(rgb).resize((rgb.shape[1] * scale // 2 or 1, rgb.shape[0] * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
