"""Audio -> mouth: per-video-frame jaw opening and lip spreading derived from the audio alone.

Owns :class:`MouthTrack`, :func:`envelope` (the normalised, smoothed loudness per frame) and
:func:`mouth_from_audio`, so that lip sync in the rendered videos is learnable and checkable. The
high-pass and pre-emphasis are :mod:`scipy.signal` filters. See docs/world_speech.md for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ...audio import SAMPLE_RATE

__all__ = ["MouthTrack", "envelope", "mouth_from_audio"]

_HOP_S = 0.005  # envelope hop
_RMS_WIN_S = 0.020  # RMS window
_ATTACK_S = 0.020
_RELEASE_S = 0.060
_LOOKAHEAD_S = 0.020  # compensates the smoother's lag
_FRAME_WIN_S = 0.040  # centred window per video frame
_GATE_DB = 6.0  # above the noise floor before the jaw starts opening
_RANGE_DB = (30.0, 50.0)  # allowed range between noise floor and peak
_SILENT_DBFS = -60.0  # audio whose loudest 20 ms stay below this is silence
_HIGHPASS_HZ = 50.0  # -6 dB point of the zero-phase high-pass (run forward and backward)
_HIGHPASS_ORDER = 4


@dataclass
class MouthTrack:
    """Per-video-frame mouth parameters from audio. Frame k summarises the audio around k / fps."""

    #: jaw opening in [0, 1] (0: closed / silence)
    jaw: np.ndarray
    #: lip spreading in [-1, 1] (> 0: spread, /i/ and fricatives; < 0: rounded, /u/ /o/)
    spread: np.ndarray
    #: the normalised energy envelope in [0, 1] (for checks)
    energy: np.ndarray
    fps: float = 25.0

    def __len__(self) -> int:
        return len(self.jaw)


def _n_frames(n_samples: int, sample_rate: int, fps: float, n_frames: int | None) -> int:
    if n_frames is not None:
        return int(n_frames)
    return math.floor(n_samples * fps / sample_rate + 1e-9)


def _highpass(x: np.ndarray, sr: int) -> np.ndarray:
    """Remove DC and rumble: zero-phase 4th-order Butterworth high-pass, -6 dB at 50 Hz, -0.3 dB at 70 Hz."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    sos = signal.butter(_HIGHPASS_ORDER, _HIGHPASS_HZ, btype="highpass", fs=sr, output="sos")
    if len(x) <= 3 * (2 * len(sos) + 1):  # too short to pad for filtfilt: remove the mean only
        return x - x.mean() if len(x) else x
    return signal.sosfiltfilt(sos, x)


def _hop_envelope(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw dB, attack/release-smoothed dB) of the RMS on a 5 ms hop; hop j is centred at j * 5 ms."""
    hop = max(1, round(_HOP_S * sr))
    win = max(2, round(_RMS_WIN_S * sr))
    n_hops = len(x) // hop + 1
    padded = np.pad(x, (win // 2, win // 2 + n_hops * hop))
    w = np.hanning(win + 2)[1:-1]
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n_hops]
    rms = np.sqrt((frames**2 @ w) / w.sum())
    raw = 20.0 * np.log10(rms + 1e-9)
    att, rel = math.exp(-_HOP_S / _ATTACK_S), math.exp(-_HOP_S / _RELEASE_S)
    vals = raw.tolist()
    out = [0.0] * len(vals)
    y = min(vals) if vals else 0.0
    for j, v in enumerate(vals):
        a = att if v > y else rel
        y = a * y + (1 - a) * v
        out[j] = y
    # the one-pole smoother lags the signal by ~20 ms: look ahead by as much (offline, so we can)
    shift = round(_LOOKAHEAD_S / _HOP_S)
    smooth = np.asarray(out[shift:] + [out[-1]] * shift) if shift and out else np.asarray(out)
    return raw, smooth


def _normalised_energy(x: np.ndarray, sr: int) -> np.ndarray:
    """Per-hop energy in [0, 1]: the smoothed dB envelope between (noise floor + 6 dB) and the peak."""
    raw, smooth = _hop_envelope(x, sr)
    peak = float(np.percentile(raw, 99.5))
    if peak < _SILENT_DBFS:  # (near) digital silence: nothing to normalise
        return np.zeros_like(smooth)
    floor = float(np.clip(np.percentile(raw, 10), peak - _RANGE_DB[1], peak - _RANGE_DB[0]))
    gate = floor + _GATE_DB
    return np.clip((smooth - gate) / (peak - gate), 0.0, 1.0)


def _frame_average(per_hop: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Mean of a 5 ms-hop series over the centred 40 ms window of each video frame (0 outside)."""
    half = _FRAME_WIN_S / 2
    times = np.arange(n_frames) / fps
    lo = np.round((times - half) / _HOP_S).astype(int)
    hi = np.round((times + half) / _HOP_S).astype(int) + 1
    csum = np.concatenate([[0.0], np.cumsum(per_hop)])
    lo_c = np.clip(lo, 0, len(per_hop))
    hi_c = np.clip(hi, 0, len(per_hop))
    return (csum[hi_c] - csum[lo_c]) / (hi - lo)


