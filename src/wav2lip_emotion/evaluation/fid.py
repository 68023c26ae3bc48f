"""Frechet distances between generated and ground-truth face crops: FID, and a labelled fallback.

Protocol (as the Wav2Lip-Emotion paper, which reports FID with pytorch-fid):

1. every crop (``uint8`` H x W x 3 RGB) becomes a feature vector through a fixed network;
2. each set of crops is summarised by the mean and the unbiased covariance of its features
   (:class:`FeatureStats`, float64, streamed batch by batch: the crops are never all held in memory);
3. the two Gaussians are compared with the Frechet distance (:func:`frechet_distance`)::

       d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr sqrtm(S_a S_b)

Which number you get, and whether it may be put next to published numbers:

* **FID** (``comparable=True``): the features are the 2048-d pool3 output of
  :class:`~wav2lip_emotion.ports.inception.FidInceptionV3` loaded with pytorch-fid's own weight file
  ``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow FID Inception ported to PyTorch). The
  network, the preprocessing (bilinear resize to 299 x 299 with ``align_corners=False`` and no
  antialiasing, then ``2 x - 1``) and the statistics (float64, ``ddof=1``) are those of
  ``pytorch_fid.InceptionV3([3], resize_input=True, normalize_input=True)`` and
  ``calculate_frechet_distance``. The weights are not shipped by any package this project may
  use; the user supplies the file. Even then the value is only comparable with a paper's when the crops
  are made the same way (face box, size, frames) and the sets have similar sizes: FID is biased
  upwards for small sets, and with fewer crops than 2048 the covariances are rank deficient.
* **FD-faceapi** (``comparable=False``): without those weights the features are the 256-d bottleneck
  of face-api's expression network (:class:`FaceApiFeatures`, cached by ``wav2lip_emotion.assets``).
  It is a Frechet distance with the same formula on other features: useful to rank systems against each
  other on the same data, NOT an FID and never to be compared with published FID values. Any other
  callable ``faces -> [B, D]`` can be wrapped the same way (:class:`CallableFeatures`) and is labelled
  likewise. An Inception-v3 with other (e.g. random) weights is labelled "not comparable" too.

Every result carries its ``label`` and ``comparable`` flag so a table can never present the fallback
as FID.

This module extracts the features and labels the result; the distance itself is pure maths in
:mod:`wav2lip_emotion.evaluation.frechet` (re-exported here), the FID Inception and the reading of its
weights are a port in :mod:`wav2lip_emotion.ports.inception`, face-api's network in
:mod:`wav2lip_emotion.ports.faceapi`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..ports.faceapi import BLOCK_CHANNELS
from ..ports.inception import FID_WEIGHTS_FILE, INCEPTION_DIM, FidInceptionV3, load_fid_inception
from .frechet import FeatureStats, fid_from_stats, frechet_distance, frechet_from_features

FID_LABEL = "FID (pytorch-fid Inception-v3 pool3, comparable to published FID)"
FD_FACEAPI_LABEL = (
    "FD-faceapi (Frechet distance on face-api expression-net features; NOT FID, not comparable to published numbers)"
)


# ------------------------------------------------------------------------------------ feature extractors


class FaceFeatureExtractor(ABC):
    """A fixed network mapping face crops to feature vectors, with the label its distance is reported under.

    ``extractor(faces)``: ``faces`` is a float tensor ``[B, 3, H, W]``, RGB in [0, 1], any size; the
    result is a float64 array ``[B, dim]``. No gradients are computed.
    """

    #: short name, e.g. "inception_pool3" or "faceapi"
    name: str = ""
    #: True only for pytorch-fid's Inception with its weights: the value is an FID
    comparable: bool = False

    @property
    @abstractmethod
    def dim(self) -> int | None:
        """Feature dimension (None while unknown, for a callable not yet called)."""

    @property
    @abstractmethod
    def label(self) -> str:
        """How to name the distance in a table."""

    @abstractmethod
    def _extract(self, faces: torch.Tensor) -> torch.Tensor | np.ndarray:
        """Features [B, D] of faces [B, 3, H, W] in [0, 1]."""

    def __call__(self, faces: torch.Tensor) -> np.ndarray:
        if not isinstance(faces, torch.Tensor) or faces.dim() != 4 or faces.shape[1] != 3:
            shape = list(faces.shape) if isinstance(faces, torch.Tensor) else type(faces).__name__
            raise ConfigError(f"{self.name} features need faces [B, 3, H, W] (a float tensor), got {shape}")
        with torch.inference_mode():
            out = self._extract(faces)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().double().numpy()
        feats = np.asarray(out, dtype=np.float64)
        dim = self.dim
        if feats.ndim != 2 or feats.shape[0] != faces.shape[0] or (dim is not None and feats.shape[1] != dim):
            want = f"[{faces.shape[0]}, {dim if dim is not None else 'D'}]"
            raise ConfigError(f"the {self.name} feature extractor returned shape {list(feats.shape)}, expected {want}")
        return feats


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


class InceptionFeatures(FaceFeatureExtractor):
    """pool3 features of a :class:`FidInceptionV3`.

    ``pretrained=True`` says the model holds pytorch-fid's weights (as :func:`load_fid_inception` gives),
    which makes the distance an FID; with any other weights it is labelled as not comparable. The model
    is frozen (eval mode, no gradients) and moved to ``device``.
    """

    def __init__(self, model: FidInceptionV3, *, pretrained: bool, device: str | torch.device | None = None) -> None:
        self.device = _device(device)
        self.model = model.freeze().to(self.device)
        self.comparable = bool(pretrained)
        self.name = "inception_pool3" if pretrained else "inception_pool3_other_weights"

    @property
    def dim(self) -> int:
        return INCEPTION_DIM

    @property
    def label(self) -> str:
        if self.comparable:
            return FID_LABEL
        return (
            "FD-inception (Frechet distance on pool3 features of an Inception-v3 without pytorch-fid's "
            "weights; NOT FID, not comparable to published numbers)"
        )

    def _extract(self, faces: torch.Tensor) -> torch.Tensor:
        return self.model(faces.to(self.device))


class FaceApiFeatures(FaceFeatureExtractor):
    """The 256-d bottleneck of face-api's expression network: the fallback when no Inception weights are given.

    ``model`` defaults to :func:`wav2lip_emotion.perception.faceapi.build_faceapi` (the cached pretrained
    weights). Distances on these features are never FID.
    """

    name = "faceapi"
    comparable = False

    def __init__(self, model: nn.Module | None = None, device: str | torch.device | None = None) -> None:
        if model is None:
            from ..perception.faceapi import build_faceapi

            model = build_faceapi()
        self.device = _device(device)
        self.model = model.eval().to(self.device)

    @property
    def dim(self) -> int:
        return BLOCK_CHANNELS[-1]

    @property
    def label(self) -> str:
        return FD_FACEAPI_LABEL

    def _extract(self, faces: torch.Tensor) -> torch.Tensor:
        return self.model.features(faces.to(self.device))  # type: ignore[operator]


class CallableFeatures(FaceFeatureExtractor):
    """Any callable ``faces [B, 3, H, W] in [0, 1] -> [B, D]`` (tensor or array) as a feature extractor.

    ``dim`` is checked on every call when given, else taken from the first call. Always labelled as
    not comparable to published FID.
    """

    comparable = False

    def __init__(
        self, fn: Callable[[torch.Tensor], torch.Tensor | np.ndarray], name: str = "custom", dim: int | None = None
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"a feature extractor must be callable, got {type(fn).__name__}")
        if dim is not None and dim < 1:
            raise ConfigError(f"feature dimension must be >= 1, got {dim}")
        self.fn = fn
        self.name = name
        self._dim = dim

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def label(self) -> str:
        return (
            f"FD-{self.name} (Frechet distance on {self.name} features; NOT FID, not comparable to published numbers)"
        )

    def _extract(self, faces: torch.Tensor) -> torch.Tensor | np.ndarray:
        out = self.fn(faces)
        if self._dim is None:
            shape = tuple(out.shape)
            if len(shape) == 2 and shape[1] >= 1:
                self._dim = int(shape[1])
        return out


def make_feature_extractor(
    inception_weights: str | Path | None, *, device: str | torch.device | None = None
) -> FaceFeatureExtractor:
    """FID features when pytorch-fid's weight file is given, else the labelled face-api fallback."""
    if inception_weights is None:
        return FaceApiFeatures(device=device)
    if str(inception_weights).strip() == "":
        raise ConfigError(
            f"the Inception weights path is empty; pass the {FID_WEIGHTS_FILE} file, or None for the face-api "
            "fallback (not FID)"
        )
    return InceptionFeatures(load_fid_inception(inception_weights), pretrained=True, device=device)


