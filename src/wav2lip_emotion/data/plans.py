"""Sampling plans: which pairs can give a training sample and from which window starts. Every video is
checked once (frame counts, face flags, mel lengths) into a :class:`VideoCheck`; every usable pair becomes
a :class:`PairPlan` (the videos playing target, pose-prior and reference, and the starts to draw from);
the others are dropped with a reason. :class:`PairPlanner` does it for :mod:`.dataset`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio import MEL_STEPS_PER_SECOND, MEL_WINDOW
from ..emotions import EMOTIONS, Emotion, parse_emotion
from ..errors import CacheError, ConfigError, DataError
from .cache import FaceCache
from .samples import PairLike, SampleConfig

log = logging.getLogger(__name__)

_LIST_IDS = 10  # ids named in an error message


@dataclass(frozen=True)
class VideoCheck:
    """A cached video's usable windows, or why it has none."""

    frames: int
    mel_steps: int
    #: starts s whose window s..s+T-1 has a face in every frame (all starts without require_face)
    face_starts: np.ndarray
    #: starts s whose target mel and per-frame sync windows lie inside the audio
    audio_starts: np.ndarray
    problem: str | None = None
    #: the cache entry exists and its arrays could be opened
    readable: bool = True


@dataclass(frozen=True)
class PairPlan:
    """A usable pair: which videos play which role, and the window starts to draw from."""

    pair_index: int
    target_id: str
    prior_id: str
    reference_id: str
    target_starts: np.ndarray
    reference_starts: np.ndarray
    #: the reference comes from the targets' or the prior's video: windows must differ (not overlap
    #: when the video is long enough)
    reference_shares_video: bool
    source_emotion: int
    destination_emotion: int
    intensity: float


def face_window_ok(flags: np.ndarray, window: int) -> np.ndarray:
    """ok[s] = all(flags[s:s+window]), for s in 0..len-window."""
    counts = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    return (counts[window:] - counts[:-window]) == window


def audio_window_ok(frames: int, mel_steps: int, window: int, fps: float) -> np.ndarray:
    """ok[s] for s in 0..frames-window: the window's mel and its per-frame sync windows fit the audio.

    Same arithmetic as :func:`mel_start_index` / :func:`sync_mel_windows` (tested against them).
    """
    n = frames - window + 1
    if n <= 0:
        return np.zeros(0, bool)
    s = np.arange(n)

    def start(frame: np.ndarray) -> np.ndarray:
        return (MEL_STEPS_PER_SECOND * (frame / float(fps))).astype(np.int64)

    ok = (s >= 2) & (start(s) + MEL_WINDOW <= mel_steps)
    ok &= start(np.maximum(s + window - 1 - 2, 0)) + MEL_WINDOW <= mel_steps  # last sync window
    return ok


def emotion_index(name: str | None) -> int:
    """Index of an emotion name in ``EMOTIONS`` (-1 for None)."""
    if name is None:
        return -1
    return EMOTIONS.index(parse_emotion(name).value)


def intensity_of(emotion: str | None, level: int | None) -> float:
    """Destination level / 3 (0 for neutral or no level)."""
    if emotion is None or level is None or parse_emotion(emotion) is Emotion.NEUTRAL:
        return 0.0
    return float(level) / 3.0


def roles_of(pairs: Any) -> Any | None:
    """Where unset roles and mask come from: the PairIndex's PairingConfig, else the pairs' own
    ``targets_from`` / ``prior_from`` / ``mask`` attributes (which must then agree), else nothing."""
    config = getattr(pairs, "config", None)
    if config is not None:
        return config
    names = ("targets_from", "prior_from", "mask")
    seen = {tuple(getattr(p, n, None) for n in names) for p in pairs}
    if len(seen) > 1:
        raise ConfigError(
            f"the pairs disagree on (targets_from, prior_from, mask): {sorted(seen, key=str)}; "
            "one dataset needs one setting (or give them in SampleConfig)"
        )
    return dict(zip(names, seen.pop(), strict=True)) if seen else None


def list_problems(problems: dict[str, str]) -> str:
    """``id: why; ...`` for the first few problems, and how many more."""
    items = [f"{vid}: {why}" for vid, why in list(problems.items())[:_LIST_IDS]]
    more = len(problems) - _LIST_IDS
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")


