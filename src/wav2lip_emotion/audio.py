"""Audio loading (PyAV), voice-activity detection, and the mel spectrogram of the original Wav2Lip implementation.

Voice activity (:func:`speech_segments`, :func:`cut_utterances`) is plain energy analysis on 10 ms
frames; the generated world cuts its real recordings into utterances with it.

The mel spectrogram reproduces Wav2Lip's ``audio.melspectrogram`` as it behaved with librosa 0.7:
pre-emphasis 0.97, centred STFT with REFLECT padding (n_fft 800, hop 200, periodic Hann window 800),
80 Slaney-normalised mel bands between 55 and 7600 Hz, 20*log10(max(1e-5, x)) - 20 dB, and a symmetric
normalisation into [-4, 4]. It is written with NumPy alone, so newer librosa releases (which pad with
zeros and changed the mel-filter call) cannot break it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import MediaError
from .messages import first_line

SAMPLE_RATE = 16_000
MEL_STEPS_PER_SECOND = 80  # SAMPLE_RATE / hop size
MEL_WINDOW = 16  # mel frames per window fed to the networks (0.2 s)


@dataclass(frozen=True)
class MelConfig:
    """Parameters of the original implementation (Wav2Lip's ``hparams.py``)."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 800
    hop_size: int = 200
    win_size: int = 800
    num_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    max_abs_value: float = 4.0


# --------------------------------------------------------------------------- loading


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of any file PyAV can open to mono float32 at ``sample_rate``.

    Raises :class:`MediaError` naming the file when it is missing, unreadable or has no audio.
    """
    import av  # imported here so that importing the package stays light

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such audio file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: cannot be opened as audio or video ({first_line(exc)})") from None
    chunks: list[np.ndarray] = []
    try:
        with container:
            if not container.streams.audio:
                raise MediaError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            # keep the channel layout while resampling, then average the channels (as librosa's
            # to_mono did for the original code; FFmpeg's own downmix would scale by 1/sqrt(2))
            resampler = av.AudioResampler(format="fltp", layout=None, rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().mean(axis=0))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: audio stream is corrupt or truncated ({first_line(exc)})") from None
    if not chunks:
        raise MediaError(f"{path}: the audio stream holds no samples")
    return np.concatenate(chunks).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- voice activity

_VAD_FRAME_S = 0.010  # 10 ms analysis frames
_VAD_HANGOVER_S = 0.040  # speech stays "on" this long after the energy drops
_VAD_MIN_BURST_S = 0.030  # shorter active runs are clicks, not speech
_VAD_MIN_SILENCE_S = 0.150  # pauses at least this long separate speech segments
_PAD_S = 0.100  # original signal kept before and after each utterance


def frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    """Energy in dB of consecutive ``frame``-sample frames, each frame's mean removed first."""
    n = len(x) // frame
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    f = f - f.mean(axis=1, keepdims=True)
    return 10.0 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _hold(active: np.ndarray, frames: int) -> np.ndarray:
    """Hangover: frame i is on when any of frames i - ``frames`` .. i is on."""
    return np.convolve(active, np.ones(frames + 1, dtype=np.int64))[: len(active)] > 0


def speech_segments(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Energy-based voice activity: (start, end) seconds of speech separated by pauses >= 150 ms.

    10 ms frames; threshold = noise floor (10th percentile of frame dB) + max(8 dB, 20 % of the range
    up to the 99th percentile); runs shorter than 30 ms are dropped, each run is extended by a 40 ms
    hangover, and gaps shorter than 150 ms are bridged.
    """
    frame = round(_VAD_FRAME_S * sample_rate)
    db = frame_db(x, frame)
    if len(db) == 0:
        return []
    floor, peak = np.percentile(db, 10), np.percentile(db, 99)
    thr = floor + max(8.0, 0.2 * (peak - floor))
    active = db > thr
    for s, e in _runs(active):
        if (e - s) * _VAD_FRAME_S < _VAD_MIN_BURST_S:
            active[s:e] = False
    held = _hold(active, round(_VAD_HANGOVER_S / _VAD_FRAME_S))
    merged: list[list[int]] = []
    min_gap = round(_VAD_MIN_SILENCE_S / _VAD_FRAME_S)
    for s, e in _runs(held):
        if merged and s - merged[-1][1] < min_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s * _VAD_FRAME_S, e * _VAD_FRAME_S) for s, e in merged]


def cut_utterances(
    x: np.ndarray, sample_rate: int = SAMPLE_RATE, min_seconds: float = 1.5, max_seconds: float = 4.0
) -> list[tuple[int, int]]:
    """[start, end) sample ranges of utterances of ``min_seconds``..``max_seconds`` cut at pauses.

    Speech segments come from :func:`speech_segments`; a stretch longer than ``max_seconds`` is split
    recursively at its longest pause (preferring pauses that leave both halves >= ``min_seconds``);
    pieces that are too short are merged into their predecessor when the result fits, else dropped.
    0.1 s of the original signal is kept around each utterance.
    """
    segs = speech_segments(x, sample_rate)
    total = len(x) / sample_rate

    def span(i: int, j: int) -> tuple[float, float]:  # padded span of segments i..j (inclusive)
        return max(0.0, segs[i][0] - _PAD_S), min(total, segs[j][1] + _PAD_S)

    def length(i: int, j: int) -> float:
        a, b = span(i, j)
        return b - a

    leaves: list[tuple[int, int]] = []

    def split(i: int, j: int) -> None:
        if length(i, j) <= max_seconds:
            leaves.append((i, j))
            return
        if i == j:  # one pause-free stretch longer than max_seconds: cannot be cut at a pause
            return

        # split at the longest pause, preferring pauses that leave both halves long enough
        def score(k: int) -> tuple[bool, float]:
            ok = length(i, k) >= min_seconds and length(k + 1, j) >= min_seconds
            return ok, segs[k + 1][0] - segs[k][1]

        k = max(range(i, j), key=score)
        split(i, k)
        split(k + 1, j)

    if segs:
        split(0, len(segs) - 1)
    # merge a short leaf with its predecessor when the result still fits; what stays short is dropped
    out: list[tuple[int, int]] = []
    for i, j in leaves:
        if (
            out
            and out[-1][1] + 1 == i
            and min(length(i, j), length(*out[-1])) < min_seconds
            and length(out[-1][0], j) <= max_seconds
        ):
            out[-1] = (out[-1][0], j)
        else:
            out.append((i, j))
    ranges = []
    for i, j in out:
        if min_seconds <= length(i, j) <= max_seconds:
            a, b = span(i, j)
            ranges.append((round(a * sample_rate), round(b * sample_rate)))
    return ranges


# --------------------------------------------------------------------------- mel spectrogram


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    hz = np.asanyarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asanyarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


@lru_cache(maxsize=8)
def mel_filterbank(cfg: MelConfig = MelConfig()) -> np.ndarray:
    """[num_mels, n_fft//2 + 1] triangular filters with Slaney area normalisation."""
    n_bins = cfg.n_fft // 2 + 1
    fft_freqs = np.linspace(0.0, cfg.sample_rate / 2.0, n_bins)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.num_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : cfg.num_mels + 2] - mel_pts[: cfg.num_mels]))[:, None]
    return weights


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy's get_window('hann', n, fftbins=True))."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft_magnitude(wav: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """|STFT| [n_fft//2 + 1, frames], centred with reflect padding (librosa 0.7 behaviour)."""
    pad = cfg.n_fft // 2
    if len(wav) <= pad:
        raise ValueError(f"audio of {len(wav)} samples is too short for an STFT (needs > {pad})")
    y = np.pad(wav, pad, mode="reflect")
    window = _hann(cfg.win_size)
    if cfg.win_size < cfg.n_fft:
        lpad = (cfg.n_fft - cfg.win_size) // 2
        window = np.pad(window, (lpad, cfg.n_fft - cfg.win_size - lpad))
    n_frames = 1 + (len(y) - cfg.n_fft) // cfg.hop_size
    frames = np.lib.stride_tricks.sliding_window_view(y, cfg.n_fft)[:: cfg.hop_size][:n_frames]
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def melspectrogram(wav: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Normalised log-mel spectrogram [80, frames] of a 16 kHz mono waveform, values in [-4, 4].

    Identical (float64) to the original implementation; 80 frames per second of audio.
    """
    wav = np.asarray(wav, dtype=np.float64).reshape(-1)
    emphasised = np.empty_like(wav)
    emphasised[0] = wav[0]
    emphasised[1:] = wav[1:] - cfg.preemphasis * wav[:-1]
    spec = stft_magnitude(emphasised, cfg)
    mel = mel_filterbank(cfg) @ spec
    db = 20.0 * np.log10(np.maximum(1e-5, mel)) - cfg.ref_level_db
    m = cfg.max_abs_value
    return np.clip(2 * m * ((db - cfg.min_level_db) / -cfg.min_level_db) - m, -m, m)


# --------------------------------------------------------------------------- frame <-> mel indexing


def mel_start_index(frame: int, fps: float) -> int:
    """First mel step of video frame ``frame`` at ``fps`` (int(80 * frame / fps), as the original)."""
    return int(MEL_STEPS_PER_SECOND * (frame / float(fps)))


def num_video_frames(mel_steps: int, fps: float) -> int:
    """How many whole video frames at ``fps`` a mel spectrogram of ``mel_steps`` steps covers."""
    return math.floor(mel_steps * fps / MEL_STEPS_PER_SECOND)


def mel_window(mel: np.ndarray, frame: int, fps: float, size: int = MEL_WINDOW) -> np.ndarray:
    """The [80, size] mel window that starts at video frame ``frame``.

    Near the end of the audio the window is shifted left to stay inside it (the inference rule of
    the original code: the last windows are ``mel[:, -size:]``). Frames before 0 are an error.
    """
    if mel.shape[1] < size:
        raise ValueError(f"mel spectrogram has {mel.shape[1]} steps, fewer than one window ({size})")
    if frame < 0:
        raise ValueError(f"frame index must be >= 0, got {frame}")
    start = min(mel_start_index(frame, fps), mel.shape[1] - size)
    return mel[:, start : start + size]


def mel_windows(mel: np.ndarray, frames: range | list[int], fps: float, size: int = MEL_WINDOW) -> np.ndarray:
    """Stack of windows [len(frames), 1, 80, size] for the given frame indices (generator input)."""
    return np.stack([mel_window(mel, i, fps, size)[None] for i in frames])


def sync_mel_windows(
    mel: np.ndarray, start_frame: int, fps: float, count: int = 5, size: int = MEL_WINDOW
) -> np.ndarray | None:
    """Per-frame windows [count, 1, 80, size] for frames start..start+count-1, each starting two frames
    earlier (Wav2Lip's ``get_segmented_mels``). None when a window would leave the audio.
    """
    out = []
    for i in range(start_frame, start_frame + count):
        s = mel_start_index(i - 2, fps) if i >= 2 else -1
        if s < 0 or s + size > mel.shape[1]:
            return None
        out.append(mel[None, :, s : s + size])
    return np.stack(out)
