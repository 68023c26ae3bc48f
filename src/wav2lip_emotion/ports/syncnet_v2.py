"""The SyncNet of Chung & Zisserman as released in joonson/syncnet_python, and loading ``syncnet_v2.model``.

The port: :class:`JoonsonSyncNet` (``SyncNetModel.py``'s "S", tensor names and Sequential indices as in
their file) and :func:`load_joonson_syncnet`, which reads their weights. Its input conventions are
part of the published network: MFCC windows ``[B, 1, 13, 20]`` (13 coefficients x 20 steps of 10 ms)
and 5-frame BGR face crops ``[B, 3, 5, 224, 224]`` in 0..255. Using it (MFCCs, crops, windows, offset
search, LSE-D / LSE-C): :mod:`wav2lip_emotion.evaluation.lip_sync` and
:mod:`wav2lip_emotion.evaluation.sync_maths`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..messages import first_line
from .loading import fit_state_dict, torch_load_weights

#: MFCC coefficients and steps (10 ms each) of one audio window: 0.2 s, the time of 5 frames at 25 fps
MFCC_COEFFICIENTS = 13
MFCC_WINDOW = 20
#: frames per sync window
SYNC_WINDOW = 5
#: side of the square face crops the network takes
SYNCNET_CROP_SIZE = 224


def _conv2d_block(cin: int, cout: int, kernel: tuple[int, int], padding: tuple[int, int]) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv3d_block(
    cin: int, cout: int, kernel: tuple[int, int, int], stride: tuple[int, int, int], padding: tuple[int, int, int]
) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, kernel, stride, padding), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _fc_head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, embedding))


class JoonsonSyncNet(nn.Module):
    """syncnet_python's SyncNet ("S" in ``SyncNetModel.py``): ``syncnet_v2.model`` loads into it as is.

    * :meth:`embed_audio`: MFCC windows [B, 1, 13, 20] -> [B, 1024] (the conv stack ends at [B, 512, 1, 1]);
    * :meth:`embed_lips`: 5-frame face crops [B, 3, 5, 224, 224], **BGR**, float 0..255, not normalised
      (as syncnet_python feeds OpenCV images) -> [B, 1024].

    The embeddings are not normalised (theirs are not either); distances between them are Euclidean.
    The Sequential indices (ReLU and pooling layers included) match their file, so do the tensor names.
    """

    def __init__(self, embedding_size: int = 1024) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_conv2d_block(1, 64, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
            *_conv2d_block(64, 192, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
            *_conv2d_block(192, 384, (3, 3), (1, 1)),
            *_conv2d_block(384, 256, (3, 3), (1, 1)),
            *_conv2d_block(256, 256, (3, 3), (1, 1)),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            *_conv2d_block(256, 512, (5, 4), (0, 0)),
        )
        self.netfcaud = _fc_head(embedding_size)
        self.netfclip = _fc_head(embedding_size)
        self.netcnnlip = nn.Sequential(
            *_conv3d_block(3, 96, (5, 7, 7), (1, 2, 2), (0, 0, 0)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_conv3d_block(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d_block(256, 512, (1, 6, 6), (1, 1, 1), (0, 0, 0)),
        )

    def embed_audio(self, mfcc_windows: torch.Tensor) -> torch.Tensor:
        """[B, 1, 13, 20] MFCC windows (int16-scale audio) -> [B, embedding_size]."""
        if mfcc_windows.dim() != 4 or tuple(mfcc_windows.shape[1:]) != (1, MFCC_COEFFICIENTS, MFCC_WINDOW):
            raise ConfigError(f"audio input must be [B, 1, 13, 20], got {list(mfcc_windows.shape)}")
        return self.netfcaud(self.netcnnaud(mfcc_windows).flatten(1))

    def embed_lips(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, 3, 5, 224, 224] BGR 0..255 crops -> [B, embedding_size]."""
        expected = (3, SYNC_WINDOW, SYNCNET_CROP_SIZE, SYNCNET_CROP_SIZE)
        if frames.dim() != 5 or tuple(frames.shape[1:]) != expected:
            raise ConfigError(f"lip input must be [B, 3, 5, 224, 224], got {list(frames.shape)}")
        return self.netfclip(self.netcnnlip(frames).flatten(1))

    def forward(self, mfcc_windows: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio embedding, lip embedding), each [B, embedding_size]."""
        return self.embed_audio(mfcc_windows), self.embed_lips(frames)


_PREFIXES = ("module.", "__S__.")


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def load_joonson_syncnet(path: str | Path) -> JoonsonSyncNet:
    """The syncnet_python SyncNet with the weights of ``path`` (``syncnet_v2.model``), in eval mode.

    Read with ``torch.load(map_location="cpu", weights_only=True)``, which never runs code from the file.
    Accepted: a plain state dict, or one under a ``"state_dict"`` or ``"model"`` key; ``module.`` and
    ``__S__.`` prefixes are stripped. BatchNorm ``num_batches_tracked`` counters may be absent (files saved
    by PyTorch before 0.4.1 have none; they play no part in eval mode). Anything else - a missing file, an
    unreadable or unsafe pickle, missing or unexpected tensors, wrong shapes - raises
    :class:`CheckpointError` with one line naming the file and the problem.
    """
    path = Path(path)
    obj = torch_load_weights(path)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: holds no state dict (found {type(obj).__name__})")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        state[_strip_prefixes(str(key))] = value

    model = JoonsonSyncNet()
    full = fit_state_dict(model, state, path, "a syncnet_python SyncNet state dict")
    try:
        model.load_state_dict(full, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied into float weights
        raise CheckpointError(f"{path}: cannot load the tensors ({first_line(exc)})") from None
    return model.eval()


__all__ = [
    "MFCC_COEFFICIENTS",
    "MFCC_WINDOW",
    "SYNCNET_CROP_SIZE",
    "SYNC_WINDOW",
    "JoonsonSyncNet",
    "load_joonson_syncnet",
]
