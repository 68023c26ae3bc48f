"""What is evaluated: translation cases of a test split, and the model variants that translate them.

A :class:`Case` is one source take to translate into one destination emotion: the real source video, the
real destination video of the same actor and sentence (for the affect deltas and, outside the world,
as the ground truth), and in the generated world the *aligned* ground truth (the source take
re-rendered in the destination emotion with exactly its timing, mouth and pose).

A :class:`Variant` is what produces the translated videos: one of our checkpoints, an official
``.pth``, a translation engine (``mesh``: training-free), a directory of videos generated elsewhere, or a
baseline (``ground-truth``: the aligned
ground truth, or the destination video outside the world; ``copy``: the source video unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.layouts import SourceVideo, discover
from ..data.pairing import PAPER_PAIRS
from ..data.records import VideoRecord
from ..data.splits import read_splits, split_by_actor
from ..emotions import parse_emotion
from ..errors import ConfigError, DataError

#: the built-in baselines
BASELINES = ("ground-truth", "copy")
#: the translation engines an ``--engine`` variant may name (wav2lip_emotion.translate's ``engine``)
ENGINES = ("mesh", "model")


def parse_pairs(text: str | Iterable[str] | None) -> tuple[tuple[str, str], ...]:
    """``"neutral:happy,sad:happy"`` (or ``->``) -> (("neutral", "happy"), ("sad", "happy")).

    None -> the paper's six pairs."""
    if text is None:
        return PAPER_PAIRS
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    out: list[tuple[str, str]] = []
    for item in items:
        parts = item.replace("->", ":").split(":")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ConfigError(f"emotion pair {item!r}: write it as source:destination, e.g. neutral:happy")
        s, d = (parse_emotion(p.strip()).value for p in parts)
        if s == d:
            raise ConfigError(f"emotion pair {item!r}: source and destination are the same")
        out.append((s, d))
    if not out:
        raise ConfigError("no emotion pairs given")
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Case:
    """One source take translated into one destination emotion."""

    actor: str
    sentence: str
    source_emotion: str
    destination_emotion: str
    source: SourceVideo
    destination: SourceVideo
    #: the world's aligned ground truth (source take in the destination emotion), None outside the world
    aligned: Path | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return self.source_emotion, self.destination_emotion

    @property
    def pair_name(self) -> str:
        return f"{self.source_emotion}->{self.destination_emotion}"

    @property
    def id(self) -> str:
        """``P005/001/neutral_to_happy``: also the relative path (without .mp4) of its generated videos."""
        return f"{self.actor}/{self.sentence}/{self.source_emotion}_to_{self.destination_emotion}"

    @property
    def ground_truth(self) -> Path:
        """The ideal translation when the world has one, else the real destination take."""
        return self.aligned if self.aligned is not None else self.destination.path


def _level_of(emotion: str, level: int) -> int:
    return 1 if emotion == "neutral" else level


def select_actors(
    videos: Sequence[SourceVideo],
    *,
    actors: Sequence[str] | None = None,
    splits: str | Path | None = None,
    split: str = "test",
    val_actors: int | None = None,
    test_actors: int | None = None,
    seed: int = 0,
) -> list[str]:
    """The actors to evaluate: given by name, by a splits directory (train/val/test.txt), or drawn as the
    trainer draws them (``val_actors`` / ``test_actors`` / ``seed``, the same records give the same split)."""
    present = sorted({v.actor for v in videos})
    if actors:
        unknown = [a for a in actors if a not in present]
        if unknown:
            raise DataError(f"actors {', '.join(unknown)} are not in the data (found: {', '.join(present)})")
        return list(dict.fromkeys(actors))
    records = [VideoRecord.from_id(v.id, frames=1, gender=v.gender) for v in videos]
    if splits is not None:
        chosen = getattr(read_splits(splits, records), split)
    elif test_actors is not None or val_actors is not None:
        chosen = getattr(
            split_by_actor(records, val=val_actors or 0, test=test_actors or 0, seed=seed, min_minority=0), split
        )
    else:
        return present
    if not chosen:
        raise DataError(f"the {split} split is empty")
    return list(chosen)


def plan_cases(
    data: str | Path,
    layout: str = "world",
    *,
    pairs: Sequence[tuple[str, str]] = PAPER_PAIRS,
    level: int = 3,
    actors: Sequence[str] | None = None,
    use_aligned: bool = True,
    views: tuple[str, ...] = ("front",),
) -> list[Case]:
    """Every (actor, sentence, pair) of ``data`` with both a source and a destination take.

    Emotions other than neutral are taken at ``level`` (neutral has only level 1, as in MEAD). In the
    world layout the aligned ground truth is used when it was rendered (``synth`` without
    ``--no-aligned``), unless ``use_aligned`` is False. DataError when nothing can be evaluated.
    """
    data = Path(data)
    emotions = tuple(sorted({e for p in pairs for e in p}))
    videos = discover(layout, data, emotions=emotions, views=views)
    if actors is not None:
        videos = [v for v in videos if v.actor in set(actors)]
    index: dict[tuple[str, str, str], SourceVideo] = {}
    for v in videos:
        if v.emotion is None or v.level != _level_of(v.emotion, level):
            continue
        index[(v.actor, v.sentence, v.emotion)] = v
    cases: list[Case] = []
    groups = sorted({(a, s) for a, s, _ in index})
    for actor, sentence in groups:
        for s_emo, d_emo in pairs:
            src, dst = index.get((actor, sentence, s_emo)), index.get((actor, sentence, d_emo))
            if src is None or dst is None:
                continue
            aligned = None
            if layout == "world" and use_aligned:
                candidate = (
                    data
                    / "aligned"
                    / actor
                    / s_emo
                    / f"level_{_level_of(s_emo, level)}"
                    / sentence
                    / f"{d_emo}_level_{_level_of(d_emo, level)}.mp4"
                )
                aligned = candidate if candidate.is_file() else None
            cases.append(Case(actor, sentence, s_emo, d_emo, src, dst, aligned))
    if not cases:
        found = sorted({(v.actor, v.emotion, v.level) for v in videos})
        shown = ", ".join(f"{a} {e} level {lv}" for a, e, lv in found[:12]) or "no videos"
        raise DataError(
            f"{data}: no (source, destination) takes of one actor and sentence for the pairs "
            f"{', '.join(f'{s}->{d}' for s, d in pairs)} at level {level} (found: {shown})"
        )
    return cases


