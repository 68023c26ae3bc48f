"""The speech side of the generated world: utterances, emotional voices, and mouth tracks from audio.

* :func:`real_utterances` cuts the two real recordings of the asset store (``codec2_speech``: Harvard
  sentences, ``arctic_a0007``: one CMU ARCTIC sentence) into utterances at pauses.
* :func:`procedural_utterance` synthesises an unlimited supply of speech-like audio (syllables of
  consonant noise and voiced vowels through moving formant resonators, with pauses) from a seed.
* :func:`emotional_voice` modulates pitch, tempo and loudness a little according to an emotion.
* :func:`mouth_from_audio` derives the per-video-frame mouth parameters (jaw opening, lip spreading)
  from the audio alone, so that lip sync in the rendered videos is learnable and checkable.

Everything is NumPy only and deterministic. Audio is float32 mono, 16 kHz unless stated.
See docs/world_speech.md for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..audio import SAMPLE_RATE, load_audio
from ..perception.emotions import parse_emotion

__all__ = [
    "EMOTION_VOICE",
    "MouthTrack",
    "Utterance",
    "emotional_voice",
    "envelope",
    "mouth_from_audio",
    "procedural_utterance",
    "real_utterances",
    "synth_vowel",
    "utterance_pool",
]


@dataclass
class Utterance:
    """One utterance: float32 mono samples and where they came from."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    #: "codec2:<i>", "arctic_a0007" or "procedural:<seed>"
    source: str = ""
    #: True for a human recording, False for synthetic speech
    real: bool = False
    text: str | None = None

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate)


# =========================================================================== real recordings

#: the real recordings: (asset name, source prefix)
REAL_SOURCES: tuple[tuple[str, str], ...] = (("codec2_speech", "codec2"), ("arctic_a0007", "arctic_a0007"))

