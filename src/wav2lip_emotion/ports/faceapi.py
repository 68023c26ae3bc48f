"""face-api.js's FaceExpressionNet rebuilt in PyTorch, and reading its TF.js weights (7 expression classes).

The network (face-api.js ``FaceFeatureExtractor`` + ``FaceExpressionNet``), input 112 x 112 RGB:

* preprocessing: pixel values 0..255, minus the mean RGB ``[122.782, 117.001, 104.298]``, then / 255;
* four dense blocks (32, 64, 128, 256 channels), each halving the resolution (112 -> 56 -> 28 -> 14 -> 7).
  A block has four 3 x 3 convolutions with TensorFlow's ``'same'`` padding: ``conv0`` with stride 2
  (a plain convolution in the first block, depthwise-separable in the others), then ``conv1`` to
  ``conv3`` depthwise-separable with stride 1, densely connected::

      out1 = relu(conv0(x))
      out2 = conv1(out1)
      out3 = conv2(relu(out1 + out2))
      out4 = conv3(relu(out1 + out2 + out3))
      return relu(out1 + out2 + out3 + out4)

  A depthwise-separable convolution is depthwise 3 x 3 (with the stride, no bias), pointwise 1 x 1,
  then the bias. There is no batch normalisation and no pooling between blocks;
* a 7 x 7 average pool (the whole 7 x 7 map), a fully connected layer 256 -> 7, softmax.

The weights come as a TF.js weights manifest (JSON: groups of ``{paths, weights}``, each weight
``{name, shape, dtype, quantization?}``) and one binary shard holding the weights back to back in
manifest order. Quantised weights are stored one byte each and decode as ``q * scale + min``
(``uint8``; ``uint16`` and ``float16`` are understood too); the biases are plain float32.
Layouts are TensorFlow's (conv ``[kh, kw, in, out]``, depthwise ``[kh, kw, in, 1]``, fc ``[in, out]``)
and are transposed to PyTorch's when loaded.

Checked against TF.js itself (the tfjs 4.22 bundled in @vladmandic/face-api 1.7.15, CPU backend, under
Node): on the same 112 x 112 inputs the logits agree to 5e-6 (see tests/test_faceapi.py and
docs/perception_faceapi.md). Inputs of another size are resized by
:class:`~wav2lip_emotion.perception.faceapi.FaceApiExpressionModel` (bilinear, antialiased when
shrinking, stretched if not square); face-api.js instead zero-pads to a square and uses tfjs's
``resizeBilinear`` (no half-pixel centres, no antialiasing).

The port: :class:`FaceExpressionNet` (the network on its normalised 112 x 112 input: the 256-d
bottleneck and the 7 scores before softmax), the TF.js manifest and shard readers and
:func:`load_faceapi_weights`. Using it (resizing and normalising face crops, probabilities, labels in
our vocabulary, the ``faceapi`` emotion model): :mod:`wav2lip_emotion.perception.faceapi`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError

#: face-api.js's class order (FACE_EXPRESSION_LABELS)
FACEAPI_LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
#: input side in pixels and the mean RGB (0..255) subtracted before dividing by 255
INPUT_SIZE = 112
MEAN_RGB: tuple[float, float, float] = (122.782, 117.001, 104.298)
#: channels of the four dense blocks
BLOCK_CHANNELS: tuple[int, ...] = (32, 64, 128, 256)

_MODEL = "face-api expression model"


def _same_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, groups: int = 1
) -> torch.Tensor:
    """conv2d with TensorFlow's 'same' padding: total max((ceil(n/s) - 1) * s + k - n, 0), odd pixel after."""
    k = weight.shape[-1]
    pads: list[int] = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: width first, then height
        total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    if pads[0] == pads[1] == pads[2] == pads[3]:  # symmetric (every stride-1 layer): let conv2d pad
        return F.conv2d(x, weight, bias, stride=stride, padding=pads[0], groups=groups)
    return F.conv2d(F.pad(x, pads), weight, bias, stride=stride, groups=groups)


