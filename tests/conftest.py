"""Shared test helpers: the golden recipe's deterministic weights and inputs, official-format files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).parent / "data"
#: frames of the ``clip`` fixture
MESH_CLIP_FRAMES = 24


@pytest.fixture(scope="session")
def golden() -> dict:
    return json.loads((DATA / "golden_outputs.json").read_text())


@pytest.fixture(scope="session")
def official_shapes() -> dict[str, dict[str, list[int]]]:
    return json.loads((DATA / "official_state_dicts.json").read_text())


def deterministic_state_dict(shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Weights built exactly as golden_outputs.json's ``_how`` says."""
    out: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        n = int(np.prod(shape)) if shape else 1
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros(shape, dtype=torch.int64)
            continue
        salt = sum(ord(c) for c in key) % 97
        base = np.sin(0.37 * np.arange(n, dtype=np.float64) + salt)
        if key.endswith("running_var"):
            v = 1 + 0.1 * np.abs(base)
        elif key.endswith("running_mean"):
            v = 0.01 * base
        elif len(shape) == 1 and ".conv_block.1." in key and key.endswith("weight"):
            v = 1 + 0.05 * base
        elif len(shape) == 1:
            v = 0.01 * base
        else:
            v = base * 2 / math.sqrt(n / shape[0])
        out[key] = torch.from_numpy(v.reshape(shape)).float()
    return out


def det_input(shape: list[int], phase: float) -> torch.Tensor:
    n = int(np.prod(shape))
    return torch.from_numpy(np.sin(0.013 * np.arange(n, dtype=np.float64) + phase).reshape(shape)).float()


def save_official(path: Path, state: dict[str, torch.Tensor], **extra: object) -> Path:
    """Write a checkpoint the way the original training scripts do (DataParallel 'module.' keys)."""
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, **extra}, path)
    return path


@pytest.fixture(scope="session")
def tiny_world_cache(tmp_path_factory) -> Path:
    """A tiny generated world (3 real actors x 1 sentence, neutral / happy / sad level 3), preprocessed at
    the tiny profile's 48 px. Shared read-only by the data and training tests."""
    from wav2lip_emotion.data.preprocess import PreprocessConfig, preprocess
    from wav2lip_emotion.world.synth import WorldConfig, synthesize

    root = tmp_path_factory.mktemp("tiny_world")
    world = WorldConfig(
        actors=3,
        sentences=1,
        emotions=("neutral", "happy", "sad"),
        levels=(3,),
        size=96,
        procedural_identities=False,
        aligned=False,
        max_seconds=1.6,
    )
    synthesize(world, root / "world")
    summary = preprocess(PreprocessConfig("world", root / "world", root / "cache", size=48, workers=2), progress=False)
    assert summary.done == 9 and not summary.failed
    return root / "cache"


@pytest.fixture(scope="session")
def eval_world(tmp_path_factory) -> Path:
    """One real-photo actor (Grace Hopper), one sentence, neutral / happy / sad level 3, with aligned ground truth.
    Shared read-only by the evaluation and realism tests."""
    from wav2lip_emotion.world.synth import WorldConfig, synthesize

    root = tmp_path_factory.mktemp("eval_world") / "world"
    config = WorldConfig(
        actors=1, sentences=1, emotions=("neutral", "happy", "sad"), levels=(3,), size=96,
        procedural_identities=False, aligned=True, max_seconds=1.6,
    )  # fmt: skip
    synthesize(config, root)
    return root


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 24 frames of single_face.mp4 (a real face going from neutral towards a smile), silent."""
    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video

    out = tmp_path_factory.mktemp("mesh") / "single_face_24.mp4"
    src = asset_path("single_face")
    info = probe_video(src)
    with (
        VideoWriter(out, info.fps, info.width, info.height, crf=12) as writer,
        VideoReader(src, max_frames=MESH_CLIP_FRAMES) as reader,
    ):
        for frame in reader:
            writer.write(frame.rgb)
    return out


@pytest.fixture(scope="module")
def small_face_clip(tmp_path_factory) -> Path:
    """The first 24 frames of single_face.mp4 shrunk to 320x180 and set into a 960x540 picture (a
    gradient around it): a face of about 95 px that fills a small part of the frame, as in a wide
    shot (the mesh engine then keeps the decoded planes: translation/mesh_run.py), silent."""
    import cv2

    from wav2lip_emotion.assets import asset_path
    from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video

    out = tmp_path_factory.mktemp("mesh_small") / "single_face_small.mp4"
    src = asset_path("single_face")
    info = probe_video(src)
    y, x = np.mgrid[0:540, 0:960]
    backdrop = np.stack([60 + x * 0.15, 90 + y * 0.2, 120 + (x + y) * 0.05], axis=-1).astype(np.uint8)
    with (
        VideoWriter(out, info.fps, 960, 540, crf=12) as writer,
        VideoReader(src, max_frames=MESH_CLIP_FRAMES) as reader,
    ):
        for frame in reader:
            picture = backdrop.copy()
            picture[200:380, 400:720] = cv2.resize(frame.rgb, (320, 180), interpolation=cv2.INTER_AREA)
            writer.write(picture)
    return out
