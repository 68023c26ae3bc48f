"""Pairing videos of the same actor and sentence across emotions (MEAD), or a video with itself (LRS2).

A :class:`Pair` says which videos play which role in a training sample:

* reference frames: always the **source** video (the emotion the input is in);
* L1 targets (and their audio): ``targets_from`` = "destination" (emotion translation by L1),
  "source" (the paper's "source affect only" ablation / "emotion objective only" strategy: the L1
  loss reconstructs the source and only the emotion objective pushes towards the destination) or
  "aligned" (the generated world only: the source take rendered in the destination emotion with the
  same timing and pose, found in the face cache by the dataset; the audio is the source's);
* pose prior (the masked frames): ``prior_from``. With **full** masking the paper takes it from the
  destination video (the whole face is blacked out, so only head pose and background pass, aligned
  with the destination targets). With **half** masking the upper face stays visible; we take it from
  the source window itself, as at inference, where only the source video exists. Every combination
  is allowed; ``half`` + prior "destination" is Wav2Lip's plain "masked target window" and shows
  the destination's upper face to the generator during training.

Performances in different emotions are not time-aligned: a window at frame i of the source and of
the destination are only approximately the same moment of the sentence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from ..emotions import EMOTIONS, parse_emotion
from ..errors import ConfigError, DataError
from ..messages import listing as _listing
from .records import VideoRecord

Role = Literal["destination", "source"]
TargetRole = Literal["destination", "source", "aligned"]
Mask = Literal["full", "half", "none"]
Strategy = Literal["l1+emotion", "emotion", "l1"]

ROLES: tuple[str, ...] = ("destination", "source")
TARGET_ROLES: tuple[str, ...] = ("destination", "source", "aligned")
MASKS: tuple[str, ...] = ("full", "half", "none")
STRATEGIES: tuple[str, ...] = ("l1+emotion", "emotion", "l1")
NEUTRAL = "neutral"
#: the paper's six directed pairs among happy (level 3), sad (level 3) and neutral
PAPER_PAIRS: tuple[tuple[str, str], ...] = (
    ("happy", "neutral"),
    ("happy", "sad"),
    ("neutral", "happy"),
    ("neutral", "sad"),
    ("sad", "happy"),
    ("sad", "neutral"),
)


def _levels(name: str, value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, int) else value
    try:
        out = tuple(items)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(f"{name} must be a tuple of levels (ints >= 1) or None, got {value!r}") from None
    for lv in out:
        if isinstance(lv, bool) or not isinstance(lv, int) or lv < 1:
            raise ConfigError(f"{name} must hold levels as ints >= 1, got {lv!r}")
    if not out:
        raise ConfigError(f"{name} is empty: give at least one level, or None for all")
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class PairingConfig:
    """Which videos are paired, and which role each video of a pair plays in a sample."""

    #: directed (source emotion, destination emotion) pairs; None = every directed pair of two
    #: different emotions present in the records; () = same-video mode (see ``same_video``)
    pairs: tuple[tuple[str, str], ...] | None = None
    #: allowed levels of the source video; None = every level found for that emotion
    #: (neutral is always level 1, whatever is given here)
    source_levels: tuple[int, ...] | None = None
    #: allowed levels of the destination video; None = every level found (neutral: always 1)
    destination_levels: tuple[int, ...] | None = None
    #: which video gives the L1 targets and their audio: "destination" (translation by L1),
    #: "source" (the "source affect only" ablation / "emotion objective only" strategy) or "aligned" (the
    #: world's aligned render of the source in the destination emotion; audio from the source)
    targets_from: TargetRole = "destination"
    #: which video gives the pose prior (the masked frames); the paper: destination with full
    #: masking, the source window itself with half masking
    prior_from: Role = "destination"
    #: pose-prior masking: "full" = the whole face blacked out, "half" = lower half zeroed (Wav2Lip),
    #: "none" = nothing hidden (an editing model)
    mask: Mask = "full"
    #: camera views to use (MEAD: "front", ...); None = all, each view paired only with itself
    views: tuple[str, ...] | None = None
    #: pair every video with itself (reference and target from one video, as Wav2Lip on LRS2);
    #: also implied by ``pairs == ()``
    same_video: bool = False

    def __post_init__(self) -> None:
        pairs = self.pairs
        if pairs is not None:
            norm: list[tuple[str, str]] = []
            for p in pairs:
                if isinstance(p, str) or len(p) != 2:
                    raise ConfigError(f"each emotion pair must be (source, destination), got {p!r}")
                item = (parse_emotion(p[0]).value, parse_emotion(p[1]).value)
                if item not in norm:
                    norm.append(item)
            pairs = tuple(norm)
            object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "source_levels", _levels("source_levels", self.source_levels))
        object.__setattr__(self, "destination_levels", _levels("destination_levels", self.destination_levels))
        if self.targets_from not in TARGET_ROLES:
            raise ConfigError(f"targets_from must be one of {', '.join(TARGET_ROLES)}, got {self.targets_from!r}")
        if self.prior_from not in ROLES:
            raise ConfigError(f"prior_from must be one of {', '.join(ROLES)}, got {self.prior_from!r}")
        if self.mask not in MASKS:
            raise ConfigError(f"mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        if self.views is not None:
            views = (self.views,) if isinstance(self.views, str) else tuple(self.views)
            if not views or not all(isinstance(v, str) and v for v in views):
                raise ConfigError(f"views must be a tuple of view names or None, got {self.views!r}")
            object.__setattr__(self, "views", views)
        if self.same_video and pairs:
            raise ConfigError("same_video=True pairs each video with itself: give no emotion pairs (pairs=None or ())")

    @property
    def is_same_video(self) -> bool:
        """True when every video is paired with itself (``same_video`` or ``pairs == ()``)."""
        return self.same_video or self.pairs == ()

    @classmethod
    def paper(
        cls,
        source: str,
        destination: str,
        *,
        mask: Mask = "half",
        strategy: Strategy = "l1+emotion",
        level: int = 3,
        views: tuple[str, ...] | None = ("front",),
    ) -> PairingConfig:
        """One of the paper's six variants for one directed pair (it trained one model per pair).

        ``strategy``: "l1+emotion" / "l1" (targets from the destination) or "emotion" (targets
        from the source). Prior: the targets' video with full masking, the source with half masking.
        Level 3 for happy and sad (neutral is level 1), frontal camera.
        """
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if mask not in MASKS:
            raise ConfigError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
        targets: Role = "source" if strategy == "emotion" else "destination"
        prior: Role = targets if mask == "full" else "source"
        return cls(
            pairs=((source, destination),),
            source_levels=(level,),
            destination_levels=(level,),
            targets_from=targets,
            prior_from=prior,
            mask=mask,
            views=views,
        )

    @classmethod
    def wav2lip(cls, *, mask: Mask = "half", views: tuple[str, ...] | None = None) -> PairingConfig:
        """Plain Wav2Lip training (LRS2 or any data): every video paired with itself."""
        return cls(pairs=(), mask=mask, views=views, same_video=True)


@dataclass(frozen=True)
class Pair:
    """A source video and a destination video of the same actor, sentence and view."""

    source: VideoRecord
    destination: VideoRecord
    source_emotion: str | None
    destination_emotion: str | None
    destination_level: int | None
    #: the roles, copied from the PairingConfig
    targets_from: TargetRole = "destination"
    prior_from: Role = "destination"
    mask: Mask = "full"

    @property
    def source_level(self) -> int | None:
        return self.source.level

    @property
    def same_video(self) -> bool:
        return self.source.id == self.destination.id

    @property
    def reference(self) -> VideoRecord:
        """The video giving the reference frames: always the source."""
        return self.source

    @property
    def target(self) -> VideoRecord:
        """The video giving the L1 targets' audio (and their frames, except for "aligned" targets, whose
        frames are the aligned render of this source video)."""
        return self.destination if self.targets_from == "destination" else self.source

    @property
    def prior(self) -> VideoRecord:
        """The video giving the pose prior (masked frames)."""
        return self.destination if self.prior_from == "destination" else self.source

    @property
    def id(self) -> str:
        """``<source id> -> <destination id>``, or the video's id for a same-video pair."""
        return self.source.id if self.same_video else f"{self.source.id} -> {self.destination.id}"


