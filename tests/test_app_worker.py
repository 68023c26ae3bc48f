"""The web app's job function without models: the summary, server paths kept out of it, progress routing."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from wav2lip_emotion.app import analysis, translating, worker
from wav2lip_emotion.app.jobs import JobRequest
from wav2lip_emotion.errors import TranslationError


@dataclass
class _Result:
    input: str
    output: str
    frames: int = 3
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"input": self.input, "output": self.output, "frames": self.frames, "notes": self.notes}

    def describe(self) -> str:
        return f"{self.output}: {self.frames} frames\n  from {self.input}"


def _fake_translate(src, output, **kw):
    kw["on_progress"](1, 3)
    kw["on_progress"](3, 3)
    Path(output).write_bytes(b"video")
    if kw["side_by_side"] is not None:
        Path(kw["side_by_side"]).write_bytes(b"side")
    return _Result(str(src), str(output), notes=[f"model at {kw['checkpoint']}"]), ["a note"]


@dataclass
class _Info:
    frame_count: int = 3


def test_run_job_keeps_server_paths_out_of_the_summary(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "call_translate", _fake_translate)
    monkeypatch.setattr("wav2lip_emotion.media.probe_video", lambda p: _Info())
    src = tmp_path / "server" / "input" / "clip.mp4"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"x")
    out = tmp_path / "server" / "jobs" / "job-1"
    out.mkdir(parents=True)
    ckpt = tmp_path / "secret" / "mine.safetensors"
    seen: list[tuple[str, int, int | None]] = []
    request = JobRequest(
        input=str(src),
        output_dir=str(out),
        to="happy",
        engine="model",
        checkpoint=str(ckpt),
        display_name="My Clip.mp4",
        analyse=False,
    )
    summary = worker.run_job(request, lambda s, d, t: seen.append((s, d, t)))
    assert ("translating", 3, 3) in seen and seen[-1][0] == "writing the summary"
    assert summary["files"] == {
        "result": "My_Clip_happy.mp4",
        "side_by_side": "My_Clip_happy_side_by_side.mp4",
        "summary": "summary.json",
    }
    text = json.dumps(summary)
    assert str(tmp_path) not in text and "mine.safetensors" in text and "My Clip.mp4" in text
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["describe"] == "My_Clip_happy.mp4: 3 frames\n  from My Clip.mp4"


def test_run_job_errors_name_the_upload(tmp_path, monkeypatch):
    def failing(src, output, **kw):
        raise TranslationError(f"{src}: no face was found in any of its 3 frames; nothing was written")

    monkeypatch.setattr(worker, "call_translate", failing)
    monkeypatch.setattr("wav2lip_emotion.media.probe_video", lambda p: _Info())
    src = tmp_path / "in" / "x.mp4"
    src.parent.mkdir()
    src.write_bytes(b"x")
    request = JobRequest(input=str(src), output_dir=str(tmp_path), to="happy", display_name="wall.mp4")
    with pytest.raises(TranslationError, match=r"^wall\.mp4: no face was found in any of its 3 frames"):
        worker.run_job(request, lambda *a: None)


def test_tqdm_bar_routed_to_on_progress():
    import tqdm

    seen: list[tuple[int, int | None]] = []
    with translating._tqdm_progress(lambda d, t: seen.append((d, t))):
        bar = tqdm.tqdm(total=4, unit="frame")
        bar.update(3)
        bar.update(1)
        bar.close()
    assert seen == [(0, 4), (3, 4), (4, 4)] and tqdm.tqdm.__name__ == "tqdm"


def _measured(identity: np.ndarray | None, opening: np.ndarray, sharpness: float, n: int = 40):
    from wav2lip_emotion.evaluation.realism import RealismTrack

    @dataclass
    class M:
        identity: np.ndarray | None
        opening: np.ndarray
        realism: RealismTrack
        features: np.ndarray

    track = RealismTrack(np.full(n, sharpness), np.full(n, 2.0), np.full(n, 0.9), np.full(n, 30.0))
    return M(identity, opening, track, np.zeros((0, 0)))


def test_realism_report_uses_the_realism_verdicts():
    t = np.linspace(0, 6, 40)
    src = _measured(np.zeros(128), np.sin(t), 100.0)
    good = worker.realism_report(src, _measured(np.full(128, 0.01), 0.8 * np.sin(t), 110.0), 0.4, video=True)
    assert good["passed"] is True and good["verdict"].startswith("realistic edit"), good
    checks = {c["name"]: c for c in good["checks"]}
    assert math.isclose(checks["identity distance"]["value"], 0.113, abs_tol=1e-3)
    assert checks["sharpness ratio"]["value"] == 1.1 and checks["sharpness ratio"]["passed"] is True
    assert checks["FD to source"]["value"] is None and checks["FD to source"]["passed"] is None  # no features
    blurred = worker.realism_report(src, _measured(np.full(128, 0.01), np.sin(t), 20.0), 0.4, video=True)
    assert blurred["passed"] is False and blurred["verdict"].startswith("not realistic: sharpness ratio 0.20")
    weak = worker.realism_report(src, _measured(np.full(128, 0.01), np.sin(t), 100.0), 0.05, video=True)
    assert weak["realistic"] is True and weak["verdict"].startswith("realistic face, but not an emotion edit")
    other = worker.realism_report(src, _measured(np.full(128, 0.1), np.sin(t), 100.0), 0.4, video=True)
    assert other["passed"] is False and "identity distance 1.13" in other["verdict"]
    photo = worker.realism_report(
        _measured(np.zeros(128), np.array([0.1]), 100.0, 1), _measured(None, np.array([0.2]), 100.0, 1), 0.3, False
    )
    names = {c["name"]: c for c in photo["checks"]}
    assert names["mouth-opening correlation"]["passed"] is None and photo["passed"] is True


def test_translate_capabilities_of_this_install():
    caps = worker.translate_capabilities()
    assert caps <= {"engine", "on_progress", "schedule", "glasses"}
    assert ("schedule" in caps) == ("engine" in caps)
    assert "glasses" in caps


@pytest.mark.parametrize(("engine", "passed"), [("mesh", True), ("model", False)])
def test_the_glasses_setting_reaches_the_mesh_engine_only(tmp_path, monkeypatch, engine, passed):
    import wav2lip_emotion.translation as translation

    seen: dict[str, object] = {}
    monkeypatch.setattr(translation, "translate", lambda src, out, to, **kw: seen.update(kw) or "done")
    result, notes = worker.call_translate(
        tmp_path / "in.mp4", tmp_path / "out.mp4", to="sad", engine=engine, checkpoint=None, intensity=1.0,
        source=None, side_by_side=None, on_progress=lambda done, of: None, glasses="on",
    )  # fmt: skip
    assert result == "done" and notes == []
    assert ("glasses" in seen) == passed and seen.get("glasses", "on") == "on"


def test_source_measurement_is_kept_for_the_next_job(tmp_path, monkeypatch):
    from wav2lip_emotion.evaluation.measure import VideoMeasurement

    calls: list[Path] = []

    def fake_measure(path, judge, identity, on_frame, features=None):
        calls.append(path)
        return VideoMeasurement(
            path=str(path),
            fps=25.0,
            judge="faceapi",
            classes=("neutral", "happy"),
            probs=np.array([[0.9, 0.1], [0.8, 0.2]]),
            opening=np.array([0.1, 0.2]),
            features=np.zeros((2, 3), np.float32),
            identity=np.zeros(128),
        )

    monkeypatch.setattr(analysis, "measure_media", fake_measure)
    src = tmp_path / "input" / "clip.mp4"
    src.parent.mkdir()
    src.write_bytes(b"video")
    first = analysis._cached_source(src, None, None, None, lambda *a: None, 2)
    again = analysis._cached_source(src, None, None, None, lambda *a: None, 2)
    assert len(calls) == 1 and np.array_equal(first.probs, again.probs) and again.identity is not None
    src.write_bytes(b"another video")  # a new file: measured again
    analysis._cached_source(src, None, None, None, lambda *a: None, 2)
    assert len(calls) == 2
