"""PyAV plumbing shared by video probing, reading and writing: opening an input file with one-line
errors, turning FFmpeg errors raised while iterating or calling into :class:`MediaError`, and removing a
temporary file quietly."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import MediaError


def open_input(path: Path, kind: str) -> Any:
    """``av.open(path)`` for reading; MediaError naming ``path`` when it is missing, empty or unreadable."""
    import av

    if not path.exists():
        raise MediaError(f"{path}: no such {kind} file")
    if not path.is_file():
        raise MediaError(f"{path}: is not a file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: is empty (0 bytes)")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: not a readable media file or corrupt ({describe_av_error(exc)})") from None


def guarded(iterable: Any, message: str) -> Iterator[Any]:
    """Iterate, turning FFmpeg errors into MediaError(message (detail))."""
    import av

    it = iter(iterable)
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            raise MediaError(f"{message} ({describe_av_error(exc)})") from None
        yield item


def guarded_call(fn: Callable[[Any], Any], arg: Any, message: str) -> Any:
    """``fn(arg)``, turning an FFmpeg error into MediaError(message (detail))."""
    import av

    try:
        return fn(arg)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{message} ({describe_av_error(exc)})") from None


def describe_av_error(exc: BaseException) -> str:
    """FFmpeg's reason without the errno and file name PyAV adds ('Invalid data found ...')."""
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it exists, ignoring errors (cleaning up after a failure)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
