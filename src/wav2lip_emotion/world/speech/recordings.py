"""Utterances and the real recordings: the :class:`Utterance` record and the two human recordings cut at pauses.

Owns :class:`Utterance` (samples plus where they came from) and :func:`real_utterances`, which cuts
the asset store's recordings (``codec2_speech``: Harvard sentences, ``arctic_a0007``: one CMU ARCTIC
sentence) into utterances with the voice-activity detection of :mod:`wav2lip_emotion.audio`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...audio import SAMPLE_RATE, cut_utterances, load_audio

__all__ = ["REAL_SOURCES", "Utterance", "real_utterances"]


@dataclass
class Utterance:
    """One utterance: float32 mono samples and where they came from."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    #: "codec2:<i>", "arctic_a0007" or "procedural:<seed>"
    source: str = ""
    #: True for a human recording, False for synthetic speech
    real: bool = False
    text: str | None = None

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate)


#: the real recordings: (asset name, source prefix)
REAL_SOURCES: tuple[tuple[str, str], ...] = (("codec2_speech", "codec2"), ("arctic_a0007", "arctic_a0007"))


@lru_cache(maxsize=4)
def _real_cuts(
    min_seconds: float, max_seconds: float
) -> tuple[tuple[str, np.ndarray, tuple[tuple[int, int], ...]], ...]:
    from ...assets.store import asset_path

    out = []
    for asset, prefix in REAL_SOURCES:
        x = load_audio(asset_path(asset), SAMPLE_RATE)
        x.setflags(write=False)
        out.append((prefix, x, tuple(cut_utterances(x, SAMPLE_RATE, min_seconds, max_seconds))))
    return tuple(out)


def real_utterances(min_seconds: float = 1.5, max_seconds: float = 4.0) -> list[Utterance]:
    """The real recordings cut into utterances of ``min_seconds``..``max_seconds`` at pauses.

    Cut by :func:`wav2lip_emotion.audio.cut_utterances`: a stretch longer than ``max_seconds`` is split
    recursively at its longest pause (preferring pauses that leave both halves >= ``min_seconds``);
    pieces that are too short are merged into their predecessor when the result fits, else dropped.
    0.1 s of the original signal is kept around each utterance. Needs the assets ``codec2_speech``
    and ``arctic_a0007`` (fetched on first use). Sources: "codec2:<i>", and "arctic_a0007" (or
    "arctic_a0007:<i>" if it were ever cut into several).
    """
    utts: list[Utterance] = []
    for prefix, x, cuts in _real_cuts(float(min_seconds), float(max_seconds)):
        for i, (a, b) in enumerate(cuts):
            source = prefix if (prefix == "arctic_a0007" and len(cuts) == 1) else f"{prefix}:{i}"
            utts.append(Utterance(x[a:b].copy(), SAMPLE_RATE, source, True, None))
    return utts
