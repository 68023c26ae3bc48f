"""The web app's job runner: jobs in spawned processes, progress, one-line errors, cancel, queue limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wav2lip_emotion.app.jobs import AppError, JobRequest, JobRunner, JobState, resolve_work


def _request(tmp_path: Path, name: str = "job", **kw: object) -> JobRequest:
    out = tmp_path / name
    out.mkdir()
    return JobRequest(input=str(tmp_path / "clip.mp4"), output_dir=str(out), to="happy", **kw)  # type: ignore[arg-type]


def _wait_for(predicate, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_resolve_work_rejects_bad_specs():
    with pytest.raises(AppError, match="module:function"):
        resolve_work("no_colon")
    with pytest.raises(AppError, match="no such function"):
        resolve_work("tests.app_fakes:missing")


def test_jobs_run_in_order_with_progress_and_results(tmp_path):
    with JobRunner("tests.app_fakes:work_ok") as runner:
        first = runner.submit(_request(tmp_path, "a", intensity="0s:0,1s:1"), owner="x")
        second = runner.submit(_request(tmp_path, "b"), owner="y")
        a, b = runner.wait(first, 60), runner.wait(second, 60)
    assert a.state is JobState.DONE and b.state is JobState.DONE, (a, b)
    assert a.result is not None and a.result["intensity"] == "0s:0,1s:1" and a.result["to"] == "happy"
    assert (tmp_path / "a" / "result.mp4").read_bytes() == b"fake video"
    assert a.finished_at is not None and b.started_at is not None and b.started_at >= a.finished_at - 1e-6
    assert a.seconds is not None and a.seconds >= 0


def test_error_is_the_one_line_message(tmp_path):
    with JobRunner("tests.app_fakes:work_error", prestart=False) as runner:
        st = runner.wait(runner.submit(_request(tmp_path)), 60)
    assert st.state is JobState.FAILED
    assert st.error == f"{tmp_path / 'clip.mp4'}: not a media file PyAV can read, or corrupt"


def test_unexpected_error_and_crash_do_not_stop_the_runner(tmp_path):
    with JobRunner("tests.app_fakes:work_unexpected", prestart=False) as runner:
        st = runner.wait(runner.submit(_request(tmp_path, "u")), 60)
        assert st.state is JobState.FAILED and "unexpected error (RuntimeError: boom)" in (st.error or "")
    with JobRunner("tests.app_fakes:work_crash", prestart=False) as runner:
        st = runner.wait(runner.submit(_request(tmp_path, "c")), 60)
        assert st.state is JobState.FAILED and "exit code 3" in (st.error or ""), st
        st = runner.wait(runner.submit(_request(tmp_path, "d")), 60)  # the next job still runs
        assert st.state is JobState.FAILED and "exit code 3" in (st.error or "")


def test_cancel_kills_a_running_job_and_removes_its_folder(tmp_path):
    with JobRunner("tests.app_fakes:work_slow") as runner:
        running = runner.submit(_request(tmp_path, "slow"), owner="p")
        queued = runner.submit(_request(tmp_path, "next"), owner="q")
        _wait_for(lambda: runner.status(running).stage == "translating")
        assert runner.status(queued).state is JobState.QUEUED and runner.status(queued).ahead == 1
        assert runner.cancel(queued)
        assert runner.status(queued).state is JobState.CANCELLED and not (tmp_path / "next").exists()
        pid = int((tmp_path / "slow" / "started").read_text())
        t0 = time.monotonic()
        assert runner.cancel(running)
        st = runner.wait(running, 20)
        assert st.state is JobState.CANCELLED and time.monotonic() - t0 < 10
        assert not (tmp_path / "slow").exists()
        _wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10)
        assert not runner.cancel(running)  # already finished


def test_queue_and_owner_limits(tmp_path):
    with JobRunner("tests.app_fakes:work_slow", max_queued=1, max_per_owner=1, prestart=False) as runner:
        first = runner.submit(_request(tmp_path, "1"), owner="a")
        with pytest.raises(AppError, match="already has 1 job"):
            runner.submit(_request(tmp_path, "2"), owner="a")
        _wait_for(lambda: runner.status(first).state is JobState.RUNNING)
        runner.submit(_request(tmp_path, "3"), owner="b")
        with pytest.raises(AppError, match="queue is full"):
            runner.submit(_request(tmp_path, "4"), owner="c")
        assert runner.cancel_owner("a") == 1 and runner.cancel_owner("b") == 1
    with pytest.raises(AppError, match="shutting down"):
        runner.submit(_request(tmp_path, "5"))
