"""Training against the generated world's aligned ground truth, and the unmasked ("none") prior.

The world renders every take again in the other emotions with the same timing and pose (``aligned/``);
``preprocess --aligned`` caches those renders cropped with their take's own face track, and
``data.targets = "aligned"`` makes them the L1 targets: the take's frames in the destination emotion,
frame for frame, with the take's audio.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from wav2lip_emotion.checkpoints import read_checkpoint
from wav2lip_emotion.cli import main
from wav2lip_emotion.data.cache import FaceCache
from wav2lip_emotion.data.dataset import SampleConfig, TalkingFaceDataset
from wav2lip_emotion.data.layouts import discover_aligned
from wav2lip_emotion.data.pairing import PairIndex, PairingConfig
from wav2lip_emotion.data.preprocess import PreprocessConfig, preprocess
from wav2lip_emotion.errors import ConfigError, DataError
from wav2lip_emotion.faces.crop import MaskMode, face_mask
from wav2lip_emotion.train import Trainer, load_config
from wav2lip_emotion.translation.translator import EmotionTranslator
from wav2lip_emotion.world.synth import WorldConfig, synthesize

TAKE = "R001/front/neutral/level_1/001"
ALIGNED = f"aligned/{TAKE}/happy_level_3"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Two real-photo actors, one sentence, neutral and happy level 3, with the aligned renders."""
    root = tmp_path_factory.mktemp("aligned_world") / "world"
    config = WorldConfig(
        actors=2,
        sentences=1,
        emotions=("neutral", "happy"),
        levels=(3,),
        size=96,
        procedural_identities=False,
        aligned=True,
        max_seconds=1.6,
    )
    synthesize(config, root)
    return root


@pytest.fixture(scope="module")
def cache(world: Path) -> Path:
    out = world.parent / "cache"
    summary = preprocess(PreprocessConfig("world", world, out, size=48, workers=2, aligned=True), progress=False)
    assert (summary.total, summary.done, len(summary.failed)) == (8, 8, 0)
    return out


def test_discover_aligned_names_the_take_and_the_render(world: Path) -> None:
    renders = discover_aligned(world)
    assert [v.id for v in renders] == [
        "aligned/R001/front/happy/level_3/001/neutral_level_1",
        ALIGNED,
        "aligned/R002/front/happy/level_3/001/neutral_level_1",
        "aligned/R002/front/neutral/level_1/001/happy_level_3",
    ]
    v = renders[1]
    assert (v.emotion, v.level, v.aligned_from, v.actor, v.sentence) == ("happy", 3, TAKE, "R001", "001")
    assert v.track_video == world / "R001/video/front/neutral/level_1/001.mp4"
    assert v.audio == world / "R001/audio/neutral/level_1/001.wav"
    assert [r.id for r in discover_aligned(world, emotions=("neutral", "sad"))] == []  # happy is filtered out
    assert len(discover_aligned(world, levels=(3,))) == 4  # neutral passes any level filter


def test_aligned_renders_are_cached_with_their_takes_face_track(cache: Path) -> None:
    c = FaceCache(cache)
    assert len(c) == 8
    assert sorted(r.id for r in c.records()) == sorted(v.id for v in c if v.aligned_from is None)
    assert len(c.records()) == 4  # the renders are targets, never records to split or pair
    assert c.aligned_renders()[(TAKE, "happy", 3)] == ALIGNED
    meta = c.videos[ALIGNED]
    assert (meta.emotion, meta.level, meta.aligned_from) == ("happy", 3, TAKE)
    # the same crop boxes as the take: the same face masks and found flags, frame for frame
    np.testing.assert_array_equal(np.asarray(c.masks(ALIGNED)), np.asarray(c.masks(TAKE)))
    np.testing.assert_array_equal(np.asarray(c.found(ALIGNED)), np.asarray(c.found(TAKE)))
    np.testing.assert_array_equal(np.asarray(c.mel(ALIGNED)), np.asarray(c.mel(TAKE)))  # the take's audio
    # pixels line up: the render is closer to its take than the destination take of another performance
    take, render = np.asarray(c.frames(TAKE), np.float32), np.asarray(c.frames(ALIGNED), np.float32)
    other = np.asarray(c.frames("R001/front/happy/level_3/001"), np.float32)
    n = min(len(take), len(other))
    assert np.abs(render - take).mean() < 0.8 * np.abs(other[:n] - take[:n]).mean()