def envelope(samples: np.ndarray, sr: int = SAMPLE_RATE, fps: float = 25.0, n_frames: int | None = None) -> np.ndarray:
    """Normalised energy envelope per video frame, in [0, 1] (silence 0, loudest vowels ~1).

    RMS over 20 ms Hann windows every 5 ms of the high-passed signal, in dB, smoothed with a fast
    attack (20 ms) and slower release (60 ms), read 20 ms ahead (the smoother's lag), mapped linearly
    from (noise floor + 6 dB) -> 0 to the 99.5th percentile -> 1 (floor: 10th percentile, kept 30-50 dB
    below the peak), then averaged over the 40 ms centred on each frame time k / fps.
    """
    x = _highpass(samples, sr)
    n = _n_frames(len(x), sr, fps, n_frames)
    if n == 0 or len(x) == 0:
        return np.zeros(n)
    return _frame_average(_normalised_energy(x, sr), fps, n)


def _band_features(x: np.ndarray, sr: int, fps: float, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (high/low band ratio in dB, F1-region centroid in Hz) of the pre-emphasised signal."""
    win = round(_FRAME_WIN_S * sr)
    nfft = 1 << (win - 1).bit_length()
    pre = signal.lfilter([1.0, -0.97], [1.0], x)
    centres = np.round(np.arange(n_frames) * sr / fps).astype(int)
    padded = np.pad(pre, (win // 2, win + max(0, centres.max(initial=0) - len(pre))))
    idx = centres[:, None] + np.arange(win)[None, :]
    frames = padded[idx] * np.hanning(win)[None, :]
    power = np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    low = power[:, (f >= 200) & (f < 1500)].sum(axis=1)
    high = power[:, (f >= 1500) & (f < 5000)].sum(axis=1)
    ratio_db = 10 * np.log10((high + 1e-12) / (low + 1e-12))
    band = (f >= 200) & (f < 1000)
    p1 = power[:, band]
    centroid = (p1 @ f[band]) / (p1.sum(axis=1) + 1e-12)
    return ratio_db, centroid


#: spread = tanh((R - R0) / S) with R the 1.5-5 kHz / 0.2-1.5 kHz energy ratio in dB (pre-emphasised)
_SPREAD_R0_DB = -6.0
_SPREAD_S_DB = 8.0
#: above this ratio (dB) a frame counts as fricative (teeth close: the jaw opens less)
_FRIC_DB = 10.0


def mouth_from_audio(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, fps: float = 25.0, n_frames: int | None = None
) -> MouthTrack:
    """Mouth parameters per video frame, from the audio alone.

    * ``energy`` = :func:`envelope` (normalised, smoothed RMS dB).
    * ``jaw`` = energy ** 0.9 * (0.8 + 0.2 * open), open = clip((c1 - 300) / 400, 0, 1) from the
      centroid c1 of 200-1000 Hz (the F1 region: F1 rises as the jaw opens).
    * ``spread`` = tanh((R - R0) / S) * min(1, energy / 0.3): R is the dB ratio of the pre-emphasised
      energy in 1.5-5 kHz to that in 0.2-1.5 kHz over the 40 ms centred window (F2 high: /i/, /e/,
      fricatives -> spread > 0; F2 low: /u/, /o/ -> rounded, < 0), faded out in silence.

    Arrays have ``n_frames`` entries (default floor(duration * fps)); frames past the audio are silent.
    """
    x = _highpass(samples, sample_rate)
    n = _n_frames(len(x), sample_rate, fps, n_frames)
    if n == 0 or len(x) == 0:
        z = np.zeros(n)
        return MouthTrack(z, z.copy(), z.copy(), fps)
    energy = _frame_average(_normalised_energy(x, sample_rate), fps, n)
    ratio_db, centroid = _band_features(x, sample_rate, fps, n)
    opening = np.clip((centroid - 300.0) / 400.0, 0.0, 1.0)
    frication = np.clip((ratio_db - _FRIC_DB) / 15.0, 0.0, 1.0)
    jaw = np.clip(energy**0.9 * (0.8 + 0.2 * opening) * (1.0 - 0.4 * frication), 0.0, 1.0)
    loud = energy > 0.5
    r_ref = 0.5 * _SPREAD_R0_DB + 0.5 * (float(np.median(ratio_db[loud])) if loud.any() else _SPREAD_R0_DB)
    spread = np.tanh((ratio_db - r_ref) / _SPREAD_S_DB) * np.minimum(1.0, energy / 0.3)
    return MouthTrack(jaw, np.clip(spread, -1.0, 1.0), energy, fps)
