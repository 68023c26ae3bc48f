"""Audio decoding with PyAV and frame <-> mel indexing."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from wav2lip_emotion.audio import (
    load_audio,
    mel_start_index,
    mel_window,
    mel_windows,
    melspectrogram,
    num_video_frames,
    sync_mel_windows,
)
from wav2lip_emotion.errors import MediaError


def _write_wav(path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(channels)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())


def test_load_resamples_to_16k_mono_float32(tmp_path):
    rate = 44_100
    t = np.arange(rate) / rate  # 1 s
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([tone, tone], axis=1).reshape(-1)
    _write_wav(tmp_path / "stereo.wav", stereo, rate, channels=2)
    wav = load_audio(tmp_path / "stereo.wav")
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) - 16_000) <= 32
    # still a 440 Hz tone of amplitude ~0.5
    spectrum = np.abs(np.fft.rfft(wav[1000:15000]))
    peak_hz = np.argmax(spectrum) * 16_000 / len(wav[1000:15000])
    assert peak_hz == pytest.approx(440, abs=3)
    assert np.abs(wav[1000:15000]).max() == pytest.approx(0.5, abs=0.03)


def test_16k_input_is_kept_sample_exact(tmp_path):
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 8000)
    _write_wav(tmp_path / "a.wav", samples, 16_000)
    wav = load_audio(tmp_path / "a.wav")
    expected = (np.clip(samples, -1, 1) * 32767).astype("<i2") / 32768.0
    assert len(wav) == 8000
    assert np.allclose(wav, expected, atol=1e-6)


def test_bad_audio_inputs(tmp_path):
    with pytest.raises(MediaError, match=r"missing\.wav: no such audio file"):
        load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(MediaError, match=r"junk\.wav: cannot be opened"):
        load_audio(junk)


def test_mel_frame_indexing_any_fps():
    assert [mel_start_index(i, 25) for i in range(6)] == [0, 3, 6, 9, 12, 16]
    assert [mel_start_index(i, 30) for i in range(4)] == [0, 2, 5, 8]
    assert mel_start_index(25, 25) == 80 and mel_start_index(30, 30) == 80
    assert num_video_frames(800, 25) == 250 and num_video_frames(801, 29.97) == 300


def test_mel_windows_stay_inside_the_audio():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100)
    w = mel_window(mel, 2, 25)
    assert w.shape == (80, 16) and w[0, 0] == mel[0, 6]
    last = mel_window(mel, 40, 25)  # would start at 128 > 100 - 16
    assert np.array_equal(last, mel[:, -16:])
    stack = mel_windows(mel, range(3), 25)
    assert stack.shape == (3, 1, 80, 16)
    with pytest.raises(ValueError, match="fewer than one window"):
        mel_window(mel[:, :10], 0, 25)


def test_sync_windows_start_two_frames_earlier():
    mel = np.random.default_rng(0).standard_normal((80, 200))
    assert sync_mel_windows(mel, 1, 25) is None  # frame -1 does not exist
    w = sync_mel_windows(mel, 2, 25)
    assert w.shape == (5, 1, 80, 16)
    assert np.array_equal(w[0, 0], mel[:, 0:16]) and np.array_equal(w[1, 0], mel[:, 3:19])
    assert sync_mel_windows(mel, 60, 25) is None  # runs past the end


def test_mel_of_silence_is_the_floor():
    mel = melspectrogram(np.zeros(1600, dtype=np.float32))
    assert mel.shape == (80, 9) and np.all(mel == -4.0)
