"""The web app without a browser: input checks, limits, sessions and their folders, what the page shows."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from wav2lip_emotion.app import AppError, AppOptions, AppService, JobRunner, JobState, Limits
from wav2lip_emotion.app.inputs import EMOTION_CHOICES, EngineCatalogue, check_media, inside, public_message, safe_stem
from wav2lip_emotion.app.jobs import JobStatus
from wav2lip_emotion.app.service import emotion_rows, error_of, plot_style, progress_of, realism_markdown
from wav2lip_emotion.cli import main
from wav2lip_emotion.emotions import EMOTIONS
from wav2lip_emotion.errors import MediaError
from wav2lip_emotion.media import VideoWriter, write_image


def _video(path: Path, frames: int = 10, fps: float = 10.0) -> Path:
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps, 64, 48) as w:
        for _ in range(frames):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return path


@pytest.fixture
def service(tmp_path):
    runner = JobRunner("tests.app_fakes:work_ok", prestart=False)
    svc = AppService(AppOptions(workdir=tmp_path / "work", mesh=True), runner=runner)
    yield svc
    svc.close()


def _upload(svc: AppService, src: Path, name: str | None = None) -> Path:
    """Put a file where the web server stores an upload: ROOT/<hash>/<name>."""
    folder = svc.root / "0123abcd"
    folder.mkdir(exist_ok=True)
    return Path(shutil.copyfile(src, folder / (name or src.name)))


def test_check_media_messages_name_the_file_not_the_server_path(tmp_path):
    fake = tmp_path / "deep" / "x"
    fake.mkdir(parents=True)
    (fake / "notes.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError) as exc:
        check_media(fake / "notes.mp4", "notes.mp4", Limits())
    assert str(exc.value).startswith("notes.mp4: ") and str(tmp_path) not in str(exc.value)
    with pytest.raises(AppError, match=r"report.pdf: not a video or photo this app takes"):
        check_media(fake / "notes.mp4", "report.pdf", Limits())


def test_check_media_limits_and_kinds(tmp_path):
    clip = _video(tmp_path / "clip.mp4", frames=20, fps=10.0)
    info = check_media(clip, "clip.mp4", Limits())
    assert (info.kind, info.frames, info.width, info.height) == ("video", 20, 64, 48)
    assert "clip.mp4: video 64x48, 20 frames" in info.describe()
    with pytest.raises(AppError, match=r"clip.mp4: lasts 2.0 s, longer than this server's limit of 1.5 s"):
        check_media(clip, "clip.mp4", Limits(max_seconds=1.5))
    big = tmp_path / "big.mp4"
    big.write_bytes(bytes(2 * 1024 * 1024))
    with pytest.raises(AppError, match=r"big\.mp4: 2 MB, more than this server's upload limit of 1 MB"):
        check_media(big, "big.mp4", Limits(max_bytes=1024 * 1024))
    photo = write_image(tmp_path / "face.png", np.zeros((30, 40, 3), np.uint8))
    assert check_media(photo, "face.png", Limits()).kind == "image"


def test_the_menu_offers_every_emotion_of_the_vocabulary():
    assert sorted(EMOTION_CHOICES) == sorted(EMOTIONS) and EMOTION_CHOICES[0] == "happy"


def test_paths_and_names():
    assert public_message("/srv/a/b.mp4: bad\nsecond", {"/srv/a/b.mp4": "b.mp4"}) == "b.mp4: bad second"
    assert safe_stem("../../etc/pass wd.mp4") == "pass_wd"
    assert safe_stem("...") == "input"


def test_engines_by_label_only(tmp_path):
    (tmp_path / "ck" / "sub").mkdir(parents=True)
    (tmp_path / "ck" / "sub" / "mine.safetensors").write_bytes(b"x")
    cat = EngineCatalogue(tmp_path / "ck", mesh=True)
    assert cat.resolve("model: sub/mine.safetensors") == ("model", (tmp_path / "ck" / "sub" / "mine.safetensors"))
    assert cat.resolve(cat.labels[0])[0] == "mesh"
    with pytest.raises(AppError, match="not one of this server's engines"):
        cat.resolve("/etc/passwd")
    with pytest.raises(AppError, match="must be a folder"):
        EngineCatalogue(tmp_path / "missing")


def test_upload_must_come_from_the_server(service, tmp_path):
    clip = _video(tmp_path / "clip.mp4")
    with pytest.raises(AppError, match=r"clip\.mp4: not a file uploaded to this server"):
        service.set_upload("s1", clip)  # outside the app's folder
    assert not inside("/etc/passwd", [service.root])
    link = service.root / "sneaky.mp4"
    link.symlink_to(clip)
    with pytest.raises(AppError, match="not a file uploaded"):
        service.set_upload("s1", link)
    uploaded = _upload(service, clip)
    got = service.set_upload("s1", uploaded)
    assert got.name == "clip.mp4" and inside(got.path, [service.sessions_root]) and not uploaded.exists()
    service.clear_input("s1")
    assert not got.path.exists()
    with pytest.raises(AppError, match="upload a video or photo, or pick a sample, first"):
        service.submit("s1", engine=service.engines.default, to="happy")


def test_bad_upload_gives_the_one_line_error(service, tmp_path):
    (tmp_path / "bad.mp4").write_text("not a video at all\n" * 10)
    uploaded = _upload(service, tmp_path / "bad.mp4")
    with pytest.raises(MediaError) as exc:
        service.set_upload("s1", uploaded)
    line = error_of(exc.value)
    assert line.startswith("Error: bad.mp4: ") and "\n" not in line and str(service.root) not in line
    with pytest.raises(AppError, match="upload a video or photo, or pick a sample, first"):
        service.submit("s1", engine=service.engines.default, to="happy")


def test_submit_checks_every_choice_and_runs(service, tmp_path):
    service.set_upload("s1", _upload(service, _video(tmp_path / "clip.mp4")))
    mesh = service.engines.default
    with pytest.raises(AppError, match="not one of the emotions"):
        service.submit("s1", engine=mesh, to="../../x")
    with pytest.raises(AppError, match="not one of this server's engines"):
        service.submit("s1", engine="/tmp/evil.safetensors", to="happy")
    with pytest.raises(AppError, match=r"intensity must be a number in 0\.\.1\.5"):
        service.submit("s1", engine=mesh, to="happy", intensity=2.0)
    with pytest.raises(AppError, match="glasses must be one of auto, on, off"):
        service.submit("s1", engine=mesh, to="happy", glasses="always")
    job = service.submit("s1", engine=mesh, to="sad", intensity=0.5, schedule=" 0s:0, 1s:1 ", glasses="on")
    statuses = list(service.watch(job, interval=0.05))
    assert statuses[-1].state is JobState.DONE
    result = statuses[-1].result or {}
    assert result["intensity"] == "0s:0, 1s:1" and result["engine"] == "mesh" and result["to"] == "sad"
    assert result["glasses"] == "on"
    files = service.job_files(job)
    assert set(files) == {"result", "summary"} and all(inside(p, [service.sessions_root]) for p in files.values())
    assert progress_of(statuses[-1]).text.startswith("Done in ")


def test_closing_a_page_cancels_its_job_and_removes_its_files(tmp_path):
    runner = JobRunner("tests.app_fakes:work_slow", prestart=False)
    svc = AppService(AppOptions(workdir=tmp_path / "work", mesh=True), runner=runner)
    try:
        svc.set_upload("p", _upload(svc, _video(tmp_path / "clip.mp4")))
        job = svc.submit("p", engine=svc.engines.default, to="happy")
        folder = svc.session("p").folder
        assert folder.is_dir() and svc.open_sessions == 1
        svc.end_session("p")
        assert not folder.exists() and svc.open_sessions == 0
        assert runner.wait(job, 20).state is JobState.CANCELLED
    finally:
        svc.close()
    assert not svc.root.exists()


def test_what_the_page_shows():
    summary = {
        "to": "happy",
        "notes": ["a note"],
        "analysis": {
            "judge": "faceapi",
            "classes": ["neutral", "happy", "sad"],
            "times": [0.0, 0.1],
            "source": {
                "probs": [[0.8, 0.1, 0.1], [None, None, None]],
                "mean": {"neutral": 0.8, "happy": 0.1, "sad": 0.1},
            },
            "result": {
                "probs": [[0.3, 0.6, 0.1], [0.2, 0.7, 0.1]],
                "mean": {"neutral": 0.25, "happy": 0.65, "sad": 0.1},
            },
            "destination_gain": 0.55,
            "realism": {
                "source": "measure.py",
                "verdict": "realistic",
                "checks": [{"name": "identity distance", "value": 0.3, "limit": "< 0.6", "passed": True}],
            },
        },
    }
    rows = emotion_rows(summary, "happy", top=1)
    assert {r["series"] for r in rows} == {"source: happy", "source: neutral", "result: happy", "result: neutral"}
    assert len(rows) == 2 + 4  # the source's second frame has no face
    colours, caption = plot_style(rows)
    assert colours["result: happy"] != colours["source: happy"] and len(set(colours.values())) == 4
    assert caption == "green p(happy); orange p(neutral). Dark: result, light: source."
    md = realism_markdown(summary)
    assert "identity distance | 0.300 | < 0.6 | pass" in md and "source 0.10 -> result 0.65 (+0.55)" in md
    assert "Note: a note" in md
    assert realism_markdown({"analysis": {"error": "x.mp4: no face"}}) == "**Realism:** not measured (x.mp4: no face)"
    queued = JobStatus(id="j", state=JobState.QUEUED, ahead=2)
    assert progress_of(queued).text == "Waiting in the queue (2 jobs ahead)..."
    running = JobStatus(id="j", state=JobState.RUNNING, stage="translating", done=30, total=60)
    p = progress_of(running)
    assert p.text == "Translating... 50%" and 0.05 < (p.fraction or 0) < 0.7
    failed = JobStatus(id="j", state=JobState.FAILED, error="x.mp4: no face was found")
    assert progress_of(failed).text == "Error: x.mp4: no face was found"


def test_cli_app_help_and_missing_extra(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["app", "--help"])
    assert exc.value.code == 0 and "--max-upload-mb" in capsys.readouterr().out
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    assert main(["app", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the web app needs Gradio" in err and "[app]" in err
