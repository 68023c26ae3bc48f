"""Utterance pools: the real recordings first, then as many procedural utterances as a world needs."""

from __future__ import annotations

import numpy as np

from .procedural import procedural_utterance
from .recordings import Utterance, real_utterances

__all__ = ["utterance_pool"]


def utterance_pool(n: int, seed: int, real_first: bool = True) -> list[Utterance]:
    """``n`` utterances: the real ones first (when ``real_first``), then procedural ones.

    Procedural utterance i (0-based among the procedural ones) uses seed ``seed * 100003 + i``, a
    duration drawn from 2-4 s and its own pitch; everything is deterministic for (n, seed).
    """
    out: list[Utterance] = list(real_utterances())[:n] if real_first else []
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x9001])
    i = 0
    while len(out) < n:
        seconds = float(rng.uniform(2.0, 4.0))
        out.append(procedural_utterance(int(seed) * 100003 + i, seconds=round(seconds, 2)))
        i += 1
    return out