def test_aligned_targets_in_samples(cache: Path) -> None:
    c = FaceCache(cache)
    pairing = PairingConfig(pairs=(("neutral", "happy"),), targets_from="aligned", prior_from="source", mask="none")
    pairs = PairIndex(c.records(), pairing)
    ds = TalkingFaceDataset(c, pairs, SampleConfig(window=5, seed=3))
    assert len(ds.plans) == 2 and {p.target_id for p in ds.plans} == {ALIGNED, ALIGNED.replace("R001", "R002")}
    for i in range(4):
        s = ds.sample(i, epoch=0)
        plan = ds.plans[ds.plan_of(i)]
        t0 = s["target_start"]
        want = torch.from_numpy(np.array(c.frames(plan.target_id)[t0 : t0 + 5])).permute(3, 0, 1, 2) / 255.0
        torch.testing.assert_close(s["targets"], want)
        # prior: the source take at the same frames, nothing hidden (mask "none")
        prior = torch.from_numpy(np.array(c.frames(plan.prior_id)[t0 : t0 + 5])).permute(3, 0, 1, 2) / 255.0
        assert plan.prior_id == plan.reference_id and plan.prior_id.endswith("neutral/level_1/001")
        torch.testing.assert_close(s["faces"][:3], prior)
    # the other direction, with the half mask: the lower half of the prior is hidden
    back = PairIndex(c.records(), PairingConfig(pairs=(("happy", "neutral"),), targets_from="aligned", mask="half"))
    s = TalkingFaceDataset(c, back).sample(0, epoch=0)
    assert s["faces"][:3, :, 24:].abs().sum() == 0 and s["faces"][:3, :, :24].abs().sum() > 0


def test_pairs_without_a_cached_render_are_dropped_with_the_reason(cache: Path, tmp_path: Path) -> None:
    bare = tmp_path / "cache"
    shutil.copytree(cache, bare)
    shutil.rmtree(bare / "videos" / "aligned")
    c = FaceCache(bare)
    pairs = PairIndex(c.records(), PairingConfig(pairs=(("neutral", "happy"),), targets_from="aligned"))
    with pytest.raises(DataError, match="no aligned render in happy level 3 in the cache"):
        TalkingFaceDataset(c, pairs)


def _config(cache: Path, out: Path, **data: object) -> dict:
    return {
        "stage": "conditional",
        "model": {"profile": "tiny", "mask": "none", "discriminator": "none"},
        "data": {"cache": str(cache), "val_actors": 1, "test_actors": 0, "targets": "aligned", **data},
        "loss": {"gan": 0.0, "sync": 0.0},
        "optim": {"batch_size": 2},
        "schedule": {"steps": 2, "eval_every": 2, "eval_at_start": False, "eval_batches": 1, "save_every": 2},
        "runtime": {"output": str(out), "progress": False, "judge": "none", "tensorboard": False},
    }


def test_conditional_model_trained_on_aligned_targets_translates_unmasked(cache: Path, tmp_path: Path) -> None:
    config = load_config(None, **_config(cache, tmp_path / "run"))
    summary = Trainer(config).run()
    assert summary["step"] == 2
    path = tmp_path / "run" / "generator.safetensors"
    extra = read_checkpoint(path).config["extra"]
    assert (extra["mask"], extra["targets"], extra["strategy"]) == ("none", "aligned", "conditional")
    translator = EmotionTranslator.from_checkpoint(path, "happy", "neutral", device="cpu")
    assert translator.mask is MaskMode.NONE
    assert not translator.prior_masks(np.ones((2, 48, 48), bool)).any()  # nothing is blanked
    crops = np.array(FaceCache(cache).frames(TAKE)[:2])
    mels = np.zeros((2, 1, 80, 16), np.float32)
    out = translator.generate(mels, crops, translator.prior_masks(np.zeros((2, 48, 48), bool)))
    assert out.shape == crops.shape and out.dtype == np.uint8
    assert not face_mask("none", 48).any()


def test_config_errors(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.targets must be one of auto, destination, source, aligned"):
        load_config(None, **_config(cache, tmp_path / "a", targets="truth"))
    bad = _config(cache, tmp_path / "b")
    bad["stage"] = "wav2lip"
    with pytest.raises(ConfigError, match=r"model\.mask none is for the emotion stages"):
        load_config(None, **bad)
    with pytest.raises(ConfigError, match="aligned renders exist only in the generated world"):
        PreprocessConfig("mead", tmp_path, tmp_path / "c", aligned=True)


def test_preprocess_command_aligned_flag(world: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["preprocess", "--layout", "world", "--src", str(world), "--out", str(cache), "--size", "48", "-q"]
    assert main([*args, "--aligned"]) == 0  # the renders count; all already cached (resume)
    assert "8 videos: 0 preprocessed, 8 already in the cache" in capsys.readouterr().out
    assert main(args) == 0
    assert "4 videos: 0 preprocessed, 4 already in the cache" in capsys.readouterr().out