def as_feature_extractor(extractor: FaceFeatureExtractor | Callable[[torch.Tensor], Any]) -> FaceFeatureExtractor:
    """``extractor`` itself, or a plain callable wrapped in :class:`CallableFeatures`."""
    if isinstance(extractor, FaceFeatureExtractor):
        return extractor
    if callable(extractor):
        return CallableFeatures(extractor, name=getattr(extractor, "__name__", None) or type(extractor).__name__)
    raise ConfigError(f"not a feature extractor: {type(extractor).__name__}")


# ------------------------------------------------------------------------------------ crops -> distance


@dataclass(frozen=True)
class FrechetResult:
    """A Frechet distance between two crop sets, with what it is (``label``) and whether it is an FID."""

    value: float
    label: str
    comparable: bool
    count_a: int
    count_b: int

    def __str__(self) -> str:
        return f"{self.label}: {self.value:.4f} ({self.count_a} vs {self.count_b} crops)"


def _batches(crops: Iterable[np.ndarray], batch_size: int, which: str) -> Iterator[torch.Tensor]:
    """Crops as float batches [B, 3, H, W] in [0, 1]; a batch ends early where the crop size changes."""
    batch: list[np.ndarray] = []
    for i, crop in enumerate(crops):
        if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
            what = f"{crop.dtype} {list(crop.shape)}" if isinstance(crop, np.ndarray) else type(crop).__name__
            raise ConfigError(f"{which} crop {i}: expected a uint8 H x W x 3 RGB array, got {what}")
        if crop.shape[0] < 1 or crop.shape[1] < 1:
            raise ConfigError(f"{which} crop {i} is empty ({list(crop.shape)})")
        if batch and (crop.shape != batch[0].shape or len(batch) == batch_size):
            yield _to_tensor(batch)
            batch = []
        batch.append(crop)
    if batch:
        yield _to_tensor(batch)


