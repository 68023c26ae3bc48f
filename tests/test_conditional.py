"""The conditional emotion generator: starts as exactly Wav2Lip, FiLM conditioning, checkpoints, errors."""

from __future__ import annotations

import pytest
import torch

from wav2lip_emotion.checkpoints import (
    describe_checkpoint,
    load_generator,
    load_generator_any,
    load_model,
    read_checkpoint,
    save_model,
)
from wav2lip_emotion.errors import CheckpointError, ConfigError
from wav2lip_emotion.models import (
    ConditionalGenerator,
    ModelProfile,
    Wav2LipGenerator,
    build_model,
    condition_tensors,
)
from wav2lip_emotion.models.conditional import CONDITION_PREFIXES
from wav2lip_emotion.perception.emotions import EMOTIONS, Emotion

from .conftest import save_official

B, T, SIZE = 2, 3, 48  # tiny profile: 48 px, width x1/8


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and non-trivial batch-norm statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=gen)
                tensor.copy_(0.5 + noise if name.endswith("running_var") else (noise - 0.5) * 0.4)
    return model.eval()


def _inputs(windowed: bool, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    if windowed:
        return torch.rand(B, T, 1, 80, 16, generator=gen) * 8 - 4, torch.rand(B, 6, T, SIZE, SIZE, generator=gen)
    return torch.rand(B, 1, 80, 16, generator=gen) * 8 - 4, torch.rand(B, 6, SIZE, SIZE, generator=gen)


@pytest.fixture(scope="module")
def base() -> Wav2LipGenerator:
    return _randomise(Wav2LipGenerator("tiny"))


@pytest.fixture(scope="module")
def conditioned(base) -> ConditionalGenerator:
    """A conditional generator on ``base``'s weights with random (non-zero) conditioning and FiLM."""
    model = ConditionalGenerator.from_generator(base, condition_dim=32)
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(CONDITION_PREFIXES):
                p.normal_(0.0, 1.0 if "embedding" in name else 0.3)
    return model.eval()


CONDITIONS = [
    {"target": "happy"},
    {"target": torch.tensor([0, 7]), "source": torch.tensor([-1, 5]), "intensity": torch.tensor([0.3, 1.0])},
    {"target": ["sad", Emotion.ANGRY], "source": "neutral", "intensity": 0.5},
]


@pytest.mark.parametrize("windowed", [False, True])
def test_fresh_model_is_exactly_the_plain_generator(base, windowed):
    model = ConditionalGenerator.from_generator(base).eval()
    assert model.kind == "conditional_generator" and model.profile == base.profile
    audio, faces = _inputs(windowed)
    with torch.no_grad():
        want = base(audio, faces)
        for cond in CONDITIONS:
            assert torch.equal(model(audio, faces, **cond), want)


def test_film_changes_the_output_and_intensity_zero_is_the_base(base, conditioned):
    audio, faces = _inputs(False)
    with torch.no_grad():
        plain = base(audio, faces)
        happy = conditioned(audio, faces, "happy")
        sad = conditioned(audio, faces, "sad")
        half = conditioned(audio, faces, "happy", intensity=0.5)
        assert (happy - sad).abs().max() > 1e-3
        assert (happy - half).abs().max() > 1e-3
        assert (conditioned(audio, faces, "happy", source="neutral") - happy).abs().max() > 1e-4
        for target in range(len(EMOTIONS)):
            assert torch.equal(conditioned(audio, faces, target, source="sad", intensity=0.0), plain)


def test_windowed_condition_follows_fold_times_order(conditioned):
    audio, faces = _inputs(True)
    cond = {"target": ["happy", "sad"], "source": [None, "angry"], "intensity": [1.0, 0.6]}
    with torch.no_grad():
        out = conditioned(audio, faces, **cond)
        assert out.shape == (B, 3, T, SIZE, SIZE)
        for t in range(T):
            frame = conditioned(audio[:, t], faces[:, :, t], **cond)
            torch.testing.assert_close(out[:, :, t], frame, rtol=0, atol=1e-5)


def test_gradients_reach_conditioning_and_film(base, conditioned):
    audio, faces = _inputs(True)
    fresh = ConditionalGenerator.from_generator(base).train()
    fresh(audio, faces, "happy").mean().backward()  # zero-initialised FiLM still learns
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in fresh.film.parameters())

    model = ConditionalGenerator.from_generator(base, condition_dim=32)
    model.load_state_dict(conditioned.state_dict())
    model.train()
    model(audio, faces, ["happy", "fear"], source=["neutral", None], intensity=[0.7, 1.0]).mean().backward()
    for name, p in model.named_parameters():
        if name.startswith(CONDITION_PREFIXES):
            assert p.grad is not None, name
    assert all(p.grad.abs().sum() > 0 for p in model.film.parameters())
    assert model.conditioning.mlp[0].weight.grad.abs().sum() > 0
    assert model.conditioning.target_embedding.weight.grad[[4, 3]].abs().sum() > 0
    assert model.conditioning.source_embedding.weight.grad[len(EMOTIONS)].abs().sum() > 0  # the unknown row


