"""The web app's logic without the web page: sessions and their folders, inputs, jobs, what to show.

:class:`AppService` is what the Gradio page (:mod:`.ui`) calls; it is tested without a browser.

Folders: everything lives under one root (a new temporary folder unless ``--workdir`` is given), which is
also the web server's upload folder: ``ROOT/<hash>/<name>`` for what the browser uploads,
``ROOT/sessions/<id>/`` for each open page (its input and its jobs' outputs). A page's folder is removed
when the page is closed (its jobs are cancelled), and the root when the server stops.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Wav2LipEmotionError
from .inputs import (
    EMOTION_CHOICES,
    SAMPLES,
    CheckedInput,
    EngineCatalogue,
    Limits,
    check_media,
    inside,
    public_message,
    safe_stem,
    sample_path,
)
from .jobs import DEFAULT_WORK, AppError, JobRequest, JobRunner, JobState, JobStatus, job_folder

#: share of the progress bar each stage of a job takes (start, end)
STAGES: dict[str, tuple[float, float]] = {
    "waiting": (0.0, 0.0),
    "starting": (0.0, 0.02),
    "loading the model": (0.02, 0.05),
    "translating": (0.05, 0.7),
    "loading the emotion judge": (0.7, 0.72),
    "measuring the source": (0.72, 0.86),
    "measuring the result": (0.86, 0.99),
    "writing the summary": (0.99, 1.0),
}


@dataclass(frozen=True)
class AppOptions:
    """``wav2lip-emotion app`` settings."""

    host: str = "127.0.0.1"
    port: int = 7860
    #: a folder whose .safetensors files (any depth) are offered as engines
    checkpoints: Path | None = None
    limits: Limits = field(default_factory=Limits)
    #: where the app's temporary root is made (None: the system's temporary folder)
    workdir: Path | None = None
    #: the job function (``module:function``); tests put a fake here
    work: str = DEFAULT_WORK
    #: measure emotions and realism after each translation
    analyse: bool = True
    #: offer the mesh engine (None: when this install's translate has it)
    mesh: bool | None = None
    #: jobs that may wait at once
    max_queued: int = 16


@dataclass
class Session:
    """One open page."""

    id: str
    folder: Path
    input: CheckedInput | None = None
    job: str | None = None


@dataclass(frozen=True)
class Progress:
    """What the page shows of a running job."""

    fraction: float | None
    text: str
    finished: bool


class AppService:
    """Sessions, inputs and jobs of the web app (see the module docstring)."""

    def __init__(self, options: AppOptions, runner: JobRunner | None = None) -> None:
        self.options = options
        base = options.workdir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="wav2lip-emotion-app-", dir=base)).resolve()
        self.sessions_root = self.root / "sessions"
        self.sessions_root.mkdir()
        self.engines = EngineCatalogue(options.checkpoints, mesh=options.mesh)
        if not self.engines.labels:
            raise AppError("no engine to offer: this install has neither the mesh engine nor a shipped model")
        self.runner = runner or JobRunner(options.work, max_queued=options.max_queued)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ sessions

    def session(self, key: str) -> Session:
        """The session of a page (made on first use)."""
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                folder = self.sessions_root / secrets.token_hex(8)
                folder.mkdir()
                s = self._sessions[key] = Session(id=key, folder=folder)
            return s

    def end_session(self, key: str) -> None:
        """A page was closed: cancel its jobs, remove its folder."""
        with self._lock:
            s = self._sessions.pop(key, None)
        if s is None:
            return
        self.runner.cancel_owner(key)
        shutil.rmtree(s.folder, ignore_errors=True)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        """Stop the jobs and remove every file of the app."""
        self.runner.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------------------ inputs

    def _take(self, session: Session, src: Path, name: str, move: bool) -> Path:
        """Put ``src`` into the session's input folder as ``name`` (a link where possible)."""
        folder = session.folder / "input"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        dest = folder / (safe_stem(name) + Path(name).suffix.lower())
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
        if move:
            with contextlib.suppress(OSError):
                src.unlink()
                if not any(src.parent.iterdir()):
                    src.parent.rmdir()
        return dest

    def set_upload(self, key: str, uploaded: str | Path | None) -> CheckedInput:
        """Take a file the web server stored from an upload (it must be in the app's root)."""
        if not uploaded:
            raise AppError("no file was uploaded")
        path = Path(uploaded)
        name = path.name
        if not inside(path, [self.root]) or inside(path, [self.sessions_root]):
            raise AppError(f"{name}: not a file uploaded to this server")
        session = self.session(key)
        session.input = None
        checked = check_media(path, name, self.options.limits)
        local = self._take(session, path, name, move=True)
        session.input = CheckedInput(**{**checked.__dict__, "path": local})
        return session.input

    def clear_input(self, key: str) -> None:
        """The page's upload was removed: forget the input (its file goes with the next one or the session)."""
        session = self.session(key)
        session.input = None
        shutil.rmtree(session.folder / "input", ignore_errors=True)

    def set_sample(self, key: str, sample: str) -> CheckedInput:
        """Take a bundled sample by its name."""
        if sample not in SAMPLES:
            raise AppError(f"{sample!r}: not one of the samples ({', '.join(SAMPLES)})")
        session = self.session(key)
        session.input = None
        path = sample_path(sample)
        checked = check_media(path, path.name, self.options.limits, check_size=False)
        local = self._take(session, path, path.name, move=False)
        session.input = CheckedInput(**{**checked.__dict__, "path": local})
        return session.input

    # ------------------------------------------------------------------------------ jobs

    def submit(
        self,
        key: str,
        *,
        engine: str,
        to: str,
        intensity: float = 1.0,
        schedule: str = "",
        source: str | None = None,
        glasses: str = "auto",
    ) -> str:
        """Queue a translation of the session's input; the job id."""
        from ..emotions import parse_emotion

        session = self.session(key)
        if session.input is None:
            raise AppError("upload a video or photo, or pick a sample, first")
        if not session.input.path.is_file():
            raise AppError(f"{session.input.name}: the file is gone; upload it again")
        if to not in EMOTION_CHOICES:
            raise AppError(f"{to!r}: not one of the emotions ({', '.join(EMOTION_CHOICES)})")
        parse_emotion(to)
        kind, checkpoint = self.engines.resolve(engine)
        from ..faces.glasses import GLASSES_MODES

        if glasses not in GLASSES_MODES:
            raise AppError(f"glasses must be one of {', '.join(GLASSES_MODES)}, got {glasses!r}")
        try:
            value: float | str = float(intensity)
        except (TypeError, ValueError):
            raise AppError(f"intensity must be a number in 0..1.5, got {intensity!r}") from None
        if not (math.isfinite(value) and 0.0 <= value <= 1.5):
            raise AppError(f"intensity must be a number in 0..1.5, got {intensity!r}")
        schedule = " ".join((schedule or "").split())
        if schedule:
            if len(schedule) > 500:
                raise AppError("the schedule is too long (500 characters at most)")
            value = schedule
        if session.job is not None:
            with contextlib.suppress(KeyError):
                if not self.runner.status(session.job).state.finished:
                    raise AppError("a job of this page is still queued or running; wait for it or cancel it")
        out = job_folder(session.folder / "jobs", "job")
        request = JobRequest(
            input=str(session.input.path),
            output_dir=str(out),
            to=to,
            engine=kind,
            checkpoint=str(checkpoint) if checkpoint else None,
            intensity=value,
            source=source or None,
            glasses=glasses,
            display_name=session.input.name,
            analyse=self.options.analyse,
        )
        try:
            job_id = self.runner.submit(request, owner=key)
        except AppError:
            shutil.rmtree(out, ignore_errors=True)
            raise
        session.job = job_id
        return job_id

    def cancel(self, key: str) -> bool:
        session = self.session(key)
        return session.job is not None and self.runner.cancel(session.job)

    def status(self, job_id: str) -> JobStatus:
        return self.runner.status(job_id)

    def job_files(self, job_id: str) -> dict[str, Path]:
        """The finished job's files (result, side_by_side, summary) that exist, by role."""
        try:
            summary = self.runner.status(job_id).result or {}
            folder = Path(self.runner.request(job_id).output_dir)
        except KeyError:
            return {}
        out: dict[str, Path] = {}
        for role, name in (summary.get("files") or {}).items():
            if not name:
                continue
            path = folder / Path(str(name)).name
            if path.is_file() and inside(path, [self.sessions_root]):
                out[role] = path
        return out

    def watch(self, job_id: str, interval: float = 0.25) -> Iterator[JobStatus]:
        """The job's status every ``interval`` seconds until it has finished (the last one included)."""
        import time

        while True:
            st = self.runner.status(job_id)
            yield st
            if st.state.finished:
                return
            time.sleep(interval)


