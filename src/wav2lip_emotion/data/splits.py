"""Train / validation / test splits by actor, and the original ``filelists/*.txt`` format.

Split rule (the paper's for MEAD: 47 actors -> 37 train, 5 validation, 5 test, with at least two
actors of the smaller gender group in validation and in test):

* actors are sorted, then shuffled by a ``random.Random(seed)``: the same records and seed always
  give the same split, whatever order the records come in; no actor is in two splits;
* ``val`` / ``test``: an int is a number of actors, a float in [0, 1) a fraction of them (rounded,
  at least one actor when the fraction is > 0), None (default) MEAD's proportion 5/47, i.e. exactly
  5 for 47 actors and e.g. 1 for 6 actors. A fraction needs at least 3 actors; at least one actor is
  always left for training;
* gender: labels come from ``genders`` (actor -> gender), else from the records' ``gender``; when
  every actor id follows MEAD's naming (M003 male, W009 female), missing labels are inferred from it.
  With two or more labelled groups, validation and test each get at least ``min(min_minority, size
  of that split)`` actors of the smallest group (ConfigError when that group is too small), and
  otherwise that group's share of the split, rounded (stratified: MEAD's 20 women of 47 give exactly
  2 women in each 5-actor split, as in the paper); with one group, no labels or ``min_minority=0``
  there is no gender rule. Unlabelled actors count for no group. In very small worlds the rule can
  leave no actor of the smaller group for training (4 men, 2 women, 1 + 1 held out: both women are
  held out); ``min_minority=0`` leaves it to chance.

File lists: one video per line, its id relative to the preprocessed root without extension
(``M003/front/happy/level_3/001``; LRS2 ``5535415699068794046/00001``), as in Wav2Lip's and
Wav2Lip-Emotion's ``filelists/``. The readers also accept the original Wav2Lip-Emotion MEAD lists
(``M028/003``: actor/clip, with the emotion given by the data root), LRS2's own lists with a trailing
``NF``/``MV`` token (test.txt), a video extension, a leading ``./``, blank lines and ``#`` comments.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import ConfigError, DataError
from ..messages import listing as _listing
from .records import MEAD_ACTOR, VideoRecord, mead_gender

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
#: MEAD's held-out share: 5 of 47 actors each for validation and test
MEAD_HELD_OUT = 5 / 47
#: extensions stripped from file-list entries
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".flv", ".m4v")
#: trailing tokens of LRS2's own lists (test.txt: "6330311066473698535/00011 NF")
LRS2_MARKERS = frozenset({"NF", "MV"})
_PART = re.compile(r"[A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class Splits:
    """Actor ids of each split (sorted), and the gender labels the split was made with."""

    train: list[str]
    val: list[str]
    test: list[str]
    #: actor -> gender label used for the split (only labelled actors)
    genders: dict[str, str] = field(default_factory=dict)
    #: the seed it was drawn with (None for a split read from files or given by hand)
    seed: int | None = None

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for name in SPLIT_NAMES:
            for actor in self[name]:
                if actor in seen:
                    raise DataError(f"actor {actor!r} is in both the {seen[actor]} and the {name} split")
                seen[actor] = name

    def __getitem__(self, name: str) -> list[str]:
        if name not in SPLIT_NAMES:
            raise KeyError(f"no split {name!r}; splits are {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def actors(self) -> list[str]:
        """Every actor of the three splits, sorted."""
        return sorted(self.train + self.val + self.test)

    def split_of(self, actor: str) -> str | None:
        """ "train", "val", "test", or None for an actor in none of them."""
        for name in SPLIT_NAMES:
            if actor in self[name]:
                return name
        return None

    def select(self, records: Iterable[VideoRecord], name: str) -> list[VideoRecord]:
        """The records of one split's actors, sorted by id."""
        actors = set(self[name])
        return sorted((r for r in records if r.actor in actors), key=lambda r: r.id)

    def videos(self, records: Iterable[VideoRecord], *, strict: bool = True) -> dict[str, list[str]]:
        """Split name -> sorted video ids of its actors.

        ``strict``: a DataError when a record's actor is in no split (False: such records are left out).
        """
        out: dict[str, list[str]] = {name: [] for name in SPLIT_NAMES}
        where = {a: name for name in SPLIT_NAMES for a in self[name]}
        stray: set[str] = set()
        for r in records:
            name = where.get(r.actor)
            if name is None:
                stray.add(r.actor)
            else:
                out[name].append(r.id)
        if stray and strict:
            raise DataError(f"{len(stray)} actors of the records are in no split: {_listing(sorted(stray), 5)}")
        return {name: sorted(ids) for name, ids in out.items()}

    def summary(self) -> str:
        """One line: counts per split, with gender counts when labelled."""

        def part(name: str) -> str:
            actors = self[name]
            counts = Counter(self.genders[a] for a in actors if a in self.genders)
            extra = ", ".join(f"{g} {n}" for g, n in sorted(counts.items()))
            return f"{name} {len(actors)}" + (f" ({extra})" if extra else "")

        return "; ".join(part(name) for name in SPLIT_NAMES)