class _Conv(nn.Module):
    """Plain 3 x 3 convolution + bias (face-api ``ConvParams``: ``filters``, ``bias``)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.filters = nn.Parameter(torch.zeros(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _same_conv(x, self.filters, self.bias, self.stride)


class _SeparableConv(nn.Module):
    """Depthwise 3 x 3 (stride, no bias) -> pointwise 1 x 1 -> + bias (``SeparableConvParams``)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise_filter = nn.Parameter(torch.zeros(cin, 1, 3, 3))
        self.pointwise_filter = nn.Parameter(torch.zeros(cout, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _same_conv(x, self.depthwise_filter, None, self.stride, groups=x.shape[1])
        return F.conv2d(x, self.pointwise_filter, self.bias)


class _DenseBlock(nn.Module):
    """face-api's ``denseBlock4``: four densely connected convolutions, the first with stride 2."""

    def __init__(self, cin: int, cout: int, first: bool) -> None:
        super().__init__()
        self.conv0: nn.Module = _Conv(cin, cout, 2) if first else _SeparableConv(cin, cout, 2)
        self.conv1 = _SeparableConv(cout, cout, 1)
        self.conv2 = _SeparableConv(cout, cout, 1)
        self.conv3 = _SeparableConv(cout, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)


class _FullyConnected(nn.Module):
    """``x @ weights + bias`` (face-api ``FCParams``); weights kept in TF's [in, out] layout."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(cin, cout))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weights + self.bias


class FaceExpressionNet(nn.Module):
    """face-api.js FaceExpressionNet on its network input: [B, 3, 112, 112], ``(255 x - MEAN_RGB) / 255``.

    ``features`` gives the 256-d bottleneck (face-api's FaceFeatureExtractor output, pooled), ``forward``
    the 7 scores before softmax, in :data:`FACEAPI_LABELS` order. Parameter names mirror the TF.js
    manifest (``dense0/conv1/depthwise_filter`` is ``dense0.conv1.depthwise_filter``), stored in
    PyTorch layouts. Built with zero weights; :func:`load_faceapi_weights` fills it.
    """

    def __init__(self) -> None:
        super().__init__()
        chans = (3, *BLOCK_CHANNELS)
        self.dense0 = _DenseBlock(chans[0], chans[1], first=True)
        self.dense1 = _DenseBlock(chans[1], chans[2], first=False)
        self.dense2 = _DenseBlock(chans[2], chans[3], first=False)
        self.dense3 = _DenseBlock(chans[3], chans[4], first=False)
        self.fc = _FullyConnected(BLOCK_CHANNELS[-1], len(FACEAPI_LABELS))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 256-d bottleneck [B, 256] of the network input x."""
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))
        return x.mean(dim=(2, 3))  # avgPool 7x7 'valid' on the 7 x 7 map

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# ------------------------------------------------------------------------------------ TF.js weights


@dataclass(frozen=True)
class ManifestEntry:
    """One tensor of a TF.js weights manifest."""

    name: str
    shape: tuple[int, ...]
    #: storage dtype in the shard: "float32", "int32", or the quantisation dtype
    stored: str
    scale: float = 1.0
    min: float = 0.0

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * _ITEMSIZE[self.stored]


_ITEMSIZE = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2}


def read_manifest(manifest: str | Path) -> tuple[list[ManifestEntry], list[str]]:
    """The weights of a TF.js manifest in shard order, and the shard file names it lists."""
    manifest = Path(manifest)
    _require_file(manifest, "weights manifest")
    try:
        data: Any = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{manifest}: not a TF.js weights manifest (not JSON: {exc})") from None
    if isinstance(data, dict) and "weightsManifest" in data:  # model.json form
        data = data["weightsManifest"]
    if not isinstance(data, list) or not all(isinstance(g, dict) and "weights" in g for g in data):
        raise CheckpointError(f"{manifest}: not a TF.js weights manifest (expected a list of {{paths, weights}})")
    entries: list[ManifestEntry] = []
    paths: list[str] = []
    for group in data:
        paths += [str(p) for p in group.get("paths", [])]
        for w in group["weights"]:
            entries.append(_entry(manifest, w))
    return entries, paths


def _entry(manifest: Path, w: Any) -> ManifestEntry:
    try:
        name = str(w["name"])
        shape = tuple(int(s) for s in w["shape"])
        dtype = str(w["dtype"])
        q = w.get("quantization")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CheckpointError(f"{manifest}: malformed weight entry {w!r:.80}") from None
    if q is None:
        if dtype not in ("float32", "int32"):
            raise CheckpointError(f"{manifest}: weight {name} has unsupported dtype {dtype!r}")
        return ManifestEntry(name, shape, dtype)
    try:
        qdtype = str(q["dtype"])
        scale = float(q.get("scale", 1.0))
        minimum = float(q.get("min", 0.0))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CheckpointError(f"{manifest}: weight {name} has a malformed quantization {q!r:.80}") from None
    if qdtype not in ("uint8", "uint16", "float16"):
        raise CheckpointError(f"{manifest}: weight {name} has unsupported quantization dtype {qdtype!r}")
    return ManifestEntry(name, shape, qdtype, scale, minimum)


