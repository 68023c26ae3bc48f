"""The threads of the mesh engine's edit pass: frames decoded ahead on a thread of their own
(:func:`prefetched`), warped on a small pool (:func:`warped_ahead`) and their occluder masks worked out
in frame order on a thread of their own (:func:`occluded_ahead`), handed out in frame order."""

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

from .mesh_engine import MeshEngine, MeshPlan, Occlusion, ShotPlans, Warped

_T = TypeVar("_T")
_END = object()
#: threads that warp frames (several frames at once): one core fewer than the machine has, as the main
#: thread pastes while a thread decodes and one encodes (on 2 cores, a quiet machine: 54.6 frames/s
#: with one warp thread, 50.9 with two, which fight over the GIL); and how many frames each may have
#: waiting
WARP_THREADS = max(1, min(4, (os.cpu_count() or 1) - 1))
WARP_AHEAD = 2
#: frames whose occluder masks may be worked out ahead of the paste
OCCLUSION_AHEAD = 2


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


def occlusion_thread() -> ThreadPoolExecutor:
    """The one thread that :func:`occluded_ahead` works the occluder masks out on."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="mesh-occluders")


def occluded_ahead(
    warps: Iterable[tuple[Any, Warped | None]],
    engine: MeshEngine,
    landmarks: np.ndarray,
    piece: int,
    worker: ThreadPoolExecutor,
) -> Iterator[tuple[Any, Warped | None, Occlusion | None]]:
    """(frame, its warp, its :meth:`MeshEngine.occlusion`) in order, the occlusions worked out on
    ``worker`` (one thread: the masks follow the clip) up to ``OCCLUSION_AHEAD`` frames ahead of the one
    handed out, so that the paste does not wait for the hand and skin searches (the palm detector runs
    outside the GIL). At the start of every ``piece`` frames (0: never) the masks start afresh
    (:meth:`MeshEngine.restart_occluders`), in the masks' own order. Without occluder detection the
    occlusion is None (the paste has nothing to fade, and no mask carries over a piece's start)."""
    if engine.occluders is None:
        for frame, warped in warps:
            yield frame, warped, None
        return

    def occlusion(frame: Any, warped: Warped | None) -> Occlusion:
        i = frame.index
        if piece and i % piece == 0:
            engine.restart_occluders()  # each piece alike, whether resumed or not
        return engine.occlusion(frame.rgb, landmarks[i], i, warped)

    window: collections.deque[tuple[Any, Warped | None, Future[Occlusion]]] = collections.deque()
    try:
        for frame, warped in warps:
            window.append((frame, warped, worker.submit(occlusion, frame, warped)))
            if len(window) > OCCLUSION_AHEAD:
                done, warp, job = window.popleft()
                yield done, warp, job.result()
        while window:
            done, warp, job = window.popleft()
            yield done, warp, job.result()
    finally:
        for _, _, job in window:
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
