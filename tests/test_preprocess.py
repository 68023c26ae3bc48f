"""Preprocessing MEAD, LRS2 and world layouts into the face cache: shapes, resume, bad videos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from wav2lip_emotion.data.cache import FaceCache
from wav2lip_emotion.data.layouts import discover
from wav2lip_emotion.data.preprocess import PreprocessConfig, preprocess
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.world.synth import WorldConfig, synthesize


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    synthesize(
        WorldConfig(
            actors=1,
            sentences=2,
            emotions=("neutral", "happy"),
            levels=(3,),
            size=96,
            procedural_identities=False,
            aligned=False,
            max_seconds=1.6,
        ),
        root,
    )
    return root


def _wav_to_m4a(wav: Path, out: Path) -> None:
    """An AAC .m4a like MEAD's separate audio files."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(wav)) as src, av.open(str(out), "w", format="mp4") as dst:
        stream = dst.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)


def test_world_layout_to_cache(world, tmp_path):
    out = tmp_path / "cache"
    summary = preprocess(PreprocessConfig("world", world, out, size=48, workers=1), progress=False)
    assert (summary.total, summary.done, len(summary.failed)) == (4, 4, 0)
    cache = FaceCache(out)
    assert cache.info.size == 48 and cache.info.fps == 25.0
    for video in cache:
        frames, masks, found, mel = (
            cache.frames(video.id),
            cache.masks(video.id),
            cache.found(video.id),
            cache.mel(video.id),
        )
        assert frames.shape == (video.frames, 48, 48, 3) and frames.dtype == np.uint8
        assert masks.shape == (video.frames, 48, 48) and set(np.unique(masks)) <= {0, 255}
        assert found.all() and mel.shape[0] == 80 and mel.dtype == np.float32
        assert abs(mel.shape[1] - video.frames * 80 / 25) <= 4  # 80 mel steps per second of video
        assert masks[:, 24, 24].all() and not masks[:, 0, 0].any()  # face centre inside, corner outside
        assert video.actor == "R001" and video.emotion in ("neutral", "happy") and video.gender == "female"
    assert {v.sentence for v in cache} == {"001", "002"}


def test_resume_after_a_kill_loses_nothing_and_duplicates_nothing(world, tmp_path, monkeypatch):
    import wav2lip_emotion.data.preprocess as pp

    out = tmp_path / "cache"
    config = PreprocessConfig("world", world, out, size=48)
    real = pp.process_video
    calls: list[str] = []

    def killed_on_third(video, cfg):
        calls.append(video.id)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third video
        return real(video, cfg)

    monkeypatch.setattr(pp, "process_video", killed_on_third)
    with pytest.raises(KeyboardInterrupt):
        preprocess(config, progress=False)
    assert len(FaceCache(out)) == 2
    assert not list((out / "videos").glob(".tmp-*"))
    calls.clear()
    summary = preprocess(config, progress=False)
    assert (summary.skipped, summary.done) == (2, 2) and len(calls) == 2  # only the unfinished two
    assert len(FaceCache(out)) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["videos"]) == 4


def test_bad_videos_are_skipped_and_reported(world, tmp_path):
    src = tmp_path / "world"
    shutil.copytree(world, src)
    bad = src / "R001" / "video" / "front" / "sad" / "level_3" / "001.mp4"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x00\x00\x00 this is not a video" * 50)
    half = src / "R001" / "video" / "front" / "happy" / "level_3" / "002.mp4"
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 3])
    out = tmp_path / "cache"
    summary = preprocess(PreprocessConfig("world", src, out, size=48), progress=False)
    assert summary.done == 3 and set(summary.failed) == {"R001/front/sad/level_3/001", "R001/front/happy/level_3/002"}
    failed = json.loads((out / "failed.json").read_text())
    assert "001.mp4" in failed["R001/front/sad/level_3/001"]
    assert "skipped R001/front/sad/level_3/001" in summary.describe()
    assert len(FaceCache(out)) == 3


def test_mead_layout_with_separate_audio_files(world, tmp_path):
    mead = tmp_path / "MEAD"
    for video in sorted(world.glob("R001/video/front/*/level_*/*.mp4")):
        rel = video.relative_to(world / "R001")
        target = mead / "M003" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
        emotion, level, name = rel.parts[2], rel.parts[3], video.stem
        _wav_to_m4a(
            world / "R001" / "audio" / emotion / level / f"{name}.wav",
            mead / "M003" / "audio" / emotion / level / f"{name}.m4a",
        )
    found = discover("mead", mead)
    assert [v.id for v in found][:1] == ["M003/front/happy/level_3/001"]
    assert all(v.audio is not None and v.audio.suffix == ".m4a" and v.gender == "male" for v in found)
    out = tmp_path / "cache"
    summary = preprocess(PreprocessConfig("mead", mead, out, size=48, emotions=("happy",)), progress=False)
    assert summary.done == 2 and not summary.failed
    assert all(v.audio_source.endswith(".m4a") for v in FaceCache(out))


def test_lrs2_layout(world, tmp_path):
    lrs2 = tmp_path / "mvlrs_v1" / "main"
    for i, video in enumerate(sorted(world.glob("R001/video/front/*/level_*/*.mp4"))):
        target = lrs2 / f"600000000000000{i % 2}" / f"0000{i}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
    out = tmp_path / "cache"
    summary = preprocess(PreprocessConfig("lrs2", tmp_path / "mvlrs_v1", out, size=48), progress=False)
    assert summary.done == 4
    ids = sorted(FaceCache(out).videos)
    assert ids[0] == "6000000000000000/00000" and all(v.emotion is None for v in FaceCache(out))


def test_config_errors(world, tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        preprocess(PreprocessConfig("mead", tmp_path / "nothing", tmp_path / "c"), progress=False)
    with pytest.raises(ConfigError, match="no mead-layout videos"):
        preprocess(PreprocessConfig("mead", tmp_path, tmp_path / "c"), progress=False)
    out = tmp_path / "c2"
    preprocess(PreprocessConfig("world", world, out, size=48, emotions=("neutral",)), progress=False)
    with pytest.raises(ConfigError, match="size 48"):
        preprocess(PreprocessConfig("world", world, out, size=64), progress=False)


def test_preprocess_command_with_workers(world, tmp_path, capsys):
    from wav2lip_emotion.cli import main

    code = main(
        [
            "preprocess",
            "--layout",
            "world",
            "--src",
            str(world),
            "--out",
            str(tmp_path / "c"),
            "--size",
            "48",
            "--workers",
            "2",
            "-q",
        ]
    )
    assert code == 0
    assert "4 videos: 4 preprocessed" in capsys.readouterr().out
