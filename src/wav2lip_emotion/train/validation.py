"""Validation during training: metrics on the fixed validation windows, the sample grids, and acting on
them (the run log, the sync-loss warm-up switch shared by every rank). :class:`ValidationMixin` is the
:class:`~wav2lip_emotion.train.trainer.Trainer`'s share."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..emotions import EMOTIONS
from ..models.syncnet import stack_lower_halves, sync_probability
from .config import TrainConfig
from .distributed import Distributed, unwrap
from .logbook import RunLog, sample_grid
from .losses import EmotionLoss, SyncLoss

log = logging.getLogger(__name__)


class ValidationMixin:
    """Validation and sample grids of a :class:`~wav2lip_emotion.train.trainer.Trainer`."""

    # set by Trainer.__init__
    config: TrainConfig
    stage: str
    out: Path
    dist: Distributed
    device: torch.device
    trained: nn.Module
    terms: dict[str, nn.Module]
    judge: nn.Module | None
    step: int
    sync_on: bool
    history: dict[str, Any]
    validated_windows: int

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Metrics on the fixed validation windows (eval mode)."""
        model = unwrap(self.trained)
        was_training = model.training
        model.eval()
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)

        def add(name: str, values: torch.Tensor) -> None:
            values = values.detach().float().reshape(-1)
            sums[name] += float(values.sum())
            counts[name] += values.numel()

        self.validated_windows = 0
        for raw in self._val_batches():
            batch = self._to_device(raw)
            self.validated_windows += int(batch["targets"].shape[0])
            if self.stage == "syncnet":
                y = self._sync_labels(batch["targets"].shape[0], 0, train=False).to(self.device)
                frames = torch.where(y.view(-1, 1, 1, 1, 1) > 0, batch["targets"], batch["faces"][:, 3:])
                p = sync_probability(*model(batch["mel"], stack_lower_halves(frames))).view(-1)
                add("loss", torch.nn.functional.binary_cross_entropy(p, y, reduction="none"))
                add("accuracy", ((p > 0.5).float() == y).float())
                continue
            cond = self.condition(batch, 0, train=False)
            generated = model(batch["mels"], batch["faces"], **cond)
            add("l1", (generated - batch["targets"]).abs().mean(dim=(1, 2, 3, 4)))
            if "sync" in self.terms:
                sync: SyncLoss = self.terms["sync"]  # type: ignore[assignment]
                p_gen = sync.probability(generated, batch["mel"])
                add("sync", -torch.log(p_gen))
                add("sync_p_generated", p_gen)
                add("sync_p_real", sync.probability(batch["targets"], batch["mel"]))
            dest = batch["destination_emotion"]
            if "emotion" in self.terms:
                emo: EmotionLoss = self.terms["emotion"]  # type: ignore[assignment]
                p, valid = emo.probabilities(generated, dest)
                add("objective_p_destination", p[valid])
            if self.judge is not None and self.stage in ("emotion", "conditional"):
                judge: EmotionLoss = self.judge  # type: ignore[assignment]
                keep = batch.get("reconstruction")
                keep = torch.ones_like(dest, dtype=torch.bool) if keep is None else keep == 0
                for name, frames in (
                    ("judge_p_destination", generated),
                    ("judge_p_destination_source", batch["faces"][:, 3:]),  # the source video, real
                    ("judge_p_destination_target", batch["targets"]),  # the targets' video, real
                ):
                    p, valid = judge.probabilities(frames, dest)
                    add(name, p[valid & keep])
        if was_training:
            model.train()
        return {k: sums[k] / counts[k] for k in sums if counts[k]}

    def _samples(self) -> Path | None:
        if self.stage == "syncnet" or not self.config.schedule.sample_every:
            return None
        model = unwrap(self.trained)
        was = model.training
        model.eval()
        batch = self._to_device(self._val_batches()[0])
        with torch.no_grad():
            generated = model(batch["mels"], batch["faces"], **self.condition(batch, 0, train=False))
        model.train(was)
        labels = [
            f"{emotion_name(int(s))} -> {emotion_name(int(d))}"
            for s, d in zip(batch["source_emotion"], batch["destination_emotion"], strict=True)
        ]
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        return sample_grid(
            batch["faces"][:, 3:], batch["faces"][:, :3], generated, batch["targets"], path, labels=labels
        )

    def _evaluate(self, runlog: RunLog | None) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if self.dist.main:
            metrics = self.validate()
            self.history["last_val"] = metrics
            if runlog is not None:
                runlog.write(self.step, "val", metrics)
            grid = self._samples() if self.config.schedule.sample_every else None
            if grid is not None and runlog is not None:
                runlog.image("samples", grid, self.step)
            sync_loss = metrics.get("sync")
            if not self.sync_on and sync_loss is not None and sync_loss < self.config.loss.sync_warmup_threshold:
                self.sync_on = True
                log.info(
                    "step %d: validation sync loss %.3f < %.2f: sync loss switched on",
                    self.step,
                    sync_loss,
                    self.config.loss.sync_warmup_threshold,
                )
        if self.dist.enabled:  # every rank follows rank 0's warm-up decision
            import torch.distributed as dist

            flag = torch.tensor([1 if self.sync_on else 0])
            dist.broadcast(flag, 0)
            self.sync_on = bool(flag.item())
        return metrics


def emotion_name(index: int) -> str:
    """The name of an emotion index, "?" for none."""
    return EMOTIONS[index] if 0 <= index < len(EMOTIONS) else "?"