class PairPlanner:
    """Checks the videos of pairs in ``cache`` once each and plans the usable pairs for ``config`` (a
    resolved :class:`SampleConfig`) at ``fps``."""

    def __init__(self, cache: FaceCache, config: SampleConfig, fps: float) -> None:
        self.cache = cache
        self.config = config
        self.fps = fps
        #: video id -> why it could not be used (for the pairs that were dropped)
        self.dropped: dict[str, str] = {}
        self._checks: dict[str, VideoCheck] = {}

    def check_video(self, video_id: str) -> VideoCheck:
        if video_id in self._checks:
            return self._checks[video_id]
        t = self.config.window
        empty = np.zeros(0, np.int64)
        meta = self.cache.videos.get(video_id)
        if meta is None:
            why = "not in the cache (not preprocessed, or listed in failed.json)"
            check = VideoCheck(0, 0, empty, empty, why, readable=False)
        else:
            try:
                found = np.asarray(self.cache.found(video_id), dtype=bool)
                mel_steps = int(self.cache.mel(video_id).shape[1])
                frames = int(self.cache.frames(video_id).shape[0])
            except (CacheError, IndexError) as exc:
                check = VideoCheck(0, 0, empty, empty, f"damaged cache entry ({exc})", readable=False)
            else:
                if len(found) != frames:
                    why = "found.npy and frames.npy differ in length"
                    check = VideoCheck(frames, mel_steps, empty, empty, why, readable=False)
                elif frames < t:
                    check = VideoCheck(frames, mel_steps, empty, empty, f"only {frames} frames (needs at least {t})")
                else:
                    faces = face_window_ok(found, t) if self.config.require_face else np.ones(frames - t + 1, bool)
                    audio = audio_window_ok(frames, mel_steps, t, self.fps)
                    problem = None
                    if not faces.any():
                        missing = 100.0 * (1.0 - found.mean())
                        problem = f"no face in {missing:.0f}% of frames (no {t} consecutive frames with a face)"
                    check = VideoCheck(frames, mel_steps, np.flatnonzero(faces), np.flatnonzero(audio), problem)
        self._checks[video_id] = check
        return check

    def target_problem(self, check: VideoCheck) -> str | None:
        """Why a video cannot give targets and audio (None if it can)."""
        t = self.config.window
        if check.readable and check.frames < t + 2:
            return f"only {check.frames} frames (needs at least {t + 2}: sync windows start two frames earlier)"
        if check.problem:
            return check.problem
        if len(check.audio_starts) == 0:
            return (
                f"audio shorter than video ({check.mel_steps} mel steps = {check.mel_steps / MEL_STEPS_PER_SECOND:.2f}"
                f" s for {check.frames} frames = {check.frames / self.fps:.2f} s)"
            )
        if len(np.intersect1d(check.face_starts, check.audio_starts)) == 0:
            return "no window with a face in every frame and its audio (faces only at the very start or end)"
        return None

    def plan_pair(self, index: int, pair: PairLike) -> tuple[PairPlan | None, dict[str, str]]:
        cfg = self.config
        src_id = str(pair.source.id)
        dst_id = str(pair.destination.id)
        if cfg.targets_from == "aligned":
            level = 1 if pair.destination_emotion == "neutral" else pair.destination_level
            aligned = self.cache.aligned_renders().get((src_id, str(pair.destination_emotion), level))
            if aligned is None:
                why = (
                    f"no aligned render in {pair.destination_emotion} level {level} in the cache "
                    "(render the world with aligned ground truth and preprocess it with --aligned)"
                )
                return None, {src_id: why}
            target_id = aligned
        else:
            target_id = dst_id if cfg.targets_from == "destination" else src_id
        prior_id = dst_id if cfg.prior_from == "destination" else src_id
        reference_id = src_id

        problems: dict[str, str] = {}
        target = self.check_video(target_id)
        why = self.target_problem(target)
        if why:
            problems[target_id] = why
        for vid in dict.fromkeys((prior_id, reference_id)):
            if vid != target_id and self.check_video(vid).problem:
                problems[vid] = str(self.check_video(vid).problem)
        if problems:
            return None, problems

        starts = np.intersect1d(target.face_starts, target.audio_starts)
        if prior_id != target_id:
            starts = np.intersect1d(starts, self.check_video(prior_id).face_starts)
            if len(starts) == 0:
                return None, {prior_id: f"no window with a face in both {prior_id} and {target_id}"}
        references = self.check_video(reference_id).face_starts
        shares = reference_id in (target_id, prior_id)
        if shares and len(references) == 1:  # the only reference window must not be the target window
            starts = starts[starts != references[0]]
            if len(starts) == 0:
                return None, {reference_id: "only one usable window: the reference would be the target itself"}
        try:
            src_emotion = emotion_index(pair.source_emotion)
            dst_emotion = emotion_index(pair.destination_emotion)
        except ConfigError as exc:
            return None, {dst_id: str(exc)}
        plan = PairPlan(
            pair_index=index,
            target_id=target_id,
            prior_id=prior_id,
            reference_id=reference_id,
            target_starts=starts.astype(np.int64),
            reference_starts=references.astype(np.int64),
            reference_shares_video=shares,
            source_emotion=src_emotion,
            destination_emotion=dst_emotion,
            intensity=intensity_of(pair.destination_emotion, pair.destination_level),
        )
        return plan, {}

    def plan_all(self, pairs: Sequence[PairLike] | Any) -> list[PairPlan]:
        """The plans of the usable pairs; the others are recorded in :attr:`dropped`. DataError when none is
        usable."""
        plans: list[PairPlan] = []
        for i in range(len(pairs)):
            plan, problems = self.plan_pair(i, pairs[i])
            if plan is None:
                for vid, why in problems.items():
                    self.dropped.setdefault(vid, why)
            else:
                plans.append(plan)
        if not plans:
            if not self.dropped:
                raise DataError("no training pairs: the pair list is empty (check the split and pairing settings)")
            raise DataError(
                f"none of the {len(pairs)} pairs can give a training sample of {self.config.window} frames: "
                + list_problems(self.dropped)
            )
        if self.dropped:
            log.warning(
                "%d of %d pairs dropped (%d videos unusable): %s",
                len(pairs) - len(plans),
                len(pairs),
                len(self.dropped),
                list_problems(self.dropped),
            )
        return plans
