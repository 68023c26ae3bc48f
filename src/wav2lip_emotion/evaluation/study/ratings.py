"""Reading a study's files back, strictly: the answer key (``key.csv``) and the raters' CSV files.

Every problem is a one-line DataError naming the file and line.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, DataError
from ...perception.affect import read_text_file
from .clips import DIMENSIONS, KEY_COLUMNS, RATING_COLUMNS, ROLES, StudyClip, check_pair

_WHOLE = re.compile(r"[+]?(\d+)(?:\.0*)?")


@dataclass(frozen=True)
class Rating:
    """One rater's ratings of one clip (None: not rated), and where they were read."""

    rater: str
    clip: str
    sync: int | None
    quality: int | None
    emotion: int | None
    file: str = ""
    line: int = 0

    def get(self, dimension: str) -> int | None:
        return {"sync": self.sync, "quality": self.quality, "emotion": self.emotion}[dimension]

    @property
    def rated(self) -> bool:
        return any(self.get(d) is not None for d in DIMENSIONS)


def _csv_rows(path: Path, expected: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped cell}) per data row; the header must have the ``expected`` columns.

    The header is the first non-blank line; blank lines are skipped; the delimiter is ``,`` (``;`` or
    tab when the header has no comma, as some spreadsheets write); extra columns are ignored.
    """
    lines = read_text_file(path, DataError).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip())
    head = lines[start]
    delimiter = "," if "," in head else ";" if ";" in head else "\t" if "\t" in head else ","
    reader = csv.reader(lines[start:], delimiter=delimiter)
    header = [c.strip().lower() for c in next(reader)]
    for name in header:
        if name and header.count(name) > 1:
            raise DataError(f"{path}, line {start + 1}: column {name!r} appears twice")
    missing = [c for c in expected if c not in header]
    if missing:
        found = ", ".join(repr(h) for h in header) or "none"
        raise DataError(
            f"{path}, line {start + 1}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(expected)}; found {found})"
        )
    index = {c: header.index(c) for c in expected}
    for row in reader:
        line = start + reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        yield line, {c: row[i].strip() for c, i in index.items()}


def read_key(path: str | Path) -> list[StudyClip]:
    """The clips of a study's ``key.csv``, validated (DataError naming the file and line)."""
    path = Path(path)
    clips: list[StudyClip] = []
    seen: dict[str, int] = {}
    for line, row in _csv_rows(path, KEY_COLUMNS):
        where = f"{path}, line {line}"
        clip = row["clip"]
        if not clip:
            raise DataError(f"{where}: empty clip name")
        if clip in seen:
            raise DataError(f"{where}: clip {clip!r} repeats line {seen[clip]}")
        seen[clip] = line
        role = row["role"]
        if role not in ROLES:
            raise DataError(f"{where}: unknown role {role!r}")
        variant = row["variant"] or None
        if (role == "generated") != (variant is not None):
            raise DataError(f"{where}: a {role} clip {'needs' if role == 'generated' else 'has no'} variant")
        try:
            pair = check_pair((row["source_emotion"], row["destination_emotion"]), where)
        except ConfigError as exc:
            raise DataError(str(exc)) from None
        if not row["group"]:
            raise DataError(f"{where}: empty group")
        clips.append(StudyClip(clip, role, variant, pair, row["group"], row["path"]))
    if not clips:
        raise DataError(f"{path}: no clips under the header")
    groups: dict[str, list[StudyClip]] = defaultdict(list)
    for c in clips:
        groups[c.group].append(c)
    for name, members in groups.items():
        pairs = {c.pair for c in members}
        if len(pairs) > 1:
            raise DataError(f"{path}: group {name!r} mixes pairs {', '.join('->'.join(p) for p in sorted(pairs))}")
        for role in ("source", "destination"):
            n = sum(c.role == role for c in members)
            if n > 1 or (n == 0 and any(c.role == "generated" for c in members)):
                raise DataError(f"{path}: group {name!r} has {n} {role} clips, expected 1")
    return clips


def _rating_cell(where: str, column: str, text: str) -> int | None:
    if not text:
        return None
    m = _WHOLE.fullmatch(text)
    if m is None:
        raise DataError(f"{where}: {column} {text!r} is not a whole number from 1 to 5")
    value = int(m.group(1))
    if not 1 <= value <= 5:
        raise DataError(f"{where}: {column} {value} is outside 1..5")
    return value


def read_rating_files(paths: Sequence[str | Path], known: Mapping[str, object] | None, key_name: str) -> list[Rating]:
    """The ratings of ``paths``; with ``known``, clip names must be its keys (``key_name`` names the key)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise DataError("no ratings files")
    ratings: list[Rating] = []
    seen: dict[tuple[str, str], str] = {}
    for p in paths:
        path = Path(p)
        for line, row in _csv_rows(path, RATING_COLUMNS):
            where = f"{path}, line {line}"
            rater = " ".join(row["rater"].split())
            values = {d: _rating_cell(where, d, row[d]) for d in DIMENSIONS}
            if not rater:
                if all(v is None for v in values.values()):
                    continue  # an unfilled row of the rating sheet
                raise DataError(f"{where}: ratings without a rater name")
            clip = row["clip"]
            if not clip:
                raise DataError(f"{where}: empty clip")
            if known is not None and clip not in known:
                raise DataError(f"{where}: unknown clip {clip!r} (not in {key_name})")
            if (rater, clip) in seen:
                raise DataError(f"{where}: rater {rater!r} rated clip {clip!r} already ({seen[rater, clip]})")
            seen[rater, clip] = where
            ratings.append(Rating(rater, clip, values["sync"], values["quality"], values["emotion"], str(path), line))
    return ratings


def read_ratings(paths: Sequence[str | Path], *, key: str | Path | None = None) -> list[Rating]:
    """The ratings in one or more returned CSV files (the form's downloads or filled rating sheets).

    Each file: a header with the columns ``rater, clip, sync, quality, emotion`` (any order, any
    case; other columns ignored), then one row per (rater, clip). Ratings are whole numbers 1..5;
    an empty cell is "not rated". Rows with no rater and no ratings (unfilled sheet rows) are
    skipped. With ``key`` (a key.csv), clip names must be the study's. DataError in one line naming
    the file and line for: a bad header, a rating that is not a whole number or outside 1..5,
    ratings without a rater, an unknown clip, the same (rater, clip) twice (across all files).
    """
    known = {c.clip: c for c in read_key(key)} if key is not None else None
    return read_rating_files(paths, known, str(key))
