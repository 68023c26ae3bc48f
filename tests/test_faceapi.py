"""face-api.js FaceExpressionNet in PyTorch: weights, exactness against TF.js, behaviour, errors."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import CheckpointError, ConfigError
from wav2lip_emotion.perception.emotions import EMOTION_MODELS, EMOTIONS
from wav2lip_emotion.perception.faceapi import FACEAPI_CLASSES, FaceApiExpressionModel, build_faceapi
from wav2lip_emotion.ports.faceapi import read_manifest

# Logits computed by TF.js 4.22 (CPU backend, the tfjs bundled in @vladmandic/face-api 1.7.15's
# dist/face-api.esm.js, run under Node 20): FaceExpressionNet.runNet on the two synthetic 112 x 112
# uint8 images built by _patterns() (so no resampling is involved).
TFJS_LOGITS = [
    [-3.8476150, -5.7618275, -5.3245234, -5.4469786, -3.8137610, -5.4792809, -1.9698623],
    [-4.1044297, -9.0440063, -0.2428972, -6.6216040, -18.549156, -10.198204, -16.425943],
]


def _patterns() -> torch.Tensor:
    i, j, c = np.meshgrid(np.arange(112), np.arange(112), np.arange(3), indexing="ij")
    p1 = (i * i * 7 + j * 13 + c * 59 + i * j * 3) % 256  # noise-like
    p2 = (i * 2 + j + c * 40) % 256  # ramps
    arr = np.stack([p1, p2]).astype(np.uint8)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255


@pytest.fixture(scope="module")
def model() -> FaceApiExpressionModel:
    return build_faceapi()


@pytest.fixture(scope="module")
def files() -> tuple[Path, Path]:
    return asset_path("faceapi_expression"), asset_path("faceapi_expression_manifest")


def _face(name: str, padding: float = 0.0) -> torch.Tensor:
    from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker
    from wav2lip_emotion.media import read_image

    rgb = read_image(asset_path(name))
    obs = FaceTracker().update(rgb)
    assert obs.found, name
    crop = FaceCrop.from_box(obs.box, CropConfig(size=112, padding=padding)).extract(rgb)
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255


# ------------------------------------------------------------------------------------ weights


def test_weights_load_every_manifest_value(model: FaceApiExpressionModel, files: tuple[Path, Path]) -> None:
    entries, paths = read_manifest(files[1])
    assert paths == ["face_expression_model.bin"]
    total = sum(math.prod(e.shape) for e in entries)
    assert total == sum(p.numel() for p in model.parameters()) == 323_687
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training


def test_class_order_and_registry(model: FaceApiExpressionModel) -> None:
    assert model.name == "faceapi"
    assert model.classes == FACEAPI_CLASSES == ("neutral", "happy", "sad", "angry", "fear", "disgusted", "surprised")
    assert set(model.classes) <= set(EMOTIONS) and not model.has("contempt")
    assert EMOTION_MODELS["faceapi"] is build_faceapi


def test_matches_tfjs_reference(model: FaceApiExpressionModel) -> None:
    logits = model.logits(_patterns())
    torch.testing.assert_close(logits, torch.tensor(TFJS_LOGITS), atol=1e-4, rtol=0)


# ------------------------------------------------------------------------------------ interface


def test_shapes_probabilities_and_any_size(model: FaceApiExpressionModel) -> None:
    x = torch.rand(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    probs = model(x)
    assert probs.shape == (3, 7)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3))
    assert model(torch.rand(2, 3, 160, 130)).shape == (2, 7)
    assert set(model.predict(x[:1])[0]) == set(FACEAPI_CLASSES)
    with pytest.raises(ConfigError, match="expects faces"):
        model(torch.rand(1, 1, 112, 112))


def test_gradient_reaches_input(model: FaceApiExpressionModel) -> None:
    x = _patterns()[:1].clone().requires_grad_(True)
    model(x)[0, model.index("happy")].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------------ behaviour
# Tracker crops (CropConfig(size=112, padding=0.0)). Measured: astronaut happy 1.000, grace_hopper
# neutral 0.998, feat_surprise surprised 0.989, feat_happy happy 1.000.
# Wrong (not asserted): feat_anger -> sad 0.994 (angry 0.006), feat_disgust -> neutral 0.724
# (disgusted 0.000). face-api.js itself says neutral for feat_disgust and, on its own crop, angry 0.67
# for feat_anger, which flips to sad with a 1-pixel shift of that crop: the photo is on this model's
# sad/angry boundary.


def test_astronaut_is_happy(model: FaceApiExpressionModel) -> None:
    assert model.predict(_face("astronaut"))[0]["happy"] >= 0.9


@pytest.mark.parametrize(
    ("asset", "label"),
    [("feat_happy", "happy"), ("feat_surprise", "surprised"), ("grace_hopper", "neutral")],
)
def test_labelled_photos(model: FaceApiExpressionModel, asset: str, label: str) -> None:
    probs = model.predict(_face(asset))[0]
    assert max(probs, key=probs.__getitem__) == label
    assert probs[label] >= 0.9


# ------------------------------------------------------------------------------------ errors


def _copies(files: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    weights, manifest = tmp_path / files[0].name, tmp_path / files[1].name
    shutil.copyfile(files[0], weights)
    shutil.copyfile(files[1], manifest)
    return weights, manifest


def test_missing_file(tmp_path: Path, files: tuple[Path, Path]) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.bin: no such file"):
        build_faceapi(weights=tmp_path / "nope.bin", manifest=files[1])
    with pytest.raises(CheckpointError, match=r"nope\.json: no such file"):
        build_faceapi(weights=files[0], manifest=tmp_path / "nope.json")


def test_manifest_not_json(tmp_path: Path, files: tuple[Path, Path]) -> None:
    weights, manifest = _copies(files, tmp_path)
    manifest.write_text(manifest.read_text()[:200])
    with pytest.raises(CheckpointError, match=r"weights_manifest\.json: not a TF\.js weights manifest \(not JSON"):
        build_faceapi(weights=weights, manifest=manifest)


def test_manifest_missing_weight(tmp_path: Path, files: tuple[Path, Path]) -> None:
    weights, manifest = _copies(files, tmp_path)
    data = json.loads(manifest.read_text())
    data[0]["weights"] = [w for w in data[0]["weights"] if w["name"] != "dense2/conv1/pointwise_filter"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"weights_manifest\.json: .*lacks dense2/conv1/pointwise_filter"):
        build_faceapi(weights=weights, manifest=manifest)


def test_truncated_shard(tmp_path: Path, files: tuple[Path, Path]) -> None:
    weights, manifest = _copies(files, tmp_path)
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"face_expression_model\.bin: 329368 bytes, but .* 329468 bytes"):
        build_faceapi(weights=weights, manifest=manifest)
