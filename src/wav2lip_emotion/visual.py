"""Small picture helpers: mel spectrograms as PNG images (numpy + Pillow) and line charts (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    """Draw lines (NaN = gap) over a shared x axis with a legend, as a PNG of ``size`` pixels (matplotlib, Agg).

    Values outside ``ylim`` are drawn at its edge; a finite value between two gaps is drawn as a dot.
    ``colours`` (0-255 RGB per series name, default :data:`EMOTION_COLOURS`); other series take
    matplotlib's first six default colours in turn. Written atomically, its folder made if needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours = colours or EMOTION_COLOURS
    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x = np.asarray(x, dtype=float)
    x0, x1 = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
    y0, y1 = ylim
    for k, (name, ys) in enumerate(series.items()):
        rgb = colours.get(name)
        colour = tuple(c / 255 for c in rgb) if rgb is not None else f"C{k % 6}"
        ys = np.clip(np.asarray(ys, dtype=float), y0, y1)
        if ys.shape != x.shape:
            raise ValueError(f"series {name!r} has {ys.size} values for {x.size} x values")
        ax.plot(x, ys, color=colour, linewidth=1.8, label=name)
        finite = np.isfinite(ys)
        alone = finite & ~np.r_[False, finite[:-1]] & ~np.r_[finite[1:], False]
        if alone.any():
            ax.plot(x[alone], ys[alone], color=colour, linestyle="none", marker=".")
    ax.set_xlim(x0, x1 if x1 > x0 else x0 + 1.0)
    ax.set_ylim(y0, y1)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    path = Path(path)
    save_figure(fig, path)
    return path


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib Figure as a PNG, atomically (its folder made if needed)."""
    from .atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp.png") as tmp:
        fig.savefig(tmp, format="png")
    return path