@dataclass(frozen=True)
class Variant:
    """A way of producing translated videos, with the labels the tables use."""

    name: str
    #: "checkpoint", "engine", "generated" (a directory of videos made elsewhere) or a baseline name
    kind: str
    path: Path | None = None
    #: an engine variant's engine ("mesh", "model") and intensity (None: translate's default)
    engine: str | None = None
    intensity: float | None = None
    #: table labels: "full" / "half" / "-", and "l1+emotion" / "emotion" / "l1" / "conditional" / ...
    mask: str = "-"
    strategy: str = "-"
    #: directed pairs it can translate; None = any
    pairs: tuple[tuple[str, str], ...] | None = None
    #: emotions a conditional model knows; None = not restricted
    emotions: tuple[str, ...] | None = None
    description: str = ""

    def can(self, case: Case) -> bool:
        if self.pairs is not None and case.pair not in self.pairs:
            return False
        return self.emotions is None or case.destination_emotion in self.emotions

    @property
    def baseline(self) -> bool:
        return self.kind in BASELINES


def checkpoint_variant(path: str | Path, name: str | None = None) -> Variant:
    """A variant from a generator checkpoint: its pairs, emotions, mask and strategy as the file records them."""
    from ..translation.translator import read_generator_card

    path = Path(path)
    card, _ = read_generator_card(path)
    if card.stage == "wav2lip":
        raise ConfigError(f"{path}: a wav2lip-stage (lip-sync only) model changes no emotion; give an emotion model")
    mask = card.mask.value if card.mask is not None else "-"
    strategy = str(card.extra.get("strategy") or ("conditional" if card.conditional else "-"))
    default_name = f"{mask}/{strategy}" if mask != "-" or strategy != "-" else path.stem
    return Variant(
        name=name or default_name,
        kind="checkpoint",
        path=path,
        mask=mask,
        strategy=strategy,
        pairs=card.pairs or None if not card.conditional and card.source == "native" else None,
        emotions=card.emotions or None if card.conditional else None,
        description=card.describe(),
    )


def engine_variant(spec: str) -> Variant:
    """A variant from ``[NAME=]ENGINE[@INTENSITY]``: ``mesh`` (the training-free engine), ``mesh@0.5``,
    ``gentle=mesh@0.5``, ``model`` (the shipped model). Default name: the spec without NAME=."""
    name, rest = parse_named(spec)
    engine, _, strength = rest.strip().partition("@")
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise ConfigError(f"engine variant {spec!r}: the engine must be one of {', '.join(ENGINES)}")
    intensity = None
    if strength.strip():
        try:
            intensity = float(strength)
        except ValueError:
            raise ConfigError(f"engine variant {spec!r}: the intensity after @ must be a number") from None
        if not 0 <= intensity <= 3:
            raise ConfigError(f"engine variant {spec!r}: the intensity must be in 0..3, got {intensity:g}")
    about = "the training-free mesh engine" if engine == "mesh" else "the shipped model"
    return Variant(
        name=name or rest.strip(),
        kind="engine",
        strategy=engine,
        engine=engine,
        intensity=intensity,
        description=about + (f" at intensity {intensity:g}" if intensity is not None else ""),
    )


def generated_variant(directory: str | Path, name: str | None = None) -> Variant:
    """A variant whose videos were generated elsewhere: ``<dir>/<actor>/<sentence>/<src>_to_<dst>.mp4``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory of generated videos")
    return Variant(name=name or directory.name, kind="generated", path=directory, description=f"videos in {directory}")


def baseline_variant(name: str) -> Variant:
    if name == "ground-truth":
        return Variant(
            "ground-truth",
            "ground-truth",
            description="the aligned ground truth (world) or the real destination take: the ideal scores",
        )
    if name == "copy":
        return Variant("copy", "copy", description="the source video unchanged (output = input): no edit at all")
    raise ConfigError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


def parse_named(item: str) -> tuple[str | None, str]:
    """``NAME=PATH`` -> (NAME, PATH); a plain PATH -> (None, PATH)."""
    if "=" in item:
        name, _, path = item.partition("=")
        if name.strip() and path.strip() and "/" not in name and "\\" not in name:
            return name.strip(), path.strip()
    return None, item
