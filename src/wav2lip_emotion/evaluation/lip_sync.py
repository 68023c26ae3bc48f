"""LSE-D and LSE-C, the lip-sync metrics of the Wav2Lip and Wav2Lip-Emotion papers.

The published numbers come from the SyncNet of Chung & Zisserman as released in joonson/syncnet_python
(https://github.com/joonson/syncnet_python, files ``SyncNetInstance.py``, ``SyncNetModel.py`` and
``run_pipeline.py``) with its ``syncnet_v2.model`` weights. This module reproduces that protocol:

* **audio**: 16 kHz mono on the int16 scale, 13 MFCCs per 10 ms step (``python_speech_features.mfcc``
  with all its defaults, re-implemented here with NumPy alone: :func:`mfcc`, :func:`syncnet_mfcc`);
* **video**: 25 fps, a 224x224 BGR crop of the face per frame (:func:`syncnet_crop`), 0..255 floats;
* **windows**: video window ``i`` is frames ``i .. i+4``; its audio is MFCC steps ``4i .. 4i+19`` (the
  same 0.2 s). ``min_length = min(frames, floor(samples / 640))`` and the windows scored are
  ``i in range(min_length - 5)`` (their loop leaves out the last complete window; so does ours);
* **offset search** (:func:`offset_search`, their ``calc_pdist`` + ``evaluate``): the audio embeddings
  are padded with ``max_offset`` (15) zero rows at both ends; for every video window the Euclidean
  distance to the audio windows ``i - 15 .. i + 15`` is taken, averaged over the windows per offset;
  the smallest mean is **LSE-D** and ``median(means) - min(means)`` is **LSE-C**.

Sign of the offset (``offset = max_offset - argmin``, as theirs): a **positive** offset means the audio
is **early** (it leads the video) by that many frames: video window ``i`` matches audio window
``i - offset``. Audio that is late by ``k`` frames (delayed, :meth:`LipSyncScorer.score` with
``audio_shift_frames=k``) gives ``offset == -k``.

What differs from their pipeline, and why the numbers are close but not identical to theirs:

* their face boxes come from the S3FD detector, median-filtered over 13 frames of a whole track; ours
  are the landmark boxes of :class:`~wav2lip_emotion.faces.FaceTracker` (One-Euro smoothed, causal);
  the crop geometry around the box is theirs (:func:`syncnet_crop`);
* they decode frames to JPEG files and the audio with the ``ffmpeg`` program; we decode with PyAV and
  convert the float audio to int16 values in memory (:func:`syncnet_mfcc`);
* frames before the first face are skipped (theirs start a track there too); frames where the face is
  lost later reuse the last box instead of ending the track;
* distances are computed in float64 (theirs in float32): differences are far below the printed digits.

Two scorers share the streaming loop (:class:`LipSyncScorer`): :class:`JoonsonLipSync` with the
published weights (:func:`load_joonson_syncnet`), the only numbers **comparable to published LSE
values**, and :class:`ExpertLipSync`, the same protocol with our own Wav2Lip-style SyncNet expert
(labelled LSE*, never to be compared with published numbers). Memory stays bounded: frames are decoded
one at a time, only the last 5 crops and one batch of windows are held.
"""

from __future__ import annotations

import decimal
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ..audio import MEL_WINDOW, SAMPLE_RATE, load_audio, mel_start_index, mel_window, melspectrogram
from ..checkpoints import fit_state_dict, torch_load_weights
from ..errors import CheckpointError, ConfigError, MediaError
from ..faces import CropConfig, FaceCrop, FaceTracker
from ..media import VideoReader, probe_video
from ..messages import first_line
from ..models.syncnet import SyncNetExpert, stack_lower_halves

