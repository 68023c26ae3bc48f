"""Translation: a talking-face video in, the same video with another facial emotion out.

* :mod:`.config`: :class:`TranslateConfig`, the settings shared by the command and the API;
* :mod:`.translator`: :class:`EmotionTranslator`, the model side (checkpoint, capability checks,
  mask inference, fast batched inference);
* :mod:`.pipeline`: :func:`translate`, the streaming video pipeline around it, which runs
  * :mod:`.stages`: open the input, plan, track faces, generate, paste back and encode, finish,
  * on the threads of :mod:`.conveyor`;
* :mod:`.result`: :class:`TranslateResult`, what a translation did;
* :mod:`.face_track`: :class:`FaceTrackFile`, faces read from ``--faces F.json``.
"""

from __future__ import annotations

from .config import TranslateConfig, parse_intensity
from .face_track import FaceTrackFile
from .pipeline import translate
from .result import TranslateResult
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
