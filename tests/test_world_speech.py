"""The speech side of the generated world: real utterances, procedural speech, emotional voices, mouth tracks."""

from __future__ import annotations

import numpy as np
import pytest

from wav2lip_emotion.world.speech import (
    EMOTION_VOICE,
    MouthTrack,
    Utterance,
    emotional_voice,
    envelope,
    mouth_from_audio,
    procedural_utterance,
    real_utterances,
    synth_vowel,
    utterance_pool,
)

SR = 16_000


def frame_db(x: np.ndarray, frame: int = 160) -> np.ndarray:
    n = len(x) // frame
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def pitch_frames(x: np.ndarray, sr: int = SR, win: int = 640) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz, normalised autocorrelation peak in the 80-300 Hz lag range) of the loud 40 ms frames."""
    x = x.astype(np.float64)
    db = frame_db(x, win)
    loud = np.flatnonzero(db > np.percentile(db, 90) - 10)
    lo, hi = sr // 300, sr // 80
    f0s, peaks = [], []
    for k in loud:
        f = x[k * win : (k + 1) * win]
        f = f - f.mean()
        ac = np.correlate(f, f, mode="full")[win - 1 :]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        lag = lo + int(np.argmax(ac[lo:hi]))
        f0s.append(sr / lag)
        peaks.append(ac[lag])
    return np.array(f0s), np.array(peaks)


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def silence(seconds: float) -> np.ndarray:
    return (1e-4 * np.random.default_rng(0).standard_normal(round(seconds * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def real() -> list[Utterance]:
    return real_utterances()


# --------------------------------------------------------------------------- real utterances


def test_real_utterances_are_cut_at_pauses(real: list[Utterance]) -> None:
    assert len(real) >= 3
    assert len({u.source for u in real}) == len(real)
    assert sum(u.source.startswith("codec2:") for u in real) >= 3
    assert "arctic_a0007" in {u.source for u in real}
    for u in real:
        assert u.real and u.sample_rate == SR and u.samples.dtype == np.float32 and u.samples.ndim == 1
        assert 1.5 <= u.seconds <= 4.0, (u.source, u.seconds)
        ref = np.percentile(frame_db(u.samples), 95)
        # the first and last 50 ms are pauses (the 0.1 s padding of original signal)
        assert rms_db(u.samples[:800]) - ref < -25, u.source
        assert rms_db(u.samples[-800:]) - ref < -25, u.source
    again = real_utterances()
    assert [u.source for u in again] == [u.source for u in real]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(again, real, strict=True))


# --------------------------------------------------------------------------- procedural speech


def test_procedural_speech_is_deterministic_and_seed_dependent() -> None:
    a, b, c = procedural_utterance(3), procedural_utterance(3), procedural_utterance(4)
    assert np.array_equal(a.samples, b.samples)
    assert a.samples.shape == c.samples.shape == (3 * SR,)
    assert not np.allclose(a.samples, c.samples)
    assert a.source == "procedural:3" and not a.real and a.samples.dtype == np.float32
    assert np.max(np.abs(a.samples)) <= 0.95
    assert len(procedural_utterance(5, seconds=2.2).samples) == round(2.2 * SR)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_procedural_speech_has_voiced_harmonics_and_pauses(seed: int) -> None:
    x = procedural_utterance(seed).samples
    f0, peaks = pitch_frames(x)
    assert len(peaks) >= 5
    assert np.mean(peaks > 0.5) >= 0.6  # periodic (voiced) in the 80-300 Hz pitch range
    assert 80 <= np.median(f0) <= 300
    # pauses: >= 150 ms stretches 30 dB below the loud frames, inside the utterance and at its edges
    db = frame_db(x)
    quiet = db < np.percentile(db, 95) - 30
    pauses = [(s, e) for s, e in runs(quiet) if e - s >= 15]
    assert pauses[0][0] == 0 and pauses[-1][1] == len(db)
    assert len(pauses) >= 3
    # not a tone: the loud frames are well spread over the utterance
    assert np.mean(~quiet) > 0.4


def test_procedural_pitch_follows_f0() -> None:
    low, _ = pitch_frames(procedural_utterance(9, f0=100.0).samples)
    high, _ = pitch_frames(procedural_utterance(9, f0=200.0).samples)
    assert 80 <= np.median(low) <= 130
    assert 160 <= np.median(high) <= 260


# --------------------------------------------------------------------------- emotional voice


def test_emotional_voice_directions() -> None:
    utt = procedural_utterance(11, f0=120.0)
    f0_base = np.median(pitch_frames(utt.samples)[0])
    neutral = emotional_voice(utt, "neutral", 1.0)
    assert np.array_equal(neutral.samples, utt.samples) and neutral.source == utt.source
    assert np.array_equal(emotional_voice(utt, "happy", 0.0).samples, utt.samples)

    happy = emotional_voice(utt, "happy", 1.0)
    sad = emotional_voice(utt, "sad", 1.0)
    angry = emotional_voice(utt, "anger", 1.0)  # synonyms are accepted
    assert rms_db(happy.samples) > rms_db(utt.samples) + 1.0
    assert rms_db(angry.samples) > rms_db(utt.samples) + 1.5
    assert rms_db(sad.samples) < rms_db(utt.samples) - 1.5
    assert len(sad.samples) > len(utt.samples) > len(happy.samples)  # slower / faster
    assert np.median(pitch_frames(happy.samples)[0]) > f0_base * 1.02
    assert np.median(pitch_frames(sad.samples)[0]) < f0_base * 0.98
    # intensity scales the effect; everything stays subtle
    half = emotional_voice(utt, "happy", 0.5)
    assert len(happy.samples) < len(half.samples) < len(utt.samples)
    for p, g in EMOTION_VOICE.values():
        assert abs(p) <= 0.08 and abs(g) <= 3.0
    with pytest.raises(Exception, match="unknown emotion"):
        emotional_voice(utt, "bored", 1.0)


# --------------------------------------------------------------------------- audio -> mouth


def test_jaw_closed_in_silence_open_in_loud_vowels() -> None:
    x = np.concatenate([silence(0.4), synth_vowel(730, 1090, 2440, 0.6), silence(0.4)])
    m = mouth_from_audio(x)
    assert isinstance(m, MouthTrack)
    assert len(m) == len(m.jaw) == len(m.spread) == len(m.energy) == 35  # floor(1.4 s * 25 fps)
    assert np.all(m.jaw[:9] < 0.02) and np.all(m.jaw[-8:] < 0.02)
    assert np.all(m.jaw[12:24] > 0.8)
    assert m.jaw[9] < 0.3 < m.jaw[11]  # the jaw opens at the vowel onset (0.4 s = frame 10), no lag
    assert np.all((m.jaw >= 0) & (m.jaw <= 1)) and np.all(np.abs(m.spread) <= 1)
    assert np.array_equal(envelope(x, SR, 25.0), m.energy)
    longer = mouth_from_audio(x, n_frames=40)
    assert len(longer) == 40 and np.all(longer.jaw[36:] == 0)
    assert len(mouth_from_audio(x, fps=30.0)) == 42
    quiet = mouth_from_audio(np.zeros(SR, dtype=np.float32))
    assert len(quiet) == 25 and not quiet.jaw.any() and not quiet.spread.any()


def test_jaw_tracks_the_energy_envelope(real: list[Utterance]) -> None:
    utts = [*real, *(procedural_utterance(s) for s in range(4))]
    for u in utts:
        m = mouth_from_audio(u.samples, u.sample_rate)
        assert len(m) == int(u.seconds * 25)
        r = np.corrcoef(m.jaw, envelope(u.samples, u.sample_rate, 25.0))[0, 1]
        assert r >= 0.9, (u.source, r)
        assert m.jaw.max() > 0.7 and m.jaw.min() < 0.05, u.source
        # no lag: the jaw matches a zero-phase loudness (RMS dB over the centred 40 ms) best at offset 0
        x = np.pad(u.samples.astype(np.float64), (320, 640))
        loud = np.array([rms_db(x[k * 640 : k * 640 + 640]) for k in range(len(m))])
        cc = {lag: np.corrcoef(np.roll(m.jaw, lag)[2:-2], loud[2:-2])[0, 1] for lag in (-1, 0, 1)}
        assert max(cc, key=cc.__getitem__) == 0, (u.source, cc)


def test_spread_separates_i_from_u() -> None:
    for f0 in (110.0, 220.0):
        i = mouth_from_audio(np.concatenate([silence(0.2), synth_vowel(300, 2300, 3000, 0.6, f0), silence(0.2)]))
        u = mouth_from_audio(np.concatenate([silence(0.2), synth_vowel(300, 800, 2250, 0.6, f0), silence(0.2)]))
        assert i.spread[8:18].mean() > 0.1
        assert u.spread[8:18].mean() < -0.5
        assert np.all(np.abs(i.spread[:3]) < 0.05)  # no lip shape in silence


# --------------------------------------------------------------------------- pools


def test_utterance_pool(real: list[Utterance]) -> None:
    pool = utterance_pool(len(real) + 3, seed=7)
    assert [u.source for u in pool[: len(real)]] == [u.source for u in real]
    assert all(u.source.startswith("procedural:") and not u.real for u in pool[len(real) :])
    again = utterance_pool(len(real) + 3, seed=7)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(pool, again, strict=True))
    synthetic = utterance_pool(3, seed=8, real_first=False)
    assert len(synthetic) == 3 and not any(u.real for u in synthetic)
    assert all(2.0 <= u.seconds <= 4.0 for u in synthetic)
    assert len(utterance_pool(2, seed=1)) == 2
