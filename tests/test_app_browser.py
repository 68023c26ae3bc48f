"""``wav2lip-emotion app`` end to end in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``make test`` installs) driven by Selenium.

The app is started as a user would (``python -m wav2lip_emotion app``); the browser uploads the real
``movie_hello`` clip (its first WAV2LIP_EMOTION_APP_CLIP_SECONDS seconds, default 1, with its speech cut
to the same length; 0 = the whole 8.3 s clip), translates it to happy with the mesh engine (the shipped
model where this install has no mesh engine), and checks that the result video appears, plays and has
the input's frame count; then a text file named .mp4 and a clip without a face, which must show the
command line's one-line errors. Closing the page must remove the session's files, stopping the server
the app's whole folder.

This test is never skipped on its own: deselect it with ``-m "not browser"``.
WAV2LIP_EMOTION_SCREENSHOT=PATH saves a screenshot of the page with the finished result;
WAV2LIP_EMOTION_APP_TIMINGS=PATH writes the start-up and upload-to-result times as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CLIP_SECONDS = float(os.environ.get("WAV2LIP_EMOTION_APP_CLIP_SECONDS", "1.0"))
TIMINGS: dict[str, Any] = {}
#: the server's limits in this test (the whole movie-hello.mp4 is 4.1 MB and 8.3 s)
MAX_MB, MAX_SECONDS = 50, 30


def _trimmed_clip(out: Path, seconds: float) -> Path:
    """The first ``seconds`` of movie_hello (video and speech), with the project's media code."""
    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.audio import load_audio
    from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video

    src = asset_path("movie_hello")
    if seconds <= 0:
        return src
    info = probe_video(src)
    speech = out.with_suffix(".wav")
    _write_wav(speech, load_audio(src)[: int(seconds * 16000)])
    frames = round(seconds * info.fps)
    with (
        VideoReader(src, max_frames=frames) as reader,
        VideoWriter(out, info.fps, info.width, info.height, audio_from=speech) as writer,
    ):
        for frame in reader:
            writer.write(frame.rgb)
    return out


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def _no_face_clip(out: Path, speech: Path) -> Path:
    """A few frames of a plain texture (no face), with speech so that every engine looks for the face."""
    from wav2lip_emotion.media import VideoWriter

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    with VideoWriter(out, 10.0, 320, 240, audio_from=speech) as w:
        for i in range(8):
            base = 120 + 60 * np.sin((xx + 7 * i) / 13.0) * np.cos(yy / 17.0)
            noise = rng.normal(0, 8, (240, 320))
            grey = np.clip(base + noise, 0, 255).astype(np.uint8)
            w.write(np.repeat(grey[..., None], 3, axis=2))
    return out


def _long_clip(out: Path, seconds: int) -> Path:
    """A tiny clip (64x48, 2 frames/s) lasting ``seconds``."""
    from wav2lip_emotion.media import VideoWriter

    with VideoWriter(out, 2.0, 64, 48) as w:
        for i in range(2 * seconds):
            w.write(np.full((48, 64, 3), (i * 5) % 255, np.uint8))
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    from wav2lip_emotion.audio import load_audio

    d = tmp_path_factory.mktemp("app_media")
    hello = _trimmed_clip(d / "movie-hello.mp4", CLIP_SECONDS)
    speech = d / "speech.wav"
    _write_wav(speech, load_audio(hello)[:16000])
    big = d / "big.mp4"
    with open(big, "wb") as f:  # sparse: instant, takes no disk
        f.truncate((MAX_MB + 1) * 1024 * 1024)
    long = _long_clip(d / "long.mp4", MAX_SECONDS + 1)
    bad = d / "notes.mp4"
    bad.write_text("These are my notes, not a video.\n" * 40)
    noface = _no_face_clip(d / "texture.mp4", speech)
    return {"hello": hello, "bad": bad, "noface": noface, "big": big, "long": long, "dir": d}


