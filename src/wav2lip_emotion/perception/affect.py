"""Valence and arousal: a circumplex proxy, an importer for external per-frame models, the paper's deltas.

The paper measures how far an edit moved a video's affect with a per-frame valence/arousal model
(NISL2020, trained on Aff-Wild2; valence in [-1, 1], arousal in [0, 1]) averaged per video:

* :func:`affect_delta` is the paper's score ``(g - s) / (d - s)`` for the generated (g), source (s)
  and destination (d) videos, with the neutral-destination rule ``1 - |1 - delta|``.
* :func:`read_affect_csv` imports the per-frame output of any external model (the paper ran
  NISL2020 separately) from a CSV file, validating it line by line.
* :func:`valence_arousal` is a built-in **proxy**: the probability-weighted mean of fixed circumplex
  points (:data:`CIRCUMPLEX`) under an emotion classifier's class probabilities. It is NOT a
  valence/arousal model and its numbers are NOT comparable to the paper's NISL2020 numbers: a face
  the judge calls 100% happy always gets the happy point, however faint or intense the smile.

Scales. Valence is in [-1, 1]. Arousal is reported in [0, 1] as in the paper; the circumplex table's
arousal, published on [-1, 1], is rescaled linearly, ``a01 = (a + 1) / 2``. The delta scores do not
depend on that choice: ``(g - s) / (d - s)`` is unchanged by any map ``x -> k x + c`` (k != 0)
applied to all three values, so an external model whose arousal is in [-1, 1] gives the same deltas
as long as g, s and d come from the same model on the same scale.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import AffectError
from .emotions import parse_emotion

# ------------------------------------------------------------------------------ circumplex proxy

#: where the circumplex points come from
CIRCUMPLEX_SOURCE = (
    "Russell, J. A. & Mehrabian, A. (1977). Evidence for a three-factor theory of emotions. "
    "Journal of Research in Personality 11(3), 273-294: mean pleasure and arousal ratings (scales "
    "-1..+1) of the terms happy, angry, disgust, fearful, sad and surprised; dominance is dropped. "
    "Neutral is the circumplex's origin. Contempt has no entry there: it is placed by a rule of "
    "this package (valence = mean of angry and disgust, arousal = half of disgust's)."
)

#: (pleasure/valence, arousal), both on the published -1..+1 scales, per emotion of our vocabulary
CIRCUMPLEX_PUBLISHED: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),  # "angry"
    "contempt": ((-0.51 - 0.60) / 2, 0.35 / 2),  # no entry: our rule (see CIRCUMPLEX_SOURCE)
    "disgusted": (-0.60, 0.35),  # "disgust"
    "fear": (-0.64, 0.60),  # "fearful"
    "happy": (0.81, 0.51),  # "happy"
    "neutral": (0.0, 0.0),  # the origin
    "sad": (-0.63, -0.27),  # "sad"
    "surprised": (0.40, 0.67),  # "surprised"
}


def rescale_arousal(a: float) -> float:
    """Arousal from [-1, 1] to [0, 1]: ``(a + 1) / 2``."""
    return (a + 1.0) / 2.0


#: (valence in [-1, 1], arousal in [0, 1]) per emotion: CIRCUMPLEX_PUBLISHED with arousal rescaled
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    name: (v, rescale_arousal(a)) for name, (v, a) in CIRCUMPLEX_PUBLISHED.items()
}


def _frame_point(probs: Mapping[str, float]) -> tuple[float, float]:
    """(v, a) of one frame's {emotion: probability}, renormalised over the classes given."""
    if not isinstance(probs, Mapping):
        raise AffectError(f"expected {{emotion: probability}}, got {type(probs).__name__}")
    if not probs:
        raise AffectError("no class probabilities (an empty mapping)")
    seen: dict[str, str] = {}
    total = v = a = 0.0
    for key, value in probs.items():
        name = parse_emotion(key).value
        if name in seen:
            raise AffectError(f"classes {seen[name]!r} and {key!r} are both {name!r}")
        seen[name] = str(key)
        p = float(value)
        if not math.isfinite(p) or p < 0:
            raise AffectError(f"probability of {key!r} is {value!r}; probabilities must be finite and >= 0")
        pv, pa = CIRCUMPLEX[name]
        total += p
        v += p * pv
        a += p * pa
    if total <= 0:
        raise AffectError(f"the probabilities of {', '.join(seen.values())} sum to 0")
    return v / total, a / total