#: the split of the original Wav2Lip-Emotion repository (filelists/MEAD/*.txt): 37 / 5 / 5 actors,
#: two women in validation and in test
_PAPER_TRAIN = (
    "M005 M007 M009 M011 M012 M013 M019 M022 M023 M024 M025 M026 M027 M029 M030 M031 M032 M033 M034 "
    "M035 M037 W009 W011 W014 W015 W016 W018 W019 W021 W023 W024 W025 W026 W028 W029 W033 W035"
)
_PAPER_VAL = "M003 M039 M040 W038 W040"
_PAPER_TEST = "M028 M041 M042 W036 W037"
PAPER_MEAD_SPLIT = Splits(
    train=_PAPER_TRAIN.split(),
    val=_PAPER_VAL.split(),
    test=_PAPER_TEST.split(),
    genders={
        a: "male" if a[0] == "M" else "female" for a in sorted(f"{_PAPER_TRAIN} {_PAPER_VAL} {_PAPER_TEST}".split())
    },
)


# ------------------------------------------------------------------------------------ splitting


def _norm_gender(value: object) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower()
    if not key:
        return None
    return {"m": "male", "man": "male", "f": "female", "w": "female", "woman": "female"}.get(key, key)


def actor_genders(records: Iterable[VideoRecord], genders: Mapping[str, str] | None = None) -> dict[str, str]:
    """Actor -> gender label: ``genders`` first, then the records', then MEAD's M/W naming.

    MEAD naming is used only when every actor id follows it (M003, W009). Labels are normalised
    (``M``/``man`` -> male, ``F``/``W``/``woman`` -> female). Records of one actor that disagree
    are a DataError.
    """
    from_records: dict[str, str] = {}
    actors: set[str] = set()
    for r in records:
        actors.add(r.actor)
        g = _norm_gender(r.gender)
        if g is None:
            continue
        if from_records.setdefault(r.actor, g) != g:
            raise DataError(f"actor {r.actor!r} has records labelled both {from_records[r.actor]!r} and {g!r}")
    out = {a: g for a in actors if (g := _norm_gender((genders or {}).get(a)) or from_records.get(a))}
    if actors and all(MEAD_ACTOR.fullmatch(a) for a in actors):
        for a in actors:
            if a not in out and (g := mead_gender(a)):
                out[a] = g
    return dict(sorted(out.items()))


def _held_out(name: str, value: int | float | None, n: int) -> int:
    if value is None:
        value = MEAD_HELD_OUT
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of actors or a fraction, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{name} must be >= 0 actors, got {value}")
        return value
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} as a fraction must be in [0, 1), got {value}")
    if value > 0 and n < 3:
        raise ConfigError(
            f"{n} actor(s) are too few to hold out a {name} share: a split by actor needs at least 3 actors "
            f"(one each for train, val and test); give val=0 / test=0 to train on all of them"
        )
    k = int(n * value + 0.5)
    return max(1, k) if value > 0 else 0