def _to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float().div_(255.0)


def feature_stats(
    crops: Iterable[np.ndarray],
    extractor: FaceFeatureExtractor | Callable[[torch.Tensor], Any],
    batch_size: int = 64,
    which: str = "set",
) -> FeatureStats:
    """Mean and covariance of the features of ``crops`` (uint8 H x W x 3 RGB), computed batch by batch.

    Only one batch of crops is held at a time, so ``crops`` may be a generator over a long video.
    Crops of different sizes may be mixed (each batch holds crops of one size). ``which`` names the set
    in error messages.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    ext = as_feature_extractor(extractor)
    stats = FeatureStats(ext.dim)
    for batch in _batches(crops, batch_size, which):
        stats.add(ext(batch))
    if stats.count < 2:
        raise DataError(f"{which}: {stats.count} face crops; a Frechet distance needs at least 2 per set")
    return stats


def frechet_between(
    crops_a: Iterable[np.ndarray],
    crops_b: Iterable[np.ndarray],
    extractor: FaceFeatureExtractor | Callable[[torch.Tensor], Any],
    batch_size: int = 64,
) -> FrechetResult:
    """The Frechet distance between two sets of face crops (uint8 H x W x 3 RGB), streamed in batches.

    With ``make_feature_extractor(path_to_pt_inception)`` this is pytorch-fid's FID
    (``comparable=True``); with the face-api fallback or any other features it is labelled
    "NOT FID" (see the module docstring). Each set needs at least 2 crops (DataError otherwise).
    """
    ext = as_feature_extractor(extractor)
    a = feature_stats(crops_a, ext, batch_size, which="first set")
    b = feature_stats(crops_b, ext, batch_size, which="second set")
    return FrechetResult(fid_from_stats(a, b), ext.label, ext.comparable, a.count, b.count)


__all__ = [
    "FD_FACEAPI_LABEL",
    "FID_LABEL",
    "CallableFeatures",
    "FaceApiFeatures",
    "FaceFeatureExtractor",
    "FeatureStats",
    "FrechetResult",
    "InceptionFeatures",
    "as_feature_extractor",
    "feature_stats",
    "fid_from_stats",
    "frechet_between",
    "frechet_distance",
    "frechet_from_features",
    "make_feature_extractor",
]
