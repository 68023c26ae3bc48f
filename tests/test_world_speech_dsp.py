"""scipy.signal in the speech of the generated world: the new filters against the hand-made code they replaced.

Each ``old_*`` function below is the code that ``world/speech.py`` had before it used scipy.signal
(per-sample Python loops and filters made with the FFT by hand). It is kept here only as the
oracle: the new code must sound the same. The measured numbers are in each test's comments.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import signal

from wav2lip_emotion.audio import _hold, frame_db
from wav2lip_emotion.world.speech import formants, mouth, procedural
from wav2lip_emotion.world.speech.procedural import VOWELS

SR = 16_000

# --------------------------------------------------------------------------- the replaced code (oracles)


def old_resonate(x: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """y[n] = a[n] x[n] + b[n] y[n-1] + c[n] y[n-2], one sample at a time."""
    out = [0.0] * len(x)
    y1 = y2 = 0.0
    for n, (xx, aa, bb, cc) in enumerate(zip(x.tolist(), a.tolist(), b.tolist(), c.tolist(), strict=True)):
        y = aa * xx + bb * y1 + cc * y2
        out[n] = y
        y2, y1 = y1, y
    return np.asarray(out)


def old_formant_filter(
    x: np.ndarray, formants_hz: np.ndarray, bandwidths: np.ndarray, sr: int, fixed: tuple[tuple[float, float], ...] = ()
) -> np.ndarray:
    """Klatt resonator cascade with coefficients updated every sample."""
    y = x.astype(np.float64)
    for f, bw in fixed:
        a, b, c = formants.klatt_coefficients(f, bw, sr)
        y = old_resonate(y, np.full(len(x), a), np.full(len(x), b), np.full(len(x), c))
    a, b, c = formants.klatt_coefficients(formants_hz, bandwidths, sr)
    for j in range(formants_hz.shape[1]):
        y = old_resonate(y, a[:, j], b[:, j], c[:, j])
    return y


def old_smooth(x: np.ndarray, n: int) -> np.ndarray:
    """The old np.convolve moving average, written as the windowed sums it computes."""
    if n <= 1:
        return x
    w = np.hanning(n + 2)[1:-1]
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), n)
    return windows @ (w[::-1] / w.sum())


def old_bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise shaped in the FFT by raised-cosine skirts of 1/4 octave, unit RMS."""
    if n <= 0:
        return np.zeros(0)
    m = max(n, 256)
    spec = np.fft.rfft(rng.standard_normal(m))
    lf = np.log2(np.maximum(np.fft.rfftfreq(m, 1.0 / sr), 1.0))
    w = np.clip((lf - math.log2(lo) + 0.25) / 0.5, 0, 1) * np.clip((math.log2(hi) + 0.25 - lf) / 0.5, 0, 1)
    y = np.fft.irfft(spec * np.sin(0.5 * np.pi * w) ** 2, m)[:n]
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def old_room_noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Unit-RMS noise with an amplitude spectrum 1 / (1 + f / 300 Hz), made in the FFT."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= 1.0 + np.fft.rfftfreq(n, 1.0 / sr) / 300.0
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def old_resample_fft(x: np.ndarray, m: int) -> np.ndarray:
    """FFT truncation / zero padding to ``m`` samples."""
    n = len(x)
    if m == n:
        return x.astype(np.float64)
    spec = np.fft.rfft(x.astype(np.float64))
    k = m // 2 + 1
    out = np.zeros(k, dtype=complex)
    keep = min(k, len(spec))
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, m) * (m / n)