def frame_valence_arousal(probs: Iterable[Mapping[str, float]]) -> np.ndarray:
    """Per-frame proxy points ``[N, 2]`` (valence, arousal) for a sequence of {emotion: probability}."""
    rows = [_frame_point(p) for p in probs]
    if not rows:
        raise AffectError("no frames: an empty sequence of class probabilities")
    return np.asarray(rows, dtype=np.float64)


def valence_arousal(
    probs: Mapping[str, float] | Iterable[Mapping[str, float]],
) -> tuple[float, float]:
    """PROXY (valence in [-1, 1], arousal in [0, 1]) from an emotion judge's class probabilities.

    ``probs``: one frame's {emotion: probability} (as ``EmotionClassifier.predict`` gives, our
    names or common synonyms) or a sequence of them (the frames of a video: the mean of the frames'
    points). Per frame, the point is ``sum_c p_c * CIRCUMPLEX[c] / sum_c p_c`` over the classes the
    judge HAS: absent classes (e.g. contempt for a FER2013 model) take no part and the probabilities
    are renormalised over the classes present.

    This is a proxy through a fixed table (:data:`CIRCUMPLEX`), not a valence/arousal model; its
    numbers are not comparable to the paper's (NISL2020 on Aff-Wild2). AffectError for negative or
    non-finite probabilities, all-zero probabilities, the same class twice, or no frames;
    ConfigError for an unknown class name.
    """
    if isinstance(probs, Mapping):
        return _frame_point(probs)
    points = frame_valence_arousal(probs)
    v, a = points.mean(axis=0)
    return float(v), float(a)


# ------------------------------------------------------------------------------ per-frame tracks


@dataclass
class AffectTrack:
    """Per-frame valence and arousal of one video, from a CSV file or from the proxy.

    ``frames`` (int frame indices) and/or ``times`` (seconds) index the rows; at least one is set.
    ``arousal_range`` is the scale the arousal values are on: (0, 1) or (-1, 1).
    """

    source: str
    valence: np.ndarray
    arousal: np.ndarray
    frames: np.ndarray | None = None
    times: np.ndarray | None = None
    arousal_range: tuple[float, float] = (0.0, 1.0)

    def __len__(self) -> int:
        return int(self.valence.shape[0])

    def mean(self) -> tuple[float, float]:
        """(mean valence, mean arousal) over the frames, the per-video value the deltas use."""
        if len(self) == 0:
            raise AffectError(f"{self.source}: no frames to average")
        return float(self.valence.mean()), float(self.arousal.mean())


def proxy_track(
    probs: Sequence[Mapping[str, float]],
    frames: Sequence[int] | None = None,
    times: Sequence[float] | None = None,
    source: str = "circumplex proxy",
) -> AffectTrack:
    """An :class:`AffectTrack` of the proxy points of per-frame class probabilities (arousal in [0, 1])."""
    points = frame_valence_arousal(probs)
    n = points.shape[0]
    idx = np.arange(n, dtype=np.int64) if frames is None and times is None else None
    fr = np.asarray(frames, dtype=np.int64) if frames is not None else idx
    tm = np.asarray(times, dtype=np.float64) if times is not None else None
    for name, arr in (("frames", fr), ("times", tm)):
        if arr is not None and arr.shape != (n,):
            raise AffectError(f"{n} frames of probabilities but {arr.size} {name}")
    return AffectTrack(source, points[:, 0].copy(), points[:, 1].copy(), fr, tm, (0.0, 1.0))


# ------------------------------------------------------------------------------ CSV importer

#: accepted column names (case-insensitive, surrounding spaces ignored) -> role
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "frame": ("frame", "frame_index", "frame_idx", "frame_id", "frame_number", "frame_num", "frame_no", "frames"),
    "time": ("time", "timestamp", "time_s", "time_sec", "seconds", "sec", "t"),
    "valence": ("valence", "v", "val"),
    "arousal": ("arousal", "a", "aro"),
}
_ROLE_OF = {alias: role for role, aliases in COLUMN_ALIASES.items() for alias in aliases}

ArousalScale = Literal["keep", "signed", "unit"]
#: tolerance for values a hair outside their range (float output of a model), then clipped
_EPS = 1e-6


