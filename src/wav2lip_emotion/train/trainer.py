"""One trainer for every stage: the lip-sync expert, Wav2Lip pre-training, the paper's emotion
fine-tuning variants and the conditional all-emotions model. Behaviour is config, not code copies.

Run layout (``runtime.output``)::

    config.toml                    the resolved config of the run
    log.jsonl                      one line per log interval / validation (see RunLog)
    tensorboard/                   the same scalars and the sample grids, for TensorBoard
    samples/step_0000200.png       reference | pose prior | generated | target, validation windows
    checkpoints/state_0000200.pt   full training state: models, optimisers, RNG, warm-up flag
    generator.safetensors          the latest generator (or syncnet.safetensors), with its config
    discriminator.safetensors      the latest discriminator (GAN runs)
    summary.json                   final validation metrics, steps, time

Running the same command again resumes from the newest readable state checkpoint and continues the
same trajectory: batches are a function of (seed, step), and every state the step depends on is saved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..atomic import atomic_path, write_json_atomic, write_text_atomic
from ..checkpoints import load_discriminator, load_syncnet, read_checkpoint, save_model
from ..devices import pick_device
from ..emotions import EMOTIONS
from ..errors import CheckpointError, ConfigError, TrainingError
from ..messages import first_line
from ..models import ConditionalGenerator, QualityDiscriminator, SyncNetExpert, Wav2LipGenerator, get_profile
from ..models.syncnet import stack_lower_halves, sync_probability
from ..perception.emotions import load_emotion_model
from .config import TrainConfig, load_config
from .data import NEUTRAL_INDEX, StepBatchSampler, TrainData, build_data, resolve_targets
from .logbook import RunLog, sample_grid
from .losses import (
    LOSS_TERMS,
    EmotionLoss,
    GeneratorOutputs,
    SyncLoss,
    clamp_grad_norm,
    discriminator_loss,
    sync_bce,
)

log = logging.getLogger(__name__)

STATE_PREFIX = "state_"


# ------------------------------------------------------------------------------------ devices, ranks


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device_type: str) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def _seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes, unlike hash())."""
    import numpy as np

    return int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


# ------------------------------------------------------------------------------------ the trainer


