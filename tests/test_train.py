"""The trainer: every stage and variant runs, resumes after SIGKILL on the same trajectory, loads
official-format checkpoints, runs under torchrun with 2 gloo processes, and says clearly what is wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wav2lip_emotion.checkpoints import load_generator_any, load_model, load_syncnet, read_checkpoint
from wav2lip_emotion.cli import main
from wav2lip_emotion.errors import ConfigError, TrainingError
from wav2lip_emotion.models import ConditionalGenerator, QualityDiscriminator, SyncNetExpert, Wav2LipGenerator
from wav2lip_emotion.train import STRATEGY_WEIGHTS, Trainer, load_config, read_log
from wav2lip_emotion.train.data import StepBatchSampler, build_data
from wav2lip_emotion.train.losses import clamp_grad_norm

from .conftest import deterministic_state_dict, save_official

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "src" / "wav2lip_emotion" / "configs"


@pytest.fixture(scope="module")
def cache(tiny_world_cache) -> Path:
    """The shared tiny world (conftest), cached at the tiny profile's 48 px."""
    return tiny_world_cache


def _base(cache: Path, out: Path, **sections: dict) -> dict:
    base = {
        "model": {"profile": "tiny"},
        "data": {"cache": str(cache)},
        "optim": {"batch_size": 2},
        "schedule": {
            "steps": 2,
            "eval_every": 2,
            "eval_at_start": False,
            "eval_batches": 1,
            "save_every": 2,
            "sample_every": 2,
            "log_every": 1,
        },
        "runtime": {"output": str(out), "progress": False, "judge": "none", "tensorboard": False},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values) if isinstance(values, dict) else base.__setitem__(name, values)
    return base


