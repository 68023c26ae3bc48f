"""Source-filter building blocks of the procedural speech: glottal source, formant resonators, shaped noise.

Owns the signal processing under :mod:`.procedural`:

* the Rosenberg glottal source;
* the cascade of Klatt formant resonators: fixed ones run as one :func:`scipy.signal.lfilter` each,
  moving ones block-wise, with coefficients held for :data:`RESONATOR_HOLD_S` (5 ms, Klatt's
  parameter update interval) and the filter state carried from block to block, as formant
  synthesisers do;
* band-limited noise (a Butterworth band-pass) and room noise (a one-pole low-pass), by :mod:`scipy.signal`;
* the Hann-weighted smoothing of control tracks (overlap-add convolution).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import signal

__all__ = [
    "RESONATOR_HOLD_S",
    "bandpass_noise",
    "formant_filter",
    "glottal_source",
    "klatt_coefficients",
    "room_noise",
    "smooth",
]

#: seconds for which a moving resonator holds its coefficients. The formant tracks are smoothed over
#: 30 ms, so holding them for 5 ms instead of updating them every sample changes the procedural
#: speech by an error 36-40 dB below the signal (correlation >= 0.9997; tests/test_world_speech_dsp.py)
RESONATOR_HOLD_S = 0.005
#: order of the Butterworth band-pass of consonant noise (run forward and backward: 48 dB/octave skirts)
_NOISE_ORDER = 4


def smooth(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average (Hann-weighted) over ``n`` samples, edge-padded."""
    if n <= 1:
        return x
    w = np.hanning(n + 2)[1:-1]
    w /= w.sum()
    return signal.oaconvolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), w, mode="valid")


def glottal_source(
    f0: np.ndarray, sr: int, open_q: float = 0.45, close_q: float = 0.10
) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg glottal flow derivative driven by a per-sample f0 track (Hz); unit-ish amplitude.

    Returns (flow derivative normalised to peak 1, flow in [0, 1]).
    """
    phase = np.cumsum(f0 / sr)
    fr = phase - np.floor(phase)
    flow = np.where(
        fr < open_q,
        0.5 * (1 - np.cos(np.pi * fr / open_q)),
        np.where(fr < open_q + close_q, np.cos(0.5 * np.pi * (fr - open_q) / close_q), 0.0),
    )
    d = np.diff(flow, prepend=0.0)
    return d / (np.max(np.abs(d)) + 1e-12), flow


def klatt_coefficients(
    frequency: np.ndarray | float, bandwidth: np.ndarray | float, sr: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, C) of Klatt's resonator y[n] = A x[n] + B y[n-1] + C y[n-2] (unity gain at DC)."""
    t = 1.0 / sr
    bw = np.asarray(bandwidth, dtype=np.float64)
    c = -np.exp(-2 * np.pi * bw * t)
    b = 2 * np.exp(-np.pi * bw * t) * np.cos(2 * np.pi * np.asarray(frequency, dtype=np.float64) * t)
    return 1 - b - c, b, c


def _moving_resonator(x: np.ndarray, starts: list[int], a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """One resonator whose coefficients change per block (block i starts at ``starts[i]``).

    Each block is one :func:`scipy.signal.lfilter` call; its initial state is made from the last two
    outputs with the block's own coefficients, so the recursion continues as if the coefficients had
    changed at the block boundary.
    """
    out = np.empty_like(x)
    y1 = y2 = 0.0
    ends = [*starts[1:], len(x)]
    for s, e, aa, bb, cc in zip(starts, ends, a.tolist(), b.tolist(), c.tolist(), strict=True):
        seg, _ = signal.lfilter([aa], [1.0, -bb, -cc], x[s:e], zi=[bb * y1 + cc * y2, cc * y1])
        out[s:e] = seg
        y1, y2 = (float(seg[-1]), float(seg[-2])) if e - s > 1 else (float(seg[-1]), y1)
    return out


def formant_filter(
    x: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int, fixed: tuple[tuple[float, float], ...] = ()
) -> np.ndarray:
    """Cascade of Klatt resonators (unity DC gain): fixed higher formants first, then moving ones.

    ``formants`` / ``bandwidths``: [n_samples, k] per-sample frequencies and bandwidths in Hz; each
    moving resonator takes the values at the centre of every :data:`RESONATOR_HOLD_S` block.
    ``fixed``: (frequency, bandwidth) pairs of resonators with constant coefficients.
    """
    y = np.asarray(x, dtype=np.float64)
    for f, bw in fixed:
        a, b, c = klatt_coefficients(f, bw, sr)
        y = signal.lfilter([float(a)], [1.0, -float(b), -float(c)], y)
    if len(y) == 0:
        return y
    block = max(1, round(RESONATOR_HOLD_S * sr))
    starts = np.arange(0, len(y), block)
    centres = np.minimum(starts + block // 2, len(y) - 1)
    a, b, c = klatt_coefficients(formants[centres], bandwidths[centres], sr)
    for j in range(formants.shape[1]):
        y = _moving_resonator(y, starts.tolist(), a[:, j], b[:, j], c[:, j])
    return y


@lru_cache(maxsize=64)
def _butter_sos(order: int, cutoff: float | tuple[float, float], btype: str, sr: int) -> np.ndarray:
    """Second-order sections of a Butterworth filter (designs are reused: the bands are few; callers
    must not modify them, and scipy's filters need them writeable)."""
    return signal.butter(order, cutoff, btype=btype, fs=sr, output="sos")


def bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise through a zero-phase Butterworth band-pass (-6 dB at ``lo`` and ``hi``), unit RMS.

    Draws ``max(n, 256)`` normal samples from ``rng`` (filtered, then cut to ``n``).
    """
    if n <= 0:
        return np.zeros(0)
    m = max(n, 256)
    sos = _butter_sos(_NOISE_ORDER, (float(lo), min(float(hi), 0.499 * sr)), "bandpass", sr)
    y = signal.sosfiltfilt(sos, rng.standard_normal(m))[:n]
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def room_noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Unit-RMS background noise falling 6 dB/octave above 300 Hz (like a quiet room).

    White noise through a one-pole low-pass y[n] = (1 - p) x[n] + p y[n-1], p = exp(-2 pi 300 Hz / sr).
    """
    if n <= 0:
        return np.zeros(0)
    p = math.exp(-2 * math.pi * 300.0 / sr)
    y = signal.lfilter([1.0 - p], [1.0, -p], rng.standard_normal(n))
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)
