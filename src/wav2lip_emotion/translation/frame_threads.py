"""The threads of the mesh engine's edit pass: frames decoded ahead on a thread of their own
(:func:`prefetched`) and warped on a small pool (:func:`warped_ahead`), handed out in frame order."""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .mesh_engine import MeshEngine, MeshPlan, ShotPlans, Warped

_T = TypeVar("_T")
_END = object()
#: threads that warp frames (several frames at once): one core fewer than the machine has, as the main
#: thread pastes while a thread decodes and one encodes (on 2 cores, a quiet machine: 54.6 frames/s
#: with one warp thread, 50.9 with two, which fight over the GIL); and how many frames each may have
#: waiting
WARP_THREADS = max(1, min(4, (os.cpu_count() or 1) - 1))
WARP_AHEAD = 2


def warp_pool() -> ThreadPoolExecutor:
    """The pool of ``WARP_THREADS`` threads that :func:`warped_ahead` warps on."""
    return ThreadPoolExecutor(max_workers=WARP_THREADS, thread_name_prefix="mesh-warp")


def warped_ahead(
    frames: Iterable[Any],
    engine: MeshEngine,
    plan: MeshPlan | ShotPlans,
    landmarks: np.ndarray,
    valid: np.ndarray,
    workers: ThreadPoolExecutor,
    count: int,
) -> Iterator[tuple[Any, Warped | None]]:
    """(frame, its :meth:`MeshEngine.warp`) for the first ``count`` of ``frames``, in order, warped on
    ``workers`` up to ``WARP_AHEAD`` frames per thread ahead of the one handed out."""
    window: collections.deque[tuple[Any, Future[Warped | None] | None]] = collections.deque()
    depth = WARP_AHEAD * WARP_THREADS
    try:
        for frame in frames:
            i = frame.index
            if i >= count:
                break
            job = workers.submit(engine.warp, frame.rgb, landmarks[i], plan, i) if valid[i] else None
            window.append((frame, job))
            if len(window) > depth:
                done, job = window.popleft()
                yield done, job.result() if job is not None else None
        while window:
            done, job = window.popleft()
            yield done, job.result() if job is not None else None
    finally:
        for _, job in window:
            if job is not None:
                job.cancel()


@contextlib.contextmanager
def prefetched(items: Iterable[_T], depth: int = 2) -> Iterator[Iterator[_T]]:
    """``items`` (e.g. a VideoReader's frames) produced on a background thread, up to ``depth`` ahead,
    and handed out in order; an error while producing is raised where the item would have come. On
    leaving the block the thread is stopped (whatever it had produced is dropped) and joined, so the
    source may be closed right after."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    def consume() -> Iterator[_T]:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=produce, name="mesh-decode", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        thread.join()
