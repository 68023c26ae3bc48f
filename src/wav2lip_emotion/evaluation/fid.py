"""Frechet distances between generated and ground-truth face crops: FID, and a labelled fallback.

Protocol (as the Wav2Lip-Emotion paper, which reports FID with pytorch-fid):

1. every crop (``uint8`` H x W x 3 RGB) becomes a feature vector through a fixed network;
2. each set of crops is summarised by the mean and the unbiased covariance of its features
   (:class:`FeatureStats`, float64, streamed batch by batch: the crops are never all held in memory);
3. the two Gaussians are compared with the Frechet distance (:func:`frechet_distance`)::

       d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr sqrtm(S_a S_b)

Which number you get, and whether it may be put next to published numbers:

* **FID** (``comparable=True``): the features are the 2048-d pool3 output of :class:`FidInceptionV3`
  loaded with pytorch-fid's own weight file ``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow
  FID Inception ported to PyTorch). The network, the preprocessing (bilinear resize to 299 x 299 with
  ``align_corners=False`` and no antialiasing, then ``2 x - 1``) and the statistics (float64,
  ``ddof=1``) are those of ``pytorch_fid.InceptionV3([3], resize_input=True, normalize_input=True)``
  and ``calculate_frechet_distance``. The weights are not shipped by any package this project may
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
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import fit_state_dict, torch_load_weights
from ..errors import CheckpointError, ConfigError, DataError

#: pytorch-fid's weight file (its FID_WEIGHTS_URL release asset)
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
#: pytorch-fid's ``eps``: added to the covariances' diagonal inside the square root when that fails
FID_EPS = 1e-6
INCEPTION_INPUT_SIZE = 299
#: pool3 feature size, and the TensorFlow graph's 1008 classes (1000 ImageNet + 8 unused)
INCEPTION_DIM = 2048
INCEPTION_CLASSES = 1008
#: BatchNorm epsilon of every Inception convolution (TensorFlow's 0.001)
BN_EPS = 0.001

FID_LABEL = "FID (pytorch-fid Inception-v3 pool3, comparable to published FID)"
FD_FACEAPI_LABEL = (
    "FD-faceapi (Frechet distance on face-api expression-net features; NOT FID, not comparable to published numbers)"
)

_MODEL = f"pytorch-fid Inception weights ({FID_WEIGHTS_FILE})"


# ------------------------------------------------------------------------------------ the distance


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64, without scipy.

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrtm(sigma1 sigma2)``. Means are ``[D]``,
    covariances ``[D, D]`` symmetric positive semi-definite (scalars are read as D = 1, like pytorch-fid's
    ``np.atleast_1d`` / ``np.atleast_2d``). ConfigError on mismatched shapes, non-finite values or a
    covariance that is not symmetric.

    **Why this is pytorch-fid's value.** pytorch-fid takes ``trace(scipy.linalg.sqrtm(sigma1 @ sigma2))``
    (real part). sqrtm returns the principal square root, computed on the Schur form whose diagonal it
    square-roots, so its trace is ``sum sqrt(lambda_i)`` over the eigenvalues of ``sigma1 sigma2``. For
    PSD covariances these eigenvalues are those of the symmetric PSD matrix
    ``M = A^(1/2) sigma2 A^(1/2)`` with ``A^(1/2)`` the PSD square root of sigma1: with
    ``X = A^(1/2)`` and ``Y = A^(1/2) sigma2``, ``XY = sigma1 sigma2`` and ``YX = M``, and ``XY`` and ``YX``
    have the same characteristic polynomial (no invertibility needed). So they are real and >= 0, and
    ``tr sqrtm(sigma1 sigma2) = sum sqrt(lambda_i(M))``; pytorch-fid's ``.real`` drops the imaginary
    parts that rounding gives tiny negative eigenvalues, i.e. clips them at 0.

    **How it is computed.** ``sqrt(lambda_i(M))`` are the singular values of ``G = F1 F2^T`` for any
    factors with ``sigma_k = F_k^T F_k`` (``G G^T = F1 sigma2 F1^T`` has the non-zero eigenvalues of
    ``sigma1 sigma2`` by the same argument; with ``F_k`` the symmetric square roots, ``G G^T = M``). Here
    ``F_k = diag(sqrt(w)) V^T`` from ``np.linalg.eigh(sigma_k)``, keeping the eigenvalues above the
    rounding floor ``max(w) * D * machine-eps`` (numpy's ``matrix_rank`` tolerance; the others are
    rounding noise of a singular covariance, or negative, and count as 0), and the sum of the singular
    values comes from an SVD of ``G``. Taking the SVD of ``G`` instead of square roots of the eigenvalues
    of ``M = G G^T`` matters for singular covariances (fewer samples than dimensions): ``M``'s null
    eigenvalues come out as rounding noise ``~eps |sigma|^2`` whose square roots, ``~1e-8 |sigma|`` each,
    add up over the null directions (about -1e-3 for a 12-sample set with itself in 2048-d; here ~1e-12).

    **Degenerate covariances** need no regularisation on this route: it stays finite and exact for
    singular, even zero, covariances. pytorch-fid adds ``eps * I`` (eps = 1e-6) to both covariances
    *inside the square root only* when scipy's sqrtm of a singular product comes out non-finite; we do
    the same, and only, if the eigen- or singular-value decomposition fails (``LinAlgError``, which for
    finite symmetric input does not happen in practice). Where pytorch-fid took its eps route the two can
    differ by about ``2 sqrt(eps * b)`` per null direction (``b`` the other covariance's variance there).

    The value is returned as computed: for identical inputs it can be a rounding-sized negative number.
    """
    m1, s1 = _gaussian(mu1, sigma1, "first")
    m2, s2 = _gaussian(mu2, sigma2, "second")
    if m1.shape != m2.shape:
        raise ConfigError(f"the two Gaussians have different dimensions: {m1.shape[0]} and {m2.shape[0]}")
    try:
        tr_covmean = _nuclear_norm(_cov_factor(s1), _cov_factor(s2))
    except np.linalg.LinAlgError:
        tr_covmean = _eps_trace_sqrt_product(s1, s2)
    return _combine(m1, float(np.trace(s1)), m2, float(np.trace(s2)), tr_covmean)