# ------------------------------------------------------------------------------ what the page shows


def progress_of(st: JobStatus) -> Progress:
    """The bar and the line the page shows for a job."""
    if st.state is JobState.QUEUED:
        ahead = "" if not st.ahead else f" ({st.ahead} job{'s' if st.ahead > 1 else ''} ahead)"
        return Progress(0.0, f"Waiting in the queue{ahead}...", False)
    if st.state is JobState.RUNNING:
        lo, hi = STAGES.get(st.stage, (0.0, 0.0))
        part = st.fraction
        fraction = lo + (hi - lo) * (part if part is not None else 0.0)
        count = f" {100 * part:.0f}%" if part is not None and st.stage != "writing the summary" else ""
        return Progress(fraction, f"{st.stage.capitalize()}...{count}", False)
    if st.state is JobState.DONE:
        took = f" in {st.seconds:.1f} s" if st.seconds is not None else ""
        return Progress(1.0, f"Done{took}.", True)
    if st.state is JobState.CANCELLED:
        return Progress(None, "Cancelled.", True)
    return Progress(None, error_line(st.error or "the job failed"), True)


def error_line(message: str) -> str:
    """How the page shows an error: the command line's ``wav2lip-emotion: error: ...`` line, without the
    program name."""
    return "Error: " + " ".join(str(message).split("\n"))