@pytest.fixture(scope="module")
def expert(cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("expert")
    config = load_config(None, **_base(cache, out, stage="syncnet", schedule={"steps": 4, "eval_at_start": True}))
    Trainer(config).run()
    return out / "syncnet.safetensors"


# ------------------------------------------------------------------------------------ config


def test_paper_weights_and_config_files(tmp_path):
    # METHOD.md: s_r 0.8, s_w 0.03, s_g 0.07, s_e 0.1; emotion objective only: s_r 0.6, s_e 0.3
    assert STRATEGY_WEIGHTS["l1+emotion"] == (0.8, 0.03, 0.07, 0.1)
    assert STRATEGY_WEIGHTS["emotion"] == (0.6, 0.03, 0.07, 0.3)
    assert STRATEGY_WEIGHTS["l1"][3] == 0.0
    base = tmp_path / "base.toml"
    base.write_text('stage = "emotion"\n[data]\ncache = "c"\npairs = [["neutral", "happy"]]\n[model]\nsyncnet = "s"\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[loss]\nstrategy = "emotion"\n[optim]\nlr = 3e-4\n')
    cfg = load_config(child, ["optim.batch_size=4", "model.mask=full", "runtime.output=run x"])
    assert (cfg.stage, cfg.loss.strategy, cfg.optim.lr, cfg.optim.batch_size) == ("emotion", "emotion", 3e-4, 4)
    assert cfg.model.mask == "full" and cfg.runtime.output == "run x"
    assert cfg.loss.weights("emotion") == {"l1": 0.6, "sync": 0.03, "gan": 0.07, "emotion": 0.3}
    assert cfg.optim.betas == [0.5, 0.999] and cfg.loss.disc_grad_clamp == [1e-2, 1e10]
    again = tmp_path / "again.toml"
    again.write_text(cfg.to_toml())
    assert load_config(again) == cfg
    with pytest.raises(ConfigError, match=r"unknown setting optim\.learning_rate"):
        load_config(child, ["optim.learning_rate=1"])
    with pytest.raises(ConfigError, match=r"optim\.batch_size must be an integer"):
        load_config(child, ["optim.batch_size=four"])
    with pytest.raises(ConfigError, match="needs a trained lip-sync expert"):
        load_config(child, ["model.syncnet=''"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_shipped_configs_all_load():
    files = sorted(CONFIGS.rglob("*.toml"))
    names = {f.relative_to(CONFIGS).as_posix() for f in files}
    for variant in ("full_l1_emotion", "full_emotion", "full_l1", "half_l1_emotion", "half_emotion", "half_l1"):
        assert f"world/emotion_{variant}.toml" in names and f"mead/emotion_{variant}.toml" in names
    for name in ("syncnet", "wav2lip_half", "wav2lip_full", "emotion_half_source_affect", "conditional"):
        assert f"world/{name}.toml" in names and f"mead/{name}.toml" in names
    for f in files:
        if f.name.startswith("_"):
            continue
        cfg = load_config(f)
        assert cfg.data.cache, f


def test_grad_norm_clamp():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.full((4,), 1e-4)  # norm 2e-4 < 1e-2: scaled UP to 1e-2
    assert clamp_grad_norm([p], 1e-2, 1e10) == pytest.approx(2e-4)
    assert torch.linalg.vector_norm(p.grad).item() == pytest.approx(1e-2)
    p.grad = torch.full((4,), 10.0)  # norm 20 > 5: scaled down
    clamp_grad_norm([p], 1e-2, 5.0)
    assert torch.linalg.vector_norm(p.grad).item() == pytest.approx(5.0)
    p.grad = torch.full((4,), 0.5)  # inside: unchanged
    clamp_grad_norm([p], 1e-2, 1e10)
    assert torch.equal(p.grad, torch.full((4,), 0.5))


def test_batches_depend_on_step_and_rank_only():
    one = StepBatchSampler(10, 4, seed=3, start=0, steps=6)
    batches = list(one)
    resumed = list(StepBatchSampler(10, 4, seed=3, start=3, steps=3))
    assert resumed == batches[3:]
    r0 = StepBatchSampler(10, 2, seed=3, rank=0, world=2)
    r1 = StepBatchSampler(10, 2, seed=3, rank=1, world=2)
    for s in range(5):  # two ranks of batch 2 see exactly what one process of batch 4 sees
        assert sorted(r0.batch(s) + r1.batch(s)) == sorted(one.batch(s))
    # an epoch is a permutation: every sample once per epoch (virtual index = epoch * len + sample)
    first = [i for b in batches[:2] for i in b] + batches[2][:2]
    assert sorted(first) == list(range(10))


# ------------------------------------------------------------------------------------ stages


def test_syncnet_stage_learns_a_loadable_expert(cache, expert):
    log = read_log(expert.parent / "log.jsonl")
    val = [e for e in log if e["split"] == "val"]
    assert val[0]["step"] == 0 and val[-1]["step"] == 4 and 0 <= val[-1]["accuracy"] <= 1
    model = load_syncnet(expert)
    assert isinstance(model, SyncNetExpert) and model.profile.name == "tiny"
    assert read_checkpoint(expert).config["extra"]["stage"] == "syncnet"


VARIANTS = [
    ("wav2lip", {"model": {"mask": "half", "discriminator": "lower_half"}}),
    ("wav2lip", {"model": {"mask": "full", "discriminator": "full_face_residual"}}),
    *[
        ("emotion", {"model": {"mask": mask}, "loss": {"strategy": strategy}})
        for mask in ("full", "half")
        for strategy in ("l1+emotion", "emotion", "l1")
    ],
    ("emotion", {"model": {"mask": "half"}, "loss": {"strategy": "source_affect"}}),
    ("conditional", {"model": {"mask": "half"}}),
]


@pytest.mark.parametrize(("stage", "settings"), VARIANTS, ids=lambda v: v if isinstance(v, str) else json.dumps(v))
def test_every_stage_and_variant_runs(cache, expert, tmp_path, stage, settings):
    sections = _base(cache, tmp_path / "run", stage=stage, **settings)
    sections["model"]["syncnet"] = str(expert)
    sections["loss"] = {"sync_warmup": False, **sections.get("loss", {})}
    if stage == "emotion":
        sections["data"]["pairs"] = [["neutral", "happy"]]
    config = load_config(None, **sections)
    summary = Trainer(config).run()
    assert summary["step"] == 2
    log = read_log(tmp_path / "run" / "log.jsonl")
    train = [e for e in log if e["split"] == "train"]
    weights = config.loss.weights(stage)
    assert len(train) == 2 and all(e["sync_weight"] == weights["sync"] for e in train)
    for term in ("l1", "sync", "gan", "emotion"):
        assert (term in train[0]) == (weights[term] > 0), term
    assert "disc_grad_norm" in train[0] and train[0]["discriminator"] > 0
    gen = load_generator_any(tmp_path / "run" / "generator.safetensors")
    assert isinstance(gen, ConditionalGenerator if stage == "conditional" else Wav2LipGenerator)
    extra = read_checkpoint(tmp_path / "run" / "generator.safetensors").config["extra"]
    assert extra["stage"] == stage and extra["mask"] == config.model.mask and extra["step"] == 2
    disc = load_model(tmp_path / "run" / "discriminator.safetensors")
    assert isinstance(disc, QualityDiscriminator) and disc.form.value == config.model.discriminator
    assert (tmp_path / "run" / "samples" / "step_0000002.png").stat().st_size > 1000


def test_sync_warmup_switches_on_below_the_threshold(cache, expert, tmp_path):
    sections = _base(
        cache, tmp_path / "run", stage="wav2lip", schedule={"steps": 2, "eval_every": 1, "eval_at_start": True}
    )
    sections["model"]["syncnet"] = str(expert)
    for threshold, on in ((0.0, False), (100.0, True)):
        sections["loss"] = {"sync_warmup_threshold": threshold}
        sections["runtime"]["output"] = str(tmp_path / f"run{threshold}")
        Trainer(load_config(None, **sections)).run()
        train = [e for e in read_log(tmp_path / f"run{threshold}" / "log.jsonl") if e["split"] == "train"]
        assert [e["sync_weight"] for e in train] == ([0.0, 0.0] if not on else [0.03, 0.03])


def test_conditional_model_translates_both_directions_from_one_checkpoint(cache, expert, tmp_path):
    sections = _base(cache, tmp_path / "run", stage="conditional", schedule={"steps": 3})
    sections["model"]["syncnet"] = str(expert)
    sections["runtime"]["tensorboard"] = True
    Trainer(load_config(None, **sections)).run()
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    extra = read_checkpoint(tmp_path / "run" / "generator.safetensors").config["extra"]
    assert extra["emotions"] == ["happy", "neutral", "sad"] and extra["strategy"] == "conditional"
    gen = load_generator_any(tmp_path / "run" / "generator.safetensors")
    data = build_data(load_config(None, **sections))
    batch = torch.utils.data.default_collate([data.val[i] for i in range(2)])
    with torch.no_grad():
        to_happy = gen(batch["mels"], batch["faces"], target="happy", source="neutral", intensity=1.0)
        to_neutral = gen(batch["mels"], batch["faces"], target="neutral", source="happy", intensity=1.0)
        unchanged = gen(batch["mels"], batch["faces"], target="happy", source="neutral", intensity=0.0)
        half = gen(batch["mels"], batch["faces"], target="happy", source="neutral", intensity=0.5)
    assert to_happy.shape == batch["targets"].shape
    assert not torch.allclose(to_happy, to_neutral)  # one checkpoint, two directions
    assert not torch.allclose(half, unchanged) and not torch.allclose(half, to_happy)


def test_official_format_checkpoints_start_fine_tuning(cache, tmp_path, official_shapes):
    # a paper-profile generator in the original layout ("module." keys, weights_only) starts both models
    shapes = official_shapes["wav2lip_generator"]
    path = save_official(tmp_path / "wav2lip_gan.pth", deterministic_state_dict(shapes), global_step=0)
    from wav2lip_emotion.train.trainer import init_generator

    plain = init_generator(Wav2LipGenerator("paper"), path)
    cond = init_generator(ConditionalGenerator("paper"), path)
    ref = deterministic_state_dict(shapes)
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in ref.items())
    assert all(torch.equal(cond.state_dict()[k], v) for k, v in ref.items())
    with pytest.raises(Exception, match="profile"):
        init_generator(Wav2LipGenerator("tiny"), path)

    # an end-to-end fine-tuning run from official-format generator, discriminator and expert files
    torch.manual_seed(0)
    gen_state = Wav2LipGenerator("tiny").state_dict()
    disc_state = QualityDiscriminator("tiny").state_dict()
    sync_state = SyncNetExpert("tiny").state_dict()
    g = save_official(tmp_path / "gen.pth", gen_state, global_step=100)
    d = save_official(tmp_path / "disc.pth", disc_state)
    s = save_official(tmp_path / "sync.pth", sync_state)
    sections = _base(cache, tmp_path / "run", stage="emotion", schedule={"steps": 1, "eval_every": 0})
    sections["model"].update(init_generator=str(g), init_discriminator=str(d), syncnet=str(s))
    sections["data"]["pairs"] = [["neutral", "happy"]]
    trainer = Trainer(load_config(None, **sections))
    assert all(torch.equal(trainer.generator.state_dict()[k], v) for k, v in gen_state.items())
    assert all(torch.equal(trainer.discriminator.state_dict()[k], v) for k, v in disc_state.items())
    assert trainer.run()["step"] == 1


def test_nan_loss_stops_with_a_clear_message(cache, tmp_path):
    sections = _base(cache, tmp_path / "run", stage="wav2lip", loss={"sync": 0.0}, schedule={"eval_every": 0})
    trainer = Trainer(load_config(None, **sections))

    class Broken(torch.nn.Module):
        def forward(self, out):
            return out.generated.sum() * float("nan")

    trainer.terms["l1"] = Broken()
    with pytest.raises(TrainingError, match=r"step 1: loss is not finite \(l1 = nan"):
        trainer.run()
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))


