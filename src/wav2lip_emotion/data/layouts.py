"""Finding the videos of a dataset on disk: MEAD, LRS2 and the generated world."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..emotions import parse_emotion
from ..errors import ConfigError

LAYOUTS = ("mead", "lrs2", "world")
_AUDIO_SUFFIXES = (".m4a", ".wav", ".aac", ".mp3", ".flac")
_LEVEL = re.compile(r"level_(\d+)$")


@dataclass(frozen=True)
class SourceVideo:
    """One video of the source dataset, with what its path says about it."""

    path: Path
    id: str
    actor: str
    sentence: str
    emotion: str | None = None
    level: int | None = None
    view: str | None = None
    #: a separate audio file (MEAD ships one per video); None = the video's own audio
    audio: Path | None = None
    gender: str | None = None
    #: an aligned render of the generated world: the id of the take it re-renders (``emotion`` / ``level``
    #: are then the render's) and that take's video, whose face track crops the render
    aligned_from: str | None = None
    track_video: Path | None = None


def _mead_gender(actor: str) -> str | None:
    """MEAD actor ids start with M (male) or W (female): M003, W009."""
    return {"M": "male", "W": "female"}.get(actor[:1]) if re.fullmatch(r"[MW]\d{3}", actor) else None


def discover(
    layout: str,
    src: str | Path,
    *,
    emotions: tuple[str, ...] | None = None,
    levels: tuple[int, ...] | None = None,
    views: tuple[str, ...] | None = ("front",),
) -> list[SourceVideo]:
    """Every video of ``src`` in ``layout`` order (sorted by id), filtered by emotion, level and view."""
    src = Path(src)
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not src.is_dir():
        raise ConfigError(f"{src}: no such directory")
    wanted_emotions = {parse_emotion(e).value for e in emotions} if emotions else None
    if layout == "lrs2":
        videos = _lrs2(src)
    else:
        videos = _mead(src, views)
        if layout == "world":
            genders = _world_genders(src)
            videos = [SourceVideo(**{**v.__dict__, "gender": genders.get(v.actor, v.gender)}) for v in videos]
    out = [v for v in videos if _wanted(v.emotion, v.level, wanted_emotions, levels)]
    return sorted(out, key=lambda v: v.id)


def _wanted(emotion: str | None, level: int | None, emotions: set[str] | None, levels: tuple[int, ...] | None) -> bool:
    """The emotion and level filters (a video without a level, and neutral, pass any level filter)."""
    if emotions is not None and emotion not in emotions:
        return False
    return levels is None or level is None or level in levels or emotion == "neutral"


_ALIGNED_NAME = re.compile(r"([a-z]+)_level_(\d+)$")


def discover_aligned(
    src: str | Path, *, emotions: tuple[str, ...] | None = None, levels: tuple[int, ...] | None = None
) -> list[SourceVideo]:
    """The generated world's aligned renders (``synth`` without ``--no-aligned``), sorted by id.

    ``aligned/<actor>/<emotion>/level_<n>/<nnn>/<dst emotion>_level_<m>.mp4`` re-renders the take
    ``<actor>/video/front/<emotion>/level_<n>/<nnn>.mp4`` in the destination emotion with the same timing,
    pose and audio. Its id is ``aligned/<take id>/<dst emotion>_level_<m>``. Both the take's and the
    render's emotion and level must pass the filters (neutral passes any level filter).
    """
    src = Path(src)
    wanted = {parse_emotion(e).value for e in emotions} if emotions else None
    out = []
    for path in src.glob("aligned/*/*/level_*/*/*.mp4"):
        actor, emotion, level_dir, sentence, _name = path.relative_to(src / "aligned").parts
        level_m, name_m = _LEVEL.match(level_dir), _ALIGNED_NAME.match(path.stem)
        if level_m is None or name_m is None:
            continue
        try:
            emo, dst = parse_emotion(emotion).value, parse_emotion(name_m.group(1)).value
        except ConfigError:
            continue
        level, dst_level = int(level_m.group(1)), int(name_m.group(2))
        if not (_wanted(emo, level, wanted, levels) and _wanted(dst, dst_level, wanted, levels)):
            continue
        take = src / actor / "video" / "front" / emotion / level_dir / f"{sentence}.mp4"
        audio = src / actor / "audio" / emotion / level_dir / f"{sentence}.wav"
        take_id = f"{actor}/front/{emo}/{level_dir}/{sentence}"
        out.append(
            SourceVideo(
                path=path,
                id=f"aligned/{take_id}/{dst}_level_{dst_level}",
                actor=actor,
                sentence=sentence,
                emotion=dst,
                level=dst_level,
                view="front",
                audio=audio if audio.is_file() else None,
                aligned_from=take_id,
                track_video=take,
            )
        )
    return sorted(out, key=lambda v: v.id)


def _mead(src: Path, views: tuple[str, ...] | None) -> list[SourceVideo]:
    """``<actor>/video/<view>/<emotion>/level_<n>/<nnn>.mp4`` with audio in ``<actor>/audio/<emotion>/level_<n>/``."""
    out = []
    for path in src.glob("*/video/*/*/level_*/*.mp4"):
        rel = path.relative_to(src).parts  # actor, video, view, emotion, level_n, file
        actor, _, view, emotion, level_dir, _name = rel
        if views is not None and view not in views:
            continue
        level_m = _LEVEL.match(level_dir)
        try:
            emo = parse_emotion(emotion).value
        except ConfigError:
            continue
        if level_m is None:
            continue
        sentence = path.stem
        audio = None
        for suffix in _AUDIO_SUFFIXES:
            candidate = src / actor / "audio" / emotion / level_dir / f"{sentence}{suffix}"
            if candidate.is_file():
                audio = candidate
                break
        out.append(
            SourceVideo(
                path=path,
                id=f"{actor}/{view}/{emo}/{level_dir}/{sentence}",
                actor=actor,
                sentence=sentence,
                emotion=emo,
                level=int(level_m.group(1)),
                view=view,
                audio=audio,
                gender=_mead_gender(actor),
            )
        )
    return out


def _lrs2(src: Path) -> list[SourceVideo]:
    """``[main|pretrain/]<folder>/<clip>.mp4``: the folder is the speaker-ish unit LRS2 splits by."""
    out = []
    for path in src.rglob("*.mp4"):
        rel = path.relative_to(src).parts
        if len(rel) < 2:
            continue
        folder, clip = rel[-2], path.stem
        out.append(SourceVideo(path=path, id=f"{folder}/{clip}", actor=folder, sentence=clip))
    return out


def _world_genders(src: Path) -> dict[str, str]:
    manifest = src / "world.json"
    if not manifest.is_file():
        return {}
    try:
        actors = json.loads(manifest.read_text()).get("actors", [])
    except json.JSONDecodeError:
        return {}
    return {a["actor"]: a["gender"] for a in actors if a.get("gender")}
