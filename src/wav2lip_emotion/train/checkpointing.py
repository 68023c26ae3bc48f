"""Saving and resuming a training run: the full training state (models, optimisers, RNG, warm-up flag)
written atomically under ``checkpoints/``, the exported models with what they say about themselves,
resuming from the newest readable state, starting weights for a generator, and clearing a run for
``--fresh``. :class:`CheckpointMixin` is the :class:`~wav2lip_emotion.train.trainer.Trainer`'s share."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_path
from ..checkpoints import read_checkpoint, save_model
from ..errors import CheckpointError, TrainingError
from ..messages import first_line
from ..models import ConditionalGenerator
from .config import TrainConfig, load_config
from .data import TrainData, resolve_targets
from .distributed import Distributed

log = logging.getLogger(__name__)

STATE_PREFIX = "state_"


class CheckpointMixin:
    """State checkpoints and model export of a :class:`~wav2lip_emotion.train.trainer.Trainer`."""

    # set by Trainer.__init__
    config: TrainConfig
    stage: str
    out: Path
    dist: Distributed
    data: TrainData
    emotions: list[str]
    trained: nn.Module
    discriminator: nn.Module | None
    opt: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    step: int
    sync_on: bool
    history: dict[str, Any]
    last_saved: int | None

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "format": "wav2lip-emotion-train-state",
            "step": self.step,
            "stage": self.stage,
            "config": self.config.to_toml(),
            "model": self.trained.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sync_on": self.sync_on,
            "history": json.dumps(self.history),
            "torch_rng": torch.get_rng_state(),
        }
        if self.discriminator is not None and self.opt_d is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["optimizer_d"] = self.opt_d.state_dict()
            state["scaler_d"] = self.scaler_d.state_dict()
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any], source: Path) -> None:
        saved = load_config(None, **config_sections(state["config"]))
        for section in ("model",):
            if getattr(saved, section) != getattr(self.config, section) or saved.stage != self.stage:
                raise TrainingError(
                    f"{source}: this run directory holds a {saved.stage} run with other model settings; "
                    "use another runtime.output, or --fresh to start over"
                )
        self.trained.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        if self.discriminator is not None and self.opt_d is not None:
            if "discriminator" not in state:
                raise TrainingError(f"{source}: has no discriminator state but this config trains one")
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["optimizer_d"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.step = int(state["step"])
        self.sync_on = bool(state["sync_on"])
        self.history = json.loads(state["history"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def _state_files(self) -> list[Path]:
        return sorted((self.out / "checkpoints").glob(f"{STATE_PREFIX}*.pt"))

    def try_resume(self) -> int | None:
        """Load the newest readable state checkpoint; return its step (None: nothing to resume)."""
        for torn in (self.out / "checkpoints").glob(f".{STATE_PREFIX}*"):  # a write cut short by a crash
            torn.unlink(missing_ok=True)
        for path in reversed(self._state_files()):
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # a damaged file: fall back to the one before
                log.warning("%s: unreadable training state (%s); trying an older one", path, exc)
                continue
            self.load_state_dict(state, path)
            self.last_saved = self.step
            return self.step
        return None

    def save(self) -> Path:
        """Write the training state (atomically), export the models, prune old states."""
        path = self.out / "checkpoints" / f"{STATE_PREFIX}{self.step:07d}.pt"
        if self.dist.main:
            with atomic_path(path) as tmp:
                torch.save(self.state_dict(), tmp)
            self._export()
            states = self._state_files()
            keep = max(1, self.config.schedule.keep)
            for old in states[:-keep]:
                old.unlink(missing_ok=True)
        self.last_saved = self.step
        self.dist.barrier()
        return path

    def model_extra(self) -> dict[str, Any]:
        """What a saved model says about itself (read by translate and evaluate)."""
        cfg = self.config
        extra: dict[str, Any] = {"stage": self.stage, "step": self.step, "mask": cfg.model.mask}
        # the crop margin of the face cache: translation crops faces the same way
        extra["crop_padding"] = float(self.data.cache.info.padding)
        if self.stage in ("emotion", "conditional"):
            extra["pairs"] = cfg.data.pairs
            # the emotions it was trained on (a conditional model translates between any two of them)
            extra["emotions"] = self.emotions
            extra["strategy"] = cfg.loss.strategy if self.stage == "emotion" else "conditional"
            extra["targets"] = resolve_targets(cfg)
        extra["validation"] = self.history.get("last_val", {})
        return extra

    def _export(self) -> None:
        name = "syncnet" if self.stage == "syncnet" else "generator"
        save_model(self.trained, self.out / f"{name}.safetensors", extra=self.model_extra())
        if self.discriminator is not None:
            save_model(self.discriminator, self.out / "discriminator.safetensors", extra={"step": self.step})


def init_generator(gen: nn.Module, path: str | Path) -> nn.Module:
    """Load starting weights into ``gen``: an official Wav2Lip ``.pth`` or our safetensors.

    A plain generator file may start a conditional generator (its conditioning starts at zero, so the
    model begins as exactly that generator); a conditional file cannot start a plain one.
    """
    ckpt = read_checkpoint(path)
    if ckpt.kind not in ("generator", "conditional_generator"):
        raise CheckpointError(f"{path}: model.init_generator must be a generator checkpoint, not a {ckpt.kind}")
    profile = getattr(gen, "profile", None)
    try:
        if isinstance(gen, ConditionalGenerator) and ckpt.kind == "generator":
            gen.load_base_state_dict(ckpt.state_dict)
        elif not isinstance(gen, ConditionalGenerator) and ckpt.kind == "conditional_generator":
            raise CheckpointError(f"{path}: a conditional generator cannot start a paired (plain) generator")
        else:
            gen.load_state_dict(dict(ckpt.state_dict), strict=True)
    except (RuntimeError, CheckpointError) as exc:
        if isinstance(exc, CheckpointError) and "conditional generator cannot" in str(exc):
            raise
        first = first_line(exc)
        name = getattr(profile, "name", "?")
        raise CheckpointError(
            f"{path}: does not fit a {name!r} profile generator ({first}); set model.profile to the checkpoint's"
        ) from None
    return gen


def config_sections(toml_text: str) -> dict[str, Any]:
    """The tables of a saved config (and its ``stage``) as :func:`load_config` keyword arguments."""
    import tomllib

    data = tomllib.loads(toml_text)
    return {k: v for k, v in data.items() if isinstance(v, dict)} | (
        {"stage": data["stage"]} if "stage" in data else {}
    )


def clear_run(out: Path) -> None:
    """Remove a previous run's state (checkpoints, log, samples) so a run starts from step 0."""
    import shutil

    for name in ("checkpoints", "samples", "tensorboard"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (
        "log.jsonl",
        "summary.json",
        "generator.safetensors",
        "syncnet.safetensors",
        "discriminator.safetensors",
    ):
        (out / name).unlink(missing_ok=True)