# ------------------------------------------------------------------------------------ resume


def _cli_config(cache: Path, expert: Path, out: Path, steps: int) -> list[str]:
    return [
        "--set",
        f"data.cache='{cache}'",
        "--set",
        f"model.syncnet='{expert}'",
        "--set",
        f"runtime.output='{out}'",
        "--set",
        f"schedule.steps={steps}",
    ]


def test_sigkill_and_resume_continue_the_same_trajectory(cache, expert, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'stage = "emotion"\n[model]\nprofile = "tiny"\n[data]\npairs = [["neutral", "happy"]]\n'
        "[optim]\nbatch_size = 2\n[schedule]\neval_every = 3\neval_batches = 1\nsave_every = 2\nsample_every = 0\n"
        'log_every = 1\n[runtime]\nprogress = false\njudge = "none"\ntensorboard = false\n'
    )
    steps = 8
    cmd = [sys.executable, "-m", "wav2lip_emotion.cli", "train", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + _cli_config(cache, expert, killed, steps), env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "state_0000004.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for state in (killed / "checkpoints").glob("state_*.pt"):  # every checkpoint under its name is whole
        torch.load(state, weights_only=True)
    assert subprocess.run(cmd + _cli_config(cache, expert, killed, steps), env=env, capture_output=True).returncode == 0
    assert not list((killed / "checkpoints").glob(".*"))  # a write torn by the kill was cleaned up

    straight = tmp_path / "straight"
    assert (
        subprocess.run(cmd + _cli_config(cache, expert, straight, steps), env=env, capture_output=True).returncode == 0
    )

    def losses(run: Path) -> list[tuple[int, str, float]]:
        return [(e["step"], e["split"], e.get("total", e.get("l1"))) for e in read_log(run / "log.jsonl")]

    a, b = losses(killed), losses(straight)
    assert [s for s, *_ in a if _[0] == "train"] == list(range(1, steps + 1))  # the step count continues
    assert [x[:2] for x in a] == [x[:2] for x in b]
    assert [x[2] for x in a] == pytest.approx([x[2] for x in b], rel=1e-6, abs=1e-7)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["step"] == steps and summary["resumed_from"] in (4, 6)


def test_damaged_newest_checkpoint_falls_back(cache, tmp_path):
    sections = _base(
        cache,
        tmp_path / "run",
        stage="wav2lip",
        loss={"sync": 0.0, "gan": 0.0},
        schedule={"steps": 4, "save_every": 2, "keep": 3, "eval_every": 0},
    )
    Trainer(load_config(None, **sections)).run()
    newest = tmp_path / "run" / "checkpoints" / "state_0000004.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # damaged by something outside our control
    sections["schedule"]["steps"] = 5
    trainer = Trainer(load_config(None, **sections))
    assert trainer.try_resume() == 2


# ------------------------------------------------------------------------------------ CLI and torchrun


def test_cli_train_help_errors_and_print_config(cache, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "torchrun" in capsys.readouterr().out
    assert main(["train", str(tmp_path / "none.toml")]) == 1
    assert "config file not found" in capsys.readouterr().err
    cfg = CONFIGS / "world" / "emotion_half_l1_emotion.toml"
    assert main(["train", str(cfg), "--set", "optim.lr=2e-4", "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "lr = 0.0002" in text and 'strategy = "l1+emotion"' in text


def test_torchrun_two_gloo_processes(cache, expert, tmp_path):
    config = tmp_path / "ddp.toml"
    out = tmp_path / "ddp"
    config.write_text(
        f'stage = "wav2lip"\n[model]\nprofile = "tiny"\nsyncnet = "{expert}"\n[data]\ncache = "{cache}"\n'
        "[loss]\nsync_warmup = false\n[optim]\nbatch_size = 2\n"
        "[schedule]\nsteps = 2\neval_every = 2\neval_batches = 1\nsave_every = 2\nsample_every = 2\nlog_every = 1\n"
        f'[runtime]\noutput = "{out}"\nprogress = false\njudge = "none"\ntensorboard = false\nthreads = 1\n'
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "wav2lip_emotion.cli",
        "train",
        str(config),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    train = [e for e in read_log(out / "log.jsonl") if e["split"] == "train"]
    assert [e["step"] for e in train] == [1, 2]  # one log, written by rank 0 only
    assert json.loads((out / "summary.json").read_text())["step"] == 2
    assert isinstance(load_generator_any(out / "generator.safetensors"), Wav2LipGenerator)


def test_densenet121_objective_when_given(cache, expert, tmp_path, official_shapes):
    # the paper's objective: a DenseNet121 FER2013 checkpoint ({"net": state}) supplied by the user
    state = deterministic_state_dict(official_shapes["emotion_densenet121_fer2013_7class"])
    weights = tmp_path / "PrivateTest_model.t7"
    torch.save({"net": state, "acc": 73.16}, weights)
    sections = _base(cache, tmp_path / "run", stage="emotion", schedule={"steps": 1, "eval_every": 0})
    sections["model"]["syncnet"] = str(expert)
    sections["data"]["pairs"] = [["neutral", "happy"]]
    sections["loss"] = {"emotion_model": "densenet121", "emotion_model_path": str(weights), "sync_warmup": False}
    trainer = Trainer(load_config(None, **sections))
    assert trainer.terms["emotion"].classifier.name == "densenet121"
    trainer.run()
    train = [e for e in read_log(tmp_path / "run" / "log.jsonl") if e["split"] == "train"]
    assert 0.0 <= train[0]["emotion"] <= 1.0


def test_cli_validate_prints_the_newest_checkpoints_metrics(cache, expert, tmp_path, capsys):
    config = tmp_path / "sync.toml"
    config.write_text(
        f'stage = "syncnet"\n[model]\nprofile = "tiny"\n[data]\ncache = "{cache}"\n'
        f'[schedule]\neval_batches = 1\n[runtime]\noutput = "{expert.parent}"\nprogress = false\ntensorboard = false\n'
    )
    assert main(["train", str(config), "--validate", "--split", "test", "--set", "optim.batch_size=2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["step"] == 4 and shown["split"] == "test" and shown["windows"] == 2 and "accuracy" in shown
    assert main(["train", str(config), "--validate", "--set", f"runtime.output='{tmp_path / 'empty'}'"]) == 1
    assert "no training checkpoint" in capsys.readouterr().err


def test_source_affect_takes_targets_from_the_source_also_for_the_conditional_model():
    from wav2lip_emotion.train.data import _pairing

    shipped = load_config(CONFIGS / "world" / "conditional_source_l1.toml")
    assert shipped.stage == "conditional" and shipped.loss.strategy == "source_affect"
    assert shipped.loss.weights("conditional") == {"l1": 0.6, "sync": 0.0, "gan": 0.0, "emotion": 0.3}
    assert _pairing(shipped, same_video=False).targets_from == "source"
    plain = load_config(CONFIGS / "world" / "conditional.toml")
    assert _pairing(plain, same_video=False).targets_from == "destination"
    paper = load_config(CONFIGS / "world" / "emotion_half_emotion.toml")
    assert _pairing(paper, same_video=False).targets_from == "source"


def test_lower_face_l1_weighs_the_mouth_box_again():
    from wav2lip_emotion.train.losses import GeneratorOutputs, ReconstructionLoss

    targets = torch.zeros(1, 3, 1, 10, 10)
    inside = targets.clone()
    inside[..., 5:, 2:8] = 1.0  # exactly the lower-centre box: rows 5-9, columns 2-7 (30 of 100 pixels)
    outside = targets.clone()
    outside[..., :5, :] = 1.0
    mel, dst = torch.zeros(1, 1, 80, 16), torch.zeros(1, dtype=torch.long)
    plain, weighted = ReconstructionLoss(), ReconstructionLoss(lower_face=2.0)
    for generated, box_error in ((inside, 1.0), (outside, 0.0)):
        out = GeneratorOutputs(generated, targets, mel, dst)
        base = float(plain(out))
        assert base == pytest.approx(float((generated - targets).abs().mean()))
        assert float(weighted(out)) == pytest.approx(base + 2.0 * box_error)
    with pytest.raises(ConfigError, match="l1_lower_face must be >= 0"):
        load_config(None, data={"cache": "x"}, loss={"l1_lower_face": -1.0})


def test_a_shipped_config_by_name(tmp_path, monkeypatch):
    """``train world/syncnet`` works from any directory (an installed wheel has no configs/ folder): a name
    that is not a file is looked up among the configs shipped with the package; a file always wins."""
    monkeypatch.chdir(tmp_path)
    by_name = load_config("world/syncnet")
    assert by_name == load_config("world/syncnet.toml") == load_config(CONFIGS / "world" / "syncnet.toml")
    assert load_config("mead/conditional").stage == "conditional"
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "_base.toml").write_text((CONFIGS / "world" / "_base.toml").read_text())
    (tmp_path / "world" / "syncnet.toml").write_text((CONFIGS / "world" / "wav2lip_half.toml").read_text())
    assert load_config("world/syncnet.toml").stage != by_name.stage  # the user's own file comes first
    with pytest.raises(ConfigError, match="shipped config such as world/syncnet"):
        load_config("world/nope")
