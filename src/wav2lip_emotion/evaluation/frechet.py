"""The Frechet distance between two Gaussians of feature vectors: pure maths (NumPy), no network.

``d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr sqrtm(S_a S_b)``, with the mean and the unbiased
covariance of each set of features streamed batch by batch (:class:`FeatureStats`, float64) and the
value equal to pytorch-fid's ``calculate_frechet_distance`` (:func:`frechet_distance`). Which features
go in, and whether the result may be called FID, is :mod:`wav2lip_emotion.evaluation.fid`'s business.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DataError

#: pytorch-fid's ``eps``: added to the covariances' diagonal inside the square root when that fails
FID_EPS = 1e-6


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


def frechet_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between two sets of feature rows [N, D] and [M, D] (NaN when a set has < 2 rows)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    sa, sb = FeatureStats(), FeatureStats()
    sa.add(np.asarray(a))
    sb.add(np.asarray(b))
    return max(0.0, fid_from_stats(sa, sb))  # rounding can give -1e-12 for identical sets


__all__ = ["FID_EPS", "FeatureStats", "fid_from_stats", "frechet_distance", "frechet_from_features"]
