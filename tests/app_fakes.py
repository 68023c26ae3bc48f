"""Fake job functions for the web app's job runner tests (imported by the spawned job processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from wav2lip_emotion.app.jobs import JobRequest, Reporter
from wav2lip_emotion.errors import MediaError


def work_ok(request: JobRequest, report: Reporter) -> dict[str, Any]:
    for i in range(6):
        report("translating", i, 5)
    out = Path(request.output_dir) / "result.mp4"
    out.write_bytes(b"fake video")
    (Path(request.output_dir) / "summary.json").write_text("{}")
    return {
        "to": request.to,
        "engine": request.engine,
        "intensity": request.intensity,
        "glasses": request.glasses,
        "kind": "video",
        "files": {"result": out.name, "summary": "summary.json", "side_by_side": None},
    }


def work_error(request: JobRequest, report: Reporter) -> dict[str, Any]:
    raise MediaError(f"{request.input}: not a media file PyAV can read, or corrupt")


def work_unexpected(request: JobRequest, report: Reporter) -> dict[str, Any]:
    raise RuntimeError("boom")


def work_crash(request: JobRequest, report: Reporter) -> dict[str, Any]:
    os._exit(3)


def work_slow(request: JobRequest, report: Reporter) -> dict[str, Any]:
    (Path(request.output_dir) / "started").write_text(str(os.getpid()))
    for i in range(400):
        report("translating", i, 400)
        time.sleep(0.05)
    return {"files": {}}