_VAD_FRAME_S = 0.010  # 10 ms analysis frames
_VAD_HANGOVER_S = 0.040  # speech stays "on" this long after the energy drops
_VAD_MIN_BURST_S = 0.030  # shorter active runs are clicks, not speech
_VAD_MIN_SILENCE_S = 0.150  # pauses at least this long separate speech segments
_PAD_S = 0.100  # original signal kept before and after each utterance


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    f = f - f.mean(axis=1, keepdims=True)
    return 10.0 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def speech_segments(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Energy-based voice activity: (start, end) seconds of speech separated by pauses >= 150 ms.

    10 ms frames; threshold = noise floor (10th percentile of frame dB) + max(8 dB, 20 % of the range
    up to the 99th percentile); runs shorter than 30 ms are dropped, each run is extended by a 40 ms
    hangover, and gaps shorter than 150 ms are bridged.
    """
    frame = round(_VAD_FRAME_S * sample_rate)
    db = _frame_db(x, frame)
    if len(db) == 0:
        return []
    floor, peak = np.percentile(db, 10), np.percentile(db, 99)
    thr = floor + max(8.0, 0.2 * (peak - floor))
    active = db > thr
    for s, e in _runs(active):
        if (e - s) * _VAD_FRAME_S < _VAD_MIN_BURST_S:
            active[s:e] = False
    hang = round(_VAD_HANGOVER_S / _VAD_FRAME_S)
    held = active.copy()
    for k in range(1, hang + 1):
        held[k:] |= active[:-k]
    runs = _runs(held)
    merged: list[list[int]] = []
    min_gap = round(_VAD_MIN_SILENCE_S / _VAD_FRAME_S)
    for s, e in runs:
        if merged and s - merged[-1][1] < min_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s * _VAD_FRAME_S, e * _VAD_FRAME_S) for s, e in merged]


def cut_utterances(
    x: np.ndarray, sample_rate: int = SAMPLE_RATE, min_seconds: float = 1.5, max_seconds: float = 4.0
) -> list[tuple[int, int]]:
    """[start, end) sample ranges of utterances cut at pauses (see :func:`real_utterances`)."""
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


@lru_cache(maxsize=4)
def _real_cuts(
    min_seconds: float, max_seconds: float
) -> tuple[tuple[str, np.ndarray, tuple[tuple[int, int], ...]], ...]:
    from ..assets.store import asset_path

    out = []
    for asset, prefix in REAL_SOURCES:
        x = load_audio(asset_path(asset), SAMPLE_RATE)
        x.setflags(write=False)
        out.append((prefix, x, tuple(cut_utterances(x, SAMPLE_RATE, min_seconds, max_seconds))))
    return tuple(out)


def real_utterances(min_seconds: float = 1.5, max_seconds: float = 4.0) -> list[Utterance]:
    """The real recordings cut into utterances of ``min_seconds``..``max_seconds`` at pauses.

    Speech segments come from :func:`speech_segments`; a stretch longer than ``max_seconds`` is split
    recursively at its longest pause (preferring pauses that leave both halves >= ``min_seconds``);
    pieces that are too short are merged into their predecessor when the result fits, else dropped.
    0.1 s of the original signal is kept around each utterance. Needs the assets ``codec2_speech``
    and ``arctic_a0007`` (fetched on first use). Sources: "codec2:<i>", and "arctic_a0007" (or
    "arctic_a0007:<i>" if it were ever cut into several).
    """
    utts: list[Utterance] = []
    for prefix, x, cuts in _real_cuts(float(min_seconds), float(max_seconds)):
        for i, (a, b) in enumerate(cuts):
            source = prefix if (prefix == "arctic_a0007" and len(cuts) == 1) else f"{prefix}:{i}"
            utts.append(Utterance(x[a:b].copy(), SAMPLE_RATE, source, True, None))
    return utts


# =========================================================================== procedural speech

#: vowel formant targets (F1, F2, F3) in Hz (adult averages after Peterson & Barney / Hillenbrand)
VOWELS: dict[str, tuple[float, float, float]] = {
    "i": (280.0, 2250.0, 2900.0),
    "I": (400.0, 1920.0, 2560.0),
    "e": (480.0, 2050.0, 2650.0),
    "E": (550.0, 1770.0, 2490.0),
    "ae": (660.0, 1720.0, 2410.0),
    "a": (730.0, 1090.0, 2440.0),
    "O": (570.0, 840.0, 2410.0),
    "o": (500.0, 900.0, 2400.0),
    "U": (440.0, 1020.0, 2240.0),
    "u": (320.0, 870.0, 2250.0),
    "@": (500.0, 1500.0, 2500.0),
    "V": (640.0, 1190.0, 2390.0),
}

# consonants: kind, formant locus (F1, F2, F3), noise band (lo, hi) Hz or None, relative amplitude
_CONSONANTS: dict[str, tuple[str, tuple[float, float, float], tuple[float, float] | None, float]] = {
    "p": ("stop", (300.0, 900.0, 2300.0), (300.0, 3000.0), 0.35),
    "t": ("stop", (350.0, 1750.0, 2700.0), (2500.0, 6500.0), 0.45),
    "k": ("stop", (350.0, 2000.0, 2500.0), (1400.0, 3200.0), 0.45),
    "b": ("vstop", (300.0, 900.0, 2300.0), (300.0, 2500.0), 0.2),
    "d": ("vstop", (350.0, 1700.0, 2700.0), (2000.0, 5000.0), 0.25),
    "g": ("vstop", (350.0, 2000.0, 2500.0), (1300.0, 3000.0), 0.25),
    "s": ("fric", (350.0, 1700.0, 2700.0), (4000.0, 7800.0), 0.30),
    "S": ("fric", (350.0, 1900.0, 2500.0), (2200.0, 5500.0), 0.30),
    "f": ("fric", (350.0, 1000.0, 2300.0), (1200.0, 7800.0), 0.10),
    "h": ("asp", (500.0, 1500.0, 2500.0), None, 0.20),
    "z": ("vfric", (350.0, 1700.0, 2700.0), (4000.0, 7800.0), 0.20),
    "v": ("vfric", (350.0, 1000.0, 2300.0), (1200.0, 7000.0), 0.08),
    "m": ("nasal", (250.0, 1000.0, 2300.0), None, 0.20),
    "n": ("nasal", (250.0, 1500.0, 2500.0), None, 0.20),
    "l": ("approx", (360.0, 1300.0, 2700.0), None, 0.35),
    "r": ("approx", (420.0, 1300.0, 1700.0), None, 0.35),
    "w": ("approx", (300.0, 700.0, 2200.0), None, 0.30),
    "j": ("approx", (280.0, 2100.0, 2900.0), None, 0.30),
}
_ONSETS = ["p", "t", "k", "b", "d", "g", "s", "S", "f", "h", "z", "v", "m", "n", "l", "r", "w", "j"]
_ONSET_P = np.array([6, 9, 6, 5, 7, 3, 8, 3, 4, 4, 2, 3, 6, 7, 5, 5, 4, 2], dtype=np.float64)
_CODAS = ["t", "d", "s", "n", "m", "k", "l", "r", "z"]
#: onset durations (s) by consonant kind
_ONSET_DUR = {
    "stop": (0.05, 0.09),
    "vstop": (0.05, 0.08),
    "fric": (0.08, 0.13),
    "vfric": (0.06, 0.10),
    "asp": (0.05, 0.09),
    "nasal": (0.05, 0.08),
    "approx": (0.04, 0.07),
}
_VOWEL_NAMES = list(VOWELS)


def _bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise shaped by a smooth band (raised-cosine skirts of 1/4 octave), unit RMS."""
    if n <= 0:
        return np.zeros(0)
    m = max(n, 256)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1.0 / sr)
    lf = np.log2(np.maximum(f, 1.0))
    w = np.clip((lf - math.log2(lo) + 0.25) / 0.5, 0, 1) * np.clip((math.log2(hi) + 0.25 - lf) / 0.5, 0, 1)
    y = np.fft.irfft(spec * np.sin(0.5 * np.pi * w) ** 2, m)[:n]
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def _room_noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Unit-RMS background noise with a spectrum falling as 1 / (1 + f / 300 Hz) (like a quiet room)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= 1.0 + np.fft.rfftfreq(n, 1.0 / sr) / 300.0
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y * y)) + 1e-12)


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average (Hann-weighted) over ``n`` samples, edge-padded."""
    if n <= 1:
        return x
    w = np.hanning(n + 2)[1:-1]
    w /= w.sum()
    return np.convolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), w, mode="valid")


def _glottal_source(
    f0: np.ndarray, sr: int, open_q: float = 0.45, close_q: float = 0.10
) -> tuple[np.ndarray, np.ndarray]:
    """Rosenberg glottal flow derivative driven by a per-sample f0 track (Hz); unit-ish amplitude."""
    phase = np.cumsum(f0 / sr)
    fr = phase - np.floor(phase)
    flow = np.where(
        fr < open_q,
        0.5 * (1 - np.cos(np.pi * fr / open_q)),
        np.where(fr < open_q + close_q, np.cos(0.5 * np.pi * (fr - open_q) / close_q), 0.0),
    )
    d = np.diff(flow, prepend=0.0)
    return d / (np.max(np.abs(d)) + 1e-12), flow


def _formant_filter(
    x: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray, sr: int, fixed: tuple[tuple[float, float], ...] = ()
) -> np.ndarray:
    """Cascade of time-varying Klatt resonators (unity DC gain) plus fixed higher formants.

    ``formants`` / ``bandwidths``: [n_samples, k] per-sample frequencies and bandwidths in Hz.
    """
    t = 1.0 / sr
    c = -np.exp(-2 * np.pi * bandwidths * t)
    b = 2 * np.exp(-np.pi * bandwidths * t) * np.cos(2 * np.pi * formants * t)
    a = 1 - b - c
    y = x.astype(np.float64)
    # fixed resonators first (constant coefficients)
    stages = [(np.full(len(x), a_), np.full(len(x), b_), np.full(len(x), c_)) for a_, b_, c_ in _fixed_coeffs(fixed, t)]
    stages += [(a[:, j], b[:, j], c[:, j]) for j in range(formants.shape[1])]
    for aa, bb, cc in stages:
        y = _resonate(y, aa, bb, cc)
    return y


def _fixed_coeffs(fixed: tuple[tuple[float, float], ...], t: float) -> list[tuple[float, float, float]]:
    out = []
    for f, bw in fixed:
        c = -math.exp(-2 * math.pi * bw * t)
        b = 2 * math.exp(-math.pi * bw * t) * math.cos(2 * math.pi * f * t)
        out.append((1 - b - c, b, c))
    return out


def _resonate(x: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """y[n] = a[n] x[n] + b[n] y[n-1] + c[n] y[n-2] (a plain loop: NumPy has no IIR filter)."""
    xs, as_, bs, cs = x.tolist(), a.tolist(), b.tolist(), c.tolist()
    out = [0.0] * len(xs)
    y1 = y2 = 0.0
    for n in range(len(xs)):
        y = as_[n] * xs[n] + bs[n] * y1 + cs[n] * y2
        out[n] = y
        y2 = y1
        y1 = y
    return np.asarray(out)


def synth_vowel(
    f1: float, f2: float, f3: float = 2500.0, seconds: float = 0.5, f0: float = 120.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A steady synthetic vowel (glottal source through three formants), peak 0.5, 20 ms fades."""
    n = round(seconds * sample_rate)
    src, _ = _glottal_source(np.full(n, float(f0)), sample_rate)
    fm = np.tile([f1, f2, f3], (n, 1)).astype(np.float64)
    bw = np.tile([80.0, 100.0, 150.0], (n, 1))
    y = _formant_filter(src, fm, bw, sample_rate, ((3500.0, 250.0),))
    fade = min(n // 2, round(0.02 * sample_rate))
    if fade:
        ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
        y[:fade] *= ramp
        y[n - fade :] *= ramp[::-1]
    return (0.5 * y / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


@dataclass
class _Seg:
    start: float  # seconds
    dur: float
    kind: str  # "vowel" | consonant kind | "pause"
    name: str
    amp: float = 1.0
    accent: float = 0.0


def _plan(rng: np.random.Generator, seconds: float) -> list[_Seg]:
    """Phrases of words of syllables ((C)V(C)) with pauses, filling ``seconds``."""
    segs: list[_Seg] = []
    t = rng.uniform(0.15, 0.30)  # leading silence
    end = seconds - rng.uniform(0.15, 0.30)  # trailing silence
    while True:
        n_words = int(rng.integers(2, 6))
        phrase: list[_Seg] = []
        tp = t
        for w in range(n_words):
            for _s in range(int(rng.choice([1, 1, 2, 2, 2, 3]))):
                dur = rng.uniform(0.13, 0.28)
                accent = float(rng.random() < 0.35) * rng.uniform(0.06, 0.16)
                parts: list[_Seg] = []
                rest = dur
                if rng.random() < 0.8:
                    c = _ONSETS[int(rng.choice(len(_ONSETS), p=_ONSET_P / _ONSET_P.sum()))]
                    cd = rng.uniform(*_ONSET_DUR[_CONSONANTS[c][0]])
                    parts.append(_Seg(0.0, cd, _CONSONANTS[c][0], c))
                    rest -= cd
                coda = None
                if rng.random() < 0.3:
                    coda = _CODAS[int(rng.integers(len(_CODAS)))]
                    kd = rng.uniform(0.04, 0.08)
                    rest -= kd
                vd = max(rest, 0.07)
                parts.append(
                    _Seg(
                        0.0,
                        vd,
                        "vowel",
                        _VOWEL_NAMES[int(rng.integers(len(_VOWEL_NAMES)))],
                        rng.uniform(0.6, 1.0) + accent,
                        accent,
                    )
                )
                if coda is not None:
                    parts.append(_Seg(0.0, kd, _CONSONANTS[coda][0], coda))
                for p in parts:
                    p.start = tp
                    tp += p.dur
                    phrase.append(p)
            if w < n_words - 1 and rng.random() < 0.35:
                tp += rng.uniform(0.04, 0.12)  # a short pause between words
        if tp > end:
            # keep the words that fit
            phrase = [p for p in phrase if p.start + p.dur <= end]
            # drop a trailing consonant-only tail
            while phrase and phrase[-1].kind != "vowel" and phrase[-1].start + phrase[-1].dur > end - 0.05:
                phrase.pop()
            segs.extend(phrase)
            break
        segs.extend(phrase)
        t = tp + rng.uniform(0.20, 0.45)  # pause between phrases
        if t > end - 0.3:
            break
    return segs


def procedural_utterance(seed: int, seconds: float = 3.0, f0: float | None = None) -> Utterance:
    """Speech-like audio from a seed: syllables at ~4/s, formant transitions, f0 declination, pauses.

    Each syllable is an optional onset consonant (stop closure + burst + aspiration, fricative noise
    band, nasal, approximant), a voiced vowel (Rosenberg glottal pulses at a moving f0 through three
    moving formant resonators plus a fixed 3.5 kHz one), and an optional coda. Words are sometimes
    separated by short pauses, phrases by 0.2-0.45 s pauses; f0 falls over each phrase (declination)
    with accents on some syllables. ``f0`` is the speaker's mean pitch (drawn from 95-230 Hz when
    None). Normalised to a speech level like the real recordings (loud frames ~ -12 dBFS) over a
    -70 dBFS noise floor. Deterministic for a seed.
    """
    sr = SAMPLE_RATE
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EEC])
    n = round(seconds * sr)
    base = float(f0) if f0 is not None else float(rng.uniform(95.0, 230.0))
    plan = _plan(rng, seconds)

    # --- control tracks (keypoints, interpolated / smoothed per sample)
    t = np.arange(n) / sr
    voice = np.zeros(n)  # voiced source amplitude
    asp = np.zeros(n)  # aspiration noise through the formants
    fric = np.zeros(n)  # directly added noise (frication, bursts)
    kp_t, kp_f = [0.0], [VOWELS["@"]]
    f0_t, f0_v = [0.0], [base]
    phrase_start = plan[0].start if plan else 0.0
    prev_end = phrase_start
    phrase_bounds: list[tuple[float, float]] = []
    for s in plan:
        if s.start - prev_end > 0.19:  # a phrase pause: new declination line
            phrase_bounds.append((phrase_start, prev_end))
            phrase_start = s.start
        prev_end = s.start + s.dur
    phrase_bounds.append((phrase_start, prev_end))

    for s in plan:
        a, b = round(s.start * sr), min(n, round((s.start + s.dur) * sr))
        if b <= a:
            continue
        m = b - a
        u = np.linspace(0.0, 1.0, m, endpoint=False)
        if s.kind == "vowel":
            voice[a:b] = np.maximum(voice[a:b], s.amp * np.sin(np.pi * (0.15 + 0.8 * u)))
            f = VOWELS[s.name]
            kp_t += [s.start + 0.3 * s.dur, s.start + 0.7 * s.dur]
            kp_f += [f, f]
            f0_t.append(s.start + 0.4 * s.dur)  # every syllable its own pitch, accented ones higher
            f0_v.append(s.accent * 1.5 + rng.normal(0.0, 0.04))
            continue
        kind, locus, band, amp = _CONSONANTS[s.name]
        kp_t.append(s.start + 0.5 * s.dur)
        kp_f.append(locus)
        if kind in ("nasal", "approx"):
            voice[a:b] = np.maximum(voice[a:b], amp)
        elif kind in ("fric", "vfric"):
            env = np.sin(np.pi * u) ** 0.7
            assert band is not None
            fric[a:b] += amp * env * _bandpass_noise(rng, m, sr, *band)
            if kind == "vfric":
                voice[a:b] = np.maximum(voice[a:b], 0.25)
        elif kind == "asp":
            asp[a:b] += amp * np.sin(np.pi * u) ** 0.5
        else:  # stops: closure (silence or voice bar), burst, aspiration for voiceless ones
            assert band is not None
            burst_at = a + int(0.6 * m)
            bl = min(b - burst_at, round(rng.uniform(0.008, 0.015) * sr))
            benv = np.exp(-np.arange(bl) / (0.004 * sr))
            fric[burst_at : burst_at + bl] += 2.5 * amp * benv * _bandpass_noise(rng, bl, sr, *band)
            if kind == "stop":
                asp[burst_at + bl : b] += 0.25 * np.linspace(1.0, 0.3, b - burst_at - bl)
            else:
                voice[a:burst_at] = np.maximum(voice[a:burst_at], 0.08)
                voice[burst_at:b] = np.maximum(voice[burst_at:b], np.linspace(0.1, 0.6, b - burst_at))
    kp_t.append(seconds)
    kp_f.append(kp_f[-1])

    # --- f0: declination per phrase, accents, slow wander, small jitter
    decl = np.full(n, 1.0)
    for p0, p1 in phrase_bounds:
        i0, i1 = round(p0 * sr), min(n, round(p1 * sr))
        if i1 > i0:
            decl[i0:i1] = np.linspace(1.12, 0.86, i1 - i0) * rng.uniform(0.95, 1.05)
    decl = _smooth(decl, round(0.08 * sr))
    accents = np.zeros(n)
    for tc, h in zip(f0_t[1:], f0_v[1:], strict=True):
        accents += h * np.exp(-0.5 * ((t - tc) / 0.06) ** 2)
    wander = np.interp(t, np.linspace(0, seconds, 12), rng.normal(0.0, 0.02, 12))
    jitter = _smooth(rng.normal(0.0, 0.01, n), 40)
    f0_track = base * decl * (1 + accents + wander + jitter)

    # --- formant tracks: piecewise-linear between targets, smoothed (coarticulation)
    order = np.argsort(kp_t, kind="stable")
    kt = np.asarray(kp_t)[order]
    kf = np.asarray(kp_f)[order]
    fm = np.stack([_smooth(np.interp(t, kt, kf[:, j]), round(0.03 * sr)) for j in range(3)], axis=1)
    fm *= rng.uniform(0.92, 1.12)  # vocal-tract length of this speaker
    bw = np.stack([50 + 0.08 * fm[:, 0], 70 + 0.05 * fm[:, 1], 110 + 0.04 * fm[:, 2]], axis=1)

    # --- sources
    voice = _smooth(voice, round(0.012 * sr))
    asp = _smooth(asp, round(0.006 * sr))
    src, flow = _glottal_source(f0_track, sr)
    shimmer = 1 + _smooth(rng.normal(0.0, 0.05, n), 60)
    noise = rng.standard_normal(n)
    excitation = voice * shimmer * (src + 0.08 * noise * flow) + 0.08 * asp * noise
    y = _formant_filter(excitation, fm, bw, sr, ((3500.0 * fm[0, 2] / VOWELS["@"][2], 250.0), (4500.0, 300.0)))
    voiced = voice > 0.5
    y /= np.sqrt(np.mean(y[voiced] ** 2)) + 1e-12 if voiced.any() else np.max(np.abs(y)) + 1e-12
    # breath: high-frequency noise that follows the voicing (the cascade alone is too dark above 4 kHz)
    breath = voice * _bandpass_noise(rng, n, sr, 2500.0, 7800.0)
    y = y + 0.02 * breath + 0.9 * fric
    # --- level: loud 10 ms frames at about -12 dBFS over a -62 dBFS low-frequency-heavy floor; peak <= 0.95
    frame_db = _frame_db(y, sr // 100)
    ref = np.percentile(frame_db, 95) if len(frame_db) else 0.0
    y *= 10 ** ((-12.0 - ref) / 20)
    y += 10 ** (-62 / 20) * _room_noise(rng, n, sr)
    peak = np.max(np.abs(y))
    if peak > 0.95:
        y *= 0.95 / peak
    return Utterance(y.astype(np.float32), sr, f"procedural:{seed}", False, None)


# =========================================================================== emotional voice

#: (pitch/tempo change, gain in dB) at intensity 1; applied as factor (1 + p) ** intensity
EMOTION_VOICE: dict[str, tuple[float, float]] = {
    "angry": (0.04, 3.0),
    "contempt": (-0.02, -1.0),
    "disgusted": (-0.03, -1.0),
    "fear": (0.05, -1.0),
    "happy": (0.06, 2.0),
    "neutral": (0.0, 0.0),
    "sad": (-0.06, -3.0),
    "surprised": (0.08, 2.0),
}


def _resample_fft(x: np.ndarray, m: int) -> np.ndarray:
    """Band-limited resampling of ``x`` to ``m`` samples (FFT truncation / zero padding)."""
    n = len(x)
    if m == n:
        return x.astype(np.float64)
    spec = np.fft.rfft(x.astype(np.float64))
    k = m // 2 + 1
    out = np.zeros(k, dtype=complex)
    keep = min(k, len(spec))
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, m) * (m / n)


