"""LSE-D / LSE-C: syncnet_python's MFCC, offset search (evaluation.sync_maths), network layout
(ports.syncnet_v2) and scorers (evaluation.lip_sync).

``tests/data/mfcc_golden.npz`` was made in a throw-away virtualenv with ``python_speech_features`` 0.6
(scipy 1.17.1, numpy 2.4.6; its ``generator`` entry says so). Its signal, stored as int16 next to the
expected MFCCs, follows the recipe in its ``recipe`` entry: 1.3 s at 16 kHz,
``7000 sin(2 pi 220 t) + 3000 sin(2 pi 1375 t + 0.3) + 1500 sin(2 pi 3100 t)(0.5 + 0.5 sin(2 pi 3 t))``
plus ``numpy.random.default_rng(20240611).normal(0, 800)`` noise, samples 8000..8799 set to 0 (50 ms of
silence, so that whole frames take the eps path), rounded and clipped to int16; the expected values are
``python_speech_features.mfcc(signal, 16000)`` with every default.
"""

from __future__ import annotations

import math
import pickle
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.errors import CheckpointError, ConfigError, MediaError
from wav2lip_emotion.evaluation.lip_sync import (
    ExpertLipSync,
    JoonsonLipSync,
    LipSyncResult,
    LipSyncScorer,
    shift_audio,
    syncnet_crop,
)
from wav2lip_emotion.evaluation.sync_maths import (
    MAX_OFFSET,
    PDIST_EPS,
    OffsetSearch,
    mfcc,
    offset_distances,
    offset_search,
    syncnet_mfcc,
)
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.media import VideoReader, VideoWriter
from wav2lip_emotion.models.syncnet import SyncNetExpert
from wav2lip_emotion.ports.syncnet_v2 import JoonsonSyncNet, load_joonson_syncnet

from .conftest import DATA, deterministic_state_dict

# ----------------------------------------------------------------------------- MFCC


@pytest.fixture(scope="module")
def golden_mfcc() -> dict[str, np.ndarray]:
    with np.load(DATA / "mfcc_golden.npz") as data:
        return {k: data[k] for k in data.files}


def test_mfcc_matches_python_speech_features(golden_mfcc):
    signal, expected = golden_mfcc["signal"], golden_mfcc["expected"]
    assert signal.dtype == np.int16 and len(signal) == 20800 and int(golden_mfcc["sample_rate"]) == 16000
    assert expected.shape == (1 + math.ceil((20800 - 400) / 160), 13)  # 129 frames, the last one zero-padded
    # the silent stretch holds whole frames: their energy was replaced by eps (log eps = -36.04)
    assert np.isclose(expected[:, 0], np.log(np.finfo(np.float64).eps)).sum() == 2
    ours = mfcc(signal, 16000)
    assert ours.shape == expected.shape and ours.dtype == np.float64
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mfcc(signal.astype(np.float32)), expected, rtol=1e-6, atol=1e-9)


def test_syncnet_mfcc_uses_the_int16_scale(golden_mfcc):
    signal = golden_mfcc["signal"]
    as_float = signal.astype(np.float32) / 32768.0  # what load_audio gives for this file
    np.testing.assert_array_equal(syncnet_mfcc(as_float), mfcc(signal))
    # quantisation: values off the int16 grid are rounded (ties to even) and clipped like ffmpeg's s16 output
    x = np.array([0.1 / 32768, 0.6 / 32768, 2.5 / 32768, 1.5, -1.5, 0.25])
    np.testing.assert_array_equal(syncnet_mfcc(x), mfcc(np.array([0.0, 1.0, 2.0, 32767.0, -32768.0, 8192.0])))
    assert not np.array_equal(syncnet_mfcc(x, quantize=False), syncnet_mfcc(x))


