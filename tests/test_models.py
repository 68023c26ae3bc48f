"""Architectures: exact official layouts for the paper profile, working smaller profiles."""

from __future__ import annotations

import pytest
import torch

from wav2lip_emotion.errors import ConfigError
from wav2lip_emotion.models import (
    PROFILES,
    DiscriminatorForm,
    ModelProfile,
    QualityDiscriminator,
    SyncNetExpert,
    Wav2LipGenerator,
    build_model,
)
from wav2lip_emotion.models.inspection import count_flops, example_inputs
from wav2lip_emotion.models.syncnet import stack_lower_halves

OFFICIAL = {
    "wav2lip_generator": lambda: Wav2LipGenerator("paper"),
    "syncnet_color_expert": lambda: SyncNetExpert("paper"),
    "quality_disc_fullface_residual_nobn": lambda: QualityDiscriminator("paper", "full_face_residual"),
    "quality_disc_original_nobn": lambda: QualityDiscriminator("paper", "lower_half"),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_paper_profile_has_official_keys_and_shapes(name, official_shapes):
    with torch.device("meta"):
        model = OFFICIAL[name]()
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    official = {k.removeprefix("module."): v for k, v in official_shapes[name].items()}
    assert list(ours) == list(official) or set(ours) == set(official)
    assert ours == official


def test_generator_flops_match_the_published_figure():
    with torch.device("meta"):
        gen = Wav2LipGenerator("paper")
    gen = gen.to_empty(device="cpu")
    assert count_flops(gen, *example_inputs(gen, 1)) / 1e9 == pytest.approx(7.93, abs=0.01)


@pytest.mark.parametrize("profile", ["tiny", "small"])
def test_generator_windowed_call_folds_time_like_per_frame_calls(profile):
    torch.manual_seed(0)
    gen = Wav2LipGenerator(profile).eval()
    s = gen.profile.face_size
    audio = torch.randn(2, 5, 1, 80, 16)
    faces = torch.rand(2, 6, 5, s, s)
    with torch.no_grad():
        out = gen(audio, faces)
        assert out.shape == (2, 3, 5, s, s)
        for t in range(5):
            frame = gen(audio[:, t], faces[:, :, t])
            assert torch.allclose(out[:, :, t], frame, atol=1e-5)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("form", list(DiscriminatorForm))
def test_discriminator_folds_time_major(form):
    torch.manual_seed(0)
    disc = QualityDiscriminator("tiny", form).eval()
    frames = torch.rand(2, 3, 5, 48, 48)
    with torch.no_grad():
        out = disc(frames)
        assert out.shape == (10, 1)
        # row t*B + b is frame t of window b
        assert torch.allclose(out[3], disc(frames[1:2, :, 1])[0], atol=1e-6)
        assert torch.allclose(out[4], disc(frames[0:1, :, 2])[0], atol=1e-6)


def test_lower_half_discriminator_ignores_the_upper_half():
    torch.manual_seed(0)
    disc = QualityDiscriminator("tiny", "lower_half").eval()
    frames = torch.rand(1, 3, 2, 48, 48)
    changed = frames.clone()
    changed[:, :, :, :24] = 0.0
    with torch.no_grad():
        assert torch.equal(disc(frames), disc(changed))


def test_syncnet_takes_stacked_lower_halves():
    torch.manual_seed(0)
    net = SyncNetExpert("tiny").eval()
    frames = torch.rand(3, 3, 5, 48, 48)
    faces = stack_lower_halves(frames)
    assert faces.shape == (3, 15, 24, 48)
    assert torch.equal(faces[1, 3:6], frames[1, :, 1, 24:])
    with torch.no_grad():
        a, v = net(torch.randn(3, 1, 80, 16), faces)
    assert a.shape == v.shape == (3, 64)


@pytest.mark.parametrize("size", [32, 48, 64, 96, 128])
def test_every_supported_face_size_builds_and_runs(size):
    prof = ModelProfile(f"test{size}", face_size=size, width=0.0625)
    for kind, opts in [
        ("generator", {}),
        ("syncnet", {}),
        ("discriminator", {"form": "lower_half"}),
        ("discriminator", {"form": "full_face_residual"}),
    ]:
        model = build_model(kind, prof, **opts).eval()
        with torch.no_grad():
            out = model(*example_inputs(model, 2))
        first = out[0] if isinstance(out, tuple) else out
        assert first.shape[0] == 2


def test_bad_profiles_are_refused_clearly():
    with pytest.raises(ConfigError, match="face_size 100 is not supported"):
        ModelProfile("odd", face_size=100)
    with pytest.raises(ConfigError, match="unknown model profile 'huge'"):
        Wav2LipGenerator("huge")
    with pytest.raises(ConfigError, match="unknown model kind"):
        build_model("vocoder")
    with pytest.raises(ConfigError, match="unknown discriminator form"):
        QualityDiscriminator("tiny", "upper_half")


def test_named_profiles():
    assert PROFILES["paper"].face_size == 96 and PROFILES["paper"].width == 1.0
    assert {"paper", "small", "tiny"} <= set(PROFILES)