def read_affect_csv(path: str | Path, *, arousal_scale: ArousalScale = "keep") -> AffectTrack:
    """Read per-frame valence/arousal written by an external model (e.g. NISL2020) from a CSV file.

    Format: a header line, then one row per frame. Columns (names case-insensitive; others ignored):
    ``frame`` (int, aliases frame_index, frame_idx, frame_id, frame_number, frame_num, frame_no) or
    ``time`` (seconds, aliases timestamp, time_s, time_sec, seconds, sec, t), or both; ``valence``
    (alias v, val) and ``arousal`` (alias a, aro). The delimiter is ``,`` (or tab or ``;`` when the
    header has no comma); blank lines and lines starting with ``#`` are skipped; UTF-8 (a BOM is
    fine). Frame indices (whole numbers >= 0) and times (>= 0) must strictly increase.

    Ranges: valence must be in [-1, 1]. Arousal, by ``arousal_scale``:

    * ``"keep"`` (default): accepted in [-1, 1] and kept as written (``arousal_range`` (-1, 1));
      whether a model meant [0, 1] or [-1, 1] cannot be told from the values, and the deltas do not
      depend on it as long as all compared videos come from the same model;
    * ``"signed"``: the file is on [-1, 1] (e.g. a model trained on Aff-Wild2's raw labels);
      rescaled to the paper's [0, 1] by ``(a + 1) / 2``;
    * ``"unit"``: the file is on [0, 1] (the paper's scale); a value below 0 is an error.

    Every problem raises AffectError in one line naming the file, the problem and, for a row, its
    line number: missing or empty file, missing columns (naming the columns found), non-numeric or
    NaN values, values out of range, frames or times that repeat or decrease.
    """
    if arousal_scale not in ("keep", "signed", "unit"):
        raise AffectError(f"unknown arousal_scale {arousal_scale!r}; choose 'keep', 'signed' or 'unit'")
    path = Path(path)
    text = read_text_file(path)
    lines = text.splitlines()
    header_no, header_line = _header(path, lines)
    delimiter = "," if "," in header_line else "\t" if "\t" in header_line else ";" if ";" in header_line else ","
    reader = csv.reader(lines[header_no - 1 :], delimiter=delimiter)
    header = [c.strip() for c in next(reader)]
    cols = _columns(path, header)

    frames: list[int] = []
    times: list[float] = []
    valence: list[float] = []
    arousal: list[float] = []
    last: dict[str, tuple[float, int]] = {}
    a_lo = 0.0 if arousal_scale == "unit" else -1.0
    for row in reader:
        line = header_no - 1 + reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < len(header):
            raise AffectError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        values: dict[str, float] = {}
        for role, index in cols.items():
            values[role] = _number(path, line, header[index], row[index])
        v = _in_range(path, line, "valence", values["valence"], -1.0, 1.0)
        a = _in_range(path, line, "arousal", values["arousal"], a_lo, 1.0)
        if "frame" in values:
            f = values["frame"]
            if f != int(f):
                raise AffectError(f"{path}, line {line}: frame {row[cols['frame']].strip()} is not a whole number")
            if f < 0:
                raise AffectError(f"{path}, line {line}: negative frame {int(f)}")
            _increasing(path, line, "frame", f, last)
            frames.append(int(f))
        if "time" in values:
            t = values["time"]
            if t < 0:
                raise AffectError(f"{path}, line {line}: negative time {t:g}")
            _increasing(path, line, "time", t, last)
            times.append(t)
        valence.append(v)
        arousal.append(rescale_arousal(a) if arousal_scale == "signed" else a)
    if not valence:
        raise AffectError(f"{path}: no data rows under the header (line {header_no})")
    return AffectTrack(
        source=str(path),
        valence=np.asarray(valence, dtype=np.float64),
        arousal=np.asarray(arousal, dtype=np.float64),
        frames=np.asarray(frames, dtype=np.int64) if "frame" in cols else None,
        times=np.asarray(times, dtype=np.float64) if "time" in cols else None,
        arousal_range=(-1.0, 1.0) if arousal_scale == "keep" else (0.0, 1.0),
    )