class Trainer:
    """Build everything a config asks for, then :meth:`run` (resuming when state exists)."""

    def __init__(self, config: TrainConfig, *, resume: bool = True, data: TrainData | None = None) -> None:
        self.config = config.validate()
        self.stage = config.stage
        self.out = Path(config.runtime.output)
        if config.runtime.threads > 0:
            torch.set_num_threads(config.runtime.threads)
        probe = pick_device(config.runtime.device, setting="runtime.device")
        self.dist = Distributed.from_env(probe.type)
        self.device = pick_device(config.runtime.device, self.dist.local_rank, setting="runtime.device")
        self.weights = config.loss.weights(self.stage) if self.stage != "syncnet" else {}
        self.resume = resume
        self.profile = get_profile(config.model.profile)

        self.data = data or build_data(config)
        #: the emotions of the training data (saved with the model: what it can translate between)
        self.emotions = sorted({str(r.emotion) for r in self.data.cache.records() if r.emotion})
        torch.manual_seed(config.runtime.seed)  # model initialisation
        self._build_models()
        self._build_optimisers()
        self.step = 0
        self.sync_on = not config.loss.sync_warmup
        self.history: dict[str, Any] = {}
        self.last_saved: int | None = None

    # ------------------------------------------------------------------ building

    def _build_models(self) -> None:
        cfg = self.config
        dev = self.device
        self.generator: nn.Module | None = None
        self.discriminator: nn.Module | None = None
        self.expert: nn.Module | None = None
        self.terms: dict[str, nn.Module] = {}
        self.judge: nn.Module | None = None
        if self.stage == "syncnet":
            expert = SyncNetExpert(self.profile)
            if cfg.model.syncnet:
                expert.load_state_dict(load_syncnet(cfg.model.syncnet, self.profile).state_dict())
            self.expert = expert.to(dev)
            self.trained = self.expert
            return

        if self.stage == "conditional":
            gen: nn.Module = ConditionalGenerator(
                self.profile, condition_dim=cfg.model.condition_dim, blend=cfg.model.blend
            )
        else:
            gen = Wav2LipGenerator(self.profile)
        if cfg.model.init_generator:
            init_generator(gen, cfg.model.init_generator)
        self.generator = gen.to(dev)
        self.trained = self.generator

        # the frozen / adversarial parts the loss terms need, built only for terms with a weight
        w = self.weights
        parts: dict[str, nn.Module] = {}
        if w["sync"] > 0:
            assert cfg.model.syncnet is not None  # validate() checked
            parts["expert"] = load_syncnet(cfg.model.syncnet, self.profile)
        if w["gan"] > 0:
            disc: nn.Module = QualityDiscriminator(self.profile, form=cfg.model.discriminator)
            if cfg.model.init_discriminator:
                src = load_discriminator(cfg.model.init_discriminator, self.profile, form=cfg.model.discriminator)
                disc.load_state_dict(src.state_dict())
            self.discriminator = parts["discriminator"] = disc.to(dev)
        if w["emotion"] > 0:
            kwargs = {"path": cfg.loss.emotion_model_path} if cfg.loss.emotion_model_path else {}
            parts["classifier"] = load_emotion_model(cfg.loss.emotion_model, **kwargs)
        for name in ("l1", "sync", "gan", "emotion"):
            if name == "l1" or w[name] > 0:
                options = {"lower_face": cfg.loss.l1_lower_face} if name == "l1" else {}
                self.terms[name] = LOSS_TERMS[name](**parts, **options).to(dev)
        judge = cfg.runtime.judge
        if judge != "none":
            if judge == cfg.loss.emotion_model and w["emotion"] > 0:
                raise ConfigError(
                    f"runtime.judge={judge!r} is also the emotion objective: a judge must be independent of "
                    "what the generator is trained on (use faceapi with the fer objective, or 'none')"
                )
            self.judge = EmotionLoss(load_emotion_model(judge)).to(dev)

    def _build_optimisers(self) -> None:
        cfg = self.config.optim
        betas = (float(cfg.betas[0]), float(cfg.betas[1]))
        self.opt = torch.optim.Adam(
            [p for p in self.trained.parameters() if p.requires_grad],
            lr=cfg.lr,
            betas=betas,
            weight_decay=cfg.weight_decay,
        )
        self.opt_d = (
            torch.optim.Adam(
                self.discriminator.parameters(), lr=cfg.disc_lr, betas=betas, weight_decay=cfg.weight_decay
            )
            if self.discriminator is not None
            else None
        )
        prec = self.config.runtime.precision
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec)
        self.use_amp = self.amp_dtype is not None and self.device.type == "cuda"
        if self.amp_dtype is not None and not self.use_amp:
            log.warning("runtime.precision=%s is used on CUDA only; training in float32 on %s", prec, self.device)
        scale = self.use_amp and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=scale)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=scale)
        # the wrapped (DistributedDataParallel) modules that take training steps
        self.trained_ddp: nn.Module = self._wrap(self.trained)
        self.discriminator_ddp = self._wrap(self.discriminator) if self.discriminator is not None else None

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_amp:
            return torch.autocast(self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ state

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
        saved = load_config(None, **_sections_of(state["config"]))
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

    # ------------------------------------------------------------------ batches

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def _loader(self, dataset: Any, sampler: StepBatchSampler) -> DataLoader:
        workers = self.config.data.workers
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def _val_batches(self) -> list[dict[str, Any]]:
        """The same validation windows every time (the validation stream's first batches)."""
        if not hasattr(self, "_val_cache"):
            val = self.data.val
            assert val is not None
            sampler = StepBatchSampler(
                len(val),
                self.config.optim.batch_size,
                self.config.runtime.seed + 1,
                steps=self.config.schedule.eval_batches,
            )
            self._val_cache = list(self._loader(val, sampler))
        return self._val_cache

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
            gen = torch.Generator().manual_seed(_seed_for(self.config.runtime.seed, step, self.dist.rank, 17))
            u = torch.rand(2, len(dest), generator=gen).to(dest.device)
            recon = batch["reconstruction"].bool()
            intensity = torch.where(recon & (u[0] < 0.5), torch.zeros_like(intensity), intensity)
            src = torch.where(u[1] < self.config.data.source_dropout, torch.full_like(src, -1), src)
        return {"target": dest, "source": src, "intensity": intensity.float()}

    # ------------------------------------------------------------------ one step

    def _sync_labels(self, n: int, step: int, *, train: bool) -> torch.Tensor:
        if not train:
            return (torch.arange(n) % 2 == 0).float()
        gen = torch.Generator().manual_seed(_seed_for(self.config.runtime.seed, step, self.dist.rank, 23))
        return (torch.rand(n, generator=gen) < 0.5).float()

    def _augment(self, frames: torch.Tensor, step: int) -> torch.Tensor:
        """Per window: horizontal flip (p 0.5), brightness x[0.7, 1.3], per-channel gain x[0.85, 1.15],
        contrast x[0.7, 1.3] around the window's mean; seeded by (seed, step, rank)."""
        b = frames.shape[0]
        gen = torch.Generator().manual_seed(_seed_for(self.config.runtime.seed, step, self.dist.rank, 31))
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

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Metrics on the fixed validation windows (eval mode)."""
        model = _unwrap(self.trained)
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
        model = _unwrap(self.trained)
        was = model.training
        model.eval()
        batch = self._to_device(self._val_batches()[0])
        with torch.no_grad():
            generated = model(batch["mels"], batch["faces"], **self.condition(batch, 0, train=False))
        model.train(was)
        labels = [
            f"{_name(int(s))} -> {_name(int(d))}"
            for s, d in zip(batch["source_emotion"], batch["destination_emotion"], strict=True)
        ]
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        return sample_grid(
            batch["faces"][:, 3:], batch["faces"][:, :3], generated, batch["targets"], path, labels=labels
        )

    # ------------------------------------------------------------------ the loop

    def run(self, *, stop_after: int | None = None) -> dict[str, Any]:
        """Train to ``schedule.steps`` (resuming first); ``stop_after`` ends early after that many steps
        of this call (tests). Returns the summary also written to summary.json."""
        cfg = self.config
        sched = cfg.schedule
        resumed = self.try_resume() if self.resume else None
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / "config.toml", cfg.to_toml())
        self.dist.barrier()
        runlog = (
            RunLog(
                self.out / "log.jsonl",
                resume_step=resumed,
                tensorboard=self.out / "tensorboard" if cfg.runtime.tensorboard and self.dist.main else None,
            )
            if self.dist.main
            else None
        )
        if resumed is not None:
            log.info("resuming %s at step %d from %s", self.stage, resumed, self.out / "checkpoints")
        first = self.step
        total = sched.steps
        started = time.perf_counter()
        try:
            if first == 0 and sched.eval_every and sched.eval_at_start and self.data.val is not None:
                self._evaluate(runlog)
            sampler = StepBatchSampler(
                len(self.data.train),
                cfg.optim.batch_size,
                cfg.runtime.seed,
                start=first,
                steps=max(0, total - first),
                rank=self.dist.rank,
                world=self.dist.world,
            )
            step_fn: Callable[[dict[str, Any], int], dict[str, float]] = (
                self._syncnet_step if self.stage == "syncnet" else self._generator_step
            )
            bar = tqdm(
                total=total,
                initial=first,
                desc=f"train {self.stage}",
                unit="step",
                dynamic_ncols=True,
                disable=not (cfg.runtime.progress and self.dist.main),
            )
            window: dict[str, list[float]] = defaultdict(list)
            t_data = t_step = 0.0
            tick = time.perf_counter()
            done_here = 0
            iterator: Iterator[dict[str, Any]] = iter(self._loader(self.data.train, sampler))
            while self.step < total:
                batch = next(iterator)
                t0 = time.perf_counter()
                t_data += t0 - tick
                metrics = step_fn(self._to_device(batch), self.step)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                tick = time.perf_counter()
                t_step += tick - t0
                self.step += 1
                done_here += 1
                for k, v in metrics.items():
                    window[k].append(v)
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k in ("total", "loss", "l1", "sync")})
                if runlog is not None and (self.step % max(1, sched.log_every) == 0 or self.step == total):
                    n = len(next(iter(window.values())))
                    elapsed = t_data + t_step
                    extra = {
                        "samples_per_s": n * cfg.optim.batch_size * self.dist.world / max(elapsed, 1e-9),
                        "data_share": t_data / max(elapsed, 1e-9),
                        "sync_weight": self.weights.get("sync", 0.0) if self.sync_on else 0.0,
                        "lr": self.opt.param_groups[0]["lr"],
                    }
                    runlog.write(self.step, "train", {k: sum(v) / len(v) for k, v in window.items()} | extra)
                    window.clear()
                    t_data = t_step = 0.0
                if sched.eval_every and self.step % sched.eval_every == 0 and self.step != total:
                    self._evaluate(runlog)
                if sched.save_every and self.step % sched.save_every == 0 and self.step != total:
                    self.save()
                if stop_after is not None and done_here >= stop_after:
                    break
                tick = time.perf_counter()  # validation and saving are not data waiting
            bar.close()
            if self.step >= total:
                if sched.eval_every and self.data.val is not None:
                    self._evaluate(runlog)
                if self.last_saved != self.step:
                    self.save()
        except KeyboardInterrupt:
            if self.step > first and self.last_saved != self.step:
                log.warning("interrupted at step %d: saving the training state before stopping", self.step)
                self.save()
            raise
        finally:
            if runlog is not None:
                runlog.close()
        summary = {
            "stage": self.stage,
            "step": self.step,
            "steps": total,
            "resumed_from": resumed,
            "seconds_this_call": round(time.perf_counter() - started, 2),
            "validation": self.history.get("last_val", {}),
            "output": str(self.out),
        }
        if self.dist.main and self.step >= total:
            write_json_atomic(self.out / "summary.json", summary)
        return summary

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


def _name(index: int) -> str:
    return EMOTIONS[index] if 0 <= index < len(EMOTIONS) else "?"


def _sections_of(toml_text: str) -> dict[str, Any]:
    import tomllib

    data = tomllib.loads(toml_text)
    return {k: v for k, v in data.items() if isinstance(v, dict)} | (
        {"stage": data["stage"]} if "stage" in data else {}
    )


def train(
    config: TrainConfig | str | Path, overrides: list[str] | tuple[str, ...] = (), *, fresh: bool = False
) -> dict:
    """Train from a config (object or TOML path, with ``section.key=value`` overrides); see :class:`Trainer`."""
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides)
    elif overrides:
        raise ConfigError("overrides apply to a config file; change the TrainConfig object instead")
    if fresh:
        _clear_run(Path(config.runtime.output))
    return Trainer(config).run()


def _clear_run(out: Path) -> None:
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


__all__ = ["Distributed", "Trainer", "init_generator", "pick_device", "train"]
