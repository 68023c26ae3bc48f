"""Writing files so that a crash never leaves a half-written file under the final name.

Everything is written to a temporary file in the destination directory (never at a fixed path) and
renamed into place only when complete; on any failure the temporary file is removed and an existing
file at the destination is left untouched. The finished file gets the mode any file the user creates
gets (0666 less the umask), not ``mkstemp``'s private 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; it replaces ``path`` when the block succeeds.

    ``suffix`` lets writers that choose a format by extension (``np.savez`` wants ``.npz``) use it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (Linux), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode of a new regular file under the current umask (0644 under the usual 022)."""
    return 0o666 & ~current_umask()


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, data: Any, indent: int | None = 1) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent))
