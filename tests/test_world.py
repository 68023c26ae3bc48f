"""The generated world: rig behaviour, MEAD layout, aligned ground truth, determinism, lip sync."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wav2lip_emotion.audio import load_audio
from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.media import probe_video
from wav2lip_emotion.world.rig import EMOTION_AUS, LOWER_INNER, UPPER_INNER, FaceRig, RigFrame, emotion_aus
from wav2lip_emotion.world.speech import envelope
from wav2lip_emotion.world.synth import WorldConfig, blinks, load_manifest, synthesize, time_warp


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    config = WorldConfig(
        actors=1,
        sentences=1,
        emotions=("neutral", "happy"),
        levels=(3,),
        size=96,
        procedural_identities=False,
        max_seconds=2.0,
    )
    synthesize(config, root)
    return root


@pytest.fixture(scope="module")
def rig():
    from wav2lip_emotion.world.identities import identity_pool

    ident = identity_pool(1, seed=0, procedural=False)[0]
    return FaceRig(ident.image, ident.landmarks)


def _opening(lm: np.ndarray) -> float:
    """Inner-lip opening along the face's vertical axis, in inter-ocular distances."""
    ax = lm[263] - lm[33]
    iod = float(np.linalg.norm(ax))
    down = np.array([-ax[1], ax[0]]) / iod
    return float((lm[14] - lm[13]) @ down) / iod


def test_rig_moves_what_each_control_says(rig):
    _, rest = rig.render(RigFrame())
    _, open_ = rig.render(RigFrame(jaw=1.0))
    assert _opening(open_) > _opening(rest) + 0.08  # the jaw opens the lips
    _, smile = rig.render(RigFrame(aus=emotion_aus("happy", 3)))
    up = lambda lm: -((lm[61] + lm[291]) / 2 - (lm[13] + lm[14]) / 2)[1]  # noqa: E731 corners above lip centre
    assert up(smile) > up(rest) + 2.0
    _, sad = rig.render(RigFrame(aus=emotion_aus("sad", 3)))
    assert up(sad) < up(rest) - 2.0
    _, closed = rig.render(RigFrame(blink=1.0))
    assert np.linalg.norm(closed[159] - closed[145]) < 0.3 * np.linalg.norm(rest[159] - rest[145])
    # levels scale the expression
    assert emotion_aus("happy", 1)["AU12"] < emotion_aus("happy", 2)["AU12"] < emotion_aus("happy", 3)["AU12"]
    assert set(EMOTION_AUS) == {"angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised"}


def test_pressed_lips_never_cross(rig):
    for emo in ("angry", "sad", "disgusted"):
        for jaw in (0.0, 0.2):
            _, lm = rig.render(RigFrame(jaw=jaw, aus=emotion_aus(emo, 3)))
            assert _opening(lm) >= -1e-6, emo
            ys = lm[list(LOWER_INNER), 1] - lm[list(UPPER_INNER), 1]
            assert ys.min() > -0.5


def test_mead_layout_and_manifest(world):
    m = load_manifest(world)
    assert [a["real"] for a in m["actors"]] == [True]
    actor = m["actors"][0]["actor"]
    for emo, lv in (("neutral", 1), ("happy", 3)):
        video = world / actor / "video" / "front" / emo / f"level_{lv}" / "001.mp4"
        wav = world / actor / "audio" / emo / f"level_{lv}" / "001.wav"
        info = probe_video(video)
        assert info.fps == pytest.approx(25.0) and (info.width, info.height) == (96, 96) and info.has_audio
        assert abs(len(load_audio(wav)) / 16000 - info.duration) < 0.1
    # aligned ground truth: the neutral take rendered happy, with the neutral take's timing and pose
    aligned = world / "aligned" / actor / "neutral" / "level_1" / "001" / "happy_level_3.npz"
    src = np.load(world / actor / "meta" / "neutral" / "level_1" / "001.npz")
    gt = np.load(aligned)
    for key in ("jaw", "blink", "roll", "tx", "ty", "scale"):
        assert np.array_equal(src[key], gt[key]), key
    assert json.loads(str(gt["aus"])) == pytest.approx(emotion_aus("happy", 3))
    assert probe_video(aligned.with_suffix(".mp4")).frame_count == len(src["jaw"])
    # the happy TAKE is a different performance (time warp, own blinks), not the aligned render
    take = np.load(world / actor / "meta" / "happy" / "level_3" / "001.npz")
    assert not np.array_equal(take["blink"], src["blink"]) or not np.array_equal(take["roll"], src["roll"])