def error_of(exc: BaseException, names: dict[str, str] | None = None) -> str:
    """The page's line for an exception (the CLI's one-line message for the package's errors)."""
    if isinstance(exc, Wav2LipEmotionError):
        return error_line(public_message(str(exc), names or {}))
    return error_line(f"unexpected error ({type(exc).__name__}); the server's log has the details")


def emotion_rows(summary: dict[str, Any], to: str, top: int = 2) -> list[dict[str, Any]]:
    """Rows (time, probability, series) for the per-frame plot: the judge's probability of the destination
    emotion and of the source's strongest other emotions, for source and result."""
    analysis = summary.get("analysis") or {}
    classes: list[str] = analysis.get("classes") or []
    times: list[float] = analysis.get("times") or []
    if not classes or "source" not in analysis:
        return []
    src_mean = analysis["source"].get("mean") or {}
    shown = [to] if to in classes else []
    for name, _ in sorted(((c, v or 0.0) for c, v in src_mean.items()), key=lambda kv: -kv[1]):
        if name not in shown and len(shown) < 1 + top:
            shown.append(name)
    rows: list[dict[str, Any]] = []
    for which in ("source", "result"):
        probs = analysis[which].get("probs") or []
        for i, row in enumerate(probs):
            t = times[i] if i < len(times) else float(i)
            for name in shown:
                v = row[classes.index(name)]
                if v is not None:
                    rows.append({"time (s)": t, "probability": v, "series": f"{which}: {name}"})
    return rows


#: plot colours per emotion: (name, result's, source's)
PLOT_COLOURS = (("green", "#1b7a2f", "#9fd8a8"), ("orange", "#d35400", "#f8c291"), ("blue", "#1f5fa8", "#9ec5f0"))


def plot_style(rows: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
    """(colour of each series, a caption saying which is which) for :func:`emotion_rows`' rows: one colour
    per emotion, dark for the result and light for the source."""
    emotions: list[str] = []
    for row in rows:
        name = str(row["series"]).split(": ", 1)[-1]
        if name not in emotions:
            emotions.append(name)
    colours: dict[str, str] = {}
    words = []
    for name, (word, dark, light) in zip(emotions, PLOT_COLOURS, strict=False):
        colours[f"result: {name}"], colours[f"source: {name}"] = dark, light
        words.append(f"{word} p({name})")
    caption = ("; ".join(words) + ". Dark: result, light: source.") if words else ""
    return colours, caption


def realism_markdown(summary: dict[str, Any]) -> str:
    """The realism verdict and checks as Markdown."""
    analysis = summary.get("analysis") or {}
    if "error" in analysis:
        return f"**Realism:** not measured ({analysis['error']})"
    realism = analysis.get("realism")
    if not realism:
        return "**Realism:** not measured"
    lines = [f"**Realism** ({realism.get('source', '')}): {realism.get('verdict', '')}", ""]
    checks = realism.get("checks") or (realism.get("measured") or {}).get("checks") or []
    if checks:
        lines += ["| check | value | wanted | |", "|---|---|---|---|"]
        for c in checks:
            mark = {True: "pass", False: "FAIL", None: "n/a"}.get(c.get("passed"), str(c.get("passed")))
            value = "n/a" if c.get("value") is None else f"{c['value']:.3f}"
            lines.append(f"| {c.get('name', '')} | {value} | {c.get('limit', '')} | {mark} |")
    gain = analysis.get("destination_gain")
    to = summary.get("to", "")
    src = (analysis.get("source", {}).get("mean") or {}).get(to)
    res = (analysis.get("result", {}).get("mean") or {}).get(to)
    if gain is not None and src is not None and res is not None:
        judge = analysis.get("judge")
        lines += [
            "",
            f"Judge ({judge}) mean p({to}) over the frames: source {src:.2f} -> result {res:.2f} ({gain:+.2f})",
        ]
    notes = summary.get("notes") or []
    lines += [f"Note: {n}" for n in notes]
    return "\n".join(lines)