def read_text_file(path: Path, error: type[Exception] = AffectError) -> str:
    """The text of a small UTF-8 file (a BOM is dropped), or ``error`` with one line naming the file and the
    problem: missing, not a file, not UTF-8, unreadable, or empty. Shared by the CSV readers."""
    if not path.exists():
        raise error(f"{path}: no such file")
    if not path.is_file():
        raise error(f"{path}: is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise error(f"{path}: empty file")
    return text


def _header(path: Path, lines: list[str]) -> tuple[int, str]:
    """(1-based line number, text) of the header: the first line that is neither blank nor a comment."""
    for no, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return no, line
    raise AffectError(f"{path}: empty file (only comments)")


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    cols: dict[str, int] = {}
    for index, name in enumerate(header):
        role = _ROLE_OF.get(name.lower())
        if role is None:
            continue
        if role in cols:
            raise AffectError(f"{path}: columns {header[cols[role]]!r} and {name!r} both give {role}")
        cols[role] = index
    missing = [r for r in ("valence", "arousal") if r not in cols]
    if "frame" not in cols and "time" not in cols:
        missing.insert(0, "frame or time")
    if missing:
        found = ", ".join(repr(h) for h in header) or "none"
        hint = ""
        if header and all(_is_number(h) for h in header):
            hint = " (no header line? the first line must name the columns)"
        raise AffectError(f"{path}: missing column(s) {', '.join(missing)}; found {found}{hint}")
    return cols


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(path: Path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise AffectError(f"{path}, line {line}: empty {column}")
    try:
        if "_" in text:
            raise ValueError
        value = float(text)
    except ValueError:
        raise AffectError(f"{path}, line {line}: {column} {text!r} is not a number") from None
    if math.isnan(value):
        raise AffectError(f"{path}, line {line}: {column} is NaN (drop the frames the model had no face for)")
    if math.isinf(value):
        raise AffectError(f"{path}, line {line}: {column} is infinite")
    return value


def _in_range(path: Path, line: int, name: str, value: float, lo: float, hi: float) -> float:
    if value < lo - _EPS or value > hi + _EPS:
        raise AffectError(f"{path}, line {line}: {name} {value:g} is outside [{lo:g}, {hi:g}]")
    return min(max(value, lo), hi)


def _increasing(path: Path, line: int, name: str, value: float, last: dict[str, tuple[float, int]]) -> None:
    if name in last:
        prev, prev_line = last[name]
        if value == prev:
            raise AffectError(f"{path}, line {line}: {name} {value:g} repeats line {prev_line}")
        if value < prev:
            raise AffectError(
                f"{path}, line {line}: {name} {value:g} comes after {name} {prev:g} (line {prev_line}); "
                f"{name}s must increase"
            )
    last[name] = (value, line)


# ------------------------------------------------------------------------------ the paper's metric


def affect_delta(
    v_generated: float,
    v_source: float,
    v_destination: float,
    neutral_destination: bool,
    *,
    min_gap: float = 0.0,
) -> float:
    """The paper's delta valence / delta arousal of one video: ``(g - s) / (d - s)``.

    ``g``, ``s``, ``d``: the per-video mean (valence or arousal) of the generated video, the real
    video in the source emotion and the real video in the destination emotion (same actor and
    sentence). 1 means the edit moved the affect exactly as far as the real destination performance,
    0 not at all, < 0 the wrong way, > 1 beyond. The sign convention follows from the ratio: when
    d < s, a decrease of g below s is progress (positive delta). For a NEUTRAL destination the score
    is ``1 - |1 - delta|``: overshooting neutral is penalised as much as falling short (delta 1.4 ->
    0.6).

    When ``|d - s| <= min_gap`` (default: exactly equal) there is no change to measure: NaN is
    returned (never a division by zero); callers skip such videos (see :func:`average_deltas`). NaN
    inputs give NaN.
    """
    g, s, d = float(v_generated), float(v_source), float(v_destination)
    gap = d - s
    if not math.isfinite(gap) or not math.isfinite(g) or abs(gap) <= min_gap:
        return math.nan
    delta = (g - s) / gap
    if neutral_destination:
        delta = 1.0 - abs(1.0 - delta)
    return delta


def average_deltas(deltas: Iterable[float]) -> tuple[float, int]:
    """(mean of the finite deltas, how many there were); NaN ones (d == s) are skipped; (NaN, 0) if none."""
    vals = [float(x) for x in deltas]
    good = [x for x in vals if math.isfinite(x)]
    if not good:
        return math.nan, 0
    return float(np.mean(good)), len(good)
