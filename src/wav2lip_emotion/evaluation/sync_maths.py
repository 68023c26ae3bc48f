"""The maths of syncnet_python's lip-sync protocol: MFCC audio features and the offset search.

* :func:`mfcc` / :func:`syncnet_mfcc`: ``python_speech_features.mfcc`` with all its defaults (13 MFCCs
  per 10 ms step), re-implemented with NumPy alone, fed int16-scale samples as syncnet_python does;
* :func:`offset_distances` / :func:`offset_search`: their ``calc_pdist`` + ``evaluate``: distances
  between per-window video and audio embeddings over +-``max_offset`` frames, LSE-D (the smallest mean
  distance) and LSE-C (median minus minimum).

No network and no video here: :mod:`wav2lip_emotion.evaluation.lip_sync` runs the whole protocol.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..audio import SAMPLE_RATE
from ..errors import ConfigError

#: offsets searched on each side, in frames (syncnet_python's ``--vshift`` as the papers ran it)
MAX_OFFSET = 15
#: ``torch.nn.functional.pairwise_distance``'s eps, added to every difference
PDIST_EPS = 1e-6

# python_speech_features.mfcc defaults
_WINLEN = 0.025
_WINSTEP = 0.01
_NUMCEP = 13
_NFILT = 26
_NFFT = 512
_PREEMPH = 0.97
_CEPLIFTER = 22
_CHUNK_FRAMES = 4096  # MFCC frames transformed at a time (bounds the memory of the spectra)


# --------------------------------------------------------------------------- MFCC (python_speech_features)


def _round_half_up(value: float) -> int:
    """Round like python_speech_features' ``round_half_up`` (exact decimal value of the float)."""
    return int(decimal.Decimal(value).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _hz_to_mel_htk(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz_htk(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mfcc_filterbank(sample_rate: int = SAMPLE_RATE, nfilt: int = _NFILT, nfft: int = _NFFT) -> np.ndarray:
    """[nfilt, nfft//2 + 1] triangular filters from 0 Hz to ``sample_rate / 2`` (read-only).

    The edges are FFT bins ``floor((nfft + 1) * mel2hz(linspace(hz2mel(0), hz2mel(sr/2), nfilt + 2)) / sr)``
    on the HTK mel scale (``2595 log10(1 + f/700)``); filter ``j`` rises linearly from 0 at edge ``j`` to 1 at
    edge ``j+1`` and falls back to 0 at edge ``j+2`` (the last bin of each slope excluded).
    """
    mels = np.linspace(_hz_to_mel_htk(0.0), _hz_to_mel_htk(sample_rate / 2), nfilt + 2)
    edges = np.floor((nfft + 1) * _mel_to_hz_htk(mels) / sample_rate)
    bank = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        rising = np.arange(int(lo), int(mid))
        bank[j, rising] = (rising - lo) / (mid - lo)
        falling = np.arange(int(mid), int(hi))
        bank[j, falling] = (hi - falling) / (hi - mid)
    bank.setflags(write=False)
    return bank


@lru_cache(maxsize=8)
def _dct2_ortho(n: int, keep: int) -> np.ndarray:
    """[n, keep] matrix of the orthonormal type-II DCT: ``x @ basis`` = the first ``keep`` coefficients."""
    k = np.arange(keep)[None, :]
    m = np.arange(n)[:, None]
    basis = np.cos(np.pi * k * (2 * m + 1) / (2 * n))
    basis *= np.where(k == 0, math.sqrt(1.0 / n), math.sqrt(2.0 / n))
    basis.setflags(write=False)
    return basis


def mfcc(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """13 MFCCs per 10 ms step, [T, 13] float64: ``python_speech_features.mfcc(samples, sample_rate)``.

    Input is expected on the **int16 scale** (-32768..32767), as syncnet_python feeds it samples read
    with scipy's ``wavfile``; float audio in [-1, 1] goes through :func:`syncnet_mfcc` instead (the log
    energies depend on the scale). Any numeric 1-D array is accepted.

    The recipe, with the package's defaults: pre-emphasis 0.97; frames of ``round(0.025 sr)`` samples every
    ``round(0.01 sr)`` samples, ``T = 1 + ceil((len - frame_len) / step)`` (1 for a short signal), the end
    padded with zeros to whole frames, rectangular window; power spectrum ``|rfft(frame, 512)|^2 / 512``;
    frame energy = its sum; 26 mel filters (:func:`mfcc_filterbank`); zero energies or filter outputs
    replaced by the float64 eps; log; orthonormal DCT-II, first 13 coefficients; lifter
    ``1 + 11 sin(pi n / 22)``; coefficient 0 replaced by the log frame energy. The FFT size stays 512 at
    every rate (frames longer than that are cut, as the package does).
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ConfigError(f"mfcc needs a 1-D array of samples, got shape {x.shape}")
    if x.size == 0:
        raise ConfigError("mfcc needs at least one sample, got an empty array")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ConfigError(f"mfcc needs real numeric samples, got dtype {x.dtype}")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ConfigError(f"sample rate must be a positive integer, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    x = x.astype(np.float64)

    emphasised = np.empty_like(x)
    emphasised[0] = x[0]
    emphasised[1:] = x[1:] - _PREEMPH * x[:-1]

    frame_len = _round_half_up(_WINLEN * sample_rate)
    step = _round_half_up(_WINSTEP * sample_rate)
    n = len(emphasised)
    count = 1 if n <= frame_len else 1 + math.ceil((1.0 * n - frame_len) / step)
    padded = np.concatenate([emphasised, np.zeros((count - 1) * step + frame_len - n)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_len)[::step]

    bank = mfcc_filterbank(sample_rate)
    energy = np.empty(count)
    feat = np.empty((count, _NFILT))
    for start in range(0, count, _CHUNK_FRAMES):
        stop = min(count, start + _CHUNK_FRAMES)
        power = (1.0 / _NFFT) * np.square(np.abs(np.fft.rfft(frames[start:stop], _NFFT)))
        energy[start:stop] = power.sum(axis=1)
        feat[start:stop] = power @ bank.T
    eps = np.finfo(np.float64).eps
    energy = np.where(energy == 0, eps, energy)
    feat = np.where(feat == 0, eps, feat)

    cepstra = np.log(feat) @ _dct2_ortho(_NFILT, _NUMCEP)
    cepstra *= 1.0 + (_CEPLIFTER / 2.0) * np.sin(np.pi * np.arange(_NUMCEP) / _CEPLIFTER)
    cepstra[:, 0] = np.log(energy)
    return cepstra


def syncnet_mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, quantize: bool = True) -> np.ndarray:
    """:func:`mfcc` of float audio in [-1, 1] (e.g. :func:`~wav2lip_emotion.audio.load_audio`'s), [T, 13].

    The samples are multiplied by 32768 first, the int16 scale syncnet_python's ``wavfile.read`` gives.
    With ``quantize`` (default) they are also rounded to the nearest integer (ties to even) and clipped to
    -32768..32767, which is what the ``ffmpeg`` float-to-``pcm_s16le`` conversion of their pipeline does.
    """
    scaled = np.asarray(audio, dtype=np.float64) * 32768.0
    if quantize:
        scaled = np.clip(np.rint(scaled), -32768.0, 32767.0)
    return mfcc(scaled, sample_rate)


# --------------------------------------------------------------------------- offset search


@dataclass(frozen=True)
class OffsetSearch:
    """Result of :func:`offset_search`.

    ``offset``: frames; positive when the audio is early (leads the video), see the module docstring.
    ``min_distance`` is LSE-D, ``confidence`` LSE-C. ``mean_distances[j]`` is the mean distance at offset
    ``max_offset - j`` ([2 * max_offset + 1]); ``frame_distances`` the per-window distances at the best offset.
    """

    offset: int
    min_distance: float
    confidence: float
    mean_distances: np.ndarray
    frame_distances: np.ndarray


def _as_float64(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _check_features(video: np.ndarray, audio: np.ndarray, max_offset: int) -> None:
    if isinstance(max_offset, bool) or not isinstance(max_offset, int | np.integer) or max_offset < 0:
        raise ConfigError(f"max_offset must be an integer >= 0, got {max_offset!r}")
    if video.ndim != 2 or audio.ndim != 2:
        raise ConfigError(f"features must be 2-D [N, D]: video {video.shape}, audio {audio.shape}")
    if video.shape != audio.shape:
        raise ConfigError(f"video and audio features differ in shape: video {video.shape}, audio {audio.shape}")
    if video.shape[0] < 1 or video.shape[1] < 1:
        raise ConfigError(f"features need at least one window and one dimension, got {video.shape}")
    if not (np.isfinite(video).all() and np.isfinite(audio).all()):
        raise ConfigError("features hold NaN or infinite values")


def offset_distances(
    video: np.ndarray | torch.Tensor, audio: np.ndarray | torch.Tensor, max_offset: int = MAX_OFFSET
) -> np.ndarray:
    """syncnet_python's ``calc_pdist``: [N, 2 * max_offset + 1] float64 distances.

    Entry ``[i, j]`` is ``|| video[i] - audio[i + j - max_offset] + 1e-6 ||_2`` (the eps added to every
    component, as ``torch.nn.functional.pairwise_distance`` does), with a zero row standing for any audio
    index outside ``0 .. N-1`` (the zero padding of their code: those rows count in the means too).
    """
    v, a = _as_float64(video), _as_float64(audio)
    _check_features(v, a, max_offset)
    n, dim = v.shape
    padded = np.concatenate([np.zeros((max_offset, dim)), a, np.zeros((max_offset, dim))])
    out = np.empty((n, 2 * max_offset + 1))
    for j in range(2 * max_offset + 1):
        out[:, j] = np.linalg.norm(v - padded[j : j + n] + PDIST_EPS, axis=1)
    return out


def offset_search(
    video: np.ndarray | torch.Tensor, audio: np.ndarray | torch.Tensor, max_offset: int = MAX_OFFSET
) -> OffsetSearch:
    """Best audio-video offset, LSE-D and LSE-C of per-window embeddings ``video`` and ``audio`` [N, D].

    Row ``i`` of both is the same 5-frame window. Exactly syncnet_python's ``evaluate``: distances as
    :func:`offset_distances`, ``mean_distances`` = their mean over the N windows per offset,
    ``minidx = argmin`` (the first on ties), ``offset = max_offset - minidx`` (positive: audio early,
    video window ``i`` matches audio window ``i - offset``), ``min_distance = mean_distances[minidx]``
    (LSE-D) and ``confidence = median(mean_distances) - min_distance`` (LSE-C), where the median is
    ``torch.median``'s: the middle of the sorted values (the lower middle for an even count).
    Raises :class:`ConfigError` for features that are not two finite [N, D] arrays of one shape with
    N >= 1, or a negative ``max_offset``.
    """
    dists = offset_distances(video, audio, max_offset)
    means = dists.mean(axis=0)
    minidx = int(np.argmin(means))
    median = float(np.sort(means)[(len(means) - 1) // 2])
    minimum = float(means[minidx])
    return OffsetSearch(
        offset=int(max_offset) - minidx,
        min_distance=minimum,
        confidence=median - minimum,
        mean_distances=means,
        frame_distances=dists[:, minidx].copy(),
    )


__all__ = [
    "MAX_OFFSET",
    "PDIST_EPS",
    "OffsetSearch",
    "mfcc",
    "mfcc_filterbank",
    "offset_distances",
    "offset_search",
    "syncnet_mfcc",
]
