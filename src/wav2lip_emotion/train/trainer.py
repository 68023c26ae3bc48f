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

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..atomic import write_json_atomic, write_text_atomic
from ..checkpoints import load_discriminator, load_syncnet
from ..devices import pick_device
from ..errors import ConfigError
from ..models import ConditionalGenerator, QualityDiscriminator, SyncNetExpert, Wav2LipGenerator, get_profile
from ..perception.emotions import load_emotion_model
from .checkpointing import CheckpointMixin, clear_run, init_generator
from .config import TrainConfig, load_config
from .data import StepBatchSampler, TrainData, build_data
from .distributed import Distributed
from .logbook import RunLog
from .losses import LOSS_TERMS, EmotionLoss
from .steps import StepMixin
from .validation import ValidationMixin

log = logging.getLogger(__name__)


class Trainer(CheckpointMixin, StepMixin, ValidationMixin):
    """Build everything a config asks for, then :meth:`run` (resuming when state exists).

    Its parts live with their jobs: saving and resuming in :class:`CheckpointMixin`, one step in
    :class:`StepMixin`, validation and sample grids in :class:`ValidationMixin`; this module builds the
    models, feeds the batches and runs the loop."""

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


def train(
    config: TrainConfig | str | Path, overrides: list[str] | tuple[str, ...] = (), *, fresh: bool = False
) -> dict:
    """Train from a config (object or TOML path, with ``section.key=value`` overrides); see :class:`Trainer`."""
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides)
    elif overrides:
        raise ConfigError("overrides apply to a config file; change the TrainConfig object instead")
    if fresh:
        clear_run(Path(config.runtime.output))
    return Trainer(config).run()


__all__ = ["Distributed", "Trainer", "init_generator", "pick_device", "train"]