def test_mouth_follows_the_audio(world):
    m = load_manifest(world)
    for take in m["takes"]:
        meta = np.load(world / take["meta"])
        lm = meta["landmarks"]
        opening = np.array([_opening(f) for f in lm])
        env = envelope(load_audio(world / take["audio"]), 16000, 25.0, n_frames=len(opening))
        assert np.corrcoef(opening, env)[0, 1] >= 0.7, take["video"]


def test_determinism(tmp_path, world):
    config = WorldConfig(
        actors=1,
        sentences=1,
        emotions=("neutral", "happy"),
        levels=(3,),
        size=96,
        procedural_identities=False,
        max_seconds=2.0,
        aligned=False,
    )
    synthesize(config, tmp_path)
    a = np.load(tmp_path / "R001" / "meta" / "happy" / "level_3" / "001.npz")
    b = np.load(world / "R001" / "meta" / "happy" / "level_3" / "001.npz")
    assert np.array_equal(a["landmarks"], b["landmarks"]) and np.array_equal(a["jaw"], b["jaw"])


def test_interrupted_run_resumes_without_redoing_finished_videos(tmp_path, monkeypatch):
    import wav2lip_emotion.world.synth as synth

    config = WorldConfig(
        actors=1,
        sentences=1,
        emotions=("neutral", "happy"),
        levels=(3,),
        size=96,
        procedural_identities=False,
        max_seconds=1.5,
        aligned=False,
    )
    real_write = synth._write_video
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while rendering the second video
        return real_write(*args, **kwargs)

    monkeypatch.setattr(synth, "_write_video", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        synthesize(config, tmp_path)
    first = calls[0]
    assert first.exists() and not calls[1].exists()
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob(".*.tmp"))
    stamp = first.stat().st_mtime_ns
    calls.clear()
    synthesize(config, tmp_path)
    assert len(calls) == 1  # only the video that was in progress is rendered again
    assert first not in calls and first.stat().st_mtime_ns == stamp  # finished work kept, not redone
    assert len(load_manifest(tmp_path)["takes"]) == 2


def test_helpers_and_config_errors():
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 60, 16000)).astype(np.float32)
    assert np.array_equal(time_warp(x, 0.0, rng), x)
    warped = time_warp(x, 0.1, rng)
    assert len(warped) == len(x) and not np.allclose(warped, x)
    b = blinks(500, 25.0, np.random.default_rng(1))
    assert 2 <= (np.diff((b > 0.5).astype(int)) == 1).sum() <= 10  # one blink every 2-5 s over 20 s
    with pytest.raises(ConfigError, match="levels"):
        WorldConfig(levels=(4,))
    with pytest.raises(ConfigError, match="unknown emotion"):
        WorldConfig(emotions=("joyful-ish",))


def test_synth_command(tmp_path, capsys):
    from wav2lip_emotion.cli import main

    code = main(
        [
            "synth",
            "--out",
            str(tmp_path),
            "--actors",
            "1",
            "--sentences",
            "1",
            "--emotions",
            "neutral,sad",
            "--size",
            "96",
            "--identities",
            "real",
            "--no-aligned",
            "-q",
        ]
    )
    assert code == 0
    assert "1 actors (1 real photos" in capsys.readouterr().out
    assert (tmp_path / "world.json").exists()


def test_aligned_ground_truth_for_chosen_actors_only(tmp_path) -> None:
    from wav2lip_emotion.world.synth import WorldConfig, synthesize

    config = WorldConfig(
        actors=2, sentences=1, emotions=("neutral", "happy"), size=64, procedural_identities=False,
        max_seconds=0.6, aligned_actors=("R002",),
    )  # fmt: skip
    manifest = synthesize(config, tmp_path / "w")
    assert len(manifest.takes) == 4
    assert {a["actor"] for a in manifest.aligned} == {"R002"} and len(manifest.aligned) == 2
    assert not (tmp_path / "w" / "aligned" / "R001").exists()