def split_by_actor(
    records: Iterable[VideoRecord],
    *,
    val: int | float | None = None,
    test: int | float | None = None,
    seed: int = 0,
    genders: Mapping[str, str] | None = None,
    min_minority: int = 2,
) -> Splits:
    """Split the records' actors into train / val / test (see the module docstring for the rule).

    ``val`` / ``test``: number of actors (int), fraction (float in [0, 1)) or None = 5/47 of the
    actors (5 each for MEAD's 47). ``genders`` overrides the records' labels. ``min_minority``:
    actors of the smallest gender group wanted in val and in test each (capped by the split's size).
    """
    records = list(records)
    actors = sorted({r.actor for r in records})
    n = len(actors)
    if n == 0:
        raise ConfigError("cannot split: there are no videos (no actors)")
    if isinstance(min_minority, bool) or not isinstance(min_minority, int) or min_minority < 0:
        raise ConfigError(f"min_minority must be an int >= 0, got {min_minority!r}")
    n_val = _held_out("val", val, n)
    n_test = _held_out("test", test, n)
    if n_val + n_test > n - 1:
        raise ConfigError(
            f"{n} actors cannot give {n_val} validation and {n_test} test actors and keep at least one "
            f"for training; lower val/test"
        )
    labels = actor_genders(records, genders)
    groups: dict[str, list[str]] = defaultdict(list)
    for a in actors:
        if a in labels:
            groups[labels[a]].append(a)
    need_val = need_test = 0
    minority: list[str] = []
    if len(groups) >= 2 and min_minority > 0:
        group, minority = min(groups.items(), key=lambda kv: (len(kv[1]), kv[0]))
        need_val, need_test = min(min_minority, n_val), min(min_minority, n_test)
        if need_val + need_test > len(minority):
            counts = ", ".join(f"{g} {len(m)}" for g, m in sorted(groups.items()))
            raise ConfigError(
                f"cannot put {need_val} {group} actors in validation and {need_test} in test: the smaller "
                f"gender group has only {len(minority)} ({counts}); lower min_minority (now {min_minority}) "
                f"or val/test, or give more gender labels"
            )
    rng = random.Random(seed)
    small = list(minority)  # sorted: the smallest gender group (empty: no constraint)
    rng.shuffle(small)
    chosen = set(small)
    others = [a for a in actors if a not in chosen]
    rng.shuffle(others)
    held: dict[str, list[str]] = {}
    reserve = need_test  # minority actors kept back for the test split
    for split, k, need in (("val", n_val, need_val), ("test", n_test, need_test)):
        # stratified: the smallest group's share of the split (rounded), at least ``need``
        share = int(k * len(minority) / n + 0.5) if minority else 0
        t = min(max(need, share), k, len(small) - reserve)
        if k - t > len(others):  # not enough actors of the other groups: more of the smallest
            t = min(k - len(others), len(small) - reserve)
        held[split] = small[:t] + others[: k - t]
        small, others = small[t:], others[k - t :]
        reserve = 0
    train_actors = small + others
    val_actors, test_actors = held["val"], held["test"]
    return Splits(
        train=sorted(train_actors), val=sorted(val_actors), test=sorted(test_actors), genders=labels, seed=seed
    )


# ------------------------------------------------------------------------------------ file lists


def write_filelists(
    splits: Splits, records: Iterable[VideoRecord], directory: str | Path, *, strict: bool = True
) -> dict[str, Path]:
    """Write ``train.txt``, ``val.txt`` and ``test.txt`` (one video id per line, sorted) into ``directory``.

    Each file is written to a temporary file and renamed into place. ``strict``: a DataError when a
    record's actor is in no split (False: left out). Returns split name -> path.
    """
    directory = Path(directory)
    videos = splits.videos(records, strict=strict)
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name in SPLIT_NAMES:
        path = directory / f"{name}.txt"
        write_text_atomic(path, "".join(f"{vid}\n" for vid in videos[name]))
        out[name] = path
    return out