def _soft_limit(y: np.ndarray, knee: float = 0.9) -> np.ndarray:
    a = np.abs(y)
    over = a > knee
    if not over.any():
        return y
    out = y.copy()
    out[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((a[over] - knee) / (1 - knee)))
    return out


def emotional_voice(utt: Utterance, emotion: str, intensity: float) -> Utterance:
    """The utterance spoken a little more ``emotion``-ally: pitch/tempo and loudness change.

    Pitch and tempo change together by resampling by the factor ``(1 + p) ** intensity`` (higher and
    faster for p > 0; lower and slower for p < 0), and the gain is ``g * intensity`` dB, with
    (p, g) from :data:`EMOTION_VOICE` (at most 8 % and 3 dB). Peaks above 0.9 are soft-limited.
    ``neutral`` or intensity 0 return the samples unchanged (a copy). ``source`` and ``text`` are kept.
    """
    name = parse_emotion(emotion).value
    k = float(np.clip(intensity, 0.0, 1.0))
    p, g = EMOTION_VOICE[name]
    if k == 0.0 or (p == 0.0 and g == 0.0) or len(utt.samples) == 0:
        return Utterance(utt.samples.copy(), utt.sample_rate, utt.source, utt.real, utt.text)
    factor = (1.0 + p) ** k
    y = _resample_fft(utt.samples, max(1, round(len(utt.samples) / factor)))
    y = _soft_limit(y * 10 ** (g * k / 20))
    return Utterance(y.astype(np.float32), utt.sample_rate, utt.source, utt.real, utt.text)


# =========================================================================== audio -> mouth

_HOP_S = 0.005  # envelope hop
_RMS_WIN_S = 0.020  # RMS window
_ATTACK_S = 0.020
_RELEASE_S = 0.060
_LOOKAHEAD_S = 0.020  # compensates the smoother's lag
_FRAME_WIN_S = 0.040  # centred window per video frame
_GATE_DB = 6.0  # above the noise floor before the jaw starts opening
_RANGE_DB = (30.0, 50.0)  # allowed range between noise floor and peak
_SILENT_DBFS = -60.0  # audio whose loudest 20 ms stay below this is silence


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


def _highpass(x: np.ndarray, sr: int, cutoff: float = 70.0) -> np.ndarray:
    """Remove DC and rumble below ``cutoff`` (zero-phase, FFT)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) < 4:
        return x - x.mean() if len(x) else x
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    spec *= np.clip((f - 0.5 * cutoff) / (0.5 * cutoff), 0.0, 1.0)
    return np.fft.irfft(spec, len(x))


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
    pre = np.empty_like(x)
    pre[0] = x[0]
    pre[1:] = x[1:] - 0.97 * x[:-1]
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


# =========================================================================== pools


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
