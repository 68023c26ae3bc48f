"""Network architectures, built from a :class:`ModelProfile` and named by kind in a registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..errors import ConfigError
from .conditional import ConditionalGenerator, EmotionCondition, condition_tensors
from .discriminator import DiscriminatorForm, QualityDiscriminator
from .generator import Wav2LipGenerator
from .profiles import PROFILES, ModelProfile, get_profile
from .syncnet import SyncNetExpert

#: model kind -> constructor(profile, **options). Other modules register more kinds here.
MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "generator": Wav2LipGenerator,
    "syncnet": SyncNetExpert,
    "discriminator": QualityDiscriminator,
    "conditional_generator": ConditionalGenerator,
}


def build_model(kind: str, profile: str | ModelProfile = "paper", **options: Any) -> nn.Module:
    """Build an untrained network of a registered ``kind`` with a profile and kind-specific options."""
    try:
        ctor = MODEL_REGISTRY[kind]
    except KeyError:
        raise ConfigError(f"unknown model kind {kind!r}; known kinds: {', '.join(MODEL_REGISTRY)}") from None
    return ctor(get_profile(profile), **options)


__all__ = [
    "MODEL_REGISTRY",
    "PROFILES",
    "ConditionalGenerator",
    "DiscriminatorForm",
    "EmotionCondition",
    "ModelProfile",
    "QualityDiscriminator",
    "SyncNetExpert",
    "Wav2LipGenerator",
    "build_model",
    "condition_tensors",
    "get_profile",
]