def _decoded_frames(path: Path) -> int:
    from wav2lip_emotion.media import VideoReader

    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("app_work")
    log = work / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "wav2lip_emotion", "app", "--port", str(port), "--workdir", str(work)]
    cmd += ["--max-upload-mb", str(MAX_MB), "--max-seconds", str(MAX_SECONDS)]
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
            if time.perf_counter() - t0 > 90:
                pytest.fail(f"the app did not answer in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        TIMINGS["startup_s"] = round(time.perf_counter() - t0, 2)
        roots = [p for p in work.iterdir() if p.name.startswith("wav2lip-emotion-app-")]
        assert len(roots) == 1, roots
        yield {"url": url, "root": roots[0], "log": log, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert not any(p.name.startswith("wav2lip-emotion-app-") for p in work.iterdir()), "the app left its files"
    if path := os.environ.get("WAV2LIP_EMOTION_APP_TIMINGS"):
        Path(path).write_text(json.dumps(TIMINGS, indent=1) + "\n")
    print(f"\napp timings: {TIMINGS}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for exe in (CHROMIUM, CHROMEDRIVER):
        assert Path(exe).exists(), f"{exe} is missing: apt-get install chromium chromium-driver (make test does)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1800",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _status(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#status").text.strip()


def _wait(driver: Any, predicate: Any, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            value = predicate()
            if value:
                return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; status: {_status(driver)!r}")


def _open(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"), 60, "the page")
    _wait(driver, lambda: _status(driver).startswith("Upload"), 30, "the page's first status")


def _upload(driver: Any, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))


def _click(driver: Any, elem_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#{elem_id}").click()


def _cli_error(args: list[str], cwd: Path) -> str:
    """The command line's one-line error for the same input (run in its folder, named as uploaded)."""
    proc = subprocess.run(
        [sys.executable, "-m", "wav2lip_emotion", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc
    lines = [line for line in proc.stderr.splitlines() if line.startswith("wav2lip-emotion: error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0].removeprefix("wav2lip-emotion: error: ")


def _engine_args(driver: Any) -> list[str]:
    """The CLI arguments of the engine the page has selected."""
    from selenium.webdriver.common.by import By

    label = driver.find_element(By.CSS_SELECTOR, "#engine input").get_attribute("value") or ""
    return ["--engine", "mesh"] if label.startswith("mesh") else []


def test_translate_in_the_browser(server, browser, media):
    from selenium.webdriver.common.by import By

    from wav2lip_emotion.media import probe_video

    driver = browser
    _open(driver, server["url"])
    sessions = server["root"] / "sessions"
    listed_frames = probe_video(media["hello"]).frame_count
    # what the decoder gives (the whole movie-hello.mp4 lists 250 frames in its header but decodes to 249)
    frames = _decoded_frames(media["hello"])
    t0 = time.perf_counter()
    _upload(driver, media["hello"])
    _wait(driver, lambda: _status(driver).startswith("Ready: movie-hello.mp4"), 60, "the upload")
    assert f"{listed_frames} frames" in _status(driver)
    _click(driver, "run")
    budget = 120 + 2.0 * frames  # seconds: the mesh engine does about 1 frame/s of 1280x720 on 2 busy cores
    done = _wait(driver, lambda: _status(driver).startswith(("Done", "Error", "Cancelled")), budget, "the result")
    status = _status(driver)
    assert status.startswith("Done"), status
    TIMINGS["upload_to_result_s"] = round(time.perf_counter() - t0, 2)
    TIMINGS["clip"] = f"movie-hello.mp4, first {CLIP_SECONDS:g} s ({frames} frames)" if CLIP_SECONDS else "whole"
    TIMINGS["engine"] = driver.find_element(By.CSS_SELECTOR, "#engine input").get_attribute("value")
    assert done and f"{frames} frames" in status

    video = _wait(driver, lambda: driver.find_element(By.CSS_SELECTOR, "#result-video video"), 30, "the video")
    src = video.get_attribute("src")
    assert src and src.startswith(server["url"]), src
    driver.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    _wait(driver, lambda: driver.execute_script("return arguments[0].readyState", video) >= 2, 30, "video data")
    _wait(driver, lambda: driver.execute_script("return arguments[0].currentTime", video) > 0.2, 30, "playback")
    duration = driver.execute_script("return arguments[0].duration", video)
    assert duration > 0.5 * frames / 30.0, duration

    produced = media["dir"] / "produced.mp4"
    with urllib.request.urlopen(src, timeout=30) as r:
        produced.write_bytes(r.read())
    assert probe_video(produced).frame_count == frames and _decoded_frames(produced) == frames

    realism = driver.find_element(By.CSS_SELECTOR, "#realism").text
    assert "identity distance" in realism and "Realism" in realism, realism
    assert driver.find_elements(By.CSS_SELECTOR, "#emotion-plot canvas, #emotion-plot svg")
    assert "Dark: result, light: source." in driver.find_element(By.CSS_SELECTOR, "#emotion-plot").text
    assert driver.find_elements(By.CSS_SELECTOR, "#closeup img")
    listed = driver.find_element(By.CSS_SELECTOR, "#downloads").text.replace("\n.", ".")
    for name in ("movie-hello_happy.mp4", "movie-hello_happy_side_by_side.mp4", "summary.json"):
        assert name in listed, listed
    anchors = driver.find_elements(By.CSS_SELECTOR, "#downloads a[download]")
    assert len(anchors) == 3
    summary_url = next(a.get_attribute("href") for a in anchors if a.get_attribute("download") == "summary.json")
    with urllib.request.urlopen(summary_url, timeout=30) as r:
        summary = json.loads(r.read())
    assert summary["translation"]["frames"] == frames and summary["files"]["result"] == "movie-hello_happy.mp4"
    assert str(server["root"]) not in json.dumps(summary)
    TIMINGS["job_seconds"] = summary["seconds"]
    if shot := os.environ.get("WAV2LIP_EMOTION_SCREENSHOT"):
        driver.execute_script("arguments[0].pause(); arguments[0].currentTime = 0.5;", video)
        time.sleep(1.0)
        driver.save_screenshot(shot)

    # the page's session owns a folder; leaving the page removes it
    assert len(list(sessions.iterdir())) >= 1
    driver.get("about:blank")
    _wait(driver, lambda: not any(sessions.iterdir()), 60, "the session's files to go")


def test_bad_uploads_show_the_command_line_error(server, browser, media):
    from selenium.webdriver.common.by import By

    driver = browser
    _open(driver, server["url"])
    _upload(driver, media["bad"])
    _wait(driver, lambda: _status(driver).startswith("Error:"), 60, "the error of a text file named .mp4")
    cli = _cli_error(["translate", "notes.mp4", "-o", "out.mp4", "--to", "happy"], media["dir"])
    assert _status(driver) == f"Error: {cli}"
    assert "notes.mp4" in cli and str(server["root"]) not in _status(driver)

    _upload(driver, media["long"])
    _wait(driver, lambda: _status(driver).startswith("Error: long.mp4"), 60, "the error of a clip over the time limit")
    assert (
        _status(driver)
        == f"Error: long.mp4: lasts {MAX_SECONDS + 1:.1f} s, longer than this server's limit of {MAX_SECONDS} s"
    )

    _upload(driver, media["big"])  # refused by the page before it is sent
    toast = f'File(s) exceed the maximum allowed size of {MAX_MB:.1f} Mb: "big.mp4"'
    _wait(driver, lambda: toast in driver.find_element(By.TAG_NAME, "body").text, 30, "the size limit's message")

    _upload(driver, media["noface"])
    _wait(driver, lambda: _status(driver).startswith("Ready: texture.mp4"), 60, "the no-face clip's upload")
    _click(driver, "run")
    _wait(driver, lambda: _status(driver).startswith("Error:"), 150, "the no-face error")
    cli = _cli_error(
        ["translate", "texture.mp4", "-o", "out.mp4", "--to", "happy", *_engine_args(driver)], media["dir"]
    )
    assert _status(driver) == f"Error: {cli}"
    assert "no face" in cli

    # a running job can be cancelled from the page
    driver.find_element(By.CSS_SELECTOR, "#upload button[aria-label='Clear']").click()
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"), 30, "a cleared upload")
    _upload(driver, media["hello"])
    _wait(driver, lambda: _status(driver).startswith("Ready: movie-hello.mp4"), 60, "the upload")
    _click(driver, "run")
    _wait(driver, lambda: _status(driver).startswith(("Starting", "Loading", "Translating")), 60, "the job's start")
    _click(driver, "cancel")
    _wait(driver, lambda: _status(driver) == "Cancelled.", 30, "the cancelled job")
