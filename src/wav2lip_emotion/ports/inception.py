"""The Inception-v3 of TensorFlow's FID graph, as pytorch-fid runs it, and loading pytorch-fid's weights.

The port: :class:`FidInceptionV3` (``pytorch_fid.InceptionV3([3], resize_input=True,
normalize_input=True)``: faces -> 2048-d pool3 features, its preprocessing included since it is part of
pytorch-fid's network) and :func:`load_fid_inception`, which reads pytorch-fid's own weight file
``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow FID Inception ported to PyTorch; the user
supplies it). Using it: :mod:`wav2lip_emotion.evaluation.fid` (feature extraction and the FID label)
and :mod:`wav2lip_emotion.evaluation.frechet` (the distance).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError
from .loading import fit_state_dict, torch_load_weights

#: pytorch-fid's weight file (its FID_WEIGHTS_URL release asset)
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_INPUT_SIZE = 299
#: pool3 feature size, and the TensorFlow graph's 1008 classes (1000 ImageNet + 8 unused)
INCEPTION_DIM = 2048
INCEPTION_CLASSES = 1008
#: BatchNorm epsilon of every Inception convolution (TensorFlow's 0.001)
BN_EPS = 0.001

_MODEL = f"pytorch-fid Inception weights ({FID_WEIGHTS_FILE})"


class _ConvBN(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001), ReLU (torchvision's ``BasicConv2d`` names)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """The FID Inception's pool branch: 3 x 3 average, stride 1, padding not counted (TensorFlow's)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):
    """Mixed_5b/5c/5d: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 (pool_features)."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(cin, 64, 1)
        self.branch5x5_1 = _ConvBN(cin, 48, 1)
        self.branch5x5_2 = _ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, padding=1)
        self.branch_pool = _ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_3x3(x))
        return torch.cat([b1, b5, b3, bp], 1)


class _BlockB(nn.Module):
    """Mixed_6a (35 -> 17): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class _BlockC(nn.Module):
    """Mixed_6b..6e: 1x1 | factorised 7x7 | doubly factorised 7x7 | avg pool -> 1x1 (192 each)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(cin, 192, 1)
        self.branch7x7_1 = _ConvBN(cin, c7, 1)
        self.branch7x7_2 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            bd = conv(bd)
        bd = self.branch7x7dbl_5(bd)
        bp = self.branch_pool(_avg_pool_3x3(x))
        return torch.cat([b1, b7, bd, bp], 1)


class _BlockD(nn.Module):
    """Mixed_7a (17 -> 8): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3x3/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _ConvBN(cin, 192, 1)
        self.branch3x3_2 = _ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class _BlockE(nn.Module):
    """Mixed_7b / 7c: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1.

    The pool branch is what distinguishes the TensorFlow FID graph: Mixed_7b averages (padding not
    counted), Mixed_7c takes the *maximum* (pytorch-fid's FIDInceptionE_1 / FIDInceptionE_2).
    """

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _ConvBN(cin, 320, 1)
        self.branch3x3_1 = _ConvBN(cin, 384, 1)
        self.branch3x3_2a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = _ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool_3x3(x)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)


