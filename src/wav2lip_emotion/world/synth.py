"""Render a generated world: MEAD-like paired emotional talking-face videos plus aligned ground truth.

For every actor (identity) and sentence (utterance), every requested emotion and level is a separate
"take": the same sentence, spoken with a slightly different voice (emotion modulates loudness and pitch)
and a small random time warp (performances in different emotions are never perfectly aligned, in MEAD
either), its own blinks and head motion. The mouth follows the take's own audio. ``aligned/`` holds,
for every take, renders in every other requested emotion/level with exactly that take's timing, mouth,
blinks and pose: the ideal translation, which MEAD cannot give.

Layout (MEAD's, plus ``aligned/`` and metadata)::

    <out>/world.json                                         manifest: actors, takes, aligned renders
    <out>/<actor>/video/front/<emotion>/level_<n>/<nnn>.mp4  take, with its audio
    <out>/<actor>/audio/<emotion>/level_<n>/<nnn>.wav        the take's audio (16 kHz mono)
    <out>/<actor>/meta/<emotion>/level_<n>/<nnn>.npz         per frame: landmarks, rig parameters
    <out>/aligned/<actor>/<emotion>/level_<n>/<nnn>/<dst_emotion>_level_<m>.mp4 (+ .npz)
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_path, write_json_atomic
from ..audio import SAMPLE_RATE
from ..emotions import parse_emotion
from ..errors import ConfigError
from ..media import VideoWriter
from .rig import FaceRig, RigFrame, emotion_aus

MEAD_NEUTRAL_LEVEL = 1  # MEAD has one intensity for neutral


@dataclass
class WorldConfig:
    """What to generate. Deterministic for a seed."""

    #: number of actors (identities): real photos first, then procedural faces
    actors: int = 2
    #: sentences per actor
    sentences: int = 2
    #: emotions to render (MEAD names)
    emotions: tuple[str, ...] = ("neutral", "happy", "sad")
    #: intensity levels (1-3) for the non-neutral emotions; neutral always has level 1
    levels: tuple[int, ...] = (3,)
    #: output frame side in pixels (square; the face fills about 60% of it)
    size: int = 160
    fps: float = 25.0
    seed: int = 0
    real_identities: bool = True
    procedural_identities: bool = True
    #: maximum relative speed change of the random time warp between takes (0 = perfectly aligned takes)
    time_warp: float = 0.08
    #: render aligned ground truth for every take in every other requested emotion/level
    aligned: bool = True
    #: render the aligned ground truth only for these actors (e.g. the test split: ``("P005",)``); empty = all
    aligned_actors: tuple[str, ...] = ()
    #: longest sentence in seconds
    max_seconds: float = 4.0

    def __post_init__(self) -> None:
        self.emotions = tuple(parse_emotion(e).value for e in self.emotions)
        if not self.emotions:
            raise ConfigError("no emotions requested")
        bad = [lv for lv in self.levels if lv not in (1, 2, 3)]
        if bad or not self.levels:
            raise ConfigError(f"levels must be among 1, 2, 3, got {list(self.levels)}")
        if self.actors < 1 or self.sentences < 1:
            raise ConfigError("actors and sentences must be at least 1")
        if not 0.0 <= self.time_warp < 0.5:
            raise ConfigError(f"time_warp must be in [0, 0.5), got {self.time_warp}")
        self.aligned_actors = tuple(self.aligned_actors)
        if self.size < 64:
            raise ConfigError(f"size must be at least 64 px, got {self.size}")

    def conditions(self) -> list[tuple[str, int]]:
        """Every (emotion, level) take of a sentence."""
        out = []
        for emo in self.emotions:
            levels = (MEAD_NEUTRAL_LEVEL,) if emo == "neutral" else tuple(sorted(set(self.levels)))
            out += [(emo, lv) for lv in levels]
        return out


@dataclass
class Performance:
    """The time-varying part of a take: audio, mouth, blinks, head motion."""

    samples: np.ndarray  # float32 16 kHz
    jaw: np.ndarray
    spread: np.ndarray
    blink: np.ndarray
    roll: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    scale: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.jaw)


def time_warp(samples: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth, monotonic random re-timing of a signal (local speed within 1 +- amount)."""
    if amount <= 0:
        return samples
    n = len(samples)
    knots = max(3, int(n / SAMPLE_RATE / 0.5) + 1)  # a speed change every ~0.5 s
    speeds = 1.0 + rng.uniform(-amount, amount, knots)
    seg = np.repeat(speeds, int(np.ceil(n / knots)))[:n]
    width = round(0.1 * SAMPLE_RATE)
    seg = np.convolve(seg, np.ones(width) / width, mode="same")  # 0.1 s smoothing of the speed
    t_in = np.concatenate([[0.0], np.cumsum(seg)])[:-1]
    t_in *= (n - 1) / t_in[-1]
    # output sample k reads the input at t_in[k]: total duration kept, local timing changed
    return np.interp(t_in, np.arange(n), samples).astype(np.float32)