#: frame rate syncnet_python assumes (its MFCC indexing is 4 steps of 10 ms per frame)
SYNCNET_FPS = 25.0
#: MFCC steps per video frame at 25 fps, and per 5-frame window
MFCC_STEPS_PER_FRAME = 4
MFCC_WINDOW = 20
#: frames per sync window
SYNC_WINDOW = 5
#: offsets searched on each side, in frames (syncnet_python's ``--vshift`` as the papers ran it)
MAX_OFFSET = 15
#: ``torch.nn.functional.pairwise_distance``'s eps, added to every difference
PDIST_EPS = 1e-6
#: syncnet_python's crop: side of the output, padding scale and the grey outside the frame
SYNCNET_CROP_SIZE = 224
SYNCNET_CROP_SCALE = 0.4
SYNCNET_CROP_FILL = 110

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


# --------------------------------------------------------------------------- the network


def _conv2d_block(cin: int, cout: int, kernel: tuple[int, int], padding: tuple[int, int]) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv3d_block(
    cin: int, cout: int, kernel: tuple[int, int, int], stride: tuple[int, int, int], padding: tuple[int, int, int]
) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, kernel, stride, padding), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc_head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, embedding))


class JoonsonSyncNet(nn.Module):
    """syncnet_python's SyncNet ("S" in ``SyncNetModel.py``): ``syncnet_v2.model`` loads into it as is.

    * :meth:`embed_audio`: MFCC windows [B, 1, 13, 20] -> [B, 1024] (the conv stack ends at [B, 512, 1, 1]);
    * :meth:`embed_lips`: 5-frame face crops [B, 3, 5, 224, 224], **BGR**, float 0..255, not normalised
      (as syncnet_python feeds OpenCV images) -> [B, 1024].

    The embeddings are not normalised (theirs are not either); distances between them are Euclidean.
    The Sequential indices (ReLU and pooling layers included) match their file, so do the tensor names.
    """

    def __init__(self, embedding_size: int = 1024) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_conv2d_block(1, 64, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
            *_conv2d_block(64, 192, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
            *_conv2d_block(192, 384, (3, 3), (1, 1)),
            *_conv2d_block(384, 256, (3, 3), (1, 1)),
            *_conv2d_block(256, 256, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            *_conv2d_block(256, 512, (5, 4), (0, 0)),
        )
        self.netfcaud = _fc_head(embedding_size)
        self.netfclip = _fc_head(embedding_size)
        self.netcnnlip = nn.Sequential(
            *_conv3d_block(3, 96, (5, 7, 7), (1, 2, 2), (0, 0, 0)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(256, 512, (1, 6, 6), (1, 1, 1), (0, 0, 0)),
        )

    def embed_audio(self, mfcc_windows: torch.Tensor) -> torch.Tensor:
        """[B, 1, 13, 20] MFCC windows (int16-scale audio) -> [B, embedding_size]."""
        if mfcc_windows.dim() != 4 or tuple(mfcc_windows.shape[1:]) != (1, _NUMCEP, MFCC_WINDOW):
            raise ConfigError(f"audio input must be [B, 1, 13, 20], got {list(mfcc_windows.shape)}")
        return self.netfcaud(self.netcnnaud(mfcc_windows).flatten(1))

    def embed_lips(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, 3, 5, 224, 224] BGR 0..255 crops -> [B, embedding_size]."""
        expected = (3, SYNC_WINDOW, SYNCNET_CROP_SIZE, SYNCNET_CROP_SIZE)
        if frames.dim() != 5 or tuple(frames.shape[1:]) != expected:
            raise ConfigError(f"lip input must be [B, 3, 5, 224, 224], got {list(frames.shape)}")
        return self.netfclip(self.netcnnlip(frames).flatten(1))

    def forward(self, mfcc_windows: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio embedding, lip embedding), each [B, embedding_size]."""
        return self.embed_audio(mfcc_windows), self.embed_lips(frames)


_PREFIXES = ("module.", "__S__.")


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def load_joonson_syncnet(path: str | Path) -> JoonsonSyncNet:
    """The syncnet_python SyncNet with the weights of ``path`` (``syncnet_v2.model``), in eval mode.

    Read with ``torch.load(map_location="cpu", weights_only=True)``, which never runs code from the file.
    Accepted: a plain state dict, or one under a ``"state_dict"`` or ``"model"`` key; ``module.`` and
    ``__S__.`` prefixes are stripped. BatchNorm ``num_batches_tracked`` counters may be absent (files saved
    by PyTorch before 0.4.1 have none; they play no part in eval mode). Anything else - a missing file, an
    unreadable or unsafe pickle, missing or unexpected tensors, wrong shapes - raises
    :class:`CheckpointError` with one line naming the file and the problem.
    """
    path = Path(path)
    obj = torch_load_weights(path)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: holds no state dict (found {type(obj).__name__})")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        state[_strip_prefixes(str(key))] = value

    model = JoonsonSyncNet()
    full = fit_state_dict(model, state, path, "a syncnet_python SyncNet state dict")
    try:
        model.load_state_dict(full, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied into float weights
        raise CheckpointError(f"{path}: cannot load the tensors ({first_line(exc)})") from None
    return model.eval()


# --------------------------------------------------------------------------- crops


def syncnet_crop(rgb: np.ndarray, box: np.ndarray | Sequence[float]) -> np.ndarray:
    """syncnet_python's face crop (``run_pipeline.py``'s ``crop_video``) of one RGB frame: 224x224x3 uint8 BGR.

    With ``bs = max(w, h) / 2`` of the box ``[x0, y0, x1, y1]`` and its centre (cx, cy), the crop spans
    x in ``[cx - 1.4 bs, cx + 1.4 bs)`` and y in ``[cy - bs, cy + 1.8 bs)`` (crop scale 0.4: the mouth sits
    low in it), with their integer truncation of the bounds; what lies outside the frame is grey (110); it
    is resized to 224x224 with bilinear interpolation. Identical to theirs whenever the box centre lies in
    the frame (further out, their padding would cut the crop short; here the grey goes on).

    Their boxes are S3FD detections, median-filtered along a track; ours are FaceTracker landmark boxes,
    so the crops are close to theirs but not identical.
    """
    frame = np.asarray(rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ConfigError(f"frame must be an HxWx3 uint8 RGB array, got shape {frame.shape} dtype {frame.dtype}")
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    cs = SYNCNET_CROP_SCALE
    bs = max(x1 - x0, y1 - y0) / 2
    if not math.isfinite(bs) or bs < 0.5:
        raise ConfigError(f"face box {[x0, y0, x1, y1]} is too small or not finite for a crop")
    bsi = int(bs * (1 + 2 * cs))  # their padding; bounds below are computed in the padded frame, as theirs
    my, mx = (y0 + y1) / 2 + bsi, (x0 + x1) / 2 + bsi
    top, bottom = int(my - bs) - bsi, int(my + bs * (1 + 2 * cs)) - bsi
    left, right = int(mx - bs * (1 + cs)) - bsi, int(mx + bs * (1 + cs)) - bsi
    h, w = frame.shape[:2]
    face = np.full((bottom - top, right - left, 3), SYNCNET_CROP_FILL, dtype=np.uint8)
    fy0, fy1, fx0, fx1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if fy1 > fy0 and fx1 > fx0:
        face[fy0 - top : fy1 - top, fx0 - left : fx1 - left] = frame[fy0:fy1, fx0:fx1, ::-1]
    return cv2.resize(face, (SYNCNET_CROP_SIZE, SYNCNET_CROP_SIZE), interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------- scorers


@dataclass(frozen=True)
class SyncEmbeddings:
    """Per-window embeddings of one video, row ``k`` = the window of frames ``first_frame + k .. + 4``."""

    video: np.ndarray  # [L, D]
    audio: np.ndarray  # [L, D]
    #: video index of the first window (= the frames skipped before the first face)
    first_frame: int
    #: frames decoded and tracked (reading stops once the audio ends)
    frames_read: int
    #: frames among those where the tracker found no face (skipped at the start, else the last box reused)
    frames_without_face: int
    fps: float


@dataclass(frozen=True)
class LipSyncResult:
    """LSE of one video. ``offset`` in frames (positive: audio early), ``lse_d`` / ``lse_c`` the metrics.

    ``frames_used`` is the number of 5-frame windows scored (one per starting frame, as their per-frame
    distances), ``mean_distances`` [2 * max_offset + 1] the mean distance per offset (index ``j`` is offset
    ``max_offset - j``), ``scorer`` the scorer's label and ``comparable`` whether the numbers can be set
    beside published LSE values.
    """

    offset: int
    lse_d: float
    lse_c: float
    frames_used: int
    frames_without_face: int
    mean_distances: np.ndarray
    scorer: str
    comparable: bool
    first_frame: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "lse_d": self.lse_d,
            "lse_c": self.lse_c,
            "frames_used": self.frames_used,
            "frames_without_face": self.frames_without_face,
            "first_frame": self.first_frame,
            "mean_distances": [float(v) for v in self.mean_distances],
            "scorer": self.scorer,
            "comparable": self.comparable,
        }


def shift_audio(samples: np.ndarray, frames: int, fps: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Delay (``frames`` > 0: zeros prepended) or advance (< 0: samples removed) audio by video frames.

    The number of samples is ``round(frames * sample_rate / fps)``. Advancing past the end is a
    :class:`ConfigError`.
    """
    if isinstance(frames, bool) or not isinstance(frames, int | np.integer):
        raise ConfigError(f"audio shift must be a whole number of frames, got {frames!r}")
    n = round(int(frames) * sample_rate / fps)
    if n > 0:
        return np.concatenate([np.zeros(n, dtype=samples.dtype), samples])
    if n < 0:
        if -n >= len(samples):
            raise ConfigError(f"advancing the audio by {-frames} frame(s) leaves none of its {len(samples)} samples")
        return samples[-n:]
    return samples


class LipSyncScorer(ABC):
    """LSE-D / LSE-C of whole videos with one SyncNet, syncnet_python's protocol (see the module docstring).

    Subclasses say how a face is cropped, what the audio features are and how a batch of windows is
    embedded; the streaming (decode, track, crop, window, batch) is shared.
    """

    #: short id ("syncnet_v2", "expert")
    name: str
    #: True only where the numbers can be set beside published LSE values (syncnet_python's weights)
    comparable: bool
    #: how tables should label the numbers
    label: str

    def __init__(self, max_offset: int = MAX_OFFSET) -> None:
        if isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0:
            raise ConfigError(f"max_offset must be an integer >= 0, got {max_offset!r}")
        self.max_offset = max_offset

    # ----------------------------------------------------------------- what subclasses provide

    def check_fps(self, video: Path, fps: float) -> None:
        """Raise :class:`ConfigError` when the protocol cannot score video at ``fps`` (any rate by default)."""
        return None

    @abstractmethod
    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        """(features of the whole 16 kHz float audio, how many video frames the audio covers)."""

    @abstractmethod
    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The uint8 HxWx3 crop one frame contributes to a window."""

    @abstractmethod
    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(video embeddings, audio embeddings) [B, D] of windows of 5 crops starting at frames ``starts``."""

    # ----------------------------------------------------------------- shared

    def embed(
        self,
        video: str | Path,
        *,
        audio: str | Path | None = None,
        audio_shift_frames: int = 0,
        tracker: FaceTracker | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> SyncEmbeddings:
        """Per-window video and audio embeddings of ``video`` (the first step of :meth:`score`).

        Windows start at every frame ``i`` from the first frame with a face up to
        ``min(frames, audio frames) - 6`` (their ``range(min_length - 5)``). Raises :class:`MediaError`
        for an unreadable video or audio, or when no window can be scored (too short, or no face found).
        """
        video = Path(video)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        info = probe_video(video)
        fps = info.fps
        self.check_fps(video, fps)
        samples = load_audio(audio if audio is not None else video)
        samples = shift_audio(samples, audio_shift_frames, fps)
        features, audio_frames = self.audio_features(samples, fps)
        tracker = tracker or FaceTracker()
        tracker.reset()

        video_out: list[torch.Tensor] = []
        audio_out: list[torch.Tensor] = []
        window: deque[np.ndarray] = deque(maxlen=SYNC_WINDOW)
        pending: list[tuple[np.ndarray, ...]] = []
        starts: list[int] = []
        box: np.ndarray | None = None
        first: int | None = None
        without_face = 0
        read = 0

        def flush() -> None:
            if pending:
                v, a = self.embed_windows(pending, starts, features, fps)
                video_out.append(v.detach().float().cpu())
                audio_out.append(a.detach().float().cpu())
            pending.clear()
            starts.clear()

        with torch.inference_mode(), VideoReader(video) as reader:
            frames: Iterable[Any] = reader
            if progress:
                from tqdm import tqdm

                frames = tqdm(reader, total=info.frame_count or None, unit="frame", desc=self.name, leave=False)
            for index, frame in enumerate(frames):
                if index >= audio_frames:
                    break  # windows need index - 5 < min(frames, audio frames) - 5
                if first is not None and index - SYNC_WINDOW >= first:
                    pending.append(tuple(window))  # frames index-5 .. index-1: the window at index - 5
                    starts.append(index - SYNC_WINDOW)
                    if len(pending) >= batch_size:
                        flush()
                read = index + 1
                obs = tracker.update(frame.rgb, frame.time)
                if obs.found and obs.box is not None:
                    box = np.asarray(obs.box, dtype=np.float64)
                else:
                    without_face += 1
                if box is None:
                    continue  # no face yet: the windows begin at the first face
                if first is None:
                    first = index
                window.append(self.crop(frame.rgb, box))
            flush()
            if progress:
                frames.close()  # type: ignore[attr-defined]

        if not video_out:
            if first is None:
                raise MediaError(f"{video}: no face found in the {read} frame(s) read; cannot score lip sync")
            raise MediaError(
                f"{video}: too short to score lip sync: {read} frame(s) read, audio for {audio_frames}, first face at "
                f"frame {first}; a window needs {SYNC_WINDOW + 1} frames from there"
            )
        return SyncEmbeddings(
            video=torch.cat(video_out).numpy(),
            audio=torch.cat(audio_out).numpy(),
            first_frame=int(first) if first is not None else 0,
            frames_read=read,
            frames_without_face=without_face,
            fps=fps,
        )

    def score(
        self,
        video: str | Path,
        *,
        audio: str | Path | None = None,
        audio_shift_frames: int = 0,
        tracker: FaceTracker | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> LipSyncResult:
        """LSE-D, LSE-C and the offset of ``video`` (its own audio, or the file ``audio``).

        ``audio_shift_frames`` delays (> 0) or advances (< 0) the audio by that many video frames first
        (``round(shift * 16000 / fps)`` samples); a clip in sync then scores ``offset == -audio_shift_frames``
        when the network recognises the speech. Faces are tracked with ``tracker`` (a new
        :class:`FaceTracker` when None; it is reset). ``batch_size`` windows are embedded at a time, on
        the CPU, under ``torch.inference_mode()``; ``progress`` shows a bar over the frames.
        """
        emb = self.embed(
            video,
            audio=audio,
            audio_shift_frames=audio_shift_frames,
            tracker=tracker,
            batch_size=batch_size,
            progress=progress,
        )
        search = offset_search(emb.video, emb.audio, self.max_offset)
        return LipSyncResult(
            offset=search.offset,
            lse_d=search.min_distance,
            lse_c=search.confidence,
            frames_used=len(emb.video),
            frames_without_face=emb.frames_without_face,
            mean_distances=search.mean_distances,
            scorer=self.label,
            comparable=self.comparable,
            first_frame=emb.first_frame,
        )


def _windows_tensor(windows: Sequence[Sequence[np.ndarray]]) -> torch.Tensor:
    """B windows of 5 uint8 HxWx3 crops -> float32 [B, 3, 5, H, W] (values 0..255)."""
    return torch.from_numpy(np.stack([np.stack(w) for w in windows])).permute(0, 4, 1, 2, 3).float()


class JoonsonLipSync(LipSyncScorer):
    """LSE with syncnet_python's SyncNet and weights: the numbers of the Wav2Lip papers (25 fps video only).

    Crops by :func:`syncnet_crop` (BGR 224 px), audio by :func:`syncnet_mfcc`; window ``i`` uses MFCC
    steps ``4i .. 4i+19``; the audio covers ``floor(samples / 640)`` frames.
    """

    name = "syncnet_v2"
    comparable = True
    label = "LSE (SyncNet v2, syncnet_python protocol)"

    def __init__(self, model: JoonsonSyncNet, max_offset: int = MAX_OFFSET) -> None:
        super().__init__(max_offset)
        self.model = model.cpu().eval()

    def check_fps(self, video: Path, fps: float) -> None:
        if abs(fps - SYNCNET_FPS) > 0.01:
            raise ConfigError(
                f"{video}: {fps:.3f} fps; syncnet_python's protocol needs 25 fps video (4 MFCC steps per frame): "
                "resample it to 25 fps first (e.g. VideoReader(path, fps=25) into a VideoWriter)"
            )

    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        per_frame = SAMPLE_RATE // int(SYNCNET_FPS)  # 640 samples
        return syncnet_mfcc(samples).T.astype(np.float32), len(samples) // per_frame

    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        return syncnet_crop(rgb, box)

    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        frames = _windows_tensor(windows)
        steps = [features[:, MFCC_STEPS_PER_FRAME * i : MFCC_STEPS_PER_FRAME * i + MFCC_WINDOW] for i in starts]
        mfccs = torch.from_numpy(np.stack(steps)[:, None]).float()
        return self.model.embed_lips(frames), self.model.embed_audio(mfccs)


class ExpertLipSync(LipSyncScorer):
    """LSE* with our own Wav2Lip-style SyncNet expert, syncnet_python's protocol otherwise (any frame rate).

    Crops: :class:`~wav2lip_emotion.faces.FaceCrop` of the tracked box with ``crop_padding`` at the
    expert's face size (RGB, [0, 1]); lower halves of the 5 frames stacked on channels; audio window of
    frame ``i``: :func:`~wav2lip_emotion.audio.mel_window` of Wav2Lip's mel spectrogram; the expert's
    unit-norm embeddings, Euclidean distances. The audio covers ``floor(samples * fps / 16000)`` frames
    (and no more than the mel spectrogram has whole windows for). Never comparable to published numbers.
    """

    name = "expert"
    comparable = False
    label = "LSE* (our world SyncNet expert, same protocol; NOT comparable to published numbers)"

    def __init__(self, expert: SyncNetExpert, crop_padding: float = 0.1, max_offset: int = MAX_OFFSET) -> None:
        super().__init__(max_offset)
        self.expert = expert.cpu().eval()
        self.crop_config = CropConfig(size=expert.profile.face_size, padding=crop_padding)

    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        if len(samples) <= 400:  # the centred STFT needs more than n_fft / 2 samples
            return np.zeros((80, 0), dtype=np.float32), 0
        mel = melspectrogram(samples).astype(np.float32)
        covered = math.floor(len(samples) * fps / SAMPLE_RATE)
        steps = mel.shape[1]
        last = math.floor((steps - MEL_WINDOW) * fps / 80) + 1  # the last start with a whole window (checked below)
        while last >= 0 and mel_start_index(last, fps) + MEL_WINDOW > steps:
            last -= 1
        return mel, min(covered, last + SYNC_WINDOW + 1)

    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        return FaceCrop.from_box(box, self.crop_config).extract(rgb)

    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        faces = stack_lower_halves(_windows_tensor(windows) / 255.0)
        mels = torch.from_numpy(np.stack([mel_window(features, i, fps)[None] for i in starts])).float()
        audio_emb, face_emb = self.expert(mels, faces)
        return face_emb, audio_emb
