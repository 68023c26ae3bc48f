"""Translation: a talking-face video in, the same video with another facial emotion out.

* :mod:`.config`: :class:`TranslateConfig`, the settings shared by the command and the API;
* :mod:`.translator`: :class:`EmotionTranslator`, the model side (checkpoint, capability checks,
  mask inference, fast batched inference);
* :mod:`.pipeline`: :func:`translate`, the streaming video pipeline around it.
"""

from __future__ import annotations

from .config import TranslateConfig, parse_intensity
from .pipeline import FaceTrackFile, TranslateResult, translate
from .translator import EmotionTranslator, GeneratorCard, MaskProbe, pick_device, resolve_request, shipped_checkpoint

__all__ = [
    "EmotionTranslator",
    "FaceTrackFile",
    "GeneratorCard",
    "MaskProbe",
    "TranslateConfig",
    "TranslateResult",
    "parse_intensity",
    "pick_device",
    "resolve_request",
    "shipped_checkpoint",
    "translate",
]