def decode_shard(
    weights: str | Path, entries: list[ManifestEntry], manifest: str | Path = "manifest"
) -> dict[str, np.ndarray]:
    """Decode the shard into float32 arrays (TF layouts) by manifest name; sizes must agree exactly."""
    weights = Path(weights)
    _require_file(weights, "weights shard")
    raw = weights.read_bytes()
    expected = sum(e.nbytes for e in entries)
    if len(raw) != expected:
        raise CheckpointError(
            f"{weights}: {len(raw)} bytes, but {Path(manifest).name} describes {expected} bytes "
            "(truncated, or the weights of another model)"
        )
    out: dict[str, np.ndarray] = {}
    for entry, chunk in zip(entries, _chunks(raw, entries), strict=True):
        out[entry.name] = _decode(entry, chunk)
    return out


def _chunks(raw: bytes, entries: list[ManifestEntry]) -> Iterator[bytes]:
    offset = 0
    for e in entries:
        yield raw[offset : offset + e.nbytes]
        offset += e.nbytes


def _decode(entry: ManifestEntry, chunk: bytes) -> np.ndarray:
    if entry.stored == "float32":
        values = np.frombuffer(chunk, dtype="<f4").astype(np.float32)
    elif entry.stored == "int32":
        values = np.frombuffer(chunk, dtype="<i4").astype(np.float32)
    elif entry.stored == "float16":
        values = np.frombuffer(chunk, dtype="<f2").astype(np.float32)
    else:  # affine quantisation, as tfjs-core's decodeWeights: q * scale + min
        q = np.frombuffer(chunk, dtype="<u1" if entry.stored == "uint8" else "<u2").astype(np.float64)
        values = (q * entry.scale + entry.min).astype(np.float32)
    return values.reshape(entry.shape)


def _to_torch(name: str, value: np.ndarray) -> torch.Tensor:
    """A TF-layout array as the PyTorch-layout tensor of the parameter it feeds."""
    t = torch.from_numpy(np.ascontiguousarray(value))
    leaf = name.rsplit("/", 1)[-1]
    if leaf in ("filters", "pointwise_filter"):  # [kh, kw, in, out] -> [out, in, kh, kw]
        return t.permute(3, 2, 0, 1).contiguous()
    if leaf == "depthwise_filter":  # [kh, kw, in, 1] -> [in, 1, kh, kw]
        return t.permute(2, 3, 0, 1).contiguous()
    return t  # biases; fc weights stay [in, out]


def load_faceapi_weights(model: FaceExpressionNet, weights: str | Path, manifest: str | Path) -> None:
    """Fill ``model`` from a TF.js manifest + shard; CheckpointError on any mismatch."""
    weights, manifest = Path(weights), Path(manifest)
    entries, paths = read_manifest(manifest)
    if len(paths) > 1:
        raise CheckpointError(f"{manifest}: lists {len(paths)} shards ({', '.join(paths)}); one is supported")
    state = model.state_dict()
    names = {e.name for e in entries}
    expected = {k.replace(".", "/") for k in state}
    missing = sorted(expected - names)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CheckpointError(f"{manifest}: not the {_MODEL} manifest: lacks {', '.join(missing[:3])}{more}")
    unexpected = sorted(names - expected)
    if unexpected:
        raise CheckpointError(f"{manifest}: not the {_MODEL} manifest: unexpected weight {unexpected[0]}")
    arrays = decode_shard(weights, entries, manifest)
    new_state: dict[str, torch.Tensor] = {}
    for name, value in arrays.items():
        key = name.replace("/", ".")
        tensor = _to_torch(name, value)
        if tuple(tensor.shape) != tuple(state[key].shape):
            raise CheckpointError(
                f"{manifest}: weight {name} has shape {list(value.shape)}, which does not fit the {_MODEL}"
            )
        new_state[key] = tensor
    model.load_state_dict(new_state, strict=True)


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file ({_MODEL} {what})")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a file ({_MODEL} {what})")
