"""Training data from a config: the face cache, the split, the pairing, and step-indexed batches.

Batches are a pure function of (seed, step, rank): step ``s`` of a run always sees the same samples,
whether or not the run was killed and resumed in between, and however many DataLoader workers
draw them. That is what makes a resumed run continue the same trajectory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Sampler

from ..data.cache import FaceCache
from ..data.dataset import Sample, SampleConfig, TalkingFaceDataset
from ..data.pairing import PairIndex, PairingConfig
from ..data.records import VideoRecord
from ..data.splits import Splits, read_splits, split_by_actor
from ..emotions import EMOTIONS
from ..errors import ConfigError, DataError
from ..models.profiles import get_profile
from .config import TrainConfig

log = logging.getLogger(__name__)

NEUTRAL_INDEX = EMOTIONS.index("neutral")


class EpochDataset(Dataset):
    """Virtual indices ``epoch * len + i`` -> sample ``i`` of the mixture as drawn in ``epoch``.

    Several :class:`TalkingFaceDataset` parts are concatenated (the conditional stage mixes emotion
    pairs with same-video reconstruction pairs); each sample says which part it came from
    (``reconstruction`` = 1 for the same-video part).
    """

    def __init__(self, parts: Sequence[TalkingFaceDataset], reconstruction: Sequence[bool] | None = None) -> None:
        if not parts:
            raise DataError("no training data")
        self.parts = list(parts)
        self.reconstruction = list(reconstruction or [False] * len(parts))
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, virtual: int) -> Sample:
        epoch, index = divmod(int(virtual), len(self))
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        sample = self.parts[k].sample(index - int(self.offsets[k]), epoch)
        sample["reconstruction"] = int(self.reconstruction[k])  # type: ignore[typeddict-unknown-key]
        return sample

    @property
    def size(self) -> int:
        return self.parts[0].size


class StepBatchSampler(Sampler[list[int]]):
    """Batches of virtual indices for steps ``start, start + 1, ...``, this rank's share.

    Step ``s`` takes positions ``s * B * world + rank * B ...`` of the endless stream made of one
    seeded permutation per epoch. ``steps`` = None: endless.
    """

    def __init__(
        self,
        length: int,
        batch_size: int,
        seed: int,
        *,
        start: int = 0,
        steps: int | None = None,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
    ) -> None:
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.start, self.steps, self.rank, self.world, self.shuffle = start, steps, rank, world, shuffle
        self._perm: dict[int, np.ndarray] = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._perm:
            if self.shuffle:
                rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5A3D, epoch]))
                self._perm = {epoch: rng.permutation(self.length)}
            else:
                self._perm = {epoch: np.arange(self.length)}
        return self._perm[epoch]

    def batch(self, step: int) -> list[int]:
        first = (step * self.world + self.rank) * self.batch_size
        out = []
        for pos in range(first, first + self.batch_size):
            epoch, i = divmod(pos, self.length)
            out.append(epoch * self.length + int(self._permutation(epoch)[i]))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while self.steps is None or step < self.start + self.steps:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError("an endless sampler has no length")
        return self.steps


@dataclass
class TrainData:
    """The datasets of a run and what they were built from."""

    cache: FaceCache
    splits: Splits
    train: EpochDataset
    val: EpochDataset | None
    #: human-readable description for the log
    summary: str


def resolve_targets(config: TrainConfig) -> str:
    """Where the emotion stages' L1 targets come from: ``data.targets``, or for "auto" the strategy's.

    "emotion" / "source_affect": L1 against the source's own frames (time-aligned with the audio), the
    emotion objective alone pulls towards the destination; otherwise the destination take."""
    if config.stage not in ("emotion", "conditional"):
        return "destination"
    if config.data.targets != "auto":
        return config.data.targets
    return "source" if config.loss.strategy in ("emotion", "source_affect") else "destination"


def _pairing(config: TrainConfig, *, same_video: bool) -> PairingConfig:
    d, mask = config.data, config.model.mask
    views = tuple(d.views) if d.views else None
    if same_video or config.stage in ("syncnet", "wav2lip"):
        return PairingConfig.wav2lip(mask=mask, views=views)
    pairs = None if d.pairs is None else tuple((p[0], p[1]) for p in d.pairs)
    targets = resolve_targets(config)
    # the paper's rule: the pose prior comes from the targets' video with full masking (only pose and
    # background pass), from the source window itself with half masking (as at inference); an aligned
    # render has the source's pose, so its prior is the source
    prior = targets if mask == "full" and targets != "aligned" else "source"
    return PairingConfig(
        pairs=pairs,
        source_levels=tuple(d.source_levels) if d.source_levels else None,
        destination_levels=tuple(d.destination_levels) if d.destination_levels else None,
        targets_from=targets,  # type: ignore[arg-type]
        prior_from=prior,  # type: ignore[arg-type]
        mask=mask,
        views=views,
    )


def _part(
    cache: FaceCache, records: list[VideoRecord], config: TrainConfig, *, same_video: bool, seed: int, split: str
) -> TalkingFaceDataset:
    pairing = _pairing(config, same_video=same_video)
    pairs = PairIndex(records, pairing)
    if len(pairs) == 0:
        raise DataError(f"{config.data.cache}: the {split} split has no pairs for {pairing}")
    sample = SampleConfig(window=config.data.window, seed=seed, samples_per_epoch=config.data.samples_per_epoch)
    return TalkingFaceDataset(cache, pairs, sample)


def build_data(config: TrainConfig, *, need_val: bool = True, eval_split: str = "val") -> TrainData:
    """Open the cache, split it and build the training and validation datasets (``eval_split`` = "test"
    validates on the test actors instead)."""
    root = Path(config.data.cache)
    cache = FaceCache(root)  # a clear CacheError when it is not a face cache
    size = get_profile(config.model.profile).face_size
    if int(cache.info.size) != size:
        raise ConfigError(
            f"{root}: faces cached at {cache.info.size} px but profile {config.model.profile!r} needs {size} px "
            f"(preprocess again with --size {size})"
        )
    records = cache.records()
    if config.data.splits:
        splits = read_splits(config.data.splits, records)
    else:
        splits = split_by_actor(
            records,
            val=config.data.val_actors,
            test=config.data.test_actors,
            seed=config.runtime.seed,
            min_minority=0,
        )
    seed = config.runtime.seed
    if config.stage in ("emotion", "conditional"):
        unlabelled = [r.id for r in records if not r.emotion]
        if unlabelled:
            raise DataError(
                f"{root}: stage {config.stage!r} needs videos labelled with emotions (MEAD or world layout); "
                f"{len(unlabelled)} have none, e.g. {unlabelled[0]}"
            )

    def parts(split: str, seed: int) -> EpochDataset | None:
        chosen = splits.select(records, split)
        if not chosen:
            return None
        built = [_part(cache, chosen, config, same_video=False, seed=seed, split=split)]
        recon = [False]
        if config.stage == "conditional" and config.data.reconstruction_pairs:
            built.append(_part(cache, chosen, config, same_video=True, seed=seed + 7919, split=split))
            recon.append(True)
        return EpochDataset(built, recon)

    train = parts("train", seed)
    if train is None:
        raise DataError(f"{root}: the train split is empty ({splits.summary()})")
    val = parts(eval_split, seed + 1) if need_val else None
    if need_val and val is None:
        raise DataError(f"{root}: the {eval_split} split is empty ({splits.summary()}); hold out at least one actor")
    summary = f"{len(train)} training samples per epoch" + (f", {len(val)} validation" if val else "")
    return TrainData(cache=cache, splits=splits, train=train, val=val, summary=summary)


__all__ = ["NEUTRAL_INDEX", "EpochDataset", "StepBatchSampler", "TrainData", "build_data", "resolve_targets"]
