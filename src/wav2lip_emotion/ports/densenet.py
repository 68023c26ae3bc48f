"""torchvision's DenseNet-121 with a 7-class head, the network of the paper's FER2013 emotion classifier.

The network (growth rate 32, blocks of 6, 12, 24, 16 layers, 64 initial features, bottleneck 4 x growth,
no dropout) is written out here with tensor names and shapes equal to torchvision's
(``features.conv0`` ... ``features.norm5``, ``classifier`` [7, 1024]), so the paper's checkpoint loads
as it is. The trained weights (73.16 % FER2013 accuracy in the paper) are not published in any
package: the user supplies the checkpoint file (dict with the state dict under ``net``;
``state_dict`` or a bare state dict are accepted too, ``module.`` prefixes are removed, and so are
torchvision < 0.3's ``norm.1`` names).

The port: :class:`DenseNet121` (network input [B, 3, 224, 224] -> 7 scores before softmax) and
:func:`load_densenet121_weights`. Using it (the paper's FER2013 preprocessing, probabilities, labels,
the ``densenet121`` emotion model): :mod:`wav2lip_emotion.perception.densenet`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .loading import KIND_NAMES, detect_kind, fit_state_dict, read_weight_file

DENSENET_INPUT_SIZE = 224

GROWTH_RATE = 32
BLOCK_CONFIG = (6, 12, 24, 16)
NUM_INIT_FEATURES = 64
BN_SIZE = 4

#: the kind :func:`~.loading.detect_kind` gives its files
_KIND = "emotion_densenet121"
#: torchvision < 0.3 wrote "denselayer1.norm.1.weight"; torchvision's own loader renames these
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class _DenseLayer(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, BN_SIZE * GROWTH_RATE, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(BN_SIZE * GROWTH_RATE)
        self.conv2 = nn.Conv2d(BN_SIZE * GROWTH_RATE, GROWTH_RATE, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(y)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, cin: int) -> None:
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(cin + i * GROWTH_RATE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class _Transition(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.norm(x))), 2, 2)


def _features() -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv0=nn.Conv2d(3, NUM_INIT_FEATURES, 7, stride=2, padding=3, bias=False),
        norm0=nn.BatchNorm2d(NUM_INIT_FEATURES),
        relu0=nn.ReLU(),
        pool0=nn.MaxPool2d(3, stride=2, padding=1),
    )
    channels = NUM_INIT_FEATURES
    for i, num_layers in enumerate(BLOCK_CONFIG):
        layers[f"denseblock{i + 1}"] = _DenseBlock(num_layers, channels)
        channels += num_layers * GROWTH_RATE
        if i != len(BLOCK_CONFIG) - 1:
            layers[f"transition{i + 1}"] = _Transition(channels, channels // 2)
            channels //= 2
    layers["norm5"] = nn.BatchNorm2d(channels)
    return nn.Sequential(layers)


class DenseNet121(nn.Module):
    """DenseNet-121: network input [B, 3, 224, 224] -> ``num_classes`` scores before softmax.

    ``state_dict()`` has exactly torchvision's DenseNet-121 names and shapes; initialised as torchvision
    does (only matters for an untrained model).
    """

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.features = _features()
        self.classifier = nn.Linear(1024, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------------------------ loading


def _rename_legacy(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _LEGACY_KEY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


def load_densenet121_weights(model: DenseNet121, path: str | Path) -> None:
    """Fill ``model`` from a DenseNet-121 checkpoint (``.pth``, or ``.safetensors``).

    Raises CheckpointError (one line, naming the file) when the file is missing or unreadable, holds
    another model (e.g. a Wav2Lip generator), has another number of classes, or its tensors do not fit.
    """
    weights = read_weight_file(path)  # missing / empty / unsafe / not a checkpoint -> CheckpointError
    state = _rename_legacy(weights.state_dict)
    kind = detect_kind(weights.state_dict)
    if kind is None and any(k.startswith("features.") for k in state):
        kind = _KIND
    if kind != _KIND:
        what = f"a {KIND_NAMES.get(kind, kind)} checkpoint" if kind else "not a DenseNet checkpoint"
        raise CheckpointError(
            f"{weights.path}: is {what}, not a {KIND_NAMES[_KIND]} (first tensor: {next(iter(state))})"
        )
    cls = state.get("classifier.weight")
    classes = model.classifier.out_features
    if cls is not None and cls.dim() == 2 and cls.shape[0] != classes:
        raise CheckpointError(
            f"{weights.path}: its classifier has {cls.shape[0]} classes; the FER2013 DenseNet-121 has {classes}"
        )
    model.load_state_dict(fit_state_dict(model, state, weights.path, "a torchvision-style DenseNet-121"), strict=True)


__all__ = ["DENSENET_INPUT_SIZE", "DenseNet121", "load_densenet121_weights"]
