"""Audio loading (PyAV) and the mel spectrogram of the original Wav2Lip implementation.

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
