"""The work of one job (run in the job's own process by :class:`~.jobs.JobRunner`): translate, then measure.

:func:`run_job` writes into the job's folder the translated video (or photo), the side-by-side
(source | translated) and ``summary.json`` (the translation's summary, the judge's per-frame emotion
probabilities of source and result, and the realism checks), and returns that summary.

The steps live in modules of their own, re-exported here: :mod:`.translating` (:func:`call_translate`:
translate with the arguments this install's version takes), :mod:`.analysis` (:func:`analyse`,
:func:`measure_media`), :mod:`.verdicts` (:func:`realism_report`) and :mod:`.closeup`
(:func:`closeup_frame`, :func:`face_closeup`).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..errors import Wav2LipEmotionError
from ..media import is_image_path
from .analysis import JUDGE, SOURCE_SETUP, analyse, measure_media
from .closeup import closeup_frame, face_closeup
from .inputs import public_message, safe_stem
from .jobs import JobRequest, Reporter
from .translating import ProgressFn, call_translate, translate_capabilities
from .verdicts import IDENTITY_MAX, realism_report


def _side_by_side_image(source: Path, result: Path, out: Path) -> None:
    from ..media import read_image, write_image

    a, b = read_image(source), read_image(result)
    if a.shape != b.shape:
        return
    write_image(out, np.concatenate([a, b], axis=1))


def run_job(request: JobRequest, report: Reporter) -> dict[str, Any]:
    """Translate ``request.input`` into ``request.output_dir``, measure, write summary.json; the summary."""
    from ..media import probe_video

    src = Path(request.input)
    out_dir = Path(request.output_dir)
    name = request.display_name or src.name
    names = {str(src): name, str(out_dir) + "/": "", str(out_dir): "."}
    if request.checkpoint:
        names[str(request.checkpoint)] = Path(request.checkpoint).name
    image = is_image_path(src)
    stem = f"{safe_stem(name)}_{safe_stem(request.to, 'emotion')}"
    output = out_dir / (stem + (src.suffix.lower() if image else ".mp4"))
    side = out_dir / (stem + ("_side_by_side" + (".png" if image else ".mp4")))
    total = 1 if image else probe_video(src).frame_count
    report("loading the model", 0, None)
    started = time.perf_counter()
    try:
        result, notes = call_translate(
            src,
            output,
            to=request.to,
            engine=request.engine,
            checkpoint=Path(request.checkpoint) if request.checkpoint else None,
            intensity=request.intensity,
            source=request.source,
            glasses=request.glasses,
            side_by_side=None if image else side,
            on_progress=lambda done, of: report("translating", done, of if of else total),
        )
    except Wav2LipEmotionError as exc:
        raise type(exc)(public_message(str(exc), names)) from None
    if image and not side.exists():
        _side_by_side_image(src, output, side)
    seconds = {"translate": round(time.perf_counter() - started, 1)}
    summary: dict[str, Any] = {
        "input": name,
        "engine": request.engine,
        "checkpoint": Path(request.checkpoint).name if request.checkpoint else None,
        "to": request.to,
        "intensity": request.intensity,
        "kind": "image" if image else "video",
        "translation": result.to_json(),
        "describe": public_message(result.describe(), names, one_line=False),
        "notes": notes,
        "files": {"result": output.name, "side_by_side": side.name if side.exists() else None},
        "seconds": seconds,
    }
    if request.analyse:
        try:
            summary["analysis"] = analyse(src, output, request.to, report, total)
        except Wav2LipEmotionError as exc:
            summary["analysis"] = {"error": public_message(str(exc), names)}
        else:
            index = closeup_frame(summary["analysis"], request.to)
            closeup = out_dir / f"{stem}_closeup.png"
            with contextlib.suppress(Wav2LipEmotionError):
                if face_closeup(src, output, index, closeup):
                    summary["files"]["closeup"] = closeup.name
                    times = summary["analysis"].get("times") or []
                    summary["closeup"] = {"frame": index, "time": times[index] if index < len(times) else None}
        seconds["analysis"] = round(time.perf_counter() - started - seconds["translate"], 1)
    summary["files"]["summary"] = "summary.json"
    summary = _scrub(summary, names)
    report("writing the summary", 1, 1)
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def _scrub(value: Any, names: dict[str, str]) -> Any:
    """Server paths replaced by the names the person knows, everywhere in the summary."""
    if isinstance(value, str):
        return public_message(value, names, one_line=False) if "/" in value else value
    if isinstance(value, dict):
        return {k: _scrub(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, names) for v in value]
    return value


__all__ = [
    "IDENTITY_MAX",
    "JUDGE",
    "SOURCE_SETUP",
    "ProgressFn",
    "analyse",
    "call_translate",
    "closeup_frame",
    "face_closeup",
    "measure_media",
    "realism_report",
    "run_job",
    "translate_capabilities",
]
