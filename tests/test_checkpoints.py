"""Checkpoint formats: official .pth (safe load), our safetensors round trip, clear errors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from wav2lip_emotion.checkpoints import (
    describe_checkpoint,
    load_discriminator,
    load_generator,
    load_model,
    load_syncnet,
    save_model,
)
from wav2lip_emotion.errors import CheckpointError
from wav2lip_emotion.models import PROFILES, build_model
from wav2lip_emotion.models.inspection import example_inputs

from .conftest import deterministic_state_dict, save_official

LOADERS = {"generator": load_generator, "syncnet": load_syncnet, "discriminator": load_discriminator}
KINDS = [
    ("generator", {}),
    ("syncnet", {}),
    ("discriminator", {"form": "full_face_residual"}),
    ("discriminator", {"form": "lower_half"}),
]


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and non-trivial batch-norm statistics, so a round trip is a real test."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=gen)
                tensor.copy_(0.5 + noise if name.endswith("running_var") else (noise - 0.5) * 0.2)
    return model.eval()


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(("kind", "opts"), KINDS)
def test_round_trip_gives_identical_outputs(tmp_path, profile, kind, opts):
    model = _randomise(build_model(kind, profile, **opts))
    path = save_model(model, tmp_path / f"{kind}.safetensors", extra={"step": 7})
    loaded = LOADERS[kind](path)  # no flags: kind, profile and form come from the file
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.profile == model.profile
    if kind == "discriminator":
        assert loaded.form == model.form
    inputs = example_inputs(model, 2)
    with torch.no_grad():
        a, b = model(*inputs), loaded(*inputs)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        assert torch.equal(x, y)
    assert describe_checkpoint(path)["extra"] == {"step": 7}
    assert not list(tmp_path.glob("*.tmp")), "atomic save leaves no temporary file"


def test_official_file_variants_load(tmp_path, official_shapes):
    state = deterministic_state_dict(official_shapes["wav2lip_generator"])
    # bare state dict without 'module.' prefixes, and a dict with optimizer state and step counters
    torch.save(state, tmp_path / "bare.pth")
    save_official(
        tmp_path / "full.pth",
        state,
        optimizer={"state": {}, "param_groups": [{"lr": 1e-4}]},
        global_step=12345,
        global_epoch=3,
    )
    for name in ("bare.pth", "full.pth"):
        gen = load_generator(tmp_path / name)
        assert gen.profile.name == "paper"
        assert torch.equal(gen.state_dict()["output_block.1.bias"], state["output_block.1.bias"])


def test_official_discriminator_form_is_chosen_by_argument(tmp_path, official_shapes):
    state = deterministic_state_dict(official_shapes["quality_disc_original_nobn"])
    path = save_official(tmp_path / "visual_quality_disc.pth", state)
    assert load_discriminator(path).form.value == "full_face_residual"
    assert load_discriminator(path, form="lower_half").form.value == "lower_half"


def test_small_profile_official_layout_is_inferred(tmp_path):
    model = _randomise(build_model("generator", "small"))
    save_official(tmp_path / "small.pth", model.state_dict())
    assert load_generator(tmp_path / "small.pth").profile.name == "small"


# ----------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pth: no such checkpoint file"):
        load_generator(tmp_path / "nope.pth")


def test_empty_and_directory(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_generator(tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_generator(tmp_path)


def test_truncated_official_file(tmp_path):
    model = build_model("generator", "tiny")
    path = save_official(tmp_path / "wav2lip.pth", model.state_dict())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"wav2lip\.pth: truncated or not a PyTorch checkpoint"):
        load_generator(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are my notes, not a model\n" * 20)
    with pytest.raises(CheckpointError, match=r"notes\.pth: truncated or not a PyTorch checkpoint"):
        load_generator(path)


class _Sneaky:
    """Unpickling this would need this module's code: weights_only loading must refuse it."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_that_needs_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with path.open("wb") as fh:
        torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": _Sneaky()}, fh)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused: this pickle needs to run code"):
        load_generator(path)
    assert "this must never run" not in capsys.readouterr().out


def test_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"state_dict": {"w": [1.0, 2.0]}}))
    with pytest.raises(CheckpointError, match=r"plain\.pkl"):
        load_generator(path)


def test_wrong_kind_names_what_the_file_is(tmp_path, official_shapes):
    disc = save_official(tmp_path / "disc.pth", deterministic_state_dict(official_shapes["quality_disc_original_nobn"]))
    with pytest.raises(
        CheckpointError,
        match=r"disc\.pth: is a visual-quality discriminator checkpoint, "
        r"not a Wav2Lip generator checkpoint",
    ):
        load_generator(disc)
    gen = save_model(build_model("generator", "tiny"), tmp_path / "gen.safetensors")
    with pytest.raises(CheckpointError, match="is a Wav2Lip generator checkpoint, not a SyncNet lip-sync expert"):
        load_syncnet(gen)
    emo = tmp_path / "densenet.pth"
    torch.save({"net": deterministic_state_dict(official_shapes["emotion_densenet121_fer2013_7class"])}, emo)
    with pytest.raises(CheckpointError, match="is a DenseNet121 emotion classifier checkpoint, not a Wav2Lip gen"):
        load_generator(emo)


def test_profile_mismatch(tmp_path, official_shapes):
    official = save_official(tmp_path / "wav2lip.pth", deterministic_state_dict(official_shapes["wav2lip_generator"]))
    with pytest.raises(CheckpointError, match=r"does not match profile 'small'.*it fits profile 'paper'"):
        load_generator(official, profile="small")
    ours = save_model(build_model("generator", "tiny"), tmp_path / "tiny.safetensors")
    with pytest.raises(CheckpointError, match=r"is a 'tiny' profile model \(48 px, width x0.125\), not 'paper'"):
        load_generator(ours, profile="paper")


def test_saved_form_cannot_be_overridden(tmp_path):
    path = save_model(build_model("discriminator", "tiny", form="lower_half"), tmp_path / "d.safetensors")
    with pytest.raises(CheckpointError, match="saved with form='lower_half'"):
        load_discriminator(path, form="full_face_residual")


def test_unknown_tensors(tmp_path):
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3, 3)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="match no known model"):
        load_generator(tmp_path / "other.pth")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "noweights.pth")
    with pytest.raises(CheckpointError, match="holds no model weights"):
        load_generator(tmp_path / "noweights.pth")


def test_truncated_or_tampered_safetensors(tmp_path):
    path = save_model(build_model("syncnet", "tiny"), tmp_path / "sync.safetensors")
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: truncated or corrupt safetensors"):
        load_syncnet(cut)


def test_tensors_that_contradict_the_saved_profile(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = save_model(build_model("generator", "tiny"), tmp_path / "g.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    config = json.loads(meta["wav2lip_emotion_config"])
    config["profile"] = dict(PROFILES["small"].to_dict())
    tensors = load_file(str(path))
    save_file(tensors, str(tmp_path / "lying.safetensors"), metadata={"wav2lip_emotion_config": json.dumps(config)})
    with pytest.raises(CheckpointError, match=r"lying\.safetensors: does not match profile 'small'"):
        load_model(tmp_path / "lying.safetensors")


def test_describe_official(tmp_path, official_shapes):
    path = save_official(
        tmp_path / "lipsync_expert.pth", deterministic_state_dict(official_shapes["syncnet_color_expert"])
    )
    info = describe_checkpoint(path)
    assert info["kind"] == "syncnet" and info["profile"]["name"] == "paper"
    assert info["format"].startswith("PyTorch .pth")
