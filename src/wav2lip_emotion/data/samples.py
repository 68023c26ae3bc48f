"""What a training sample is and how samples are drawn: the :class:`Sample` dict, the
:class:`SampleConfig` (window, mask, which video of a pair gives targets and pose prior, seed, retries)
and the :class:`PairLike` protocol of a pair. :mod:`.dataset` draws them; see ``docs/data_dataset.md``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, TypedDict

import torch

from ..errors import ConfigError

MaskName = Literal["full", "half", "none"]
VideoRole = Literal["destination", "source"]
TargetRole = Literal["destination", "source", "aligned"]

_MASKS = ("full", "half", "none")
_ROLES = ("destination", "source")
_TARGET_ROLES = ("destination", "source", "aligned")
_MAX_RETRIES = 1000  # upper bound on SampleConfig.max_retries: a loader must never spin for long


class PairLike(Protocol):
    """What the dataset needs of a :class:`~wav2lip_emotion.data.pairing.Pair`."""

    source: Any  # VideoRecord: .id
    destination: Any
    source_emotion: str | None
    destination_emotion: str | None
    destination_level: int | None


class Sample(TypedDict):
    """One training sample (its layout: the docstring of :mod:`wav2lip_emotion.data.dataset`)."""

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