def test_save_and_load_round_trip(tmp_path, conditioned):
    path = save_model(conditioned, tmp_path / "cond.safetensors", extra={"step": 3})
    info = describe_checkpoint(path)
    assert info["kind"] == "conditional_generator" and info["options"] == {"condition_dim": 32}
    audio, faces = _inputs(True)
    with torch.no_grad():
        want = conditioned(audio, faces, "fear", intensity=0.8)
        for loaded in (load_model(path), load_model(path, kind="conditional_generator"), load_generator_any(path)):
            assert isinstance(loaded, ConditionalGenerator) and not loaded.training
            assert loaded.condition_dim == 32 and loaded.profile == conditioned.profile
            assert torch.equal(loaded(audio, faces, "fear", intensity=0.8), want)
    with pytest.raises(CheckpointError, match="conditional emotion generator checkpoint, not a Wav2Lip generator"):
        load_generator(path)

    # a .pth of a conditional model (no config): kind, condition_dim and profile come from the tensors
    pth = save_official(tmp_path / "cond.pth", conditioned.state_dict())
    assert read_checkpoint(pth).kind == "conditional_generator"
    again = load_model(pth)
    assert isinstance(again, ConditionalGenerator) and again.condition_dim == 32 and again.profile.name == "tiny"
    assert describe_checkpoint(pth)["profile"]["name"] == "tiny"


def test_official_plain_generator_loads_as_base(tmp_path, base):
    pth = save_official(tmp_path / "wav2lip.pth", base.state_dict(), global_step=1, optimizer={})
    official = torch.load(pth, map_location="cpu", weights_only=True)["state_dict"]
    assert all(k.startswith("module.") for k in official)

    model = ConditionalGenerator("tiny")
    model.load_base_state_dict(official)
    model.eval()
    plain = load_generator_any(pth)
    assert type(plain) is Wav2LipGenerator
    from_gen = ConditionalGenerator.from_generator(plain)
    audio, faces = _inputs(False)
    with torch.no_grad():
        want = base(audio, faces)
        assert torch.equal(model(audio, faces, "angry"), want)
        assert torch.equal(from_gen(audio, faces, "angry"), want)
    assert set(model.base_state_dict()) == set(base.state_dict())

    with pytest.raises(CheckpointError, match="do not fit profile 'tiny'"):
        model.load_base_state_dict(Wav2LipGenerator(ModelProfile("wide", face_size=SIZE, width=0.25)).state_dict())
    broken = dict(base.state_dict())
    broken.pop("output_block.1.weight")
    with pytest.raises(CheckpointError, match="1 tensors missing"):
        model.load_base_state_dict(broken)
    with pytest.raises(CheckpointError, match="holds conditioning tensors"):
        model.load_base_state_dict(model.state_dict())


def test_paper_profile_accepts_the_official_layout(official_shapes):
    with torch.device("meta"):
        model = ConditionalGenerator("paper")
        state = {k: torch.empty(shape) for k, shape in official_shapes["wav2lip_generator"].items()}
    model.load_base_state_dict(state)  # keys carry "module."; strict on every generator tensor


