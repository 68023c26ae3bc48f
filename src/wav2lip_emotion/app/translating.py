"""Calling translate from the web app: :func:`call_translate` runs :func:`wav2lip_emotion.translate` with
the arguments this install's version takes (the ``engine`` setting, intensity schedules and the
``on_progress`` callback are used when present; without ``on_progress`` the progress is read from
translate's progress bar).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .jobs import AppError

ProgressFn = Callable[[int, "int | None"], None]


def translate_capabilities() -> set[str]:
    """Which of the newer translate settings this install has: engine, on_progress, schedule, glasses."""
    from ..translation import TranslateConfig, translate

    names = {f.name for f in dataclasses.fields(TranslateConfig)} | set(inspect.signature(translate).parameters)
    caps = {n for n in ("engine", "on_progress", "glasses") if n in names}
    if "engine" in caps:  # the same change brought intensity schedules
        caps.add("schedule")
    return caps


@contextlib.contextmanager
def _tqdm_progress(on_progress: ProgressFn) -> Iterator[None]:
    """Route translate's tqdm bar to ``on_progress`` (for a translate without ``on_progress``)."""
    import tqdm

    class _Bar:
        def __init__(self, *args: Any, total: int | None = None, **kwargs: Any) -> None:
            self.total = total
            self.n = 0
            on_progress(0, total)

        def update(self, n: int = 1) -> None:
            self.n += int(n)
            on_progress(self.n, self.total)

        def close(self) -> None:
            pass

        def set_postfix(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    saved = tqdm.tqdm
    tqdm.tqdm = _Bar  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        tqdm.tqdm = saved  # type: ignore[misc]


def call_translate(
    input: Path,
    output: Path,
    *,
    to: str,
    engine: str,
    checkpoint: Path | None,
    intensity: float | str,
    source: str | None,
    side_by_side: Path | None,
    on_progress: ProgressFn,
    glasses: str = "auto",
) -> tuple[Any, list[str]]:
    """Run translate with what this install supports; returns (TranslateResult, notes for the page)."""
    from ..translation import translate

    caps = translate_capabilities()
    notes: list[str] = []
    kwargs: dict[str, Any] = {"source": source}
    if side_by_side is not None:
        kwargs["side_by_side"] = side_by_side
    if "engine" in caps:
        kwargs["engine"] = engine
        if engine == "model":
            kwargs["checkpoint"] = checkpoint
    elif engine == "mesh":
        raise AppError("the mesh engine is not in this install of wav2lip-emotion yet; choose a learned model")
    else:
        kwargs["checkpoint"] = checkpoint
    if isinstance(intensity, str) and "schedule" not in caps:
        raise AppError("intensity schedules are not in this install of wav2lip-emotion yet; leave the schedule empty")
    if not isinstance(intensity, str) and "schedule" not in caps and intensity > 1.0:
        notes.append(f"intensity {intensity:g} used as 1: this install's translate stops at full strength")
        intensity = 1.0
    kwargs["intensity"] = intensity
    if engine == "mesh" and "glasses" in caps:
        kwargs["glasses"] = glasses
    elif engine == "mesh" and glasses == "on":
        notes.append("glasses left to the engine: this install's translate cannot hold a frame still")
    if "on_progress" in caps:
        return translate(input, output, to, progress=False, on_progress=on_progress, **kwargs), notes
    with _tqdm_progress(on_progress):
        return translate(input, output, to, progress=True, **kwargs), notes