def _normalise_entry(raw: str) -> str | None:
    """The id of one file-list entry, or None when it is malformed."""
    entry = raw.replace("\\", "/")
    while entry.startswith("./"):
        entry = entry[2:]
    entry = entry.rstrip("/")
    lower = entry.lower()
    for ext in VIDEO_EXTENSIONS:
        if lower.endswith(ext):
            entry = entry[: -len(ext)]
            break
    parts = entry.split("/")
    if not entry or entry.startswith("/") or any(p in ("", ".", "..") or not _PART.fullmatch(p) for p in parts):
        return None
    return entry


def _short_index(known: Collection[str]) -> dict[tuple[str, str], list[str]]:
    """(actor, clip) -> the MEAD-form ids (actor/view/emotion/level_n/clip) among the known ids."""
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for vid in known:
        parts = vid.split("/")
        if len(parts) == 5:
            index[parts[0], parts[4]].append(vid)
    return {k: sorted(v) for k, v in index.items()}


def read_filelist(path: str | Path, known_ids: Collection[str] | None = None) -> list[str]:
    """The video ids of a file list, in file order.

    Accepts one id per line (``M003/front/happy/level_3/001``, ``5535415699068794046/00001``),
    optionally with a video extension, a leading ``./``, or LRS2's trailing ``NF``/``MV`` token;
    blank lines and ``#`` comments are skipped. A malformed line, a repeated id, or (with
    ``known_ids``) an id not among them is a DataError naming the file and line.

    With ``known_ids``, an entry of the original Wav2Lip-Emotion MEAD lists (``M028/003``: actor and
    clip, the emotion coming from the data root) that is not itself a known id stands for every
    known video ``M028/<view>/<emotion>/level_<n>/003``; it is expanded to them (sorted).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file list") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file list ({exc})") from None
    known = set(known_ids) if known_ids is not None else None
    short = _short_index(known) if known is not None else {}
    ids: list[str] = []
    first_line: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        tokens = content.split()
        if len(tokens) > 2 or (len(tokens) == 2 and tokens[1] not in LRS2_MARKERS):
            raise DataError(
                f"{path}, line {lineno}: expected one video id per line (optionally followed by NF or MV), "
                f"got {line.strip()!r}"
            )
        vid = _normalise_entry(tokens[0])
        if vid is None:
            raise DataError(
                f"{path}, line {lineno}: {tokens[0]!r} is not a video id (a relative path like "
                f"M003/front/happy/level_3/001 or 5535415699068794046/00001, without '..')"
            )
        if vid in first_line:
            raise DataError(f"{path}, line {lineno}: {vid!r} repeats line {first_line[vid]}")
        first_line[vid] = lineno
        if known is None or vid in known:
            ids.append(vid)
            continue
        parts = vid.split("/")
        expanded = short.get((parts[0], parts[1])) if len(parts) == 2 else None
        if expanded:
            ids.extend(expanded)
        else:
            unknown.append((vid, lineno))
    if unknown:
        shown = ", ".join(f"{vid!r} (line {n})" for vid, n in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise DataError(f"{path}: {len(unknown)} ids are not in the cache: {shown}{more}")
    return list(dict.fromkeys(ids))


def read_splits(directory: str | Path, records: Sequence[VideoRecord]) -> Splits:
    """The actor split given by ``directory``'s train/val/test.txt (ids checked against ``records``).

    A missing file is an empty split. An actor whose videos are in two lists is a DataError.
    """
    directory = Path(directory)
    by_id = {r.id: r for r in records}
    found: dict[str, set[str]] = {name: set() for name in SPLIT_NAMES}
    for name in SPLIT_NAMES:
        path = directory / f"{name}.txt"
        if path.is_file():
            found[name] = {by_id[vid].actor for vid in read_filelist(path, by_id)}
    return Splits(**{name: sorted(found[name]) for name in SPLIT_NAMES}, genders=actor_genders(records))


__all__ = [
    "LRS2_MARKERS",
    "MEAD_HELD_OUT",
    "PAPER_MEAD_SPLIT",
    "SPLIT_NAMES",
    "Splits",
    "actor_genders",
    "read_filelist",
    "read_splits",
    "split_by_actor",
    "write_filelists",
]
