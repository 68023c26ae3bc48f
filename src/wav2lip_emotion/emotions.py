"""The emotion vocabulary of the whole package: MEAD's eight names and their synonyms.

Torch-free and at the bottom of the package, so that every layer (media, faces, expression, data,
models, ...) can name emotions without loading a network.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import ConfigError


class Emotion(StrEnum):
    """MEAD's eight emotion names, the vocabulary of the package (CLI, datasets, models, metrics)."""

    ANGRY = "angry"
    CONTEMPT = "contempt"
    DISGUSTED = "disgusted"
    FEAR = "fear"
    HAPPY = "happy"
    NEUTRAL = "neutral"
    SAD = "sad"
    SURPRISED = "surprised"


EMOTIONS: tuple[str, ...] = tuple(e.value for e in Emotion)

#: other spellings found in datasets and model cards -> our names
_SYNONYMS = {
    "anger": "angry",
    "disgust": "disgusted",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprise": "surprised",
    "calm": "neutral",
}


def parse_emotion(name: str | Emotion) -> Emotion:
    """An emotion from our name or a common synonym (``anger``, ``fearful``, ``surprise`` ...)."""
    if isinstance(name, Emotion):
        return name
    key = str(name).strip().lower()
    key = _SYNONYMS.get(key, key)
    try:
        return Emotion(key)
    except ValueError:
        raise ConfigError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}") from None


#: FER2013's class order (angry, disgust, fear, happy, sad, surprise, neutral) in our names
FER2013_CLASSES: tuple[str, ...] = ("angry", "disgusted", "fear", "happy", "sad", "surprised", "neutral")