def old_highpass(x: np.ndarray, sr: int) -> np.ndarray:
    """Zero-phase FFT high-pass: gain 0 below 35 Hz, a linear ramp to 1 at 70 Hz."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) < 4:
        return x - x.mean() if len(x) else x
    spec = np.fft.rfft(x)
    spec *= np.clip((np.fft.rfftfreq(len(x), 1.0 / sr) - 35.0) / 35.0, 0.0, 1.0)
    return np.fft.irfft(spec, len(x))


def old_hold(active: np.ndarray, frames: int) -> np.ndarray:
    held = active.copy()
    for k in range(1, frames + 1):
        held[k:] |= active[:-k]
    return held


# --------------------------------------------------------------------------- helpers


def moving_vowels(seed: int, seconds: float = 1.5, f0: float = 120.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(glottal excitation, formant tracks [n, 3], bandwidths [n, 3]) gliding between random vowels
    every 0.1-0.2 s, smoothed over 30 ms like the procedural speech."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    kt = np.cumsum(rng.uniform(0.1, 0.2, 20))
    names = list(VOWELS)
    kf = np.array([VOWELS[names[int(i)]] for i in rng.integers(len(names), size=20)])
    fm = np.stack([formants.smooth(np.interp(t, kt, kf[:, j]), round(0.03 * SR)) for j in range(3)], axis=1)
    bw = np.stack([50 + 0.08 * fm[:, 0], 70 + 0.05 * fm[:, 1], 110 + 0.04 * fm[:, 2]], axis=1)
    src, _ = formants.glottal_source(f0 * (1 + 0.1 * np.sin(2 * np.pi * 1.5 * t)), SR)
    return src, fm, bw


def band_db(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Welch power per frequency band in dB, relative to the total."""
    f, p = signal.welch(x, SR, nperseg=512)
    bands = np.array([p[(f >= lo) & (f < hi)].sum() for lo, hi in itertools.pairwise(edges)])
    return 10 * np.log10(bands / p.sum() + 1e-12)


# --------------------------------------------------------------------------- the resonators