def test_mfcc_framing_edge_cases():
    # shorter than a frame: one zero-padded frame; exactly one frame: one frame; one sample more: two
    assert mfcc(np.ones(10)).shape == (1, 13)
    assert mfcc(np.arange(400.0)).shape == (1, 13)
    assert mfcc(np.arange(401.0)).shape == (2, 13)
    silent = mfcc(np.zeros(1600))  # all energies take the eps path; every cepstrum but c0 is then 0
    np.testing.assert_allclose(silent[:, 0], np.log(np.finfo(np.float64).eps))
    np.testing.assert_allclose(silent[:, 1:], 0.0, atol=1e-9)
    assert np.isfinite(mfcc(np.random.default_rng(0).normal(size=4410), 44100)).all()


@pytest.mark.parametrize("bad", [np.zeros((10, 2)), np.zeros(0), np.array(["a", "b"])])
def test_mfcc_rejects_bad_input(bad):
    with pytest.raises(ConfigError):
        mfcc(bad)


def test_mfcc_rejects_bad_rate():
    with pytest.raises(ConfigError, match="sample rate"):
        mfcc(np.zeros(100), 0)


# ----------------------------------------------------------------------------- offset search


def test_offset_search_by_hand():
    # D = 1, N = 3, max_offset = 1; e = 1e-6 is added to every difference (pairwise_distance's eps).
    # video = [1, 2, 3], audio = [2, 3, 5]; padded audio = [0, 2, 3, 5, 0], row i looks at padded[i : i+3]
    #   i=0: |1-0+e| = 1+e, |1-2+e| = 1-e, |1-3+e| = 2-e
    #   i=1: |2-2+e| = e,   |2-3+e| = 1-e, |2-5+e| = 3-e
    #   i=2: |3-3+e| = e,   |3-5+e| = 2-e, |3-0+e| = 3+e
    # means per offset index: j=0 (1+3e)/3, j=1 (4-3e)/3, j=2 (8-e)/3 -> minidx 0, offset = 1 - 0 = +1
    # (video i matches audio i-1: the audio is early by one frame); median = (4-3e)/3, LSE-C = 1 - 2e
    e = PDIST_EPS
    res = offset_search(np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [3.0], [5.0]]), max_offset=1)
    assert isinstance(res, OffsetSearch)
    np.testing.assert_allclose(res.mean_distances, [(1 + 3 * e) / 3, (4 - 3 * e) / 3, (8 - e) / 3], rtol=0, atol=1e-15)
    assert res.offset == 1
    assert res.min_distance == pytest.approx((1 + 3 * e) / 3, abs=1e-15)
    assert res.confidence == pytest.approx(1 - 2 * e, abs=1e-15)
    np.testing.assert_allclose(res.frame_distances, [1 + e, e, e], rtol=0, atol=1e-15)


