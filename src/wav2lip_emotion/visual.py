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


# One colour per emotion of the vocabulary (same everywhere: plots, reports).
EMOTION_COLOURS = {
    "angry": (214, 39, 40),
    "contempt": (140, 86, 75),
    "disgusted": (44, 160, 44),
    "fear": (148, 103, 189),
    "happy": (255, 165, 0),
    "neutral": (127, 127, 127),
    "sad": (31, 119, 180),
    "surprised": (23, 190, 207),
}


def line_chart(
    x: np.ndarray,
    series: dict[str, np.ndarray],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    ylim: tuple[float, float] = (0.0, 1.0),
    colours: dict[str, tuple[int, int, int]] | None = None,
    size: tuple[int, int] = (900, 360),
) -> Path:
    """Draw lines (NaN = gap) over a shared x axis with a legend, as a PNG (Pillow only)."""
    from PIL import Image, ImageDraw, ImageFont

    colours = colours or EMOTION_COLOURS
    w, h = size
    left, right, top, bottom = 56, 130, 34, 40
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    x = np.asarray(x, dtype=float)
    x0, x1 = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
    if x1 <= x0:
        x1 = x0 + 1.0
    y0, y1 = ylim

    def px(xv: float, yv: float) -> tuple[float, float]:
        return (
            left + (xv - x0) / (x1 - x0) * (w - left - right),
            h - bottom - (yv - y0) / (y1 - y0) * (h - top - bottom),
        )

    # grid and axes
    for i in range(6):
        yv = y0 + (y1 - y0) * i / 5
        _, yy = px(x0, yv)
        d.line([(left, yy), (w - right, yy)], fill=(230, 230, 230))
        d.text((left - 36, yy - 6), f"{yv:.1f}", fill="black", font=font)
    for i in range(6):
        xv = x0 + (x1 - x0) * i / 5
        xx, _ = px(xv, y0)
        d.line([(xx, top), (xx, h - bottom)], fill=(240, 240, 240))
        d.text((xx - 10, h - bottom + 6), f"{xv:.1f}", fill="black", font=font)
    d.rectangle([left, top, w - right, h - bottom], outline="black")
    d.text((left, 10), title, fill="black", font=font)
    d.text(((w - right + left) / 2 - 20, h - 16), xlabel, fill="black", font=font)
    d.text((6, top - 20), ylabel, fill="black", font=font)
    palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
    for k, (name, ys) in enumerate(series.items()):
        colour = colours.get(name, palette[k % len(palette)])
        ys = np.asarray(ys, dtype=float)
        run: list[tuple[float, float]] = []
        for xv, yv in zip(x, ys, strict=True):
            if np.isfinite(yv):
                run.append(px(float(xv), float(np.clip(yv, y0, y1))))
            elif run:
                d.line(run, fill=colour, width=2) if len(run) > 1 else d.point(run, fill=colour)
                run = []
        if len(run) > 1:
            d.line(run, fill=colour, width=2)
        elif run:
            d.point(run, fill=colour)
        ly = top + 6 + 16 * k
        d.line([(w - right + 10, ly + 6), (w - right + 30, ly + 6)], fill=colour, width=3)
        d.text((w - right + 36, ly), name, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
