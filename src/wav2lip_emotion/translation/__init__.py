"""Translation: a talking-face video in, the same video with another facial emotion out.

* :mod:`.config`: :class:`TranslateConfig`, the settings shared by the command and the API;
* :mod:`.pipeline`: :func:`translate`, which runs one of two engines and reports both alike:
  * the mesh engine (:mod:`.mesh_engine`, run by :mod:`.mesh_run`), training-free, the default;
  * the learned engine (:mod:`.model_run`): :mod:`.translator`'s :class:`EmotionTranslator` (checkpoint,
    capability checks, mask inference, fast batched inference) in the streaming stages of :mod:`.stages`
    (open the input, plan, track faces, generate, paste back and encode, finish) on the threads of
    :mod:`.conveyor`;
* :mod:`.result`: :class:`TranslateResult`, what a translation did;
* :mod:`.face_track`: :class:`FaceTrackFile`, faces read from ``--faces F.json``.

The learned engine's names are loaded on first use: ``import wav2lip_emotion.translation`` and a mesh
engine run never import torch (about 1.5 s and 300 MB that a photo's edit does not need).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import TranslateConfig, parse_intensity
from .face_track import FaceTrackFile
from .pipeline import translate
from .result import TranslateResult

if TYPE_CHECKING:
    from .translator import (
        EmotionTranslator,
        GeneratorCard,
        MaskProbe,
        pick_device,
        resolve_request,
        shipped_checkpoint,
    )

#: the learned engine's names, imported from :mod:`.translator` when first asked for
_TRANSLATOR_NAMES = (
    "EmotionTranslator",
    "GeneratorCard",
    "MaskProbe",
    "pick_device",
    "resolve_request",
    "shipped_checkpoint",
)

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


def __getattr__(name: str) -> Any:
    if name in _TRANSLATOR_NAMES:
        from . import translator

        return getattr(translator, name)
    raise AttributeError(f"module 'wav2lip_emotion.translation' has no attribute {name!r}")