@pytest.mark.parametrize("seed", [0, 1])
def test_blockwise_resonators_match_per_sample_ones(seed: int) -> None:
    src, fm, bw = moving_vowels(seed)
    fixed = ((3500.0, 250.0), (4500.0, 300.0))
    old = old_formant_filter(src, fm, bw, SR, fixed)
    new = formants.formant_filter(src, fm, bw, SR, fixed)
    # coefficients held for 5 ms instead of changing every sample: measured correlation 0.99991-0.99995,
    # largest difference 2.7-3.3 % of the peak, error energy 37.5-39.7 dB below the signal
    assert np.corrcoef(old, new)[0, 1] > 0.9995
    assert np.max(np.abs(old - new)) < 0.06 * np.max(np.abs(old))
    assert 10 * np.log10(np.sum((old - new) ** 2) / np.sum(old**2)) < -33
    # constant coefficients (the fixed resonators alone, a steady vowel): the same to rounding
    steady = np.tile([500.0, 1500.0, 2500.0], (len(src), 1))
    steady_bw = np.tile([80.0, 100.0, 150.0], (len(src), 1))
    held = formants.formant_filter(src, steady, steady_bw, SR, fixed)
    np.testing.assert_allclose(held, old_formant_filter(src, steady, steady_bw, SR, fixed), rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- smoothing, noise, resampling


@pytest.mark.parametrize("n", [1, 2, 40, 60, 193, 1280])
def test_smooth_is_the_old_moving_average(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(5000).cumsum()
    np.testing.assert_allclose(formants.smooth(x, n), old_smooth(x, n), rtol=0, atol=1e-9)  # measured < 1e-12


@pytest.mark.parametrize(("lo", "hi"), [(300.0, 3000.0), (2500.0, 6500.0), (4000.0, 7800.0), (1200.0, 7800.0)])
def test_band_noise_has_the_old_spectrum(lo: float, hi: float) -> None:
    old = old_bandpass_noise(np.random.default_rng(1), 48_000, SR, lo, hi)
    rng = np.random.default_rng(1)
    new = formants.bandpass_noise(rng, 48_000, SR, lo, hi)
    assert rng.standard_normal() == np.random.default_rng(1).standard_normal(48_001)[-1]  # same draws as before
    assert new.shape == (48_000,) and np.sqrt(np.mean(new**2)) == pytest.approx(1.0)
    # Butterworth skirts instead of raised-cosine ones; the same band: in third-octave bands from 100 Hz
    # the two spectra differ by at most 1.6 dB where either holds more than 1 % of the power (measured);
    # bands well outside hold < -62 dB
    edges = 100 * 2 ** (np.arange(0, 20) / 3)
    edges = edges[edges < SR / 2]
    d_old, d_new = band_db(old, edges), band_db(new, edges)
    strong = np.maximum(d_old, d_new) > -20
    assert np.max(np.abs(d_old - d_new)[strong]) < 2.0
    assert np.all(d_new[(edges[1:] < lo / 1.6) | (edges[:-1] > hi * 1.6)] < -50)  # nothing far outside the band
    assert len(formants.bandpass_noise(np.random.default_rng(0), 120, SR, lo, hi)) == 120  # bursts are short
    assert len(formants.bandpass_noise(np.random.default_rng(0), 0, SR, lo, hi)) == 0


def test_room_noise_has_the_old_spectrum() -> None:
    old = old_room_noise(np.random.default_rng(2), 48_000, SR)
    new = formants.room_noise(np.random.default_rng(2), 48_000, SR)
    assert np.sqrt(np.mean(new**2)) == pytest.approx(1.0)
    # one-pole low-pass at 300 Hz (6 dB/octave, like 1 / (1 + f / 300)): the octave bands from 62.5 Hz
    # to 8 kHz are within 0.9 dB of the old spectrum (measured on seeds 0-2)
    edges = 62.5 * 2.0 ** np.arange(8)
    d = band_db(old, edges) - band_db(new, edges)
    assert np.max(np.abs(d)) < 1.5


@pytest.mark.parametrize("factor", [1.06, 1.0 / 1.06, 1.08, 1.0 / 1.03])
def test_scipy_resample_is_the_old_fft_resampler(factor: float) -> None:
    from wav2lip_emotion.world.speech import procedural_utterance

    x = procedural_utterance(11, seconds=1.0).samples
    m = round(len(x) / factor)
    old, new = old_resample_fft(x, m), signal.resample(x.astype(np.float64), m)
    assert np.max(np.abs(old - new)) < 1e-3  # they differ only in the Nyquist bin: measured <= 1.5e-4


# --------------------------------------------------------------------------- whole utterances and mouth tracks


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_procedural_utterance_sounds_as_before(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    new = procedural.procedural_utterance(seed).samples
    with monkeypatch.context() as m:
        m.setattr(procedural, "formant_filter", old_formant_filter)
        m.setattr(procedural, "bandpass_noise", old_bandpass_noise)
        m.setattr(procedural, "room_noise", old_room_noise)
        m.setattr(procedural, "smooth", old_smooth)
        old = procedural.procedural_utterance(seed).samples
    # measured on seeds 0-3: correlation 0.9990-0.9996, error energy 27-31 dB below the signal (the
    # band noise of bursts and fricatives differs sample by sample, its spectrum does not); the loud
    # frames at the same level (within 0.07 dB)
    assert old.shape == new.shape
    assert np.corrcoef(old, new)[0, 1] > 0.998
    assert np.percentile(frame_db(new, 160), 95) == pytest.approx(np.percentile(frame_db(old, 160), 95), abs=0.3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mouth_tracks_as_before(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    x = procedural.procedural_utterance(seed).samples
    new = mouth.mouth_from_audio(x)
    with monkeypatch.context() as m:
        m.setattr(mouth, "_highpass", old_highpass)
        old = mouth.mouth_from_audio(x)
    # Butterworth high-pass (-6 dB at 50 Hz) instead of the FFT ramp from 35 to 70 Hz: measured
    # largest differences 0.0013 in energy, 0.0014 in jaw, 0.0042 in spread (seeds 0-3)
    assert np.max(np.abs(new.energy - old.energy)) < 0.005
    assert np.max(np.abs(new.jaw - old.jaw)) < 0.005
    assert np.max(np.abs(new.spread - old.spread)) < 0.01


def test_hangover_is_the_old_loop() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        active = rng.random(int(rng.integers(1, 300))) < rng.uniform(0.05, 0.6)
        for frames in (0, 1, 4):
            assert np.array_equal(_hold(active, frames), old_hold(active, frames))