def test_bad_conditions_raise_clear_errors(conditioned):
    audio, faces = _inputs(False)
    cases = [
        ({}, "target emotion is required"),
        ({"target": 8}, "target emotion index 8 is out of range"),
        ({"target": torch.tensor([0, -1])}, "target emotion index -1 is out of range"),
        ({"target": 0, "source": -2}, "source emotion index -2 is out of range; expected -1"),
        ({"target": "happy", "intensity": 1.5}, r"intensity 1.5 is outside \[0, 1\]"),
        ({"target": "happy", "intensity": float("nan")}, "outside"),
        ({"target": "grumpy"}, "unknown emotion 'grumpy'"),
        ({"target": [0, 1, 2]}, r"shape \[2\]"),
        ({"target": torch.tensor([0.0, 1.0])}, "integer tensor"),
        ({"target": True}, "not a bool"),
    ]
    for kwargs, message in cases:
        # ConfigError, like every other bad setting of the package (it is also a ValueError)
        with pytest.raises(ConfigError, match=message):
            conditioned(audio, faces, **kwargs)


def test_condition_tensors_accepts_names_indices_and_tensors():
    happy, sad, neutral = (EMOTIONS.index(e) for e in ("happy", "sad", "neutral"))
    tgt, src, inten = condition_tensors("happy", None, None, batch=3, device="cpu")
    assert tgt.tolist() == [happy] * 3 and src.tolist() == [-1] * 3 and inten.tolist() == [1.0] * 3
    assert tgt.dtype == src.dtype == torch.int64 and inten.dtype == torch.float32
    tgt, src, inten = condition_tensors(["joy", Emotion.SAD], ["calm", None], [0.25, 1], batch=2, device="cpu")
    assert tgt.tolist() == [happy, sad] and src.tolist() == [neutral, -1] and inten.tolist() == [0.25, 1.0]
    tgt, src, inten = condition_tensors(torch.tensor(2), 3, torch.tensor([0.0, 0.5]), batch=2, device="cpu")
    assert tgt.tolist() == [2, 2] and src.tolist() == [3, 3] and inten.tolist() == [0.0, 0.5]


def test_conditioning_overhead_is_small_at_the_paper_profile():
    with torch.device("meta"):
        model = build_model("conditional_generator", "paper")
    extra = sum(p.numel() for n, p in model.named_parameters() if n.startswith(CONDITION_PREFIXES))
    total = sum(p.numel() for p in model.parameters())
    assert 0 < extra < 0.05 * (total - extra)


def test_blend_copies_the_prior_where_the_mask_is_closed(tmp_path):
    torch.manual_seed(0)
    plain = _randomise(Wav2LipGenerator("tiny")).eval()
    gen = ConditionalGenerator("tiny", condition_dim=16, blend=True)
    gen.load_base_state_dict(plain.state_dict())  # the mask head is new, like the FiLM layers
    gen.eval()
    audio = torch.randn(2, 1, 80, 16)
    faces = torch.rand(2, 6, 48, 48)
    with torch.no_grad():
        drawn = plain(audio, faces)
        out = gen(audio, faces, "happy", "neutral", 1.0)
        # at initialisation the mask is sigmoid(-2) everywhere: mostly a copy of the prior
        alpha = torch.sigmoid(torch.tensor(-2.0))
        torch.testing.assert_close(out, alpha * drawn + (1 - alpha) * faces[:, :3], atol=1e-5, rtol=1e-5)
        # a closed mask is an exact copy of the visible prior, an open one the drawn face
        for bias, want in ((-1e4, faces[:, :3]), (1e4, drawn)):
            gen.blend_mask.bias.fill_(bias)
            torch.testing.assert_close(gen(audio, faces, "happy", "neutral", 1.0), want, atol=1e-5, rtol=1e-5)
    assert gen.build_options() == {"condition_dim": 16, "blend": True}
    assert ConditionalGenerator("tiny", condition_dim=16).build_options() == {"condition_dim": 16}
    path = save_model(gen, tmp_path / "blend.safetensors")
    back = load_generator_any(path)
    assert isinstance(back, ConditionalGenerator) and back.blend
    torch.testing.assert_close(back.state_dict()["blend_mask.bias"], gen.state_dict()["blend_mask.bias"])