def _shifted_pair(n: int, dim: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(video, audio) embeddings with audio[j] = video[j - k]: the audio is LATE by k frames for k > 0."""
    base = np.random.default_rng(seed).normal(size=(n + 2 * abs(k), dim))
    lo = abs(k)
    return base[lo : lo + n], base[lo - k : lo - k + n]


@pytest.mark.parametrize("k", [0, 1, 4, -3, 15, -15])
def test_offset_sign_convention(k):
    video, audio = _shifted_pair(n=40, dim=16, k=k)
    res = offset_search(video, audio)
    # audio late by k (audio[j] = video[j-k], video i matches audio i+k) -> offset == -k; early -> +k
    assert res.offset == -k
    # at the best offset the matching rows are only the eps apart; the |k| rows whose partner falls in the
    # zero padding count with the norm of the video row (syncnet_python keeps them in the mean)
    matched = np.full(40 - abs(k), PDIST_EPS * math.sqrt(16))
    rows = range(40 - k, 40) if k > 0 else range(-k)
    padded = [np.linalg.norm(video[i] + PDIST_EPS) for i in rows]
    assert res.min_distance == pytest.approx(np.concatenate([matched, padded]).mean(), rel=1e-9)
    assert res.confidence > 1.0
    assert res.frame_distances.shape == (40,)
    np.testing.assert_allclose(res.frame_distances[: 40 - abs(k)] if k >= 0 else res.frame_distances[-k:], matched)


def test_offset_distances_are_torch_pairwise_distances():
    gen = torch.Generator().manual_seed(1)
    video, audio = torch.randn(12, 8, generator=gen), torch.randn(12, 8, generator=gen)
    K = 4
    padded = F.pad(audio, (0, 0, K, K))
    windows = padded.unfold(0, 2 * K + 1, 1).permute(0, 2, 1)  # [N, 2K+1, D]: audio i-K .. i+K
    expected = F.pairwise_distance(video[:, None, :].expand_as(windows), windows)  # float32, eps 1e-6
    ours = offset_distances(video, audio, K)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-5)
    res = offset_search(video, audio, K)  # torch tensors are accepted as such
    means = expected.mean(0)
    assert res.offset == K - int(torch.argmin(means))
    assert res.confidence == pytest.approx(float(torch.median(means) - means.min()), rel=1e-4)


def test_offset_search_max_offset_zero():
    video, audio = _shifted_pair(n=5, dim=3, k=0)
    res = offset_search(video, audio, max_offset=0)
    assert res.offset == 0 and res.confidence == 0.0 and res.mean_distances.shape == (1,)


@pytest.mark.parametrize(
    ("video", "audio", "max_offset", "match"),
    [
        (np.zeros((4, 3)), np.zeros((5, 3)), 2, "differ in shape"),
        (np.zeros(4), np.zeros(4), 2, "2-D"),
        (np.zeros((0, 3)), np.zeros((0, 3)), 2, "at least one"),
        (np.zeros((4, 3)), np.zeros((4, 3)), -1, "max_offset"),
        (np.zeros((4, 3)), np.zeros((4, 3)), 1.5, "max_offset"),
        (np.full((4, 3), np.nan), np.zeros((4, 3)), 2, "NaN"),
    ],
)
def test_offset_search_validates(video, audio, max_offset, match):
    with pytest.raises(ConfigError, match=match):
        offset_search(video, audio, max_offset)


# ----------------------------------------------------------------------------- the network

# syncnet_python's SyncNetModel.S, tensor by tensor: the names and shapes of syncnet_v2.model
EXPECTED_STATE: dict[str, tuple[int, ...]] = {
    "netcnnaud.0.weight": (64, 1, 3, 3),
    "netcnnaud.0.bias": (64,),
    "netcnnaud.1.weight": (64,),
    "netcnnaud.1.bias": (64,),
    "netcnnaud.1.running_mean": (64,),
    "netcnnaud.1.running_var": (64,),
    "netcnnaud.1.num_batches_tracked": (),
    "netcnnaud.4.weight": (192, 64, 3, 3),
    "netcnnaud.4.bias": (192,),
    "netcnnaud.5.weight": (192,),
    "netcnnaud.5.bias": (192,),
    "netcnnaud.5.running_mean": (192,),
    "netcnnaud.5.running_var": (192,),
    "netcnnaud.5.num_batches_tracked": (),
    "netcnnaud.8.weight": (384, 192, 3, 3),
    "netcnnaud.8.bias": (384,),
    "netcnnaud.9.weight": (384,),
    "netcnnaud.9.bias": (384,),
    "netcnnaud.9.running_mean": (384,),
    "netcnnaud.9.running_var": (384,),
    "netcnnaud.9.num_batches_tracked": (),
    "netcnnaud.11.weight": (256, 384, 3, 3),
    "netcnnaud.11.bias": (256,),
    "netcnnaud.12.weight": (256,),
    "netcnnaud.12.bias": (256,),
    "netcnnaud.12.running_mean": (256,),
    "netcnnaud.12.running_var": (256,),
    "netcnnaud.12.num_batches_tracked": (),
    "netcnnaud.14.weight": (256, 256, 3, 3),
    "netcnnaud.14.bias": (256,),
    "netcnnaud.15.weight": (256,),
    "netcnnaud.15.bias": (256,),
    "netcnnaud.15.running_mean": (256,),
    "netcnnaud.15.running_var": (256,),
    "netcnnaud.15.num_batches_tracked": (),
    "netcnnaud.18.weight": (512, 256, 5, 4),
    "netcnnaud.18.bias": (512,),
    "netcnnaud.19.weight": (512,),
    "netcnnaud.19.bias": (512,),
    "netcnnaud.19.running_mean": (512,),
    "netcnnaud.19.running_var": (512,),
    "netcnnaud.19.num_batches_tracked": (),
    "netfcaud.0.weight": (512, 512),
    "netfcaud.0.bias": (512,),
    "netfcaud.1.weight": (512,),
    "netfcaud.1.bias": (512,),
    "netfcaud.1.running_mean": (512,),
    "netfcaud.1.running_var": (512,),
    "netfcaud.1.num_batches_tracked": (),
    "netfcaud.3.weight": (1024, 512),
    "netfcaud.3.bias": (1024,),
    "netfclip.0.weight": (512, 512),
    "netfclip.0.bias": (512,),
    "netfclip.1.weight": (512,),
    "netfclip.1.bias": (512,),
    "netfclip.1.running_mean": (512,),
    "netfclip.1.running_var": (512,),
    "netfclip.1.num_batches_tracked": (),
    "netfclip.3.weight": (1024, 512),
    "netfclip.3.bias": (1024,),
    "netcnnlip.0.weight": (96, 3, 5, 7, 7),
    "netcnnlip.0.bias": (96,),
    "netcnnlip.1.weight": (96,),
    "netcnnlip.1.bias": (96,),
    "netcnnlip.1.running_mean": (96,),
    "netcnnlip.1.running_var": (96,),
    "netcnnlip.1.num_batches_tracked": (),
    "netcnnlip.4.weight": (256, 96, 1, 5, 5),
    "netcnnlip.4.bias": (256,),
    "netcnnlip.5.weight": (256,),
    "netcnnlip.5.bias": (256,),
    "netcnnlip.5.running_mean": (256,),
    "netcnnlip.5.running_var": (256,),
    "netcnnlip.5.num_batches_tracked": (),
    "netcnnlip.8.weight": (256, 256, 1, 3, 3),
    "netcnnlip.8.bias": (256,),
    "netcnnlip.9.weight": (256,),
    "netcnnlip.9.bias": (256,),
    "netcnnlip.9.running_mean": (256,),
    "netcnnlip.9.running_var": (256,),
    "netcnnlip.9.num_batches_tracked": (),
    "netcnnlip.11.weight": (256, 256, 1, 3, 3),
    "netcnnlip.11.bias": (256,),
    "netcnnlip.12.weight": (256,),
    "netcnnlip.12.bias": (256,),
    "netcnnlip.12.running_mean": (256,),
    "netcnnlip.12.running_var": (256,),
    "netcnnlip.12.num_batches_tracked": (),
    "netcnnlip.14.weight": (256, 256, 1, 3, 3),
    "netcnnlip.14.bias": (256,),
    "netcnnlip.15.weight": (256,),
    "netcnnlip.15.bias": (256,),
    "netcnnlip.15.running_mean": (256,),
    "netcnnlip.15.running_var": (256,),
    "netcnnlip.15.num_batches_tracked": (),
    "netcnnlip.18.weight": (512, 256, 1, 6, 6),
    "netcnnlip.18.bias": (512,),
    "netcnnlip.19.weight": (512,),
    "netcnnlip.19.bias": (512,),
    "netcnnlip.19.running_mean": (512,),
    "netcnnlip.19.running_var": (512,),
    "netcnnlip.19.num_batches_tracked": (),
}


def test_joonson_state_dict_layout():
    state = JoonsonSyncNet().state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == EXPECTED_STATE
    assert list(state) == list(EXPECTED_STATE)  # their order too (audio, fc audio, fc lip, lip)


def test_joonson_shapes():
    model = JoonsonSyncNet().eval()
    with torch.inference_mode():
        assert model.netcnnaud(torch.zeros(2, 1, 13, 20)).shape == (2, 512, 1, 1)
        assert model.netcnnlip(torch.zeros(2, 3, 5, 224, 224)).shape == (2, 512, 1, 1, 1)
        a, v = model(torch.randn(2, 1, 13, 20), torch.rand(2, 3, 5, 224, 224) * 255)
    assert a.shape == v.shape == (2, 1024)
    with pytest.raises(ConfigError, match=r"\[B, 1, 13, 20\]"):
        model.embed_audio(torch.zeros(2, 1, 13, 21))
    with pytest.raises(ConfigError, match=r"\[B, 3, 5, 224, 224\]"):
        model.embed_lips(torch.zeros(2, 3, 4, 224, 224))


def _joonson_state() -> dict[str, torch.Tensor]:
    return deterministic_state_dict({k: list(s) for k, s in EXPECTED_STATE.items()})


@pytest.mark.parametrize("layout", ["plain", "state_dict_module_S", "model_S", "no_counters"])
def test_load_joonson_syncnet(tmp_path, layout):
    state = _joonson_state()
    if layout == "plain":
        obj: object = state
    elif layout == "state_dict_module_S":
        obj = {"state_dict": {f"module.__S__.{k}": v for k, v in state.items()}, "epoch": 3}
    elif layout == "model_S":
        obj = {"model": {f"__S__.{k}": v for k, v in state.items()}}
    else:  # files saved before PyTorch 0.4.1 have no num_batches_tracked
        obj = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "syncnet_v2.model"
    torch.save(obj, path)
    model = load_joonson_syncnet(path)
    assert isinstance(model, JoonsonSyncNet) and not model.training
    loaded = model.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


class _NotATensor:
    pass


def _one_line_error(path: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as info:
        load_joonson_syncnet(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))


def test_load_joonson_syncnet_errors(tmp_path):
    _one_line_error(tmp_path / "absent.model", "no such checkpoint")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a pickle at all" * 10)
    _one_line_error(junk, "not a PyTorch checkpoint")
    unsafe = tmp_path / "unsafe.model"
    torch.save({"x": _NotATensor()}, unsafe)
    _one_line_error(unsafe, "refused")
    state = _joonson_state()

    def save(name: str, obj: object) -> Path:
        torch.save(obj, tmp_path / name)
        return tmp_path / name

    _one_line_error(save("tensor.model", torch.zeros(3)), "holds no state dict")
    _one_line_error(save("mixed.model", {**state, "note": "hello"}), "'note' is a str")
    missing = {k: v for k, v in state.items() if not k.startswith("netfclip.")}
    _one_line_error(save("missing.model", missing), r"missing 8 tensor\(s\): netfclip")
    _one_line_error(save("extra.model", {**state, "head.weight": torch.zeros(2)}), "unexpected 1 tensor.*head.weight")
    wrong = {**state, "netfcaud.3.weight": torch.zeros(512, 512)}
    _one_line_error(save("wrong.model", wrong), r"netfcaud.3.weight \[512, 512\] \(expected \[1024, 512\]\)")


# ----------------------------------------------------------------------------- crops


def _their_crop(rgb: np.ndarray, box: list[float]) -> np.ndarray:
    """The crop recipe of syncnet_python's run_pipeline, spelled out with np.pad (BGR output)."""
    import cv2

    bgr = rgb[:, :, ::-1]
    half = max(box[3] - box[1], box[2] - box[0]) / 2
    pad = int(half * 1.8)
    framed = np.pad(bgr, ((pad, pad), (pad, pad), (0, 0)), constant_values=110)
    cy, cx = (box[1] + box[3]) / 2 + pad, (box[0] + box[2]) / 2 + pad
    face = framed[int(cy - half) : int(cy + half * 1.8), int(cx - half * 1.4) : int(cx + half * 1.4)]
    return cv2.resize(face, (224, 224))


@pytest.mark.parametrize("box", [[40.3, 30.7, 101.2, 110.9], [0.0, 0.0, 50.0, 40.0], [150.5, 90.0, 199.0, 150.0]])
def test_syncnet_crop_geometry(box):
    rgb = np.random.default_rng(3).integers(0, 256, size=(160, 200, 3), dtype=np.uint8)
    ours = syncnet_crop(rgb, np.array(box))
    assert ours.shape == (224, 224, 3) and ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, _their_crop(rgb, box))


