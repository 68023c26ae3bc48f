"""The steps of ``wav2lip-emotion reproduce``: world, preprocess, train, evaluate (the report: report.py)."""

from __future__ import annotations

import json
import math
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..errors import ConfigError, DataError
from .budgets import BASELINE_ROWS, CONDITIONAL, LEVEL, REPRODUCED_EMOTIONS, VARIANTS, pair_name
from .config import ReproduceConfig, StepTime, TrainingRun, default_configs_dir

# ------------------------------------------------------------------------------------------------ helpers


def _strategy_slug(strategy: str) -> str:
    return strategy.replace("+", "_")


def _toml_str(value: object) -> str:
    """A TOML basic string (JSON's escapes are valid TOML), so that --set never reads a path as a number."""
    return json.dumps(str(value))


def _comparable_config(text: str) -> dict[str, Any]:
    """A resolved config without the settings that do not change what a run computes."""
    data = tomllib.loads(text)
    runtime = data.get("runtime", {})
    for key in ("progress", "threads", "device"):
        runtime.pop(key, None)
    return data


def say(message: str) -> None:
    """A progress line (stderr)."""
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ the run


class Reproduction:
    """The steps of one reproduction: each has a ``*_done`` check (finished earlier, from what is on disk) and
    the work; :meth:`step` runs one or skips it and records its time in OUT/reproduction.json."""

    def __init__(self, config: ReproduceConfig) -> None:
        self.config = config
        self.budget = config.plan
        self.out = config.out
        self.world = self.out / "world"
        self.cache = self.out / "cache"
        self.runs_dir = self.out / "runs"
        self.eval_dir = self.out / "eval"
        self.state_path = self.out / "reproduction.json"
        self.configs = config.configs or default_configs_dir()
        self.split: dict[str, list[str]] = {}
        self.timings: list[StepTime] = []
        self.state: dict[str, Any] = {}

    # ---------------------------------------------------------------- state

    def load_state(self) -> None:
        want = {"budget": self.budget.as_dict(), "seed": self.config.seed}
        if self.state_path.is_file():
            try:
                state = json.loads(self.state_path.read_text())
            except ValueError:
                state = {}
            got = {"budget": state.get("budget"), "seed": state.get("seed")}
            if state and got != want:
                name = (state.get("budget") or {}).get("name", "?")
                raise ConfigError(
                    f"{self.out} holds a reproduction with budget {name!r} and seed {state.get('seed')} made with "
                    f"other settings; give another --out (or remove {self.state_path} to reuse what fits)"
                )
            self.state = state if state else {}
        self.state = {**want, "steps": self.state.get("steps", {})}
        self.save_state()  # claims OUT for this budget and seed before anything is written

    def save_state(self) -> None:
        write_json_atomic(self.state_path, self.state)

    def step(self, index: int, total: int, name: str, label: str, done: bool, work: Callable[[], object]) -> None:
        """Run one step (or skip it when ``done``), print its progress lines, record its time."""
        prefix = f"[{index}/{total}] {label}"
        recorded = self.state["steps"].get(name, {})
        if done:
            say(f"{prefix}: finished earlier, skipped")
            self.timings.append(StepTime(name, label, float(recorded.get("seconds", math.nan)), 0.0, True))
            return
        say(f"{prefix}...")
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        self.state["steps"][name] = {"seconds": round(seconds, 2), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        self.save_state()
        self.timings.append(StepTime(name, label, seconds, seconds, False))
        say(f"{prefix}: done in {seconds:.1f} s")

    # ---------------------------------------------------------------- 1. world

    def _world_config(self, aligned_actors: Sequence[str] | None) -> Any:
        from ..world.synth import WorldConfig

        b = self.budget
        return WorldConfig(
            actors=b.actors,
            sentences=b.sentences,
            emotions=REPRODUCED_EMOTIONS,
            levels=(LEVEL,),
            size=b.size,
            seed=self.config.seed,
            real_identities=b.real_identities,
            procedural_identities=b.procedural_identities,
            aligned=aligned_actors is not None,
            aligned_actors=tuple(aligned_actors or ()),
            max_seconds=b.max_seconds,
        )

    def _split_of(self, manifest: dict[str, Any]) -> dict[str, list[str]]:
        """The trainer's split (split_by_actor with the budget's counts and the seed), from the world's takes."""
        from ..data.records import VideoRecord
        from ..data.splits import split_by_actor

        genders = {a["actor"]: a.get("gender") for a in manifest["actors"]}
        records = [
            VideoRecord.from_id(
                f"{t['actor']}/front/{t['emotion']}/level_{t['level']}/{t['sentence']}",
                frames=int(t["frames"]),
                gender=genders.get(t["actor"]),
            )
            for t in manifest["takes"]
        ]
        b = self.budget
        s = split_by_actor(records, val=b.val_actors, test=b.test_actors, seed=self.config.seed, min_minority=0)
        return {"train": s.train, "val": s.val, "test": s.test}

    def world_done(self) -> bool:
        path = self.world / "world.json"
        if not path.is_file():
            return False
        try:
            manifest = json.loads(path.read_text())
            split = self._split_of(manifest)
        except (ValueError, KeyError, DataError, ConfigError):
            return False
        final = json.loads(json.dumps(asdict(self._world_config(split["test"]))))
        if manifest.get("config") != final:
            return False
        self.split = split
        return True

    def make_world(self) -> None:
        from ..world.synth import synthesize

        progress = not self.config.quiet
        takes = synthesize(self._world_config(None), self.world, progress=progress)
        self.split = self._split_of(asdict(takes))
        say(
            f"      split (seed {self.config.seed}): train {', '.join(self.split['train'])}; "
            f"val {', '.join(self.split['val'])}; test {', '.join(self.split['test'])} (aligned ground truth)"
        )
        synthesize(self._world_config(self.split["test"]), self.world, progress=progress)

    # ---------------------------------------------------------------- 2. preprocess

    def _preprocess_config(self) -> Any:
        from ..data.preprocess import PreprocessConfig

        return PreprocessConfig(
            layout="world",
            src=self.world,
            out=self.cache,
            size=self.budget.face_size(),
            emotions=REPRODUCED_EMOTIONS,
            levels=(LEVEL,),
            workers=self.budget.preprocess_workers,
        )

    def preprocess_done(self) -> bool:
        from ..data.cache import FaceCache
        from ..data.layouts import discover

        cfg = self._preprocess_config()
        if not (self.cache / "cache.json").is_file():
            return False
        try:
            cache = FaceCache(self.cache)
            if int(cache.info.size) != cfg.size:
                return False
            failed = (
                json.loads((self.cache / "failed.json").read_text()) if (self.cache / "failed.json").is_file() else {}
            )
            have = set(cache.videos) | set(failed)
        except (ValueError, OSError, DataError, ConfigError):
            return False
        wanted = {v.id for v in discover("world", self.world, emotions=cfg.emotions, levels=cfg.levels)}
        return wanted <= have

    def make_cache(self) -> None:
        from ..data.preprocess import preprocess

        summary = preprocess(self._preprocess_config(), progress=not self.config.quiet)
        say("      " + summary.describe().replace("\n", "\n      "))

    def check_split(self) -> None:
        """The trainer draws its split from the cache: it must be the one the world was rendered for."""
        from ..data.cache import FaceCache
        from ..data.splits import split_by_actor

        b = self.budget
        s = split_by_actor(
            FaceCache(self.cache).records(), val=b.val_actors, test=b.test_actors, seed=self.config.seed, min_minority=0
        )
        got = {"train": s.train, "val": s.val, "test": s.test}
        if got != self.split:
            raise DataError(
                f"{self.cache}: the trainer's actor split {got} differs from the world's {self.split} (an actor "
                f"lost all its videos in preprocessing? see {self.cache / 'failed.json'})"
            )

    # ---------------------------------------------------------------- 3. training

    def _config_file(self, name: str) -> Path:
        path = self.configs / f"{name}.toml"
        if not path.is_file():
            raise ConfigError(
                f"{path}: the world training config is missing; `reproduce` reads the package's configs/world/ "
                "(reinstall wav2lip-emotion, or give ReproduceConfig(configs=DIR))"
            )
        return path

    def plan_runs(self) -> list[TrainingRun]:
        from ..train import load_config

        if not self.configs.is_dir():
            raise ConfigError(
                f"{self.configs}: no configs/world directory; `reproduce` reads the world configs shipped in the "
                "package (reinstall wav2lip-emotion, or give ReproduceConfig(configs=DIR))"
            )
        b = self.budget
        runs: list[TrainingRun] = [
            TrainingRun("syncnet", "training the SyncNet expert", self._config_file("syncnet"), "syncnet", 0, [])
        ]
        for mask in ("half", "full"):
            name = f"wav2lip_{mask}"
            runs.append(TrainingRun(name, f"training Wav2Lip, {mask} mask", self._config_file(name), "wav2lip", 0, []))
        for mask, strategy in VARIANTS:
            variant = f"{mask}/{strategy}"
            for pair in b.pairs:
                runs.append(
                    TrainingRun(
                        f"{mask}_{_strategy_slug(strategy)}_{pair[0]}_{pair[1]}",
                        f"training {variant} {pair_name(pair)}",
                        self._config_file(f"emotion_{mask}_{_strategy_slug(strategy)}"),
                        "emotion",
                        0,
                        [],
                        variant=variant,
                        pair=tuple(pair),  # type: ignore[arg-type]
                    )
                )
        runs.append(
            TrainingRun(
                "conditional",
                "training the conditional model (all pairs)",
                self._config_file("conditional"),
                "conditional",
                0,
                [],
                variant=CONDITIONAL,
            )
        )
        names = {r.name for r in runs}
        for run in runs:
            base = load_config(run.config_file)
            if base.stage != run.stage:
                raise ConfigError(f"{run.config_file}: expected stage {run.stage!r}, found {base.stage!r}")
            run.steps = b.steps(run.stage)
            every = max(1, math.ceil(run.steps / b.evals_per_run))
            out = self.runs_dir / run.name
            ov = [
                f"data.cache={_toml_str(self.cache)}",
                f"runtime.output={_toml_str(out)}",
                f"runtime.seed={self.config.seed}",
                f"data.val_actors={b.val_actors}",
                f"data.test_actors={b.test_actors}",
                f"schedule.steps={run.steps}",
                f"schedule.eval_every={every}",
                f"schedule.save_every={every}",
            ]
            if base.schedule.sample_every:  # the expert draws no samples
                ov.append(f"schedule.sample_every={every}")
            if base.model.profile != b.profile:
                ov.append(f"model.profile={_toml_str(b.profile)}")
            if b.batch_size is not None:
                ov.append(f"optim.batch_size={b.batch_size}")
            if b.eval_batches is not None:
                ov.append(f"schedule.eval_batches={b.eval_batches}")
            if run.stage != "syncnet":
                ov.append(f"model.syncnet={_toml_str(self.runs_dir / 'syncnet' / 'syncnet.safetensors')}")
                if base.runtime.judge != b.judge:
                    ov.append(f"runtime.judge={_toml_str(b.judge)}")
            if base.model.init_generator:
                # the committed config says which pre-training it starts from (runs/world/wav2lip_full/...)
                start = Path(base.model.init_generator).parent.name
                if start not in names:
                    raise ConfigError(
                        f"{run.config_file}: model.init_generator {base.model.init_generator} is no run here"
                    )
                ov.append(f"model.init_generator={_toml_str(self.runs_dir / start / 'generator.safetensors')}")
            if run.pair is not None:
                ov.append(f"data.pairs={json.dumps([list(run.pair)])}")
            if not b.tensorboard:
                ov.append("runtime.tensorboard=false")
            if self.config.quiet:
                ov.append("runtime.progress=false")
            if self.config.threads:
                ov.append(f"runtime.threads={self.config.threads}")
            if self.config.device != "auto":
                ov.append(f"runtime.device={_toml_str(self.config.device)}")
            run.overrides = ov
            load_config(run.config_file, ov)  # every config resolves before anything long starts
        return runs

    def run_done(self, run: TrainingRun) -> bool:
        from ..train import load_config

        out = self.runs_dir / run.name
        summary, resolved = out / "summary.json", out / "config.toml"
        if not (summary.is_file() and resolved.is_file() and (out / run.model_file).is_file()):
            return False
        try:
            if int(json.loads(summary.read_text()).get("step", -1)) != run.steps:
                return False
            now = load_config(run.config_file, run.overrides).to_toml()
            return _comparable_config(resolved.read_text()) == _comparable_config(now)
        except (ValueError, OSError, tomllib.TOMLDecodeError, ConfigError):
            return False

    def train_run(self, run: TrainingRun) -> None:
        from ..train import load_config, train

        summary = train(load_config(run.config_file, run.overrides))
        val = summary.get("validation") or {}
        shown = ", ".join(f"{k} {v:.3g}" for k, v in list(val.items())[:6])
        if shown:
            say(f"      validation: {shown}")

    # ---------------------------------------------------------------- 4. evaluation

    def eval_names(self, runs: Sequence[TrainingRun]) -> tuple[list[str], dict[str, str]]:
        """The evaluate checkpoints (``NAME=PATH`` or ``PATH``) and evaluation name -> report variant.

        A variant with one model is evaluated under its own name (``half/l1+emotion``, the name recorded in the
        file); with one model per pair, each is evaluated as ``half-l1+emotion@neutral-happy`` (evaluate names
        cannot hold a slash) and merged into the variant here."""
        checkpoints: list[str] = []
        names: dict[str, str] = {}
        per_variant: dict[str, list[TrainingRun]] = {}
        for run in runs:
            if run.variant is not None:
                per_variant.setdefault(run.variant, []).append(run)
        for variant, members in per_variant.items():
            for run in members:
                path = self.runs_dir / run.name / run.model_file
                if variant == CONDITIONAL:
                    checkpoints.append(f"{CONDITIONAL}={path}")
                    names[CONDITIONAL] = CONDITIONAL
                elif len(members) == 1:
                    checkpoints.append(str(path))
                    names[variant] = variant
                else:
                    assert run.pair is not None
                    name = f"{variant.replace('/', '-')}@{run.pair[0]}-{run.pair[1]}"
                    checkpoints.append(f"{name}={path}")
                    names[name] = variant
        return checkpoints, names

    def _evaluate_config(self, checkpoints: Sequence[str]) -> Any:
        from ..evaluation.runner import EvaluateConfig

        b = self.budget
        return EvaluateConfig(
            data=self.world,
            out=self.eval_dir,
            checkpoints=tuple(checkpoints),
            baselines=BASELINE_ROWS,
            pairs=b.eval_pairs,
            level=LEVEL,
            actors=tuple(self.split["test"]),
            lse=b.lse,
            identity=b.identity,
            device=self.config.device,
            progress=not self.config.quiet,
        )

    def _eval_key(self, checkpoints: Sequence[str]) -> str:
        from ..evaluation.cases import parse_named
        from ..evaluation.runner import fingerprint

        cfg = self._evaluate_config(checkpoints).as_dict()
        cfg.pop("progress", None)
        files = [fingerprint(Path(parse_named(c)[1])) for c in checkpoints]
        return json.dumps({"config": cfg, "checkpoints": files}, sort_keys=True, default=str)

    @property
    def scores_path(self) -> Path:
        return self.eval_dir / "reproduction_scores.json"

    def eval_done(self, checkpoints: Sequence[str]) -> bool:
        if not self.scores_path.is_file():
            return False
        try:
            saved = json.loads(self.scores_path.read_text())
            return saved.get("key") == self._eval_key(checkpoints)
        except (ValueError, OSError):
            return False

    def evaluate(self, checkpoints: Sequence[str]) -> None:
        from ..evaluation.runner import evaluate

        result = evaluate(self._evaluate_config(checkpoints))
        frechet = [[s.variant, s.pair, s.frechet] for s in result.summaries]
        write_json_atomic(
            self.scores_path,
            {
                "key": self._eval_key(checkpoints),
                "labels": result.labels,
                "cases": len(result.cases),
                "skipped": result.skipped,
                "frechet": frechet,
                "scores": [s.as_dict() for s in result.scores],
            },
        )
        say(f"      {len(result.scores)} videos of {len(result.cases)} cases scored; report {result.out / 'report.md'}")
