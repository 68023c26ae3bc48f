"""Putting a study on disk: checking the media and the output directory, placing the clips, and
installing the finished study folder atomically (built in a temporary sibling, renamed into place)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ...atomic import atomic_path
from ...errors import ConfigError, MediaError
from .clips import StudyVideo


def check_media(video: StudyVideo) -> None:
    """ConfigError unless the video's file exists and is a file."""
    if not video.path.exists():
        raise ConfigError(f"{video.path}: no such video file ({video.role} of group {video.group!r})")
    if not video.path.is_file():
        raise ConfigError(f"{video.path}: is not a file ({video.role} of group {video.group!r})")


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """ConfigError unless ``out_dir`` is new, empty, or holds a study that may be overwritten."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a directory")
    if (out_dir / "key.csv").exists():
        if not overwrite:
            raise ConfigError(f"{out_dir}: already holds a study (key.csv); choose another directory or overwrite it")
        return
    if any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir}: exists, is not empty and holds no study; choose a new or empty directory")


def place(src: Path, dst: Path, link: bool, stamp: float) -> None:
    """Copy ``src`` to ``dst`` with timestamp ``stamp`` (or hard-link it when ``link``, else copy)."""
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    try:
        shutil.copyfile(src, dst)
        os.utime(dst, (stamp, stamp))
    except OSError as exc:
        raise MediaError(f"{src}: cannot be copied into the study ({exc.strerror or exc})") from None


def install_study(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished study ``tmp`` to ``out_dir``, replacing an old study there when allowed."""
    check_out_dir(out_dir, overwrite)
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    if not (out_dir / "key.csv").exists():  # an empty directory
        out_dir.rmdir()
        os.rename(tmp, out_dir)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    try:
        os.rename(out_dir, trash / "study")
        try:
            os.rename(tmp, out_dir)
        except BaseException:
            os.rename(trash / "study", out_dir)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def write_study(
    out_dir: Path,
    clips: Sequence[tuple[str, StudyVideo]],
    texts: Mapping[str, str],
    *,
    link: bool,
    overwrite: bool,
) -> None:
    """``out_dir`` with ``clips/<name>`` per (name, video) and a file per (name, text) of ``texts``, all or nothing.

    Everything goes to a temporary sibling directory renamed into place at the end; on any error it is
    removed and an existing study in ``out_dir`` is left untouched.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)
        clips_dir = tmp / "clips"
        clips_dir.mkdir()
        stamp = float(int(time.time()))
        for name, video in clips:
            place(video.path, clips_dir / name, link=link, stamp=stamp)
        for name, text in texts.items():
            write_utf8(tmp / name, text)
        install_study(tmp, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_utf8(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV file's text (``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