def test_syncnet_crop_is_bgr_with_grey_outside():
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    crop = syncnet_crop(rgb, [60, 60, 100, 100])  # centre (80, 80): the crop runs past the bottom right
    assert tuple(crop[100, 100]) == (0, 0, 255)  # red in BGR
    assert tuple(crop[-1, -1]) == (110, 110, 110)
    with pytest.raises(ConfigError, match="uint8"):
        syncnet_crop(rgb.astype(np.float32), [0, 0, 10, 10])
    with pytest.raises(ConfigError, match="too small"):
        syncnet_crop(rgb, [5, 5, 5, 5])


def test_shift_audio():
    x = np.arange(1, 2001, dtype=np.float32)
    assert np.array_equal(shift_audio(x, 2, 25.0), np.concatenate([np.zeros(1280, np.float32), x]))
    assert np.array_equal(shift_audio(x, -1, 25.0), x[640:])
    assert len(shift_audio(x, 1, 30.0)) == 2000 + 533  # round(16000 / 30)
    assert shift_audio(x, 0, 25.0) is x
    with pytest.raises(ConfigError, match="leaves none"):
        shift_audio(x, -4, 25.0)


# ----------------------------------------------------------------------------- scorers on real clips

CLIP_FRAMES = 30
BLACK = (0, 1, 2, 15)  # frames without a face: three at the start (skipped), one in the middle (box reused)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """movie_hello's webcam corner (480x360), 30 frames at 25 fps (with black frames) and at 30 fps,
    each with the original audio (which runs on for seconds after the video ends)."""
    src = asset_path("movie_hello")
    out = tmp_path_factory.mktemp("lip_sync")
    paths = {}
    for name, fps, black in (("25", 25.0, BLACK), ("30", 30.0, ())):
        path = out / f"clip{name}.mp4"
        with (
            VideoReader(src, fps=fps, max_frames=CLIP_FRAMES) as reader,
            VideoWriter(path, fps, 480, 360, audio_from=src) as writer,
        ):
            for frame in reader:
                rgb = np.ascontiguousarray(frame.rgb[:360, :480])
                writer.write(np.zeros_like(rgb) if frame.index in black else rgb)
        paths[name] = path
    short = out / "short.wav"  # 0.8 s of the clip's audio: covers 20 frames at 25 fps
    from wav2lip_emotion.audio import load_audio

    samples = np.clip(np.rint(load_audio(paths["25"])[:12800] * 32768), -32768, 32767).astype("<i2")
    with wave.open(str(short), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(16000)
        fh.writeframes(samples.tobytes())
    paths["short_audio"] = short
    return paths


@pytest.fixture(scope="module")
def tracker() -> FaceTracker:
    return FaceTracker()


@pytest.fixture(scope="module")
def joonson() -> JoonsonLipSync:
    torch.manual_seed(0)
    return JoonsonLipSync(JoonsonSyncNet())


@pytest.fixture(scope="module")
def expert() -> ExpertLipSync:
    torch.manual_seed(0)
    return ExpertLipSync(SyncNetExpert("tiny"))


class _ProbeScorer(LipSyncScorer):
    """Records what the shared streaming loop hands over: crop k is the k-th crop taken (from the first face)."""

    name, comparable, label = "probe", False, "probe"

    def __init__(self, audio_frames: int) -> None:
        super().__init__()
        self.audio_frames = audio_frames
        self.crops = 0
        self.batches: list[int] = []

    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        return np.zeros((1, 0)), self.audio_frames

    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        self.crops += 1
        return np.full((1, 1, 3), self.crops - 1, dtype=np.uint8)

    def embed_windows(self, windows, starts, features, fps):
        self.batches.append(len(windows))
        crops = torch.tensor([[float(c[0, 0, 0]) for c in w] for w in windows])
        return crops, torch.tensor([[float(s)] * 5 for s in starts])


def test_streaming_windows(clips, tracker):
    probe = _ProbeScorer(audio_frames=1000)
    emb = probe.embed(clips["25"], tracker=tracker, batch_size=4)
    # faces from frame 3 on; windows i = 3 .. min(30, 1000) - 6 = 24 (syncnet_python's range(min_length - 5))
    assert emb.first_frame == 3 and emb.frames_read == CLIP_FRAMES
    assert emb.frames_without_face == len(BLACK)
    assert len(emb.video) == CLIP_FRAMES - 5 - 3
    for k, row in enumerate(emb.video):  # window k holds the crops of frames 3+k .. 3+k+4, in order
        np.testing.assert_array_equal(row, np.arange(k, k + 5))
    np.testing.assert_array_equal(emb.audio[:, 0], np.arange(3, CLIP_FRAMES - 5))
    assert probe.batches == [4, 4, 4, 4, 4, 2]
    # audio covering 12 frames: windows 3 .. 6, and reading stops at frame 12
    short = _ProbeScorer(audio_frames=12)
    emb = short.embed(clips["25"], tracker=tracker)
    np.testing.assert_array_equal(emb.audio[:, 0], [3, 4, 5, 6])
    assert emb.frames_read == 12
    with pytest.raises(MediaError, match="too short"):
        _ProbeScorer(audio_frames=8).embed(clips["25"], tracker=tracker)


def _check_result(res: LipSyncResult, frames_used: int) -> None:
    assert np.isfinite([res.lse_d, res.lse_c]).all() and np.isfinite(res.mean_distances).all()
    assert -MAX_OFFSET <= res.offset <= MAX_OFFSET
    assert res.lse_c >= 0
    assert res.frames_used == frames_used
    assert res.mean_distances.shape == (2 * MAX_OFFSET + 1,)
    assert res.lse_d == res.mean_distances.min()
    assert res.offset == MAX_OFFSET - int(np.argmin(res.mean_distances))
    assert res.lse_c == pytest.approx(np.median(res.mean_distances) - res.lse_d)


def _check_shift(before, after, k: int, exact_from: int) -> None:
    """Embeddings after delaying the audio by k frames (advancing for k < 0): the video side is unchanged
    and audio window i is the old window i - k wherever both are taken from the same samples (from
    ``exact_from`` on; earlier windows of a delayed audio see the inserted silence). The per-window
    distances then move by k offsets wherever both pair real windows. The mean distances are NOT an exact
    roll: the zero padding rows and the first windows enter them differently."""
    np.testing.assert_allclose(after.video, before.video, rtol=0, atol=1e-5)
    n = len(before.audio)
    rows = [i for i in range(exact_from, n) if 0 <= i - k < n]
    np.testing.assert_allclose(after.audio[rows], before.audio[[i - k for i in rows]], rtol=1e-5, atol=1e-5)
    d0, d1 = offset_distances(before.video, before.audio), offset_distances(after.video, after.audio)
    checked = 0
    for i in range(n):
        for j in range(2 * MAX_OFFSET + 1):
            a = i + j - MAX_OFFSET  # audio window paired with video window i at offset index j (after)
            if a in rows and 0 <= j - k < d0.shape[1]:
                assert d1[i, j] == pytest.approx(d0[i, j - k], rel=1e-5, abs=1e-5)
                checked += 1
    assert checked > n * 5


def test_joonson_scorer(clips, tracker, joonson):
    assert joonson.comparable and joonson.label.startswith("LSE (SyncNet v2")
    res = joonson.score(clips["25"], tracker=tracker)
    _check_result(res, frames_used=CLIP_FRAMES - 5 - 3)
    assert res.comparable and res.scorer == joonson.label
    assert res.first_frame == 3 and res.frames_without_face == len(BLACK)
    emb = joonson.embed(clips["25"], tracker=tracker)
    assert emb.video.shape == emb.audio.shape == (res.frames_used, 1024)
    np.testing.assert_allclose(offset_search(emb.video, emb.audio).mean_distances, res.mean_distances, rtol=1e-6)
    # delayed audio: MFCC steps move by exactly 4 per frame, so audio window i is the old i-2 from i = 2 on
    _check_shift(emb, joonson.embed(clips["25"], tracker=tracker, audio_shift_frames=2), 2, exact_from=2)
    # advanced audio: only the first MFCC frame sees a different pre-emphasis: exact from window 1 on
    _check_shift(emb, joonson.embed(clips["25"], tracker=tracker, audio_shift_frames=-2), -2, exact_from=1)


def test_joonson_scorer_needs_25_fps(clips, tracker, joonson):
    with pytest.raises(ConfigError, match="needs 25 fps"):
        joonson.score(clips["30"], tracker=tracker)
    with pytest.raises(ConfigError, match="needs 25 fps"):
        joonson.score(asset_path("movie_hello"), tracker=tracker)


def test_joonson_scorer_with_short_audio(clips, tracker, joonson):
    res = joonson.score(clips["25"], audio=clips["short_audio"], tracker=tracker)
    _check_result(res, frames_used=20 - 5 - 3)  # floor(12800 / 640) = 20 frames of audio


def test_expert_scorer(clips, tracker, expert):
    assert not expert.comparable and "NOT comparable" in expert.label
    res = expert.score(clips["25"], tracker=tracker, progress=True)
    _check_result(res, frames_used=CLIP_FRAMES - 5 - 3)
    assert not res.comparable and res.first_frame == 3
    res30 = expert.score(clips["30"], tracker=tracker, batch_size=7)  # any frame rate
    _check_result(res30, frames_used=CLIP_FRAMES - 5)
    assert res30.frames_without_face == 0 and res30.first_frame == 0
    short = expert.score(clips["25"], audio=clips["short_audio"], tracker=tracker)
    _check_result(short, frames_used=20 - 5 - 3)


def test_expert_scorer_shift_and_batches(clips, tracker, expert):
    emb = expert.embed(clips["25"], tracker=tracker)
    assert emb.video.shape == emb.audio.shape == (CLIP_FRAMES - 5 - 3, 64)
    np.testing.assert_allclose(np.linalg.norm(emb.video, axis=1), 1.0, rtol=1e-5)  # unit-norm embeddings
    small = expert.embed(clips["25"], tracker=tracker, batch_size=3)
    np.testing.assert_allclose(small.video, emb.video, atol=1e-5)
    np.testing.assert_allclose(small.audio, emb.audio, atol=1e-5)
    # 5 frames at 25 fps = 3200 samples = 16 mel steps exactly; mel_start_index(i) = int(3.2 i) moves by 16.
    # Window i (of the video) is exact once its mel steps avoid the 2 reflect-padded steps at the old start:
    # int(3.2 i) >= 18, i.e. video frame i >= 6, which is row 6 - first_frame (3) = 3 of the embeddings.
    _check_shift(emb, expert.embed(clips["25"], tracker=tracker, audio_shift_frames=5), 5, exact_from=3)


def test_missing_video(tmp_path, tracker, joonson, expert):
    for scorer in (joonson, expert):
        with pytest.raises(MediaError, match="no such video file"):
            scorer.score(tmp_path / "absent.mp4", tracker=tracker)


def test_result_to_dict(clips, tracker, expert):
    res = expert.score(clips["30"], tracker=tracker)
    d = res.to_dict()
    assert d["frames_used"] == res.frames_used and len(d["mean_distances"]) == 2 * MAX_OFFSET + 1
    assert d["comparable"] is False and isinstance(d["lse_d"], float)


def test_scorer_options_are_checked(clips, tracker, expert):
    with pytest.raises(ConfigError, match="batch_size"):
        expert.score(clips["30"], tracker=tracker, batch_size=0)
    with pytest.raises(ConfigError, match="max_offset"):
        ExpertLipSync(SyncNetExpert("tiny"), max_offset=-1)
    with pytest.raises(ConfigError, match="whole number"):
        expert.score(clips["30"], tracker=tracker, audio_shift_frames=1.5)  # type: ignore[arg-type]


def test_plain_pickle_or_empty_file_is_not_a_checkpoint(tmp_path):
    plain = tmp_path / "plain.model"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=2))  # not torch.save's format
    _one_line_error(plain, "not a PyTorch checkpoint")
    empty = tmp_path / "empty.model"
    empty.write_bytes(b"")
    _one_line_error(empty, "not a PyTorch checkpoint")
