"""Training samples from the face cache: Wav2Lip's windows, for lip sync and emotion translation.

One sample (all float32 torch tensors of fixed shape, so the default DataLoader collate stacks them):

* ``faces``   [6, T, H, W]: pose prior (the target window's frames with the mask applied) on channels
  0-2, the reference window (another start, from the SOURCE video) on channels 3-5; values in [0, 1];
* ``mels``    [T, 1, 80, 16]: per-frame mel windows, each starting two frames earlier (Wav2Lip's
  ``get_segmented_mels``), from the targets' video: the generator's audio input (``indiv_mels``);
* ``mel``     [1, 80, 16]: the target window's mel, starting at ``mel_start_index(start, fps)``: the
  SyncNet expert's audio input for the sync loss on the generated window;
* ``targets`` [3, T, H, W]: the L1 targets in [0, 1] (the destination video, or the source video);
* ``source_emotion`` / ``destination_emotion`` (int64, index into ``EMOTIONS``, -1 for none),
  ``intensity`` (float32, destination level / 3, 0 for neutral or no level), and the ints
  ``pair_index``, ``target_start``, ``reference_start`` for debugging.

Which video gives what (``targets_from`` / ``prior_from``; the reference is always the source):

=====================  ===================  =====================  ================
variant                targets + mels       pose prior             reference
=====================  ===================  =====================  ================
same video (LRS2)      the video            the video              the video
translation (default)  destination          destination            source
"source affect only"   source               source                 source
aligned (world only)   aligned render [*]   source                 source
=====================  ===================  =====================  ================

[*] the source take rendered in the destination emotion with the same timing and pose (``synth``'s
``aligned/``, cached by ``preprocess --aligned``); its audio is the source's. Pairs whose render is
not in the cache are dropped with that reason.

Draws are seeded by (seed, epoch, index): reproducible, and DataLoader workers never repeat each
other. Every pair is checked once at construction from frame counts, face flags and mel lengths, so
windows are drawn only from valid starts; reading errors at draw time are retried on other pairs a
bounded number of times, then reported as a :class:`DataError` naming the videos.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, TypedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio import MEL_STEPS_PER_SECOND, MEL_WINDOW, mel_start_index, sync_mel_windows
from ..emotions import EMOTIONS, Emotion, parse_emotion
from ..errors import CacheError, ConfigError, DataError
from .cache import FaceCache

log = logging.getLogger(__name__)

MaskName = Literal["full", "half", "none"]
VideoRole = Literal["destination", "source"]
TargetRole = Literal["destination", "source", "aligned"]

_MASKS = ("full", "half", "none")
_ROLES = ("destination", "source")
_TARGET_ROLES = ("destination", "source", "aligned")
_MAX_RETRIES = 1000  # upper bound on SampleConfig.max_retries: a loader must never spin for long
_OPEN_VIDEOS = 32  # memory-mapped videos kept open per process (each holds file descriptors)
_LIST_IDS = 10  # ids named in an error message


class PairLike(Protocol):
    """What the dataset needs of a :class:`~wav2lip_emotion.data.pairing.Pair`."""

    source: Any  # VideoRecord: .id
    destination: Any
    source_emotion: str | None
    destination_emotion: str | None
    destination_level: int | None


class Sample(TypedDict):
    """One training sample (see the module docstring)."""

    faces: torch.Tensor
    mels: torch.Tensor
    mel: torch.Tensor
    targets: torch.Tensor
    source_emotion: torch.Tensor
    destination_emotion: torch.Tensor
    intensity: torch.Tensor
    pair_index: int
    target_start: int
    reference_start: int


@dataclass(frozen=True)
class SampleConfig:
    """How training samples are drawn from the pairs."""

    #: frames per window (T); SyncNet and the published models use 5
    window: int = 5
    #: pose-prior masking: "half" = rows H//2.. set to 0 (Wav2Lip's), "full" = 0 inside the cached
    #: face-mesh hull (masks.npy > 127), "none" = nothing hidden. None = the PairingConfig's ``mask``
    #: when the pairs carry one, else "half"
    mask: MaskName | None = None
    #: which video of a pair gives the L1 targets and the audio ("destination" = emotion translation,
    #: "source" = the "source affect only" ablation, "aligned" = the cached aligned render of the source
    #: in the destination emotion). None = the PairingConfig's, else "destination"
    targets_from: TargetRole | None = None
    #: which video of a pair gives the pose prior (the masked frames). None = the PairingConfig's, else
    #: "destination"
    prior_from: VideoRole | None = None
    #: draws that may fail (a damaged video) before DataError is raised; bounded, never a busy loop
    max_retries: int = 20
    #: base seed; a sample's draws depend on (seed, epoch, index) only
    seed: int = 0
    #: dataset length; None = sum over usable pairs of (valid target starts // window), at least 1 each
    samples_per_epoch: int | None = None
    #: windows must have a face (found == True) in every frame
    require_face: bool = True

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigError(f"window must be at least 1 frame, got {self.window}")
        if self.mask is not None and self.mask not in _MASKS:
            raise ConfigError(f"mask must be one of {', '.join(_MASKS)}, got {self.mask!r}")
        for name, allowed in (("targets_from", _TARGET_ROLES), ("prior_from", _ROLES)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if not 0 <= self.max_retries <= _MAX_RETRIES:
            raise ConfigError(f"max_retries must be in [0, {_MAX_RETRIES}], got {self.max_retries}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.samples_per_epoch is not None and self.samples_per_epoch < 1:
            raise ConfigError(f"samples_per_epoch must be positive, got {self.samples_per_epoch}")

    def resolved(self, pairing: Any | None = None) -> SampleConfig:
        """This config with every None taken from ``pairing`` (a PairingConfig, or a dict, with
        ``mask``, ``targets_from``, ``prior_from``), then from the defaults half / destination /
        destination."""
        defaults = {"mask": "half", "targets_from": "destination", "prior_from": "destination"}
        values = {}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value is None and pairing is not None:
                value = pairing.get(name) if isinstance(pairing, dict) else getattr(pairing, name, None)
                value = getattr(value, "value", value)  # an enum member -> its string
            values[name] = default if value is None else str(value)
        return replace(self, **values)


# ------------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class _VideoCheck:
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
class _Plan:
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


def _window_ok(flags: np.ndarray, window: int) -> np.ndarray:
    """ok[s] = all(flags[s:s+window]), for s in 0..len-window."""
    counts = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    return (counts[window:] - counts[:-window]) == window


def _audio_ok(frames: int, mel_steps: int, window: int, fps: float) -> np.ndarray:
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


def _emotion_index(name: str | None) -> int:
    if name is None:
        return -1
    return EMOTIONS.index(parse_emotion(name).value)


def _intensity(emotion: str | None, level: int | None) -> float:
    if emotion is None or level is None or parse_emotion(emotion) is Emotion.NEUTRAL:
        return 0.0
    return float(level) / 3.0


def _roles_of(pairs: Any) -> Any | None:
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


def _list_problems(problems: dict[str, str]) -> str:
    items = [f"{vid}: {why}" for vid, why in list(problems.items())[:_LIST_IDS]]
    more = len(problems) - _LIST_IDS
    return "; ".join(items) + (f"; and {more} more" if more > 0 else "")


# ------------------------------------------------------------------------------------ dataset


class TalkingFaceDataset(Dataset):
    """Windows of target frames, pose priors, references and mels from a :class:`FaceCache`.

    ``pairs`` is a :class:`~wav2lip_emotion.data.pairing.PairIndex` (its ``config`` fills the
    config's None fields) or any sequence of pair-like objects (``source``, ``destination`` records
    with an ``id``; ``source_emotion``, ``destination_emotion``, ``destination_level``; optional
    ``targets_from`` / ``prior_from`` / ``mask``, which then fill the None fields and must agree).

    Call :meth:`set_epoch` before each epoch: draws depend on (seed, epoch, index). The epoch lives in
    shared memory, so persistent DataLoader workers see it too.
    """

    def __init__(self, cache: FaceCache, pairs: Sequence[PairLike] | Any, config: SampleConfig | None = None) -> None:
        self.cache = cache
        self.pairs = pairs
        self.config = (config or SampleConfig()).resolved(_roles_of(pairs))
        self.fps = float(cache.info.fps)
        self.size = int(cache.info.size)
        #: video id -> why it could not be used (for the pairs that were dropped)
        self.dropped: dict[str, str] = {}
        self._checks: dict[str, _VideoCheck] = {}
        self.plans: list[_Plan] = self._plan_all()
        weights = np.array([max(1, len(p.target_starts) // self.config.window) for p in self.plans], np.int64)
        self._cumulative = np.cumsum(weights)
        self._slots = int(self._cumulative[-1])
        self.samples_per_epoch = self.config.samples_per_epoch or self._slots
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._open: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._bad: set[int] = set()  # plans that failed to read in this process

    # ------------------------------------------------------------------ construction checks

    def _check_video(self, video_id: str) -> _VideoCheck:
        if video_id in self._checks:
            return self._checks[video_id]
        t = self.config.window
        empty = np.zeros(0, np.int64)
        meta = self.cache.videos.get(video_id)
        if meta is None:
            why = "not in the cache (not preprocessed, or listed in failed.json)"
            check = _VideoCheck(0, 0, empty, empty, why, readable=False)
        else:
            try:
                found = np.asarray(self.cache.found(video_id), dtype=bool)
                mel_steps = int(self.cache.mel(video_id).shape[1])
                frames = int(self.cache.frames(video_id).shape[0])
            except (CacheError, IndexError) as exc:
                check = _VideoCheck(0, 0, empty, empty, f"damaged cache entry ({exc})", readable=False)
            else:
                if len(found) != frames:
                    why = "found.npy and frames.npy differ in length"
                    check = _VideoCheck(frames, mel_steps, empty, empty, why, readable=False)
                elif frames < t:
                    check = _VideoCheck(frames, mel_steps, empty, empty, f"only {frames} frames (needs at least {t})")
                else:
                    faces = _window_ok(found, t) if self.config.require_face else np.ones(frames - t + 1, bool)
                    audio = _audio_ok(frames, mel_steps, t, self.fps)
                    problem = None
                    if not faces.any():
                        missing = 100.0 * (1.0 - found.mean())
                        problem = f"no face in {missing:.0f}% of frames (no {t} consecutive frames with a face)"
                    check = _VideoCheck(frames, mel_steps, np.flatnonzero(faces), np.flatnonzero(audio), problem)
        self._checks[video_id] = check
        return check

    def _target_problem(self, check: _VideoCheck) -> str | None:
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

    def _plan_pair(self, index: int, pair: PairLike) -> tuple[_Plan | None, dict[str, str]]:
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
        target = self._check_video(target_id)
        why = self._target_problem(target)
        if why:
            problems[target_id] = why
        for vid in dict.fromkeys((prior_id, reference_id)):
            if vid != target_id and self._check_video(vid).problem:
                problems[vid] = str(self._check_video(vid).problem)
        if problems:
            return None, problems

        starts = np.intersect1d(target.face_starts, target.audio_starts)
        if prior_id != target_id:
            starts = np.intersect1d(starts, self._check_video(prior_id).face_starts)
            if len(starts) == 0:
                return None, {prior_id: f"no window with a face in both {prior_id} and {target_id}"}
        references = self._check_video(reference_id).face_starts
        shares = reference_id in (target_id, prior_id)
        if shares and len(references) == 1:  # the only reference window must not be the target window
            starts = starts[starts != references[0]]
            if len(starts) == 0:
                return None, {reference_id: "only one usable window: the reference would be the target itself"}
        try:
            src_emotion = _emotion_index(pair.source_emotion)
            dst_emotion = _emotion_index(pair.destination_emotion)
        except ConfigError as exc:
            return None, {dst_id: str(exc)}
        plan = _Plan(
            pair_index=index,
            target_id=target_id,
            prior_id=prior_id,
            reference_id=reference_id,
            target_starts=starts.astype(np.int64),
            reference_starts=references.astype(np.int64),
            reference_shares_video=shares,
            source_emotion=src_emotion,
            destination_emotion=dst_emotion,
            intensity=_intensity(pair.destination_emotion, pair.destination_level),
        )
        return plan, {}

    def _plan_all(self) -> list[_Plan]:
        plans: list[_Plan] = []
        for i in range(len(self.pairs)):
            plan, problems = self._plan_pair(i, self.pairs[i])
            if plan is None:
                for vid, why in problems.items():
                    self.dropped.setdefault(vid, why)
            else:
                plans.append(plan)
        if not plans:
            if not self.dropped:
                raise DataError("no training pairs: the pair list is empty (check the split and pairing settings)")
            raise DataError(
                f"none of the {len(self.pairs)} pairs can give a training sample of {self.config.window} frames: "
                + _list_problems(self.dropped)
            )
        if self.dropped:
            log.warning(
                "%d of %d pairs dropped (%d videos unusable): %s",
                len(self.pairs) - len(plans),
                len(self.pairs),
                len(self.dropped),
                _list_problems(self.dropped),
            )
        return plans

    # ------------------------------------------------------------------ epochs and indexing

    @property
    def epoch(self) -> int:
        return int(self._epoch.item())

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws ``__getitem__`` makes (shared with the DataLoader workers)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch.fill_(int(epoch))

    def __len__(self) -> int:
        return self.samples_per_epoch

    def plan_of(self, index: int) -> int:
        """Position in :attr:`plans` of the pair sample ``index`` draws first (longer videos get more)."""
        slot = (index * self._slots) // self.samples_per_epoch
        return int(np.searchsorted(self._cumulative, slot, side="right"))

    def rng(self, index: int, epoch: int | None = None) -> np.random.Generator:
        epoch = self.epoch if epoch is None else epoch
        return np.random.default_rng(np.random.SeedSequence([self.config.seed, epoch, index]))

    # ------------------------------------------------------------------ drawing

    def __getitem__(self, index: int) -> Sample:
        return self.sample(index)

    def sample(self, index: int, epoch: int | None = None) -> Sample:
        """Sample ``index`` as drawn in ``epoch`` (None = the epoch set by :meth:`set_epoch`).

        Passing the epoch explicitly makes a draw independent of any shared state (what a trainer
        that must resume on the exact same samples wants)."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range (dataset of {len(self)})")
        rng = self.rng(index, epoch)
        k = self.plan_of(index)
        failures: dict[str, str] = {}
        for attempt in range(self.config.max_retries + 1):
            if attempt or k in self._bad:
                good = [j for j in range(len(self.plans)) if j not in self._bad]
                if not good:
                    break
                k = good[int(rng.integers(len(good)))]
            try:
                return self._draw(self.plans[k], rng)
            except (CacheError, OSError) as exc:  # a damaged or vanished video; bugs still surface
                plan = self.plans[k]
                ids = " + ".join(dict.fromkeys((plan.target_id, plan.prior_id, plan.reference_id)))
                failures[ids] = f"{type(exc).__name__}: {exc}"
                self._bad.add(k)
                self._open.clear()
        raise DataError(
            f"sample {index}: no readable pair after {self.config.max_retries + 1} tries: " + _list_problems(failures)
            if failures
            else f"sample {index}: every pair failed to read earlier in this process"
        )

    def _arrays(self, video_id: str) -> dict[str, np.ndarray]:
        """Memory-mapped arrays of a video, kept open (LRU) in this process."""
        arrays = self._open.get(video_id)
        if arrays is None:
            arrays = {"frames": self.cache.frames(video_id), "mel": self.cache.mel(video_id)}
            if self.config.mask == "full":
                arrays["masks"] = self.cache.masks(video_id)
            self._open[video_id] = arrays
            while len(self._open) > _OPEN_VIDEOS:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(video_id)
        return arrays

    def _window(self, video_id: str, start: int) -> np.ndarray:
        t, s = self.config.window, self.size
        frames = self._arrays(video_id)["frames"][start : start + t]
        if frames.shape != (t, s, s, 3):
            raise CacheError(
                f"{video_id}: frames {start}..{start + t - 1} have shape {frames.shape}, not {(t, s, s, 3)}"
            )
        return np.array(frames)  # a private, writable copy of the memory-mapped window

    def _draw(self, plan: _Plan, rng: np.random.Generator) -> Sample:
        cfg = self.config
        t = cfg.window
        start = int(plan.target_starts[rng.integers(len(plan.target_starts))])
        refs = plan.reference_starts
        if plan.reference_shares_video:
            far = refs[np.abs(refs - start) >= t]  # non-overlapping windows when the video allows
            refs = far if len(far) else refs[refs != start]
        ref_start = int(refs[rng.integers(len(refs))])

        targets = _to_chw(self._window(plan.target_id, start))
        faces = torch.empty((6, t, self.size, self.size), dtype=torch.float32)
        if plan.prior_id == plan.target_id:
            faces[:3] = targets
        else:
            faces[:3] = _to_chw(self._window(plan.prior_id, start))
        if cfg.mask == "half":
            faces[:3, :, self.size // 2 :] = 0.0
        elif cfg.mask == "full":
            masks = self._arrays(plan.prior_id)["masks"][start : start + t]
            if masks.shape != (t, self.size, self.size):
                raise CacheError(f"{plan.prior_id}: masks {start}..{start + t - 1} have shape {masks.shape}")
            faces[:3].masked_fill_(torch.from_numpy(np.asarray(masks) > 127), 0.0)
        faces[3:] = _to_chw(self._window(plan.reference_id, ref_start))

        mel = self._arrays(plan.target_id)["mel"]
        m0 = mel_start_index(start, self.fps)
        window_mel = np.array(mel[:, m0 : m0 + MEL_WINDOW], dtype=np.float32)
        sync = sync_mel_windows(mel, start, self.fps, count=t)
        if sync is None or window_mel.shape != (80, MEL_WINDOW):
            raise CacheError(f"{plan.target_id}: mel of {mel.shape[1]} steps does not cover frames {start}..")

        return Sample(
            faces=faces,
            mels=torch.from_numpy(np.array(sync, dtype=np.float32)),
            mel=torch.from_numpy(window_mel[None]),
            targets=targets,
            source_emotion=torch.tensor(plan.source_emotion, dtype=torch.int64),
            destination_emotion=torch.tensor(plan.destination_emotion, dtype=torch.int64),
            intensity=torch.tensor(plan.intensity, dtype=torch.float32),
            pair_index=plan.pair_index,
            target_start=start,
            reference_start=ref_start,
        )

    # ------------------------------------------------------------------ pickling (DataLoader workers)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()  # memory maps are reopened in each worker, never copied
        return state


def _to_chw(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, C] -> float32 [C, T, H, W] in [0, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(255.0)


__all__ = ["DataError", "Sample", "SampleConfig", "TalkingFaceDataset"]
