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

This module owns :class:`TalkingFaceDataset` (epochs, indexing, drawing windows); what a sample is and
its :class:`SampleConfig` live in :mod:`.samples`, the per-video checks and per-pair plans in
:mod:`.plans`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio import MEL_WINDOW, mel_start_index, sync_mel_windows
from ..errors import CacheError, DataError
from .cache import FaceCache
from .plans import PairPlan, PairPlanner, list_problems, roles_of
from .samples import PairLike, Sample, SampleConfig

_OPEN_VIDEOS = 32  # memory-mapped videos kept open per process (each holds file descriptors)


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
        self.config = (config or SampleConfig()).resolved(roles_of(pairs))
        self.fps = float(cache.info.fps)
        self.size = int(cache.info.size)
        planner = PairPlanner(cache, self.config, self.fps)
        self.plans: list[PairPlan] = planner.plan_all(pairs)
        #: video id -> why it could not be used (for the pairs that were dropped)
        self.dropped: dict[str, str] = planner.dropped
        weights = np.array([max(1, len(p.target_starts) // self.config.window) for p in self.plans], np.int64)
        self._cumulative = np.cumsum(weights)
        self._slots = int(self._cumulative[-1])
        self.samples_per_epoch = self.config.samples_per_epoch or self._slots
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._open: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._bad: set[int] = set()  # plans that failed to read in this process

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
            f"sample {index}: no readable pair after {self.config.max_retries + 1} tries: " + list_problems(failures)
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

    def _draw(self, plan: PairPlan, rng: np.random.Generator) -> Sample:
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
