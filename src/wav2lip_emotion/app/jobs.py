"""A queue of translation jobs, run one at a time, each in a process of its own so it can be cancelled.

The web page only submits :class:`JobRequest` objects and polls :meth:`JobRunner.status`; nothing here
knows about Gradio, so it is tested without a browser (with a fake work function).

* One worker thread takes the queued jobs in order. Each job runs in a fresh *spawned* process (no
  fork: torch and the web server's threads do not survive a fork well), which is killed to cancel the
  job; a killed or crashed process never takes the server down.
* The next process is started ahead of time while the runner is idle, with the work function's module
  already imported (torch, the translation code), so a job starts without that delay.
* The process reports progress ``(stage, done, total)`` and ends with the work function's result (a
  JSON-able dict) or the one-line message of the :class:`~wav2lip_emotion.errors.Wav2LipEmotionError`
  it raised (what the command line prints).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import multiprocessing
import shutil
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..errors import Wav2LipEmotionError

#: the real work: translate, then measure (``module:function``, imported in the job's process)
DEFAULT_WORK = "wav2lip_emotion.app.worker:run_job"
#: a progress message at most this often (seconds); the first and the last always go
PROGRESS_INTERVAL = 0.1

#: report(stage, done, total): what a work function calls to say how far it is
Reporter = Callable[[str, int, "int | None"], None]


class AppError(Wav2LipEmotionError):
    """The web app cannot do what was asked: a full queue, an upload over a limit, an unknown choice."""


@dataclass(frozen=True)
class JobRequest:
    """One translation, as the page asks for it. Paths are the server's own (never sent by the browser)."""

    #: the video or photo to translate
    input: str
    #: a folder of this job's own; the outputs are written there
    output_dir: str
    #: destination emotion
    to: str
    #: "mesh" (no model) or "model" (a learned generator checkpoint)
    engine: str = "mesh"
    checkpoint: str | None = None
    #: a number 0..1.5 or a schedule over time ("0s:0,2s:1,5.5s:1,6s:0")
    intensity: float | str = 1.0
    source: str | None = None
    #: mesh engine: hold the eyes and brows under a glasses frame still (auto, on or off)
    glasses: str = "auto"
    #: the file's name as the person knows it (messages name it instead of the server's path)
    display_name: str = ""
    #: also measure the emotions per frame and the realism checks
    analyse: bool = True


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job."""

    id: str
    state: JobState
    #: what the job does now ("waiting", "starting", "translating", ...)
    stage: str = "waiting"
    done: int = 0
    total: int | None = None
    #: jobs ahead of this one in the queue (0 when running or finished)
    ahead: int = 0
    #: the one-line error of a failed job
    error: str | None = None
    #: what the work function returned (a finished job)
    result: dict[str, Any] | None = None
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def fraction(self) -> float | None:
        """done / total of the current stage, or None when its length is not known."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    @property
    def seconds(self) -> float | None:
        """Time from the start of the job's run to its end (or now)."""
        if self.started_at is None:
            return None
        return (self.finished_at or time.monotonic()) - self.started_at


@dataclass
class _Job:
    request: JobRequest
    owner: str
    status: JobStatus
    cancel: bool = False