def _combine(mu1: np.ndarray, tr1: float, mu2: np.ndarray, tr2: float, tr_covmean: float) -> float:
    diff = mu1 - mu2
    return float(diff @ diff + tr1 + tr2 - 2.0 * tr_covmean)


def _gaussian(mu: Any, sigma: Any, which: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    s = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if m.ndim != 1:
        raise ConfigError(f"the {which} mean must be a vector [D], got shape {list(m.shape)}")
    d = m.shape[0]
    if d == 0:
        raise ConfigError(f"the {which} mean is empty")
    if s.shape != (d, d):
        raise ConfigError(f"the {which} covariance must be [{d}, {d}] to match its mean, got {list(s.shape)}")
    if not (np.isfinite(m).all() and np.isfinite(s).all()):
        raise ConfigError(f"the {which} mean or covariance holds NaN or infinite values")
    scale = max(float(np.abs(s).max()), np.finfo(np.float64).tiny)
    asym = float(np.abs(s - s.T).max())
    if asym > 1e-6 * scale:
        raise ConfigError(f"the {which} covariance is not symmetric (max |S - S^T| = {asym:.3g})")
    return m, (s + s.T) / 2


def _cov_factor(s: np.ndarray) -> np.ndarray:
    """``F`` [k, D] with ``F^T F = s`` over the eigenvalues of ``s`` above its rounding floor (k may be 0)."""
    w, v = np.linalg.eigh(s)
    floor = max(float(w[-1]), 0.0) * s.shape[0] * np.finfo(np.float64).eps
    keep = w > floor
    return (v[:, keep] * np.sqrt(w[keep])).T


def _nuclear_norm(f1: np.ndarray, f2: np.ndarray) -> float:
    """Sum of the singular values of ``f1 f2^T`` = ``tr sqrtm(f1^T f1 f2^T f2)``."""
    if f1.shape[0] == 0 or f2.shape[0] == 0:
        return 0.0
    return float(np.linalg.svd(f1 @ f2.T, compute_uv=False).sum())


def _eps_trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's fallback: tr sqrtm((s1 + eps I)(s2 + eps I)), eps = FID_EPS."""
    offset = np.eye(s1.shape[0]) * FID_EPS
    try:
        return _nuclear_norm(_cov_factor(s1 + offset), _cov_factor(s2 + offset))
    except np.linalg.LinAlgError as exc:
        raise ConfigError(f"the Frechet distance cannot be computed for these covariances ({exc})") from None


class FeatureStats:
    """Streaming mean and covariance of feature vectors, in float64.

    ``add([B, D])`` any number of times (batches are merged with Chan et al.'s pairwise update, which
    stays accurate where the naive sum of squares would cancel). ``cov`` is the unbiased covariance
    (``ddof=1``), equal to ``np.cov(features, rowvar=False)`` as pytorch-fid computes it, and needs at
    least 2 samples.

    While no more vectors than dimensions have been added, the vectors themselves are kept as well (at
    most D x D numbers, the size of the covariance): :func:`fid_from_stats` then works on the centred
    vectors (``cov = Xc^T Xc / (n - 1)``), exactly and without any D x D decomposition.
    """

    def __init__(self, dim: int | None = None) -> None:
        if dim is not None and dim < 1:
            raise ConfigError(f"feature dimension must be >= 1, got {dim}")
        self._dim = dim
        self._count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None  # sum of outer products of deviations from the mean
        self._rows: list[np.ndarray] | None = []  # the vectors, while count <= dim
        self._factor: np.ndarray | None = None  # cached covariance factor (see _covariance_factor)

    @property
    def dim(self) -> int | None:
        """The feature dimension (set by the first batch when not given)."""
        return self._dim

    @property
    def count(self) -> int:
        return self._count

    def add(self, features: np.ndarray | torch.Tensor) -> None:
        """Add a batch of feature vectors ``[B, D]`` (any float or int dtype; B may be 0)."""
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().double().numpy()
        x = np.array(features, dtype=np.float64)  # a copy: kept rows must not alias the caller's array
        if x.ndim != 2:
            raise ConfigError(f"features must be [B, D], got shape {list(x.shape)}")
        if self._dim is None:
            if x.shape[1] < 1:
                raise ConfigError("features must have at least one dimension, got [B, 0]")
            self._dim = x.shape[1]
        if x.shape[1] != self._dim:
            raise ConfigError(f"features of dimension {x.shape[1]} added to statistics of dimension {self._dim}")
        n_b = x.shape[0]
        if n_b == 0:
            return
        if not np.isfinite(x).all():
            raise ConfigError("features hold NaN or infinite values")
        self._factor = None
        mean_b = x.mean(axis=0)
        dev = x - mean_b
        m2_b = dev.T @ dev
        if self._mean is None or self._m2 is None:
            self._count, self._mean, self._m2 = n_b, mean_b, m2_b
        else:
            n_a = self._count
            n = n_a + n_b
            delta = mean_b - self._mean
            self._mean = self._mean + delta * (n_b / n)
            self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
            self._count = n
        if self._rows is not None:
            self._rows.append(x)
            if self._count > self._dim:
                self._rows = None

    @property
    def mean(self) -> np.ndarray:
        """The mean feature vector [D] (needs at least one sample)."""
        if self._mean is None:
            raise DataError("no features were added: the mean of an empty set is undefined")
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """The unbiased covariance [D, D] (``ddof=1``; needs at least 2 samples)."""
        self._require_two()
        assert self._m2 is not None
        m2 = self._m2 / (self._count - 1)
        return (m2 + m2.T) / 2

    def _require_two(self) -> None:
        if self._m2 is None or self._count < 2:
            raise DataError(
                f"a covariance needs at least 2 feature vectors, got {self._count} "
                "(give each set at least 2 face crops; FID wants thousands)"
            )

    def _covariance_factor(self) -> tuple[np.ndarray, float]:
        """``F`` with ``F^T F = cov``, and ``tr(cov)``: the centred vectors / sqrt(n - 1) while they are kept,
        else the eigen-factor of ``cov`` (cached until the next ``add``)."""
        self._require_two()
        if self._factor is None:
            if self._rows is not None:
                assert self._mean is not None
                self._factor = (np.concatenate(self._rows) - self._mean) / np.sqrt(self._count - 1)
            else:
                self._factor = _cov_factor(self.cov)
        if self._rows is not None:
            return self._factor, float(np.einsum("ij,ij->", self._factor, self._factor))
        return self._factor, float(np.trace(self.cov))


def fid_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    """The Frechet distance between the Gaussians of two :class:`FeatureStats` (see :func:`frechet_distance`).

    Same value as ``frechet_distance(a.mean, a.cov, b.mean, b.cov)``; a set with no more vectors than
    dimensions is used through its centred vectors (``tr sqrtm(cov_a cov_b)`` is then the sum of the
    singular values of an ``n_a x n_b`` matrix), which is both exact and fast.
    """
    if a.dim != b.dim:
        raise ConfigError(f"the two feature sets have different dimensions: {a.dim} and {b.dim}")
    fa, tr_a = a._covariance_factor()
    fb, tr_b = b._covariance_factor()
    try:
        tr_covmean = _nuclear_norm(fa, fb)
    except np.linalg.LinAlgError:
        tr_covmean = _eps_trace_sqrt_product(a.cov, b.cov)
    return _combine(a.mean, tr_a, b.mean, tr_b, tr_covmean)


# ------------------------------------------------------------------------------------ the FID Inception


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
        from ..perception.faceapi import BLOCK_CHANNELS

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
    "BN_EPS",
    "FD_FACEAPI_LABEL",
    "FID_EPS",
    "FID_LABEL",
    "FID_WEIGHTS_FILE",
    "INCEPTION_CLASSES",
    "INCEPTION_DIM",
    "INCEPTION_INPUT_SIZE",
    "CallableFeatures",
    "FaceApiFeatures",
    "FaceFeatureExtractor",
    "FeatureStats",
    "FidInceptionV3",
    "FrechetResult",
    "InceptionFeatures",
    "as_feature_extractor",
    "feature_stats",
    "fid_from_stats",
    "frechet_between",
    "frechet_distance",
    "load_fid_inception",
    "make_feature_extractor",
]


def frechet_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between two sets of feature rows [N, D] and [M, D] (NaN when a set has < 2 rows)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    sa, sb = FeatureStats(), FeatureStats()
    sa.add(np.asarray(a))
    sb.add(np.asarray(b))
    return max(0.0, fid_from_stats(sa, sb))  # rounding can give -1e-12 for identical sets
