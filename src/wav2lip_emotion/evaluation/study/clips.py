"""The study's videos and clips, and the seeded, balanced sampling of translation groups.

A translation *group* is one actor/sentence/pair: the generated videos of the model variants plus the
real source and destination videos. :func:`collect_groups` checks a list of :class:`StudyVideo` into
groups; :func:`sample_groups` picks the groups a study shows.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ...errors import ConfigError
from ...perception.emotions import parse_emotion

Role = Literal["generated", "source", "destination"]
#: the roles of a video in a translation group
ROLES: tuple[str, ...] = ("generated", "source", "destination")
#: the emotions the rating scale can express (1 very sad .. 3 neutral .. 5 very happy)
SCALE_EMOTIONS: tuple[str, ...] = ("sad", "neutral", "happy")
#: the rating dimensions, in column order
DIMENSIONS: tuple[str, ...] = ("sync", "quality", "emotion")
#: columns of rating_sheet.csv and of the form's download, in this order
RATING_COLUMNS: tuple[str, ...] = ("rater", "clip", *DIMENSIONS)
#: columns of key.csv
KEY_COLUMNS: tuple[str, ...] = ("clip", "role", "variant", "source_emotion", "destination_emotion", "group", "path")


@dataclass(frozen=True)
class StudyVideo:
    """One video to be rated.

    ``role``: ``generated`` (a model's output; ``variant`` names the model variant, e.g.
    ``half/l1+emotion``) or ``source`` / ``destination`` (a real recording, ``variant`` None).
    ``pair``: (source emotion, destination emotion) of the translation, for every role; names as
    :func:`parse_emotion` takes them, normalised, from :data:`SCALE_EMOTIONS`. ``group``: the
    translation instance (e.g. ``M003/001/sad->happy``): the generated videos of one instance and
    its real source and destination videos share it. ConfigError for an inconsistent video.
    """

    path: Path
    role: Role
    variant: str | None
    pair: tuple[str, str]
    group: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.role not in ROLES:
            raise ConfigError(f"{self.path}: unknown role {self.role!r}; choose one of {', '.join(ROLES)}")
        if self.role == "generated":
            if not isinstance(self.variant, str) or not self.variant.strip():
                raise ConfigError(f"{self.path}: a generated video needs a variant name, got {self.variant!r}")
        elif self.variant is not None:
            raise ConfigError(f"{self.path}: a real ({self.role}) video has no variant, got {self.variant!r}")
        if not isinstance(self.group, str) or not self.group.strip():
            raise ConfigError(f"{self.path}: empty group name")
        object.__setattr__(self, "pair", check_pair(self.pair, str(self.path)))

    @property
    def source_emotion(self) -> str:
        return self.pair[0]

    @property
    def destination_emotion(self) -> str:
        return self.pair[1]


def check_pair(pair: object, where: str) -> tuple[str, str]:
    """(source, destination) as our emotion names, both on the rating scale and different."""
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ConfigError(f"{where}: pair must be (source emotion, destination emotion), got {pair!r}")
    names = tuple(parse_emotion(e).value for e in pair)
    for name in names:
        if name not in SCALE_EMOTIONS:
            raise ConfigError(
                f"{where}: emotion {name!r} cannot be rated on the study's scale "
                f"(1 very sad .. 3 neutral .. 5 very happy); use {', '.join(SCALE_EMOTIONS)}"
            )
    if names[0] == names[1]:
        raise ConfigError(f"{where}: pair {names[0]}->{names[1]} translates to the same emotion")
    return names[0], names[1]


@dataclass(frozen=True)
class StudyClip:
    """One row of key.csv: a blinded clip and the video behind it."""

    clip: str
    role: str
    variant: str | None
    pair: tuple[str, str]
    group: str
    path: str


@dataclass
class Group:
    """One translation group: its generated videos and its real source and destination videos."""

    name: str
    pair: tuple[str, str]
    source: StudyVideo | None = None
    destination: StudyVideo | None = None
    generated: list[StudyVideo] = field(default_factory=list)

    @property
    def variants(self) -> list[str]:
        return [v.variant or "" for v in self.generated]


def collect_groups(videos: Sequence[StudyVideo]) -> dict[str, Group]:
    """The videos by group; ConfigError for mixed pairs, a repeated video or a group lacking a real video."""
    groups: dict[str, Group] = {}
    for video in videos:
        if not isinstance(video, StudyVideo):
            raise ConfigError(f"expected StudyVideo items, got {type(video).__name__}")
        group = groups.setdefault(video.group, Group(video.group, video.pair))
        if video.pair != group.pair:
            raise ConfigError(
                f"{video.path}: group {video.group!r} mixes pairs {'->'.join(group.pair)} and {'->'.join(video.pair)}"
            )
        if video.role == "generated":
            for other in group.generated:
                if other.variant == video.variant:
                    raise ConfigError(
                        f"group {video.group!r} has two videos of variant {video.variant!r}: "
                        f"{other.path} and {video.path}"
                    )
            group.generated.append(video)
            continue
        existing: StudyVideo | None = getattr(group, video.role)
        if existing is not None:
            raise ConfigError(f"group {video.group!r} has two {video.role} videos: {existing.path} and {video.path}")
        setattr(group, video.role, video)
    for group in groups.values():
        if group.generated:
            missing = [r for r in ("source", "destination") if getattr(group, r) is None]
            if missing:
                raise ConfigError(
                    f"{group.generated[0].path}: group {group.name!r} has no real {' and no '.join(missing)} video "
                    "(delta emotion needs both)"
                )
    return groups


def sample_groups(pool: list[Group], count: int | None, rng: random.Random) -> list[Group]:
    """``count`` groups, balanced over pairs first, then over variants; all when None.

    Greedy: the next group is one of the pair chosen least so far, preferring groups whose variants
    have been chosen least (mean count), ties broken by a seeded shuffle.
    """
    pool = sorted(pool, key=lambda g: g.name)
    if count is None:
        return pool
    rng.shuffle(pool)
    pair_rank: dict[tuple[str, str], int] = {}
    for g in pool:
        pair_rank.setdefault(g.pair, len(pair_rank))
    pair_n: dict[tuple[str, str], int] = defaultdict(int)
    variant_n: dict[str, int] = defaultdict(int)
    remaining = list(enumerate(pool))
    chosen: list[Group] = []
    for _ in range(count):

        def priority(item: tuple[int, Group]) -> tuple[int, float, int, int]:
            index, g = item
            variants = g.variants
            return pair_n[g.pair], sum(variant_n[v] for v in variants) / len(variants), pair_rank[g.pair], index

        best = min(remaining, key=priority)
        remaining.remove(best)
        group = best[1]
        chosen.append(group)
        pair_n[group.pair] += 1
        for v in group.variants:
            variant_n[v] += 1
    return chosen


def blinded_items(chosen: Sequence[Group], rng: random.Random) -> list[StudyVideo]:
    """Every video of the chosen groups (generated, then the real source and destination once each), shuffled."""
    order = {role: i for i, role in enumerate(ROLES)}
    items: list[StudyVideo] = []
    for group in chosen:
        assert group.source is not None and group.destination is not None
        items.extend([*group.generated, group.source, group.destination])
    items.sort(key=lambda v: (v.group, order[v.role], v.variant or ""))
    rng.shuffle(items)
    return items