def resolve_work(spec: str) -> Callable[[JobRequest, Reporter], dict[str, Any]]:
    """The function ``module:function`` names."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise AppError(f"job function must be given as module:function, got {spec!r}")
    fn = getattr(importlib.import_module(module_name), attr, None)
    if not callable(fn):
        raise AppError(f"{spec}: no such function")
    return fn


def _child_main(work: str, conn: Connection) -> None:  # pragma: no cover - runs in the job's process
    """The job's process: import the work function, say ready, run one request, send its outcome."""
    try:
        fn = resolve_work(work)
    except Exception as exc:
        conn.send(("error", f"cannot load the job function {work}: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    try:
        request = conn.recv()
    except (EOFError, OSError):
        return
    if request is None:
        return
    last = [0.0]

    def report(stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL or (total is not None and done >= total):
            last[0] = now
            conn.send(("progress", str(stage), int(done), None if total is None else int(total)))

    try:
        outcome: tuple[Any, ...] = ("done", fn(request, report))
    except Wav2LipEmotionError as exc:
        outcome = ("error", " ".join(str(exc).split("\n")))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        outcome = ("error", f"unexpected error ({type(exc).__name__}: {exc}); the server's log has the details")
    try:
        conn.send(outcome)
    except (OSError, ValueError):
        return


class _Child:
    """A spawned job process and the parent's end of its pipe."""

    def __init__(self, work: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_child_main, args=(work, child_conn), name="wav2lip-emotion-job", daemon=True)
        self.process.start()
        child_conn.close()

    def stop(self, grace: float = 2.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(grace)


class JobRunner:
    """Queue of :class:`JobRequest` run one at a time in child processes (see the module docstring).

    ``work``: ``module:function`` taking ``(request, report)`` and returning a JSON-able dict.
    ``max_queued``: jobs waiting at once (a full queue refuses new ones); ``max_per_owner``: jobs one
    session may have waiting or running; ``keep_finished``: finished jobs remembered for ``status``.
    ``prestart``: keep a process started ahead, with the work module imported.
    """

    def __init__(
        self,
        work: str = DEFAULT_WORK,
        *,
        max_queued: int = 16,
        max_per_owner: int = 2,
        keep_finished: int = 200,
        prestart: bool = True,
    ) -> None:
        self.work = work
        self.max_queued = max_queued
        self.max_per_owner = max_per_owner
        self.keep_finished = keep_finished
        self.prestart = prestart
        self._lock = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._queue: deque[str] = deque()
        self._finished: deque[str] = deque()
        self._ids = itertools.count(1)
        self._closed = False
        self._spare: _Child | None = None
        self._running: tuple[str, _Child] | None = None
        self._thread = threading.Thread(target=self._loop, name="wav2lip-emotion-jobs", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------ public

    def submit(self, request: JobRequest, owner: str = "") -> str:
        """Queue ``request``; returns the job's id. AppError when the queue (or the owner's share) is full."""
        with self._lock:
            if self._closed:
                raise AppError("the server is shutting down; no new jobs")
            mine = sum(1 for j in self._jobs.values() if j.owner == owner and not j.status.state.finished)
            if owner and mine >= self.max_per_owner:
                raise AppError(
                    f"this page already has {mine} job(s) queued or running; wait for one or cancel it first"
                )
            if len(self._queue) >= self.max_queued:
                raise AppError(f"the queue is full ({self.max_queued} jobs waiting); try again in a few minutes")
            job_id = f"job{next(self._ids)}"
            status = JobStatus(id=job_id, state=JobState.QUEUED, queued_at=time.monotonic())
            self._jobs[job_id] = _Job(request=request, owner=owner, status=status)
            self._queue.append(job_id)
            self._lock.notify_all()
            return job_id

    def status(self, job_id: str) -> JobStatus:
        """The job's state now (KeyError for an unknown or forgotten id)."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status.state is JobState.QUEUED:
                return replace(job.status, ahead=self._queue.index(job_id) + (1 if self._running else 0))
            return job.status

    def request(self, job_id: str) -> JobRequest:
        """What the job was asked to do (KeyError for an unknown or forgotten id)."""
        with self._lock:
            return self._jobs[job_id].request

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its process is killed, its folder removed). False when the
        job had already finished (or is unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status.state.finished:
                return False
            job.cancel = True
            if job.status.state is JobState.QUEUED:
                self._queue.remove(job_id)
                self._finish(job_id, JobState.CANCELLED, stage="cancelled")
            self._lock.notify_all()
        running = self._running
        if running is not None and running[0] == job_id:
            running[1].stop()
        return True

    def cancel_owner(self, owner: str) -> int:
        """Cancel every unfinished job of ``owner`` (a page that was closed); returns how many."""
        with self._lock:
            ids = [i for i, j in self._jobs.items() if j.owner == owner and not j.status.state.finished]
        return sum(self.cancel(i) for i in ids)

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Block until the job has finished (or ``timeout`` seconds passed); its status then."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not self._jobs[job_id].status.state.finished:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._lock.wait(left)
        return self.status(job_id)

    def close(self) -> None:
        """Cancel everything, stop the processes and the worker thread."""
        with self._lock:
            self._closed = True
            ids = list(self._queue)
            running = self._running
            self._lock.notify_all()
        for job_id in ids:
            self.cancel(job_id)
        if running is not None:
            self.cancel(running[0])
        self._thread.join(10)
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.stop()

    def __enter__(self) -> JobRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ worker

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs[job_id]
            job.status = replace(job.status, **changes)
            self._lock.notify_all()

    def _finish(self, job_id: str, state: JobState, **changes: Any) -> None:
        """Mark a job finished (lock held by the caller or taken here)."""
        with self._lock:
            job = self._jobs[job_id]
            job.status = replace(job.status, state=state, finished_at=time.monotonic(), **changes)
            if state is JobState.CANCELLED:
                shutil.rmtree(job.request.output_dir, ignore_errors=True)
            self._finished.append(job_id)
            while len(self._finished) > self.keep_finished:
                self._jobs.pop(self._finished.popleft(), None)
            self._lock.notify_all()

    def _next_job(self) -> str | None:
        with self._lock:
            while not self._queue and not self._closed:
                if self.prestart and self._spare is None:
                    break  # start a spare process outside the lock, then wait again
                self._lock.wait()
            if self._closed:
                return None
            if not self._queue:
                return ""
            job_id = self._queue.popleft()
            self._update(job_id, state=JobState.RUNNING, stage="starting", started_at=time.monotonic())
            return job_id

    def _loop(self) -> None:
        while True:
            job_id = self._next_job()
            if job_id is None:
                return
            if job_id == "":
                self._spare = _Child(self.work)
                continue
            child, self._spare = self._spare or _Child(self.work), None
            with self._lock:
                if self._jobs[job_id].cancel:  # cancelled between leaving the queue and here
                    self._spare = child
                    self._finish(job_id, JobState.CANCELLED, stage="cancelled")
                    continue
                self._running = (job_id, child)
            try:
                self._run(job_id, child)
            except Exception as exc:  # the runner itself must keep going
                traceback.print_exc(file=sys.stderr)
                with self._lock:
                    if not self._jobs[job_id].status.state.finished:
                        self._finish(job_id, JobState.FAILED, stage="failed", error=f"job runner error: {exc}")
            finally:
                with self._lock:
                    self._running = None
                child.stop()

    def _run(self, job_id: str, child: _Child) -> None:
        job = self._jobs[job_id]
        sent = False
        while True:
            if job.cancel:
                child.stop()
                self._finish(job_id, JobState.CANCELLED, stage="cancelled")
                return
            try:
                ready = child.conn.poll(0.1)
                message = child.conn.recv() if ready else None
            except (EOFError, OSError):
                message = ("died",)
            if message is None:
                if not child.process.is_alive() and not child.conn.poll(0):
                    message = ("died",)
                else:
                    continue
            kind = message[0]
            if kind == "ready":
                child.conn.send(job.request)
                sent = True
            elif kind == "progress":
                _, stage, done, total = message
                self._update(job_id, stage=stage, done=done, total=total)
            elif kind == "done":
                self._finish(job_id, JobState.DONE, stage="done", result=message[1])
                return
            elif kind == "error":
                self._finish(job_id, JobState.FAILED, stage="failed", error=str(message[1]))
                return
            else:  # died
                if job.cancel:
                    continue
                child.process.join(1)
                code = child.process.exitcode
                what = "before it started" if not sent else "while running"
                self._finish(
                    job_id,
                    JobState.FAILED,
                    stage="failed",
                    error=f"the job's process ended unexpectedly {what} (exit code {code})",
                )
                return


def job_folder(root: Path, job_hint: str) -> Path:
    """A new folder for one job's outputs under ``root`` (created)."""
    import tempfile

    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{job_hint}-", dir=root))


__all__ = [
    "DEFAULT_WORK",
    "AppError",
    "JobRequest",
    "JobRunner",
    "JobState",
    "JobStatus",
    "Reporter",
    "job_folder",
    "resolve_work",
]