class FidInceptionV3(nn.Module):
    """The Inception-v3 of TensorFlow's FID graph, as pytorch-fid runs it: faces -> 2048-d pool3 features.

    ``state_dict()`` has exactly the names and shapes of pytorch-fid's ``fid_inception_v3()`` (torchvision's
    ``Inception3`` layout without AuxLogits, fc with 1008 classes; 94 convolutions, 23,850,960
    parameters), so ``pt_inception-2015-12-05-6726825d.pth`` loads with ``strict=True``; use
    :func:`load_fid_inception`. Built with PyTorch's default initialisation (not meaningful features).

    ``forward(images [B, 3, H, W] RGB in [0, 1]) -> [B, 2048]``: bilinear resize to 299 x 299
    (``align_corners=False``, no antialiasing), ``2 x - 1``, Conv2d_1a .. 4a with the two 3x3/2 max pools,
    Mixed_5b .. Mixed_7c, global average pool. ``fc`` is kept only so the weight file fits; the forward
    pass never uses it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBN(80, 192, 3)
        self.Mixed_5b = _BlockA(192, pool_features=32)
        self.Mixed_5c = _BlockA(256, pool_features=64)
        self.Mixed_5d = _BlockA(288, pool_features=64)
        self.Mixed_6a = _BlockB(288)
        self.Mixed_6b = _BlockC(768, c7=128)
        self.Mixed_6c = _BlockC(768, c7=160)
        self.Mixed_6d = _BlockC(768, c7=160)
        self.Mixed_6e = _BlockC(768, c7=192)
        self.Mixed_7a = _BlockD(768)
        self.Mixed_7b = _BlockE(1280, max_pool=False)
        self.Mixed_7c = _BlockE(2048, max_pool=True)
        self.fc = nn.Linear(INCEPTION_DIM, INCEPTION_CLASSES)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [0, 1] -> the network input [B, 3, 299, 299] in [-1, 1] (pytorch-fid's order)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ConfigError(f"the FID Inception expects images [B, 3, H, W], got {list(images.shape)}")
        x = images.to(self.fc.weight.dtype)
        x = F.interpolate(x, size=(INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2 * x - 1

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks on an already preprocessed input [B, 3, 299, 299] -> [B, 2048]."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool3(self.preprocess(images))

    def freeze(self) -> FidInceptionV3:
        """Eval mode (BatchNorm uses the stored statistics), no parameter gradients."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


def load_fid_inception(path: str | Path) -> FidInceptionV3:
    """The frozen FID Inception with pytorch-fid's weights from ``path`` (``pt_inception-2015-12-05-*.pth``).

    The file must hold a bare state dict (as pytorch-fid's does). It is read with
    ``torch.load(..., map_location="cpu", weights_only=True)``, which runs no code from the file.
    BatchNorm ``num_batches_tracked`` counters are optional (files written before PyTorch 0.4.1 lack
    them; they do not affect inference). Raises CheckpointError, one line naming the file, when it is
    missing, unreadable, not a state dict, or its tensor names or shapes differ from the FID Inception's.
    """
    if str(path).strip() == "":
        raise CheckpointError(f"no path given for the {_MODEL}")
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file ({_MODEL})")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a file ({_MODEL})")
    obj = torch_load_weights(path)
    state = _as_state_dict(obj, path)
    model = FidInceptionV3()
    model.load_state_dict(_checked_state(model, state, path), strict=True)
    return model.freeze()


def _as_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: not a state dict (holds a {type(obj).__name__}); expected the {_MODEL}")
    bad = [str(k) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if bad or not obj:
        found = ", ".join(sorted(map(str, obj))[:4]) if obj else "nothing"
        raise CheckpointError(
            f"{path}: not a state dict of tensors (found: {found}); expected the bare state dict of the {_MODEL}"
        )
    return dict(obj)


def _checked_state(model: FidInceptionV3, state: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """``state`` made loadable into ``model`` (counters added, floats as float32), or CheckpointError."""
    fc = state.get("fc.weight")
    if any(k.startswith("AuxLogits.") for k in state) or (fc is not None and fc.dim() == 2 and fc.shape[0] == 1000):
        raise CheckpointError(
            f"{path}: looks like torchvision's ImageNet Inception-v3 (1000 classes / AuxLogits), not the {_MODEL}"
        )
    return fit_state_dict(model, state, path, f"the {_MODEL}")


__all__ = [
    "BN_EPS",
    "FID_WEIGHTS_FILE",
    "INCEPTION_CLASSES",
    "INCEPTION_DIM",
    "INCEPTION_INPUT_SIZE",
    "FidInceptionV3",
    "load_fid_inception",
]
