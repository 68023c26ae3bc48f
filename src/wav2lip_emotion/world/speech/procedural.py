"""Procedural speech: an unlimited supply of speech-like utterances from a seed, and steady test vowels.

Owns the phonetic inventory (vowel formant targets, consonants), the plan of phrases, words and
syllables, and the control tracks (f0, formants, voicing, noise envelopes) that drive the source and
filters of :mod:`.formants`. Everything is deterministic for a seed. See docs/world_speech.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...audio import SAMPLE_RATE, frame_db
from .formants import bandpass_noise, formant_filter, glottal_source, room_noise, smooth
from .recordings import Utterance

__all__ = ["VOWELS", "procedural_utterance", "synth_vowel"]

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


def synth_vowel(
    f1: float, f2: float, f3: float = 2500.0, seconds: float = 0.5, f0: float = 120.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A steady synthetic vowel (glottal source through three formants), peak 0.5, 20 ms fades."""
    n = round(seconds * sample_rate)
    src, _ = glottal_source(np.full(n, float(f0)), sample_rate)
    fm = np.tile([f1, f2, f3], (n, 1)).astype(np.float64)
    bw = np.tile([80.0, 100.0, 150.0], (n, 1))
    y = formant_filter(src, fm, bw, sample_rate, ((3500.0, 250.0),))
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
    -62 dBFS noise floor. Deterministic for a seed.
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
            fric[a:b] += amp * env * bandpass_noise(rng, m, sr, *band)
            if kind == "vfric":
                voice[a:b] = np.maximum(voice[a:b], 0.25)
        elif kind == "asp":
            asp[a:b] += amp * np.sin(np.pi * u) ** 0.5
        else:  # stops: closure (silence or voice bar), burst, aspiration for voiceless ones
            assert band is not None
            burst_at = a + int(0.6 * m)
            bl = min(b - burst_at, round(rng.uniform(0.008, 0.015) * sr))
            benv = np.exp(-np.arange(bl) / (0.004 * sr))
            fric[burst_at : burst_at + bl] += 2.5 * amp * benv * bandpass_noise(rng, bl, sr, *band)
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
    decl = smooth(decl, round(0.08 * sr))
    accents = np.zeros(n)
    for tc, h in zip(f0_t[1:], f0_v[1:], strict=True):
        accents += h * np.exp(-0.5 * ((t - tc) / 0.06) ** 2)
    wander = np.interp(t, np.linspace(0, seconds, 12), rng.normal(0.0, 0.02, 12))
    jitter = smooth(rng.normal(0.0, 0.01, n), 40)
    f0_track = base * decl * (1 + accents + wander + jitter)

    # --- formant tracks: piecewise-linear between targets, smoothed (coarticulation)
    order = np.argsort(kp_t, kind="stable")
    kt = np.asarray(kp_t)[order]
    kf = np.asarray(kp_f)[order]
    fm = np.stack([smooth(np.interp(t, kt, kf[:, j]), round(0.03 * sr)) for j in range(3)], axis=1)
    fm *= rng.uniform(0.92, 1.12)  # vocal-tract length of this speaker
    bw = np.stack([50 + 0.08 * fm[:, 0], 70 + 0.05 * fm[:, 1], 110 + 0.04 * fm[:, 2]], axis=1)

    # --- sources
    voice = smooth(voice, round(0.012 * sr))
    asp = smooth(asp, round(0.006 * sr))
    src, flow = glottal_source(f0_track, sr)
    shimmer = 1 + smooth(rng.normal(0.0, 0.05, n), 60)
    noise = rng.standard_normal(n)
    excitation = voice * shimmer * (src + 0.08 * noise * flow) + 0.08 * asp * noise
    y = formant_filter(excitation, fm, bw, sr, ((3500.0 * fm[0, 2] / VOWELS["@"][2], 250.0), (4500.0, 300.0)))
    voiced = voice > 0.5
    y /= np.sqrt(np.mean(y[voiced] ** 2)) + 1e-12 if voiced.any() else np.max(np.abs(y)) + 1e-12
    # breath: high-frequency noise that follows the voicing (the cascade alone is too dark above 4 kHz)
    breath = voice * bandpass_noise(rng, n, sr, 2500.0, 7800.0)
    y = y + 0.02 * breath + 0.9 * fric
    # --- level: loud 10 ms frames at about -12 dBFS over a -62 dBFS low-frequency-heavy floor; peak <= 0.95
    levels = frame_db(y, sr // 100)
    ref = np.percentile(levels, 95) if len(levels) else 0.0
    y *= 10 ** ((-12.0 - ref) / 20)
    y += 10 ** (-62 / 20) * room_noise(rng, n, sr)
    peak = np.max(np.abs(y))
    if peak > 0.95:
        y *= 0.95 / peak
    return Utterance(y.astype(np.float32), sr, f"procedural:{seed}", False, None)
