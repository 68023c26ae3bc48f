"""The threads of a translation, the bounded queues between them, and how their errors reach the caller.

A :class:`Conveyor` runs three stages at once so that memory does not grow with the video's length:

1. a **faces** thread: the next decoded frame -> ``prepare(frame)`` -> the frames queue;
2. the **calling** thread: :meth:`Conveyor.batches` hands it batches of prepared frames (the generator
   runs there), :meth:`Conveyor.send` passes each batch on;
3. an **encode** thread: ``deliver(work)`` for every frame of a batch (paste back + encode), then
   ``delivered(len(batch))``.

Every thread is started, stopped and joined here, and an exception on either worker thread stops the
whole conveyor and is raised again on the calling thread (the encode thread's first: when it fails the
faces thread stops because of it).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

from ..errors import TranslationError

FrameT = TypeVar("FrameT")
WorkT = TypeVar("WorkT")

_END = object()


class _Failure:
    """An exception of the faces thread on its way to the calling thread."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _TurnTaking:
    """A readers-writer lock with writer preference: the video stages (readers) may work together, the
    generator (writer) only alone; once it asks for its turn no stage starts another frame."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stages = 0
        self._generating = False
        self._generator_waiting = 0

    @contextlib.contextmanager
    def stage(self) -> Iterator[None]:
        with self._cond:
            while self._generating or self._generator_waiting:
                self._cond.wait()
            self._stages += 1
        try:
            yield
        finally:
            with self._cond:
                self._stages -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def generator(self) -> Iterator[None]:
        with self._cond:
            self._generator_waiting += 1
            while self._generating or self._stages:
                self._cond.wait()
            self._generator_waiting -= 1
            self._generating = True
        try:
            yield
        finally:
            with self._cond:
                self._generating = False
                self._cond.notify_all()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put without blocking forever when the other side has stopped; False if stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue[Any], stop: threading.Event, alive: Callable[[], bool] | None = None) -> Any:
    """Get without blocking forever: a :class:`_Failure` once stopped or once the producer (``alive``) died."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set() or (alive is not None and not alive()):
                return _Failure(RuntimeError("a pipeline stage stopped unexpectedly"))


class Conveyor(Generic[FrameT, WorkT]):
    """The faces thread, the calling thread and the encode thread of a translation (see the module).

    ``frames_capacity`` and ``batches_capacity`` bound the two queues. ``exclusive_generator``: the
    generator runs alone (:meth:`generator_turn`), the two other stages together while it waits. On a
    CPU the generator's OpenMP threads stall whenever another thread takes one of their cores (every
    layer ends in a barrier), which costs more than the other stages' own work; on a GPU everything
    overlaps freely. ``label`` names the output in the error raised when the encoder stopped. Leaving a
    ``with`` block stops and joins both threads.
    """

    def __init__(
        self, *, frames_capacity: int, batches_capacity: int = 2, exclusive_generator: bool, label: str
    ) -> None:
        self.stop = threading.Event()
        self.label = label
        self._turns = _TurnTaking() if exclusive_generator else None
        self._frames: queue.Queue[Any] = queue.Queue(maxsize=frames_capacity)
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=batches_capacity)
        self._encoder_errors: list[BaseException] = []
        self._producer: threading.Thread | None = None
        self._consumer: threading.Thread | None = None

    def __enter__(self) -> Conveyor[FrameT, WorkT]:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def stage_turn(self) -> AbstractContextManager[object]:
        """The turn of a video stage (faces, paste + encode): shared with the other, never the generator's."""
        return self._turns.stage() if self._turns is not None else contextlib.nullcontext()

    def generator_turn(self) -> AbstractContextManager[object]:
        """The generator's turn: alone when ``exclusive_generator``."""
        return self._turns.generator() if self._turns is not None else contextlib.nullcontext()

    def start(
        self,
        frames: Iterator[FrameT],
        prepare: Callable[[FrameT], WorkT],
        deliver: Callable[[WorkT], None],
        delivered: Callable[[int], None],
    ) -> None:
        """Start the faces thread (``prepare`` every frame of ``frames``) and the encode thread (``deliver``
        every frame of every batch sent, then ``delivered(len(batch))``)."""
        self._producer = threading.Thread(
            target=self._produce, args=(frames, prepare), name="translate-faces", daemon=True
        )
        self._consumer = threading.Thread(
            target=self._consume, args=(deliver, delivered), name="translate-encode", daemon=True
        )
        self._producer.start()
        self._consumer.start()

    def batches(self, size: int, boundary: int = 0) -> Iterator[list[WorkT]]:
        """The prepared frames in batches of ``size`` (the last one may be shorter), in frame order; raises
        what stopped a worker thread. With a ``boundary`` (frames; 0: none) no batch holds frames of two
        of its multiples (a resumable run's pieces: each piece is batched alike, resumed or not)."""
        assert self._producer is not None, "start the conveyor first"
        batch: list[WorkT] = []
        while True:
            item = _get(self._frames, self.stop, self._producer.is_alive)
            if isinstance(item, _Failure):
                self._raise_encoder_error()
                raise item.exc
            if item is _END:
                break
            if batch and boundary and item.index // boundary != batch[0].index // boundary:  # type: ignore[attr-defined]
                yield batch
                batch = []
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def send(self, batch: list[WorkT]) -> None:
        """Hand a batch to the encode thread; raises what stopped it."""
        self._raise_encoder_error()
        if not _put(self._batches, list(batch), self.stop):
            self._raise_encoder_error()
            raise TranslationError(f"{self.label}: the encoder stopped")

    def finish(self) -> None:
        """Wait until the encode thread has delivered every batch sent; raises what stopped it."""
        assert self._consumer is not None, "start the conveyor first"
        _put(self._batches, _END, self.stop)
        self._consumer.join()
        self._raise_encoder_error()

    def close(self) -> None:
        """Stop both threads and wait for them (at most 30 s each)."""
        self.stop.set()
        for thread in (self._producer, self._consumer):
            if thread is not None and thread.is_alive():
                thread.join(timeout=30)

    # ------------------------------------------------------------------ the worker threads

    def _produce(self, frames: Iterator[FrameT], prepare: Callable[[FrameT], WorkT]) -> None:
        try:
            while not self.stop.is_set():
                with self.stage_turn():
                    frame = next(frames, None)
                    work = None if frame is None else prepare(frame)
                if work is None:
                    break
                if not _put(self._frames, work, self.stop):
                    return
            _put(self._frames, _END, self.stop)
        except BaseException as exc:  # handed to the calling thread, which raises it again
            _put(self._frames, _Failure(exc), self.stop)

    def _consume(self, deliver: Callable[[WorkT], None], delivered: Callable[[int], None]) -> None:
        try:
            while True:
                batch = _get(self._batches, self.stop)
                if batch is _END or isinstance(batch, _Failure):
                    return
                for work in batch:
                    with self.stage_turn():
                        deliver(work)
                delivered(len(batch))
        except BaseException as exc:  # raised again on the calling thread by send() or finish()
            self._encoder_errors.append(exc)
            self.stop.set()

    def _raise_encoder_error(self) -> None:
        if self._encoder_errors:
            raise self._encoder_errors[0]
