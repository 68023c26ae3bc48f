"""Files written through atomic.py get the mode any file the user creates gets (0666 less the umask)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wav2lip_emotion.atomic import atomic_path, current_umask, write_json_atomic, write_text_atomic
from wav2lip_emotion.messages import first_line, listing


@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_respect_the_umask(tmp_path: Path, umask, mask: int, mode: int) -> None:
    umask(mask)
    assert current_umask() == mask
    assert _mode(write_text_atomic(tmp_path / "report.md", "# report\n")) == mode
    assert _mode(write_json_atomic(tmp_path / "config.json", {"a": 1})) == mode
    with atomic_path(tmp_path / "weights.npz", suffix=".npz") as tmp:
        tmp.write_bytes(b"x")
    assert _mode(tmp_path / "weights.npz") == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "report.md", "weights.npz"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_messages_helpers() -> None:
    assert first_line(ValueError("first\nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(ValueError("x" * 300), 10) == "x" * 10
    assert listing(["a", "b", "c", "d", "e"], 3) == "a, b, c and 2 more"
    assert listing(["b", "a"], 3, sort=True) == "a, b"
