"""One training step: the SyncNet expert's step and the generator's (with the discriminator's, in GAN
runs), the conditional generator's inputs, SyncNet labels, augmentation and the finite-loss check.
:class:`StepMixin` is the :class:`~wav2lip_emotion.train.trainer.Trainer`'s share."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from ..errors import TrainingError
from .config import TrainConfig
from .data import NEUTRAL_INDEX
from .distributed import Distributed, seed_for
from .losses import GeneratorOutputs, clamp_grad_norm, discriminator_loss, sync_bce


class StepMixin:
    """The training steps of a :class:`~wav2lip_emotion.train.trainer.Trainer`."""

    # set by Trainer.__init__
    config: TrainConfig
    stage: str
    dist: Distributed
    device: torch.device
    weights: dict[str, float]
    terms: dict[str, nn.Module]
    trained_ddp: nn.Module
    discriminator: nn.Module | None
    discriminator_ddp: nn.Module | None
    opt: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    use_amp: bool
    sync_on: bool
    last_saved: int | None

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_amp:
            return torch.autocast(self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def condition(self, batch: dict[str, Any], step: int, *, train: bool) -> dict[str, torch.Tensor]:
        """The conditional generator's inputs for a batch (empty for the paired stages).

        target = destination emotion; intensity = destination level / 3 (1 for a neutral destination);
        reconstruction (same-video) samples get intensity 0 half of the time while training (0 = leave
        unchanged); the source emotion is hidden ("unknown") with probability data.source_dropout.
        """
        if self.stage != "conditional":
            return {}
        dest = batch["destination_emotion"].long()
        src = batch["source_emotion"].long()
        intensity = torch.where(dest == NEUTRAL_INDEX, torch.ones_like(batch["intensity"]), batch["intensity"])
        if train:
            gen = torch.Generator().manual_seed(seed_for(self.config.runtime.seed, step, self.dist.rank, 17))
            u = torch.rand(2, len(dest), generator=gen).to(dest.device)
            recon = batch["reconstruction"].bool()
            intensity = torch.where(recon & (u[0] < 0.5), torch.zeros_like(intensity), intensity)
            src = torch.where(u[1] < self.config.data.source_dropout, torch.full_like(src, -1), src)
        return {"target": dest, "source": src, "intensity": intensity.float()}

    def _sync_labels(self, n: int, step: int, *, train: bool) -> torch.Tensor:
        if not train:
            return (torch.arange(n) % 2 == 0).float()
        gen = torch.Generator().manual_seed(seed_for(self.config.runtime.seed, step, self.dist.rank, 23))
        return (torch.rand(n, generator=gen) < 0.5).float()

    def _augment(self, frames: torch.Tensor, step: int) -> torch.Tensor:
        """Per window: horizontal flip (p 0.5), brightness x[0.7, 1.3], per-channel gain x[0.85, 1.15],
        contrast x[0.7, 1.3] around the window's mean; seeded by (seed, step, rank)."""
        b = frames.shape[0]
        gen = torch.Generator().manual_seed(seed_for(self.config.runtime.seed, step, self.dist.rank, 31))
        u = torch.rand(b, 6, generator=gen).to(frames.device)
        flip = u[:, 0] < 0.5
        frames = torch.where(flip.view(-1, 1, 1, 1, 1), frames.flip(-1), frames)
        gain = (0.7 + 0.6 * u[:, 1]).view(-1, 1, 1, 1, 1) * (0.85 + 0.3 * u[:, 2:5]).view(-1, 3, 1, 1, 1)
        contrast = (0.7 + 0.6 * u[:, 5]).view(-1, 1, 1, 1, 1)
        mean = frames.mean(dim=(1, 2, 3, 4), keepdim=True)
        return ((frames - mean) * contrast + mean).mul(gain).clamp(0, 1)

    def _syncnet_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        y = self._sync_labels(batch["targets"].shape[0], step, train=True).to(self.device)
        frames = torch.where(y.view(-1, 1, 1, 1, 1) > 0, batch["targets"], batch["faces"][:, 3:])
        if self.config.data.augment:
            frames = self._augment(frames, step)
        self.trained_ddp.train()
        with self._autocast():
            loss = sync_bce(self.trained_ddp, batch["mel"], frames, y)
        self._check_finite({"sync_bce": loss}, step)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return {"loss": loss.item()}

    def _generator_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        gen = self.trained_ddp
        gen.train()
        cond = self.condition(batch, step, train=True)
        disc = self.discriminator
        if disc is not None:
            disc.requires_grad_(False)  # the generator's GAN term must not train the discriminator
        with self._autocast():
            generated = gen(batch["mels"], batch["faces"], **cond)
            out = GeneratorOutputs(generated, batch["targets"], batch["mel"], batch["destination_emotion"])
            terms = {name: term(out) for name, term in self.terms.items()}
        weights = dict(self.weights)
        if not self.sync_on:
            weights["sync"] = 0.0
        total = sum(weights[name] * value.float() for name, value in terms.items())
        self._check_finite({**terms, "total": total}, step)  # type: ignore[dict-item]
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        metrics = {name: value.item() for name, value in terms.items()}
        metrics["total"] = float(total.detach())

        if disc is not None and self.opt_d is not None and self.discriminator_ddp is not None:
            disc.requires_grad_(True)
            disc.train()
            with self._autocast():
                d_loss = discriminator_loss(self.discriminator_ddp, batch["targets"], generated)
            self._check_finite({"discriminator": d_loss}, step)
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(d_loss).backward()
            self.scaler_d.unscale_(self.opt_d)
            low, high = self.config.loss.disc_grad_clamp
            metrics["disc_grad_norm"] = clamp_grad_norm(disc.parameters(), low, high)
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
            metrics["discriminator"] = d_loss.item()
        return metrics

    def _check_finite(self, values: dict[str, torch.Tensor], step: int) -> None:
        numbers = {k: float(v.detach()) for k, v in values.items()}
        bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
        if bad:
            last = f"step {self.last_saved}" if self.last_saved is not None else "none yet"
            what = ", ".join(f"{k} = {v}" for k, v in bad.items())
            raise TrainingError(
                f"step {step + 1}: loss is not finite ({what}); the run stopped without saving this step "
                f"(last checkpoint: {last}). Lower optim.lr, check the data, or try runtime.precision = 'none'"
            )
