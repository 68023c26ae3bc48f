"""Small helpers for one-line messages: an exception's first line, a list shortened for an error."""

from __future__ import annotations

from collections.abc import Iterable


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (at most ``limit`` characters), or its type's name if it has none."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def listing(items: Iterable[str], limit: int = 3, sort: bool = False) -> str:
    """'a, b, c and 4 more': the first ``limit`` items of a list, for a message."""
    items = sorted(items) if sort else list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
