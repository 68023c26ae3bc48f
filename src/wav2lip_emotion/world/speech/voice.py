"""The emotional voice: pitch, tempo and loudness of an utterance changed a little according to an emotion.

Owns :data:`EMOTION_VOICE` and :func:`emotional_voice`: band-limited resampling
(:func:`scipy.signal.resample`) changes pitch and tempo together, then a gain and a tanh soft limit.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ...emotions import parse_emotion
from .recordings import Utterance

__all__ = ["EMOTION_VOICE", "emotional_voice"]

#: (pitch/tempo change, gain in dB) at intensity 1; applied as factor (1 + p) ** intensity
EMOTION_VOICE: dict[str, tuple[float, float]] = {
    "angry": (0.04, 3.0),
    "contempt": (-0.02, -1.0),
    "disgusted": (-0.03, -1.0),
    "fear": (0.05, -1.0),
    "happy": (0.06, 2.0),
    "neutral": (0.0, 0.0),
    "sad": (-0.06, -3.0),
    "surprised": (0.08, 2.0),
}


def _soft_limit(y: np.ndarray, knee: float = 0.9) -> np.ndarray:
    a = np.abs(y)
    over = a > knee
    if not over.any():
        return y
    out = y.copy()
    out[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((a[over] - knee) / (1 - knee)))
    return out


def emotional_voice(utt: Utterance, emotion: str, intensity: float) -> Utterance:
    """The utterance spoken a little more ``emotion``-ally: pitch/tempo and loudness change.

    Pitch and tempo change together by band-limited (FFT) resampling by the factor ``(1 + p) ** intensity`` (higher and
    faster for p > 0; lower and slower for p < 0), and the gain is ``g * intensity`` dB, with
    (p, g) from :data:`EMOTION_VOICE` (at most 8 % and 3 dB). Peaks above 0.9 are soft-limited.
    ``neutral`` or intensity 0 return the samples unchanged (a copy). ``source`` and ``text`` are kept.
    """
    name = parse_emotion(emotion).value
    k = float(np.clip(intensity, 0.0, 1.0))
    p, g = EMOTION_VOICE[name]
    if k == 0.0 or (p == 0.0 and g == 0.0) or len(utt.samples) == 0:
        return Utterance(utt.samples.copy(), utt.sample_rate, utt.source, utt.real, utt.text)
    factor = (1.0 + p) ** k
    y = signal.resample(utt.samples.astype(np.float64), max(1, round(len(utt.samples) / factor)))
    y = _soft_limit(y * 10 ** (g * k / 20))
    return Utterance(y.astype(np.float32), utt.sample_rate, utt.source, utt.real, utt.text)