def blinks(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure per frame: a blink every 2-5 s, each ~0.2 s with a fast close and slower open."""
    out = np.zeros(n_frames)
    t = rng.uniform(0.3, 2.0)
    shape = np.array([0.35, 0.85, 1.0, 0.7, 0.35, 0.12])
    while True:
        k = int(t * fps)
        if k >= n_frames:
            break
        span = out[k : k + len(shape)]
        out[k : k + len(shape)] = np.maximum(span, shape[: len(span)])
        t += rng.uniform(2.0, 5.0)
    return out


def head_motion(n_frames: int, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Slow roll (degrees), translation (IOD) and scale: sums of low-frequency sines."""
    t = np.arange(n_frames) / fps

    def wander(amplitude: float) -> np.ndarray:
        f = rng.uniform(0.08, 0.35, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        return amplitude * (0.6 * np.sin(2 * np.pi * f[0] * t + ph[0]) + 0.4 * np.sin(2 * np.pi * f[1] * t + ph[1]))

    return wander(2.5), wander(0.05), wander(0.035), 1.0 + wander(0.02)


def perform(samples: np.ndarray, fps: float, rng: np.random.Generator) -> Performance:
    """Mouth from the audio, plus blinks and head motion of one take."""
    from .speech import mouth_from_audio

    mouth = mouth_from_audio(samples, SAMPLE_RATE, fps)
    n = len(mouth.jaw)
    roll, tx, ty, scale = head_motion(n, fps, rng)
    return Performance(samples, mouth.jaw, mouth.spread, blinks(n, fps, rng), roll, tx, ty, scale)


def render_take(
    rig: FaceRig, perf: Performance, emotion: str, level: int, size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, RigFrame]]:
    """Frames (RGB at ``size``), landmarks [468, 2] at that size, and rig parameters, one at a time."""
    aus = emotion_aus(emotion, level)
    factor = size / rig.size[0]
    for k in range(perf.frames):
        params = RigFrame(
            jaw=float(perf.jaw[k]),
            spread=float(perf.spread[k]),
            blink=float(perf.blink[k]),
            aus=aus,
            roll=float(perf.roll[k]),
            tx=float(perf.tx[k]),
            ty=float(perf.ty[k]),
            scale=float(perf.scale[k]),
        )
        img, lm = rig.render(params)
        if img.shape[0] != size:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        yield img, lm * factor, params


def _write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def _done(video: Path, meta: Path) -> int | None:
    """Frames of an already finished video (both files are written atomically), else None."""
    if video.exists() and meta.exists():
        try:
            with np.load(meta) as m:
                return len(m["jaw"])
        except (OSError, ValueError, KeyError):
            return None
    return None


def _write_video(
    path: Path,
    frames: Iterator[tuple[np.ndarray, np.ndarray, RigFrame]],
    fps: float,
    size: int,
    audio: Path,
    meta_path: Path,
    extra: dict[str, object],
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    landmarks, params = [], []
    with VideoWriter(path, fps, size, size, audio_from=audio, crf=16) as writer:
        for img, lm, p in frames:
            writer.write(img)
            landmarks.append(lm.astype(np.float32))
            params.append(p)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(meta_path, suffix=".npz") as tmp:
        np.savez_compressed(
            tmp,
            landmarks=np.stack(landmarks),
            jaw=np.array([p.jaw for p in params], np.float32),
            spread=np.array([p.spread for p in params], np.float32),
            blink=np.array([p.blink for p in params], np.float32),
            roll=np.array([p.roll for p in params], np.float32),
            tx=np.array([p.tx for p in params], np.float32),
            ty=np.array([p.ty for p in params], np.float32),
            scale=np.array([p.scale for p in params], np.float32),
            aus=json.dumps(params[0].aus if params else {}),
            info=json.dumps(extra),
        )
    return len(params)


@dataclass
class WorldManifest:
    config: dict[str, object]
    actors: list[dict[str, object]] = field(default_factory=list)
    takes: list[dict[str, object]] = field(default_factory=list)
    aligned: list[dict[str, object]] = field(default_factory=list)


def synthesize(config: WorldConfig, out: str | Path, *, progress: bool = False) -> WorldManifest:
    """Generate the world described by ``config`` under ``out``; returns (and writes) the manifest.

    Resumable: a video whose MP4 and metadata are both present (each is written under a temporary name
    and renamed when complete) is not rendered again, so an interrupted run loses only the video in
    progress. The performances are re-derived from the seed, so resumed and fresh runs are identical.
    """
    from .identities import identity_pool
    from .speech import emotional_voice, utterance_pool

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    identities = identity_pool(
        config.actors, seed=config.seed, real=config.real_identities, procedural=config.procedural_identities
    )
    utterances = utterance_pool(config.actors * config.sentences, seed=config.seed)
    manifest = WorldManifest(config=asdict(config))
    conditions = config.conditions()
    aligned_count = config.actors if not config.aligned_actors else len(config.aligned_actors)
    total = config.actors * config.sentences * len(conditions) + (
        aligned_count * config.sentences * len(conditions) * (len(conditions) - 1) if config.aligned else 0
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="video", desc="synth")
    for a, ident in enumerate(identities):
        actor = f"{'R' if ident.real else 'P'}{a + 1:03d}"
        size_img = cv2.resize(ident.image, (config.size, config.size), interpolation=cv2.INTER_AREA)
        factor = config.size / ident.image.shape[0]
        rig = FaceRig(size_img, ident.landmarks[:, :2] * factor, seed=config.seed + a)
        manifest.actors.append(
            {"actor": actor, "name": ident.name, "real": ident.real, "source": ident.source, "gender": ident.gender}
        )
        for s in range(config.sentences):
            utt = utterances[a * config.sentences + s]
            utt = (
                utt
                if utt.seconds <= config.max_seconds
                else type(utt)(
                    utt.samples[: int(config.max_seconds * utt.sample_rate)],
                    utt.sample_rate,
                    utt.source,
                    utt.real,
                    utt.text,
                )
            )
            number = f"{s + 1:03d}"
            for c, (emo, lv) in enumerate(conditions):
                # a stable per-take stream (never Python's salted str hash)
                take_rng = np.random.default_rng([config.seed, a, s, c])
                intensity = {1: 0.45, 2: 0.72, 3: 1.0}[lv] if emo != "neutral" else 0.0
                voice = emotional_voice(utt, emo, intensity)
                samples = time_warp(voice.samples, config.time_warp, take_rng) if emo != "neutral" else voice.samples
                perf = perform(samples, config.fps, take_rng)
                rel = Path(actor) / "video" / "front" / emo / f"level_{lv}" / f"{number}.mp4"
                wav = out / actor / "audio" / emo / f"level_{lv}" / f"{number}.wav"
                meta = out / actor / "meta" / emo / f"level_{lv}" / f"{number}.npz"
                _write_wav(wav, perf.samples)
                info = {
                    "actor": actor,
                    "sentence": number,
                    "emotion": emo,
                    "level": lv,
                    "speech": utt.source,
                    "real_speech": utt.real,
                    "real_identity": ident.real,
                }
                n = _done(out / rel, meta) or _write_video(
                    out / rel, render_take(rig, perf, emo, lv, config.size), config.fps, config.size, wav, meta, info
                )
                manifest.takes.append(
                    {
                        **info,
                        "video": str(rel),
                        "audio": str(wav.relative_to(out)),
                        "meta": str(meta.relative_to(out)),
                        "frames": n,
                    }
                )
                if bar is not None:
                    bar.update(1)
                if not config.aligned or (config.aligned_actors and actor not in config.aligned_actors):
                    continue
                for emo_d, lv_d in conditions:
                    if (emo_d, lv_d) == (emo, lv):
                        continue
                    base = out / "aligned" / actor / emo / f"level_{lv}" / number
                    video = base / f"{emo_d}_level_{lv_d}.mp4"
                    n = _done(video, base / f"{emo_d}_level_{lv_d}.npz") or _write_video(
                        video,
                        render_take(rig, perf, emo_d, lv_d, config.size),
                        config.fps,
                        config.size,
                        wav,
                        base / f"{emo_d}_level_{lv_d}.npz",
                        {**info, "destination_emotion": emo_d, "destination_level": lv_d},
                    )
                    manifest.aligned.append(
                        {
                            **info,
                            "destination_emotion": emo_d,
                            "destination_level": lv_d,
                            "video": str(video.relative_to(out)),
                            "frames": n,
                        }
                    )
                    if bar is not None:
                        bar.update(1)
    if bar is not None:
        bar.close()
    write_json_atomic(out / "world.json", asdict(manifest))
    return manifest


def load_manifest(root: str | Path) -> dict[str, object]:
    return json.loads((Path(root) / "world.json").read_text())
