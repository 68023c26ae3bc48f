"""Valence/arousal: the circumplex proxy, the per-frame CSV importer, the paper's delta scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from wav2lip_emotion.errors import AffectError, ConfigError, Wav2LipEmotionError
from wav2lip_emotion.perception.affect import (
    CIRCUMPLEX,
    CIRCUMPLEX_PUBLISHED,
    AffectTrack,
    affect_delta,
    average_deltas,
    frame_valence_arousal,
    proxy_track,
    read_affect_csv,
    valence_arousal,
)
from wav2lip_emotion.perception.emotions import EMOTIONS, FER2013_CLASSES

# ------------------------------------------------------------------------------ circumplex proxy


def test_table_covers_the_vocabulary_in_range():
    assert set(CIRCUMPLEX) == set(EMOTIONS)
    for name, (v, a) in CIRCUMPLEX.items():
        assert -1.0 <= v <= 1.0, name
        assert 0.0 <= a <= 1.0, name
        pv, pa = CIRCUMPLEX_PUBLISHED[name]
        assert v == pv and a == pytest.approx((pa + 1) / 2)
    # the circumplex's quadrants: happy pleasant and aroused, sad unpleasant and calm, neutral at the centre
    assert CIRCUMPLEX["happy"][0] > 0.5 and CIRCUMPLEX["happy"][1] > 0.5
    assert CIRCUMPLEX["sad"][0] < -0.5 and CIRCUMPLEX["sad"][1] < 0.5
    assert CIRCUMPLEX["neutral"] == (0.0, 0.5)
    for name in ("angry", "fear", "disgusted", "contempt"):
        assert CIRCUMPLEX[name][0] < 0


@pytest.mark.parametrize("name", EMOTIONS)
def test_pure_distribution_gives_its_point(name):
    assert valence_arousal({name: 1.0}) == pytest.approx(CIRCUMPLEX[name])
    probs = dict.fromkeys(EMOTIONS, 0.0) | {name: 1.0}
    assert valence_arousal(probs) == pytest.approx(CIRCUMPLEX[name])


def test_weighted_mean_and_synonyms():
    v, a = valence_arousal({"happiness": 0.5, "sadness": 0.5})
    assert v == pytest.approx((0.81 - 0.63) / 2)
    assert a == pytest.approx(((0.51 + 1) / 2 + (-0.27 + 1) / 2) / 2)


def test_absent_classes_are_renormalised_over():
    # a FER2013 judge has no contempt: its 7 classes are all that count
    probs = dict.fromkeys(FER2013_CLASSES, 0.0) | {"happy": 0.3, "sad": 0.1}
    v, a = valence_arousal(probs)
    w = {"happy": 0.75, "sad": 0.25}
    assert v == pytest.approx(sum(w[k] * CIRCUMPLEX[k][0] for k in w))
    assert a == pytest.approx(sum(w[k] * CIRCUMPLEX[k][1] for k in w))
    # unnormalised scores give the same point as normalised ones
    assert valence_arousal({"happy": 3.0, "sad": 1.0}) == pytest.approx((v, a))


def test_sequence_of_frames_is_averaged():
    frames = [{"happy": 1.0}, {"sad": 1.0}, {"neutral": 1.0}]
    pts = frame_valence_arousal(frames)
    assert pts.shape == (3, 2)
    v, a = valence_arousal(frames)
    assert v == pytest.approx(np.mean([CIRCUMPLEX[k][0] for k in ("happy", "sad", "neutral")]))
    assert a == pytest.approx(np.mean([CIRCUMPLEX[k][1] for k in ("happy", "sad", "neutral")]))
    track = proxy_track(frames)
    assert len(track) == 3 and track.frames.tolist() == [0, 1, 2]
    assert track.mean() == pytest.approx((v, a))
    assert track.arousal_range == (0.0, 1.0)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        ({}, "no class probabilities"),
        ({"happy": -0.1, "sad": 1.0}, "must be finite and >= 0"),
        ({"happy": float("nan")}, "must be finite and >= 0"),
        ({"happy": 0.0, "sad": 0.0}, "sum to 0"),
        ({"anger": 0.5, "angry": 0.5}, "are both 'angry'"),
        ([], "no frames"),
    ],
)
def test_bad_probabilities(probs, message):
    with pytest.raises(AffectError, match=message):
        valence_arousal(probs)


def test_unknown_class_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown emotion 'bored'"):
        valence_arousal({"bored": 1.0})


# ------------------------------------------------------------------------------ CSV importer


def _csv(tmp_path: Path, text: str, name: str = "affect.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_frames(tmp_path):
    path = _csv(tmp_path, "frame,valence,arousal\n0,0.1,0.2\n1,0.3,0.4\n5,-0.5,0.6\n")
    track = read_affect_csv(path)
    assert isinstance(track, AffectTrack)
    assert track.frames.tolist() == [0, 1, 5] and track.times is None
    assert track.valence.tolist() == [0.1, 0.3, -0.5]
    assert track.arousal.tolist() == [0.2, 0.4, 0.6]
    assert track.source == str(path)
    assert track.mean() == pytest.approx((-0.1 / 3, 0.4))
    assert track.arousal_range == (-1.0, 1.0)


def test_csv_times_aliases_and_extras(tmp_path):
    text = "\ufeff# written by some model\nTimestamp ; V ; A ; confidence\n0.00;0.5;-0.5;0.9\n\n0.04;0.25;0.5;0.8\n"
    track = read_affect_csv(_csv(tmp_path, text))
    assert track.frames is None
    assert track.times.tolist() == [0.0, 0.04]
    assert track.valence.tolist() == [0.5, 0.25] and track.arousal.tolist() == [-0.5, 0.5]


@pytest.mark.parametrize(
    "header",
    ["frame_index,Valence,AROUSAL", "Frame_Idx,v,a", "frame_number\tval\taro", "frame,time,valence,arousal"],
)
def test_csv_alias_headers(tmp_path, header):
    sep = "\t" if "\t" in header else ","
    n = len(header.split(sep))
    rows = [sep.join(["0"] * (n - 2) + ["0.1", "0.2"]), sep.join(["3"] * (n - 2) + ["0.3", "0.4"])]
    track = read_affect_csv(_csv(tmp_path, header + "\n" + "\n".join(rows) + "\n"))
    assert track.frames.tolist() == [0, 3]
    assert track.valence.tolist() == [0.1, 0.3]
    if "time" in header:
        assert track.times.tolist() == [0.0, 3.0]


def test_csv_arousal_scales(tmp_path):
    path = _csv(tmp_path, "frame,valence,arousal\n0,0,-1\n1,0,0\n2,0,1\n")
    assert read_affect_csv(path).arousal.tolist() == [-1.0, 0.0, 1.0]
    signed = read_affect_csv(path, arousal_scale="signed")
    assert signed.arousal.tolist() == [0.0, 0.5, 1.0] and signed.arousal_range == (0.0, 1.0)
    with pytest.raises(AffectError, match=r"line 2: arousal -1 is outside \[0, 1\]"):
        read_affect_csv(path, arousal_scale="unit")
    unit = read_affect_csv(_csv(tmp_path, "frame,valence,arousal\n0,0,0.25\n", "u.csv"), arousal_scale="unit")
    assert unit.arousal.tolist() == [0.25] and unit.arousal_range == (0.0, 1.0)
    with pytest.raises(AffectError, match="unknown arousal_scale"):
        read_affect_csv(path, arousal_scale="percent")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"affect\.csv: empty file"),
        ("  \n\n", r"affect\.csv: empty file"),
        ("# only a comment\n", r"affect\.csv: empty file \(only comments\)"),
        ("frame,valence,arousal\n", r"affect\.csv: no data rows under the header \(line 1\)"),
        ("frame,x,y\n0,1,2\n", r"missing column\(s\) valence, arousal; found 'frame', 'x', 'y'"),
        ("valence,arousal\n0.1,0.2\n", r"missing column\(s\) frame or time; found 'valence', 'arousal'"),
        ("0,0.1,0.2\n1,0.1,0.2\n", r"found '0', '0.1', '0.2' \(no header line\?"),
        ("frame,v,valence,arousal\n", r"columns 'v' and 'valence' both give valence"),
        ("frame,valence,arousal\n0,0.1,0.2\n1,abc,0.2\n", r"affect\.csv, line 3: valence 'abc' is not a number"),
        ("frame,valence,arousal\n0,0.1,\n", r"line 2: empty arousal"),
        ("frame,valence,arousal\n0,0.1\n", r"line 2: 2 fields, the header has 3"),
        ("frame,valence,arousal\n0,nan,0.2\n", r"line 2: valence is NaN"),
        ("frame,valence,arousal\n0,0.1,NaN\n", r"line 2: arousal is NaN"),
        ("frame,valence,arousal\n0,0.1,inf\n", r"line 2: arousal is infinite"),
        ("frame,valence,arousal\n0,1.5,0.2\n", r"line 2: valence 1.5 is outside \[-1, 1\]"),
        ("frame,valence,arousal\n0,0.1,-1.2\n", r"line 2: arousal -1.2 is outside \[-1, 1\]"),
        ("frame,valence,arousal\n0,0.1,0.2\n0,0.1,0.2\n", r"line 3: frame 0 repeats line 2"),
        (
            "frame,valence,arousal\n0,0,0\n5,0,0\n3,0,0\n",
            r"line 4: frame 3 comes after frame 5 \(line 3\); frames must increase",
        ),
        ("time,valence,arousal\n0.5,0,0\n0.25,0,0\n", r"line 3: time 0.25 comes after time 0.5 \(line 2\)"),
        ("frame,valence,arousal\n1.5,0,0\n", r"line 2: frame 1.5 is not a whole number"),
        ("frame,valence,arousal\n-1,0,0\n", r"line 2: negative frame -1"),
        ("frame,valence,arousal\n0,1_0,0\n", r"line 2: valence '1_0' is not a number"),
    ],
)
def test_csv_errors(tmp_path, text, message):
    path = _csv(tmp_path, text)
    with pytest.raises(AffectError, match=message) as info:
        read_affect_csv(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_csv_line_numbers_count_comments_and_blank_lines(tmp_path):
    path = _csv(tmp_path, "# model X\n\nframe,valence,arousal\n0,0,0\n\n# note\n1,2,0\n")
    with pytest.raises(AffectError, match=r"line 7: valence 2 is outside"):
        read_affect_csv(path)


def test_csv_missing_file_and_directory(tmp_path):
    with pytest.raises(AffectError, match=r"nope\.csv: no such file"):
        read_affect_csv(tmp_path / "nope.csv")
    with pytest.raises(AffectError, match="is not a file"):
        read_affect_csv(tmp_path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"frame,valence,arousal\n0,\xff\xfe,0\n")
    with pytest.raises(AffectError, match="not a UTF-8 text file"):
        read_affect_csv(path)


def test_affect_error_is_ours_and_a_value_error():
    assert issubclass(AffectError, Wav2LipEmotionError) and issubclass(AffectError, ValueError)


# ------------------------------------------------------------------------------ the paper's deltas


def test_delta_hand_computed():
    assert affect_delta(0.5, 0.1, 0.9, neutral_destination=False) == pytest.approx(0.5)
    assert affect_delta(0.9, 0.1, 0.9, neutral_destination=False) == pytest.approx(1.0)
    assert affect_delta(0.1, 0.1, 0.9, neutral_destination=False) == pytest.approx(0.0)
    # overshoot counts as more than 1 for a non-neutral destination ...
    assert affect_delta(0.66, 0.1, 0.5, neutral_destination=False) == pytest.approx(1.4)
    # ... and is penalised for a neutral one: 1 - |1 - 1.4| = 0.6
    assert affect_delta(0.66, 0.1, 0.5, neutral_destination=True) == pytest.approx(0.6)
    assert affect_delta(0.3, 0.1, 0.5, neutral_destination=True) == pytest.approx(0.5)  # 0.5 -> 0.5
    assert affect_delta(-0.1, 0.1, 0.5, neutral_destination=True) == pytest.approx(-0.5)  # -0.5 -> -0.5


def test_delta_sign_when_destination_below_source():
    # happy -> sad: s = 0.6, d = 0.2; the generated video going down is progress
    assert affect_delta(0.4, 0.6, 0.2, neutral_destination=False) == pytest.approx(0.5)
    assert affect_delta(0.0, 0.6, 0.2, neutral_destination=False) == pytest.approx(1.5)
    # going up (away from the destination) is negative
    assert affect_delta(0.8, 0.6, 0.2, neutral_destination=False) == pytest.approx(-0.5)
    assert affect_delta(0.0, 0.6, 0.2, neutral_destination=True) == pytest.approx(0.5)


def test_delta_undefined_when_source_equals_destination():
    assert math.isnan(affect_delta(0.5, 0.3, 0.3, neutral_destination=False))
    assert math.isnan(affect_delta(0.5, 0.3, 0.3, neutral_destination=True))
    assert math.isnan(affect_delta(0.5, 0.3, 0.3005, neutral_destination=False, min_gap=1e-3))
    assert math.isnan(affect_delta(float("nan"), 0.1, 0.9, neutral_destination=False))
    assert average_deltas([0.5, float("nan"), 1.5]) == (pytest.approx(1.0), 2)
    mean, n = average_deltas([float("nan")])
    assert math.isnan(mean) and n == 0


def test_delta_is_unchanged_by_rescaling_arousal():
    g, s, d = 0.2, -0.4, 0.6  # on [-1, 1]
    on_unit = [(x + 1) / 2 for x in (g, s, d)]
    assert affect_delta(*on_unit, neutral_destination=False) == pytest.approx(affect_delta(g, s, d, False))
