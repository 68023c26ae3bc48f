"""The speech side of the generated world: utterances, emotional voices, and mouth tracks from audio.

A thin index; each job lives in its own module:

* :mod:`.recordings`: :class:`Utterance` and :func:`real_utterances`, the two real recordings of the
  asset store cut into utterances at pauses (voice-activity detection:
  :func:`wav2lip_emotion.audio.speech_segments` / :func:`wav2lip_emotion.audio.cut_utterances`).
* :mod:`.procedural`: :func:`procedural_utterance`, an unlimited supply of speech-like audio from a
  seed, and :func:`synth_vowel`; its source and filters (glottal source, formant resonators, noise)
  are in :mod:`.formants`.
* :mod:`.voice`: :func:`emotional_voice` modulates pitch, tempo and loudness a little by emotion.
* :mod:`.mouth`: :func:`mouth_from_audio` derives the per-video-frame mouth parameters (jaw opening,
  lip spreading) from the audio alone, so that lip sync in the rendered videos is learnable and checkable.
* :mod:`.pool`: :func:`utterance_pool`, real utterances first, then procedural ones.

Everything is deterministic. Audio is float32 mono at :data:`wav2lip_emotion.audio.SAMPLE_RATE`
(16 kHz) unless stated. See docs/world_speech.md for the formulas.
"""

from __future__ import annotations

from ...audio import cut_utterances, speech_segments
from .mouth import MouthTrack, envelope, mouth_from_audio
from .pool import utterance_pool
from .procedural import VOWELS, procedural_utterance, synth_vowel
from .recordings import REAL_SOURCES, Utterance, real_utterances
from .voice import EMOTION_VOICE, emotional_voice

__all__ = [
    "EMOTION_VOICE",
    "REAL_SOURCES",
    "VOWELS",
    "MouthTrack",
    "Utterance",
    "cut_utterances",
    "emotional_voice",
    "envelope",
    "mouth_from_audio",
    "procedural_utterance",
    "real_utterances",
    "speech_segments",
    "synth_vowel",
    "utterance_pool",
]
