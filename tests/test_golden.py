"""Conformance with the original implementation: every value of golden_outputs.json to 1e-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wav2lip_emotion.audio import melspectrogram
from wav2lip_emotion.checkpoints import load_discriminator, load_generator, load_syncnet

from .conftest import det_input, deterministic_state_dict, save_official

TOL = 1e-4


@pytest.fixture(scope="module")
def mel_input() -> torch.Tensor:
    return 4.0 * det_input([2, 1, 80, 16], 0.7)


def test_generator_matches_golden(tmp_path, golden, official_shapes, mel_input):
    ref = golden["wav2lip_generator"]
    ckpt = save_official(tmp_path / "wav2lip.pth", deterministic_state_dict(official_shapes["wav2lip_generator"]))
    gen = load_generator(ckpt)
    assert not gen.training and gen.profile.name == "paper"
    with torch.no_grad():
        out = gen(mel_input, 0.5 + 0.5 * det_input([2, 6, 96, 96], 0.1))
    assert list(out.shape) == ref["output_shape"]
    assert out.mean().item() == pytest.approx(ref["output_mean"], abs=TOL)
    assert out.std().item() == pytest.approx(ref["output_std"], abs=TOL)
    flat = out.flatten()
    for index, value in ref["output_samples"].items():
        assert flat[int(index)].item() == pytest.approx(value, abs=TOL), index


def test_syncnet_matches_golden(tmp_path, golden, official_shapes, mel_input):
    ref = golden["syncnet_color_expert"]
    state = deterministic_state_dict(official_shapes["syncnet_color_expert"])
    ckpt = save_official(tmp_path / "lipsync_expert.pth", state, optimizer={"state": {}, "param_groups": []})
    net = load_syncnet(ckpt)
    with torch.no_grad():
        audio_emb, face_emb = net(mel_input, 0.5 + 0.5 * det_input([2, 15, 48, 96], 0.3))
    assert audio_emb.shape == face_emb.shape == (2, 512)
    assert torch.allclose(audio_emb.norm(dim=1), torch.ones(2), atol=1e-6)
    assert torch.allclose(face_emb.norm(dim=1), torch.ones(2), atol=1e-6)
    cosine = F.cosine_similarity(audio_emb, face_emb)
    for got, want in zip(cosine.tolist(), ref["cosine"], strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    for index, value in ref["audio_emb_samples"].items():
        assert audio_emb[0, int(index)].item() == pytest.approx(value, abs=TOL), index
    # The recorded face samples are index i of one row of the [2, 512] embedding: 0, 1 and 100 of row 0
    # (all zero after the final ReLU) and 511 of row 1 (the last element of the flattened tensor).
    for index, value in ref["face_emb_samples"].items():
        row = 1 if index == "511" else 0
        assert face_emb[row, int(index)].item() == pytest.approx(value, abs=TOL), index


def test_fullface_discriminator_matches_golden(tmp_path, golden, official_shapes):
    ref = golden["quality_disc_fullface_residual_nobn"]
    state = deterministic_state_dict(official_shapes["quality_disc_fullface_residual_nobn"])
    disc = load_discriminator(save_official(tmp_path / "disc.pth", state))
    assert disc.form.value == "full_face_residual"
    with torch.no_grad():
        out = disc(0.5 + 0.5 * det_input([2, 3, 5, 96, 96], 0.5))
    assert list(out.shape) == ref["output_shape"]
    for index, value in ref["output_samples"].items():
        assert out[int(index), 0].item() == pytest.approx(value, abs=TOL), index


def test_melspectrogram_matches_golden(golden):
    ref = golden["melspectrogram"]
    t = np.arange(16000) / 16000
    wav = (0.5 * np.sin(2 * np.pi * (200 * t + 300 * t**2)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )
    mel = melspectrogram(wav)
    assert list(mel.shape) == ref["shape"]
    assert mel.mean() == pytest.approx(ref["mean"], abs=TOL)
    assert mel.std() == pytest.approx(ref["std"], abs=TOL)
    for index, value in ref["samples"].items():
        row, col = map(int, index.split(","))
        assert mel[row, col] == pytest.approx(value, abs=TOL), index
