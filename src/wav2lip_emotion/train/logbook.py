"""Where a run writes what happened: a JSONL log, TensorBoard events and sample-grid images."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..atomic import atomic_path

log = logging.getLogger(__name__)

GRID_COLUMNS = ("reference", "pose prior", "generated", "target")


class RunLog:
    """``log.jsonl``: one JSON object per line, ``{"step", "split", "time", <metrics>}``.

    On resume the lines after the resumed step are dropped (they belonged to work that was lost with
    the crash), so the log reads as one uninterrupted run.
    """

    def __init__(self, path: Path, *, resume_step: int | None = None, tensorboard: Path | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            path.unlink(missing_ok=True)
        elif path.exists():
            kept = [line for line in path.read_text().splitlines() if _step_of(line) <= resume_step]
            with atomic_path(path) as tmp:
                tmp.write_text("".join(line + "\n" for line in kept))
        self._file = path.open("a", encoding="utf-8")
        self._tb: Any = None
        if tensorboard is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning(
                    "TensorBoard logging is off: the 'tensorboard' package is not installed "
                    "(pip install tensorboard, or set runtime.tensorboard = false)"
                )
            else:
                self._tb = SummaryWriter(str(tensorboard), purge_step=resume_step + 1 if resume_step else None)

    def write(self, step: int, split: str, metrics: dict[str, float], **extra: Any) -> None:
        clean = {
            k: (float(v) if isinstance(v, int | float) and math.isfinite(float(v)) else str(v))
            for k, v in metrics.items()
        }
        line = {"step": step, "split": split, **extra, **clean}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float):
                    self._tb.add_scalar(f"{split}/{k}", v, step)

    def image(self, tag: str, path: Path, step: int) -> None:
        if self._tb is not None:
            arr = np.asarray(Image.open(path).convert("RGB"))
            self._tb.add_image(tag, arr, step, dataformats="HWC")

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62  # a torn last line from a crash: dropped


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a ``log.jsonl`` (a torn last line is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _to_uint8(frame: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [0, 1] -> uint8 [H, W, 3]."""
    return (frame.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def sample_grid(
    reference: torch.Tensor,
    prior: torch.Tensor,
    generated: torch.Tensor,
    target: torch.Tensor,
    path: Path,
    *,
    rows: int = 4,
    scale: int = 2,
    labels: list[str] | None = None,
) -> Path:
    """A PNG of rows = windows, columns = reference | pose prior | generated | target (middle frame).

    Inputs are [B, 3, T, H, W] in [0, 1]. ``labels`` (one per row) are written in the left margin.
    """
    b, _, t, h, w = generated.shape
    n = min(rows, b)
    mid = t // 2
    pad, header, margin = 4, 16, 110 if labels else 0
    cell_w, cell_h = w * scale, h * scale
    canvas = Image.new("RGB", (margin + 4 * (cell_w + pad) + pad, header + n * (cell_h + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(GRID_COLUMNS):
        draw.text((margin + pad + c * (cell_w + pad), 2), name, fill=(230, 230, 230))
    for r in range(n):
        for c, src in enumerate((reference, prior, generated, target)):
            img = Image.fromarray(_to_uint8(src[r, :, mid])).resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(img, (margin + pad + c * (cell_w + pad), header + pad + r * (cell_h + pad)))
        if labels:
            draw.text((4, header + pad + r * (cell_h + pad) + cell_h // 2 - 6), labels[r], fill=(230, 230, 230))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


__all__ = ["GRID_COLUMNS", "RunLog", "read_log", "sample_grid"]