class Missing(NamedTuple):
    """A video a requested pair needed but the records lack (level None: the emotion has no video at all)."""

    actor: str
    sentence: str
    emotion: str
    level: int | None


GroupKey = tuple[str, str, str | None]  # actor, sentence, view
VideoKey = tuple[str, int | None]  # emotion, level


def _level_sort(level: int | None) -> tuple[bool, int]:
    return (level is None, level or 0)


@dataclass
class _Build:
    pairs: list[Pair] = field(default_factory=list)
    missing: set[Missing] = field(default_factory=set)


class PairIndex:
    """Every pair of the records allowed by a :class:`PairingConfig`, in a fixed order.

    ``groups`` indexes (actor, sentence, view) -> {(emotion, level): record}. ``pairs`` are sorted
    by (actor, sentence, view), then by the config's pair order, then by levels. A sequence: ``len``,
    indexing, iteration. An empty index is a DataError saying why.
    """

    def __init__(self, records: Iterable[VideoRecord], config: PairingConfig | None = None) -> None:
        self.config = config or PairingConfig()
        cfg = self.config
        seen: dict[str, VideoRecord] = {}
        kept: list[VideoRecord] = []
        for r in records:
            if r.id in seen:
                raise DataError(f"video id {r.id!r} appears twice in the records")
            seen[r.id] = r
            if cfg.views is None or r.view in cfg.views:
                kept.append(r)
        kept.sort(key=lambda r: r.id)
        self.records: tuple[VideoRecord, ...] = tuple(kept)
        self._all = len(seen)
        self.groups: dict[GroupKey, dict[VideoKey, VideoRecord]] = {}
        self._emotion_of: dict[str, str] = {}
        if cfg.is_same_video:
            built = self._same_video()
        else:
            self._index()
            built = self._emotion_pairs()
        self.pairs: list[Pair] = built.pairs
        self._missing = sorted(built.missing, key=lambda m: (m.actor, m.sentence, m.emotion, _level_sort(m.level)))
        if not self.pairs:
            raise DataError(self._why_empty())

    # -------------------------------------------------------------------------------- sequence

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Pair:
        return self.pairs[index]

    def __iter__(self) -> Iterator[Pair]:
        return iter(self.pairs)

    def __repr__(self) -> str:
        return f"PairIndex({len(self.pairs)} pairs from {len(self.records)} videos)"

    # -------------------------------------------------------------------------------- reports

    def missing(self) -> list[Missing]:
        """(actor, sentence, emotion, level) videos that requested pairs needed but are absent.

        Only for (actor, sentence, view) groups holding at least one video of a requested emotion and
        level; one entry per combination whatever the view. Empty in same-video mode.
        """
        return list(self._missing)

    def counts(self) -> dict[tuple[str | None, str | None], int]:
        """(source emotion, destination emotion) -> number of pairs."""
        out: dict[tuple[str | None, str | None], int] = defaultdict(int)
        for p in self.pairs:
            out[p.source_emotion, p.destination_emotion] += 1
        return dict(out)

    def video_ids(self) -> list[str]:
        """The ids of every video used by some pair, sorted."""
        return sorted({p.source.id for p in self.pairs} | {p.destination.id for p in self.pairs})

    # -------------------------------------------------------------------------------- building

    def _pair(self, src: VideoRecord, dst: VideoRecord, se: str | None, de: str | None, level: int | None) -> Pair:
        cfg = self.config
        return Pair(src, dst, se, de, level, cfg.targets_from, cfg.prior_from, cfg.mask)

    def _same_video(self) -> _Build:
        out = _Build()
        levels = self.config.source_levels
        for r in self.records:
            emotion = self._emotion(r) if r.emotion is not None else None
            if levels is not None and r.level is not None and emotion != NEUTRAL and r.level not in levels:
                continue
            out.pairs.append(self._pair(r, r, emotion, emotion, r.level))
        return out

    def _emotion(self, r: VideoRecord) -> str:
        name = self._emotion_of.get(r.id)
        if name is None:
            try:
                name = parse_emotion(str(r.emotion)).value
            except ConfigError:
                raise DataError(
                    f"video {r.id!r} has an unknown emotion {r.emotion!r} (known: {', '.join(EMOTIONS)})"
                ) from None
            self._emotion_of[r.id] = name
        return name

    def _index(self) -> None:
        groups: dict[GroupKey, dict[VideoKey, VideoRecord]] = defaultdict(dict)
        for r in self.records:
            if r.emotion is None:
                continue
            emotion = self._emotion(r)
            # neutral has one level: a neutral video without a level counts as level 1
            key = (emotion, 1 if emotion == NEUTRAL and r.level is None else r.level)
            group = groups[r.actor, r.sentence, r.view]
            if key in group:
                raise DataError(
                    f"videos {group[key].id!r} and {r.id!r} are both actor {r.actor}, sentence {r.sentence}, "
                    f"view {r.view}, {key[0]} level {key[1]}"
                )
            group[key] = r
        self.groups = {k: groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2] or ""))}

    def emotions(self) -> list[str]:
        """The emotions present in the records, in :data:`EMOTIONS` order."""
        present = {e for g in self.groups.values() for e, _ in g}
        return [e for e in EMOTIONS if e in present]

    def requested_pairs(self) -> tuple[tuple[str, str], ...]:
        """The directed emotion pairs asked for (the config's, or all among the emotions present)."""
        if self.config.pairs is not None:
            return self.config.pairs
        present = self.emotions()
        return tuple((a, b) for a in present for b in present if a != b)

    def _observed_levels(self) -> dict[str, list[int | None]]:
        out: dict[str, set[int | None]] = defaultdict(set)
        for g in self.groups.values():
            for e, lv in g:
                out[e].add(lv)
        return {e: sorted(lvs, key=_level_sort) for e, lvs in out.items()}

    def _levels_for(
        self, emotion: str, allowed: tuple[int, ...] | None, observed: dict[str, list[int | None]]
    ) -> list[int | None]:
        if emotion == NEUTRAL:
            return [1]
        if allowed is not None:
            return list(allowed)
        return observed.get(emotion) or [None]

    def _wanted(self) -> tuple[list[tuple[str, str, list[int | None], list[int | None]]], set[VideoKey]]:
        cfg = self.config
        observed = self._observed_levels()
        plan = []
        wanted: set[VideoKey] = set()
        for se, de in self.requested_pairs():
            sl = self._levels_for(se, cfg.source_levels, observed)
            dl = self._levels_for(de, cfg.destination_levels, observed)
            plan.append((se, de, sl, dl))
            wanted.update((se, lv) for lv in sl)
            wanted.update((de, lv) for lv in dl)
        return plan, wanted

    def _emotion_pairs(self) -> _Build:
        out = _Build()
        plan, wanted = self._wanted()
        for (actor, sentence, _view), group in self.groups.items():
            if not wanted.intersection(group):
                continue
            for emotion, level in wanted:
                if (emotion, level) not in group and not (level is None and any(e == emotion for e, _ in group)):
                    out.missing.add(Missing(actor, sentence, emotion, level))
            for se, de, src_levels, dst_levels in plan:
                for sl in src_levels:
                    src = group.get((se, sl))
                    if src is None:
                        continue
                    for dl in dst_levels:
                        dst = group.get((de, dl))
                        if dst is not None and dst is not src:
                            out.pairs.append(self._pair(src, dst, se, de, dl))
        return out

    # -------------------------------------------------------------------------------- errors

    def _why_empty(self) -> str:
        cfg = self.config
        if not self.records:
            views = f" in views {', '.join(cfg.views)}" if cfg.views else ""
            return f"no pairs: none of the {self._all} videos{views} are left to pair"
        if cfg.is_same_video:
            return (
                f"no pairs: every video was excluded by source_levels {cfg.source_levels} "
                f"(e.g. {_listing([r.id for r in self.records], 10)})"
            )
        if not self.groups:
            return (
                f"no pairs: none of the {len(self.records)} videos has an emotion label "
                f"(e.g. {_listing([r.id for r in self.records], 10)}); for data without emotions "
                f"(LRS2) use PairingConfig(same_video=True)"
            )
        plan, wanted = self._wanted()
        requested = ", ".join(f"{se}->{de}" for se, de, _, _ in plan) or "none (only one emotion present)"
        levels = f"source levels {cfg.source_levels or 'all'}, destination levels {cfg.destination_levels or 'all'}"
        per_actor: dict[str, set[str]] = defaultdict(set)
        for (actor, _s, _v), group in self.groups.items():
            per_actor[actor].update(f"{e}/{lv}" for e, lv in group)
        found = _listing([f"{a}: {', '.join(sorted(v))}" for a, v in sorted(per_actor.items())], 10)
        candidates = sorted(r.id for g in self.groups.values() for k, r in g.items() if k in wanted)
        if candidates:
            detail = (
                f"no (actor, sentence, view) has both videos of a requested pair; videos without a partner: "
                f"{_listing(candidates, 10)}"
            )
        else:
            others = sorted(r.id for g in self.groups.values() for r in g.values())
            detail = f"no video has a requested emotion and level; videos found: {_listing(others, 10)}"
        return f"no emotion pairs ({requested}; {levels}): {detail}. Emotion/level found per actor: {found}"


__all__ = [
    "PAPER_PAIRS",
    "Missing",
    "Pair",
    "PairIndex",
    "PairingConfig",
]
