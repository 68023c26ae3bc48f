"""``wav2lip-emotion reproduce``: the paper's experiment in the generated world, end to end, in one command.

Steps (each skips what is already finished in ``OUT``, so a crash or Ctrl-C loses only the step in progress,
and inside a training or the evaluation only the work since its last checkpoint / cached video)::

    1. world       synthesize OUT/world: neutral, happy level 3, sad level 3 (the paper's three emotions);
                   the actor split is drawn from the takes exactly as the trainer draws it, and the aligned
                   ground truth is rendered for the test actors only
    2. preprocess  OUT/cache at the budget profile's face size
    3. train       OUT/runs/<name>: the SyncNet expert, Wav2Lip half / full, the paper's six variants
                   (mask full|half x strategy l1+emotion|emotion|l1, one model per directed pair) and the
                   conditional model (one for all pairs), each from the committed configs/world/*.toml with
                   ``--set`` overrides (paths inside OUT, steps and cadence of the budget, seed)
    4. evaluate    OUT/eval: every emotion model, the conditional one and the ground-truth / copy baselines on
                   the test actors; per-pair models of one variant are merged into that variant's row
    5. report      OUT/reproduction.md and OUT/tables/*.csv: Table 2 and Table 3 next to the paper's numbers,
                   and the time of every step

The training settings are the repository's ``configs/world/*.toml`` (found next to the package in a source
checkout, or in ``ReproduceConfig.configs``); they are not copied into the package, so that the reproduction
and ``wav2lip-emotion train`` can never disagree. Finished trainings are recognised by their ``summary.json``
(written by the trainer only when a run reached its last step) and their resolved ``config.toml``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import write_json_atomic, write_text_atomic
from .data.pairing import PAPER_PAIRS
from .errors import ConfigError, DataError

if TYPE_CHECKING:
    from .evaluation.scores import Summary, VideoScore

#: the paper's three emotions (non-neutral ones at level 3)
EMOTIONS = ("neutral", "happy", "sad")
LEVEL = 3
#: the paper's directed pairs among them (Table 3's order)
PAIRS: tuple[tuple[str, str], ...] = PAPER_PAIRS
#: the paper's six variants, in Table 2's order: (mask, strategy)
VARIANTS: tuple[tuple[str, str], ...] = (
    ("full", "l1+emotion"),
    ("full", "emotion"),
    ("full", "l1"),
    ("half", "l1+emotion"),
    ("half", "emotion"),
    ("half", "l1"),
)
#: the variant of the paper's Table 3
TABLE3_VARIANT = "half/l1+emotion"
CONDITIONAL = "conditional"
BASELINE_ROWS = ("ground-truth", "copy")
#: budgets shown by ``--help``; "test" is a minimal one for the test suite (Python API)
PUBLIC_BUDGETS = ("small", "full")


@dataclass(frozen=True)
class Budget:
    """How big the reproduction is: the world, the model profile, the training steps, the evaluation.

    Presets in :data:`BUDGETS`. Both public ones train the ``small`` model profile (64 px faces): a ``paper``
    profile step takes about 16 s on 2 CPU cores (docs/training.md), which would make even ``full`` take days.
    """

    name: str
    # ---- the world (synth)
    actors: int
    sentences: int
    #: frame side of the rendered videos (px)
    size: int
    #: longest sentence (s)
    max_seconds: float = 4.0
    real_identities: bool = True
    procedural_identities: bool = True
    #: actors held out for validation and test (drawn from the actor ids with the seed, as the trainer does)
    val_actors: int = 1
    test_actors: int = 1
    # ---- the face cache and the models
    #: model profile: "small" (64 px faces), "tiny" (48 px) or "paper" (96 px); the cache is made at its size
    profile: str = "small"
    preprocess_workers: int = 2
    # ---- training steps per stage
    syncnet_steps: int = 1000
    wav2lip_steps: int = 400
    emotion_steps: int = 150
    conditional_steps: int = 300
    #: the directed pairs each of the six variants is trained on (one model per pair, as the paper)
    pairs: tuple[tuple[str, str], ...] = (("neutral", "happy"),)
    #: windows per batch (None: the configs', 8; the expert 16)
    batch_size: int | None = None
    #: validations (= checkpoints, sample grids) per run, besides the one before the first step
    evals_per_run: int = 4
    #: batches per validation (None: the configs')
    eval_batches: int | None = None
    #: the judge reported at validation while training ("none" skips it)
    judge: str = "faceapi"
    tensorboard: bool = True
    # ---- evaluation
    #: directed pairs of the test cases (the paper's six)
    eval_pairs: tuple[tuple[str, str], ...] = PAIRS
    #: measure LSE* (the shipped world expert) and the dlib identity distance
    lse: bool = True
    identity: bool = True

    def __post_init__(self) -> None:
        from .models.profiles import PROFILES

        if self.profile not in PROFILES:
            raise ConfigError(f"budget {self.name!r}: profile must be one of {', '.join(PROFILES)}")
        if self.actors < self.val_actors + self.test_actors + 1:
            raise ConfigError(f"budget {self.name!r}: {self.actors} actors cannot hold out val + test and train")
        for name in ("syncnet_steps", "wav2lip_steps", "emotion_steps", "conditional_steps", "evals_per_run"):
            if getattr(self, name) < 1:
                raise ConfigError(f"budget {self.name!r}: {name} must be at least 1")
        for pair in (*self.pairs, *self.eval_pairs):
            if tuple(pair) not in PAIRS:
                raise ConfigError(f"budget {self.name!r}: pair {pair} is not one of the paper's {PAIRS}")
        if not self.pairs or not self.eval_pairs:
            raise ConfigError(f"budget {self.name!r}: needs training pairs and evaluation pairs")

    def steps(self, stage: str) -> int:
        return int(getattr(self, f"{stage}_steps"))

    def face_size(self) -> int:
        from .models.profiles import get_profile

        return get_profile(self.profile).face_size

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists), for the state file and the report."""
        return json.loads(json.dumps(asdict(self)))


BUDGETS: dict[str, Budget] = {
    # about 30 minutes on 2 idle CPU cores: one pair (neutral -> happy) per variant
    "small": Budget(
        name="small",
        actors=6,
        sentences=2,
        size=128,
        profile="small",
        syncnet_steps=1000,
        wav2lip_steps=400,
        emotion_steps=150,
        conditional_steps=300,
    ),
    # hours: every directed pair per variant (36 models, as the paper), the shipped configs' step counts
    "full": Budget(
        name="full",
        actors=10,
        sentences=4,
        size=160,
        val_actors=1,
        test_actors=2,
        profile="small",
        syncnet_steps=4000,
        wav2lip_steps=1500,
        emotion_steps=600,
        conditional_steps=1500,
        pairs=PAIRS,
        evals_per_run=6,
    ),
    # the test suite's: tiny everything (not offered by --help)
    "test": Budget(
        name="test",
        actors=3,
        sentences=1,
        size=96,
        max_seconds=1.2,
        procedural_identities=False,
        profile="tiny",
        preprocess_workers=1,
        syncnet_steps=2,
        wav2lip_steps=2,
        emotion_steps=1,
        conditional_steps=2,
        pairs=(("neutral", "happy"), ("happy", "neutral")),  # two: the per-pair models are merged per variant
        batch_size=2,
        evals_per_run=1,
        eval_batches=1,
        judge="none",
        tensorboard=False,
        eval_pairs=(("happy", "neutral"), ("neutral", "happy")),
        lse=False,
        identity=False,
    ),
}


def default_configs_dir() -> Path:
    """``configs/world`` of the source checkout this package runs from."""
    import wav2lip_emotion

    return Path(wav2lip_emotion.__file__).resolve().parents[2] / "configs" / "world"


@dataclass
class ReproduceConfig:
    """Settings of :func:`run_reproduction` and ``wav2lip-emotion reproduce``."""

    #: "small" (about 30 min on 2 CPU cores), "full" (hours) or a :class:`Budget`
    budget: str | Budget = "small"
    #: output directory: world/, cache/, runs/, eval/, tables/, reproduction.md
    out: Path = Path("reproduction")
    #: seed of the world, the actor split and every training
    seed: int = 0
    #: no progress bars (the step lines are still printed)
    quiet: bool = False
    #: CPU threads (0 = PyTorch's default); 1 is much faster when other jobs share the cores
    threads: int = 0
    #: training and translation device ("auto": cuda, then mps, then cpu)
    device: str = "auto"
    #: directory of the world training configs (None: configs/world of the source checkout)
    configs: Path | None = None

    def __post_init__(self) -> None:
        if isinstance(self.budget, str):
            if self.budget not in BUDGETS:
                raise ConfigError(f"unknown budget {self.budget!r}; choose {' or '.join(PUBLIC_BUDGETS)}")
            self.budget = BUDGETS[self.budget]
        elif not isinstance(self.budget, Budget):
            raise ConfigError(f"budget must be a name or a Budget, got {self.budget!r}")
        self.out = Path(self.out)
        if self.configs is not None:
            self.configs = Path(self.configs)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}")

    @property
    def plan(self) -> Budget:
        assert isinstance(self.budget, Budget)
        return self.budget

    def command(self) -> str:
        """The equivalent command line."""
        cmd = f"wav2lip-emotion reproduce --budget {self.plan.name} --out {self.out} --seed {self.seed}"
        if self.threads:
            cmd += f" --threads {self.threads}"
        if self.device != "auto":
            cmd += f" --device {self.device}"
        return cmd + (" -q" if self.quiet else "")


@dataclass
class StepTime:
    """One step of the reproduction: the seconds it took when it ran, and in this call."""

    name: str
    label: str
    seconds: float
    this_run: float
    skipped: bool


@dataclass
class TrainingRun:
    """One training of the plan."""

    name: str  # run directory under OUT/runs
    label: str  # "training half/l1 neutral->happy"
    config_file: Path
    stage: str  # syncnet, wav2lip, emotion, conditional
    steps: int
    overrides: list[str]
    variant: str | None = None  # "half/l1" for the emotion models, "conditional"
    pair: tuple[str, str] | None = None

    @property
    def model_file(self) -> str:
        return "syncnet.safetensors" if self.stage == "syncnet" else "generator.safetensors"


@dataclass
class ReproductionResult:
    """What :func:`run_reproduction` made."""

    out: Path
    report: Path
    tables: dict[str, Path]
    budget: Budget
    #: the actor split: "train", "val", "test" -> actor ids
    split: dict[str, list[str]]
    runs: list[TrainingRun]
    timings: list[StepTime]
    #: per (variant, pair) and per variant ("all") averages, the per-pair models merged into their variant
    summaries: list[Summary]
    #: what the metrics are (evaluate's labels: LSE* or LSE, FD-faceapi or FID, the affect model)
    labels: dict[str, str]
    #: (header, rows) of Table 2 and Table 3 as written to OUT/tables
    table2: tuple[list[str], list[list[Any]]]
    table3: tuple[list[str], list[list[Any]]]
    #: the models' names in OUT/eval -> their variant in the tables
    evaluation_names: dict[str, str] = field(default_factory=dict)
    #: test cases (actor, sentence, pair) evaluated
    cases: int = 0
    #: seconds of this call
    seconds: float = 0.0

    def summary(self, variant: str, pair: str = "all") -> Summary:
        for s in self.summaries:
            if s.variant == variant and s.pair == pair:
                return s
        raise KeyError(f"no summary for {variant} / {pair}")


# ------------------------------------------------------------------------------------------------ helpers


def _strategy_slug(strategy: str) -> str:
    return strategy.replace("+", "_")


def _pair_name(pair: Sequence[str]) -> str:
    return f"{pair[0]}->{pair[1]}"


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


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ the run


class _Reproduction:
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

    def _load_state(self) -> None:
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
        self._save_state()  # claims OUT for this budget and seed before anything is written

    def _save_state(self) -> None:
        write_json_atomic(self.state_path, self.state)

    def _step(self, index: int, total: int, name: str, label: str, done: bool, work: Callable[[], object]) -> None:
        """Run one step (or skip it when ``done``), print its progress lines, record its time."""
        prefix = f"[{index}/{total}] {label}"
        recorded = self.state["steps"].get(name, {})
        if done:
            _say(f"{prefix}: finished earlier, skipped")
            self.timings.append(StepTime(name, label, float(recorded.get("seconds", math.nan)), 0.0, True))
            return
        _say(f"{prefix}...")
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        self.state["steps"][name] = {"seconds": round(seconds, 2), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        self._save_state()
        self.timings.append(StepTime(name, label, seconds, seconds, False))
        _say(f"{prefix}: done in {seconds:.1f} s")

    # ---------------------------------------------------------------- 1. world

    def _world_config(self, aligned_actors: Sequence[str] | None) -> Any:
        from .world.synth import WorldConfig

        b = self.budget
        return WorldConfig(
            actors=b.actors,
            sentences=b.sentences,
            emotions=EMOTIONS,
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
        from .data.records import VideoRecord
        from .data.splits import split_by_actor

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
        from .world.synth import synthesize

        progress = not self.config.quiet
        takes = synthesize(self._world_config(None), self.world, progress=progress)
        self.split = self._split_of(asdict(takes))
        _say(
            f"      split (seed {self.config.seed}): train {', '.join(self.split['train'])}; "
            f"val {', '.join(self.split['val'])}; test {', '.join(self.split['test'])} (aligned ground truth)"
        )
        synthesize(self._world_config(self.split["test"]), self.world, progress=progress)

    # ---------------------------------------------------------------- 2. preprocess

    def _preprocess_config(self) -> Any:
        from .data.preprocess import PreprocessConfig

        return PreprocessConfig(
            layout="world",
            src=self.world,
            out=self.cache,
            size=self.budget.face_size(),
            emotions=EMOTIONS,
            levels=(LEVEL,),
            workers=self.budget.preprocess_workers,
        )

    def preprocess_done(self) -> bool:
        from .data.cache import FaceCache
        from .data.layouts import discover

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
        from .data.preprocess import preprocess

        summary = preprocess(self._preprocess_config(), progress=not self.config.quiet)
        _say("      " + summary.describe().replace("\n", "\n      "))

    def check_split(self) -> None:
        """The trainer draws its split from the cache: it must be the one the world was rendered for."""
        from .data.cache import FaceCache
        from .data.splits import split_by_actor

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
                f"{path}: the world training config is missing; `reproduce` reads the repository's configs/world/ "
                "(run it from a source checkout, or give ReproduceConfig(configs=DIR))"
            )
        return path

    def plan_runs(self) -> list[TrainingRun]:
        from .train import load_config

        if not self.configs.is_dir():
            raise ConfigError(
                f"{self.configs}: no configs/world directory; `reproduce` reads the repository's committed world "
                "configs (run it from a source checkout, or give ReproduceConfig(configs=DIR))"
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
                        f"training {variant} {_pair_name(pair)}",
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
        from .train import load_config

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
        from .train import load_config, train

        summary = train(load_config(run.config_file, run.overrides))
        val = summary.get("validation") or {}
        shown = ", ".join(f"{k} {v:.3g}" for k, v in list(val.items())[:6])
        if shown:
            _say(f"      validation: {shown}")

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
        from .evaluation.runner import EvaluateConfig

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
        from .evaluation.cases import parse_named

        cfg = self._evaluate_config(checkpoints).as_dict()
        cfg.pop("progress", None)
        files = [_fingerprint(Path(parse_named(c)[1])) for c in checkpoints]
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
        from .evaluation.runner import evaluate

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
        _say(
            f"      {len(result.scores)} videos of {len(result.cases)} cases scored; report {result.out / 'report.md'}"
        )


# ------------------------------------------------------------------------------------------------ merging


def merge_scores(
    scores: Sequence[VideoScore], frechet: Sequence[tuple[str, str, float]], names: dict[str, str]
) -> list[Summary]:
    """Per (variant, pair) and per-variant summaries with the evaluated models renamed to their variant.

    ``scores``: VideoScore objects of the evaluation; ``frechet``: (evaluated name, pair, Frechet distance)
    of its summaries; ``names``: evaluated name -> variant (names not in it are kept). Per-pair values are the
    pair models' own; a variant's row is the micro-average over all its videos (as :func:`summarise` does) and
    its Frechet distance the mean over its pairs (as :func:`~wav2lip_emotion.evaluation.runner.evaluate`)."""
    from .evaluation.scores import summarise

    renamed = [dataclasses.replace(s, variant=names.get(s.variant, s.variant)) for s in scores]
    summaries = summarise(renamed)
    per_pair: dict[tuple[str, str], float] = {}
    for name, pair, value in frechet:
        if pair != "all":
            per_pair[(names.get(name, name), pair)] = float(value)
    for s in summaries:
        if s.pair != "all":
            s.frechet = per_pair.get((s.variant, s.pair), math.nan)
    for s in summaries:
        if s.pair == "all":
            finite = [p.frechet for p in summaries if p.variant == s.variant and p.pair != "all"]
            finite = [v for v in finite if math.isfinite(v)]
            s.frechet = float(sum(finite) / len(finite)) if finite else math.nan
    return summaries


# ------------------------------------------------------------------------------------------------ report


def _columns(labels: dict[str, str]) -> tuple[str, str]:
    lse = "LSE" if labels.get("lse_comparable") == "True" else "LSE*"
    fd = "FID" if labels.get("frechet_comparable") == "True" else "FD-faceapi"
    return lse, fd


def table2(summaries: Sequence[Summary], labels: dict[str, str]) -> tuple[list[str], list[list[Any]]]:
    """The paper's Table 2 in the world: ours next to the paper's, plus our extra columns."""
    from .evaluation.report import PAPER_TABLE2

    lse, fd = _columns(labels)
    header = [
        "variant",
        f"{lse}-D",
        "paper LSE-D",
        f"{lse}-C",
        "paper LSE-C",
        fd,
        "paper FID",
        "dV",
        "paper dV",
        "dA",
        "paper dA",
        "p(dst)",
        "mouth corr.",
        "identity dist.",
        "videos",
    ]
    by_name = {s.variant: s for s in summaries if s.pair == "all"}
    order = [f"{m}/{s}" for m, s in VARIANTS] + [CONDITIONAL, *BASELINE_ROWS]
    rows: list[list[Any]] = []
    for name in order:
        if name in BASELINE_ROWS:
            paper = PAPER_TABLE2.get(("ground truth", "-")) if name == "ground-truth" else None
        elif name == CONDITIONAL:
            paper = None
        else:
            mask, strategy = name.split("/", 1)
            paper = PAPER_TABLE2.get((mask, strategy))
        p = list(paper) if paper is not None else [None] * 5
        s = by_name.get(name)
        x = s.values if s is not None else {}
        nan = math.nan
        rows.append(
            [
                name,
                x.get("lse_d", nan),
                p[0],
                x.get("lse_c", nan),
                p[1],
                s.frechet if s is not None else nan,
                p[2],
                x.get("delta_valence", nan),
                p[3],
                x.get("delta_arousal", nan),
                p[4],
                x.get("p_destination", nan),
                x.get("mouth_correlation", nan),
                x.get("identity_distance", nan),
                s.videos if s is not None else 0,
            ]
        )
    return header, rows


def table3(summaries: Sequence[Summary]) -> tuple[list[str], list[list[Any]]]:
    """The paper's Table 3 (per pair dV / dA of the half-mask L1 + emotion variant), with the conditional model."""
    from .evaluation.report import PAPER_TABLE3

    header = [
        "pair",
        f"{TABLE3_VARIANT} dV",
        f"{TABLE3_VARIANT} dA",
        "conditional dV",
        "conditional dA",
        "paper dV",
        "paper dA",
        f"{TABLE3_VARIANT} videos",
        "conditional videos",
    ]
    by_key = {(s.variant, s.pair): s for s in summaries}
    rows: list[list[Any]] = []
    for pair in PAIRS:
        name = _pair_name(pair)
        ours, cond = by_key.get((TABLE3_VARIANT, name)), by_key.get((CONDITIONAL, name))
        paper = PAPER_TABLE3.get(name, (None, None))

        def v(s: Any, key: str) -> float:
            return s.values[key] if s is not None else math.nan

        rows.append(
            [
                name,
                v(ours, "delta_valence"),
                v(ours, "delta_arousal"),
                v(cond, "delta_valence"),
                v(cond, "delta_arousal"),
                paper[0],
                paper[1],
                ours.videos if ours is not None else 0,
                cond.videos if cond is not None else 0,
            ]
        )
    return header, rows


def timing_table(timings: Sequence[StepTime], total_this_run: float) -> tuple[list[str], list[list[Any]]]:
    header = ["step", "seconds", "this run (s)"]
    rows: list[list[Any]] = [[t.label, t.seconds, "skipped" if t.skipped else t.this_run] for t in timings]
    done = [t.seconds for t in timings if math.isfinite(t.seconds)]
    rows.append(["total", float(sum(done)), total_this_run])
    return header, rows


def _report_markdown(
    config: ReproduceConfig,
    runs: Sequence[TrainingRun],
    split: dict[str, list[str]],
    labels: dict[str, str],
    tables: dict[str, tuple[list[str], list[list[Any]]]],
    eval_info: dict[str, Any],
) -> str:
    from .evaluation.report import markdown_table

    b = config.plan
    lse, fd = _columns(labels)
    steps = {stage: b.steps(stage) for stage in ("syncnet", "wav2lip", "emotion", "conditional")}
    configs_used = sorted({r.config_file.name for r in runs})
    budget_rows = [[k, json.dumps(v) if isinstance(v, list | dict) else v] for k, v in b.as_dict().items()]
    lines = [
        '# Reproduction of Wav2Lip-Emotion ("Invertible Frowns") in the generated world',
        "",
        "```",
        config.command(),
        "```",
        "",
        f"Budget **{b.name}**: a world of {b.actors} actors x {b.sentences} sentences x neutral / happy {LEVEL} / "
        f"sad {LEVEL} ({b.size} px frames, sentences up to {b.max_seconds:g} s); faces cached at "
        f"{b.face_size()} px for the `{b.profile}` model profile. Actor split (seed {config.seed}, drawn as the "
        f"trainer draws it): train {', '.join(split['train'])}; validation {', '.join(split['val'])}; "
        f"**test {', '.join(split['test'])}** (aligned ground truth rendered for these only).",
        "",
        f"Training steps: expert {steps['syncnet']}, Wav2Lip half / full {steps['wav2lip']} each, each emotion "
        f"model {steps['emotion']} ({len(b.pairs)} pair(s) per variant: "
        f"{', '.join(_pair_name(p) for p in b.pairs)}; {6 * len(b.pairs)} models), conditional "
        f"{steps['conditional']} (one model for all pairs). Settings: the repository's "
        f"`configs/world/` ({', '.join(configs_used)}) with the overrides listed at the end.",
        "",
        f"Evaluation: {eval_info.get('cases', '?')} test cases (pairs "
        f"{', '.join(_pair_name(p) for p in b.eval_pairs)} at level {LEVEL}); the full evaluation with its own "
        f"tables, plots and per-video numbers is in `eval/report.md` and `eval/videos.csv`.",
        "",
        "What is and is not comparable with the paper: the paper measured MEAD with the real LSE (syncnet_v2), "
        f"FID (Inception) and NISL2020 valence/arousal. Here **{lse}** is {labels.get('lse', '?')}; **{fd}** is "
        f"{labels.get('frechet', '?')}; dV / dA use the {labels.get('affect', '?')}. The columns 'paper ...' are "
        "the published MEAD numbers, for orientation only: the ranking of the variants is what can be compared, "
        "not the values. The paper has no row for the conditional model (ours) nor for the copy baseline "
        "(output = input); its ground-truth row is the real MEAD video.",
        "",
        "## Table 2: the variants (all evaluated pairs)",
        "",
        markdown_table(*tables["table2"]),
        "Extra columns (not in the paper): p(dst) = the judge's mean probability of the destination emotion; "
        "mouth corr. = correlation of the mouth opening with the source's; identity dist. = dlib distance to the "
        "source (< 0.6: the same person). Per-pair models of a variant are merged: a variant's row is the "
        f"micro-average over all its videos, its {fd} the mean over its pairs.",
        "",
        f"## Table 3: per pair, {TABLE3_VARIANT} and the conditional model",
        "",
        markdown_table(*tables["table3"]),
    ]
    if len(b.pairs) < len(PAIRS):
        lines += [
            f"This budget trains each variant on {', '.join(_pair_name(p) for p in b.pairs)} only, so "
            f"{TABLE3_VARIANT} has no other rows; the conditional model covers every pair.",
            "",
        ]
    lines += [
        "## Time per step",
        "",
        markdown_table(*tables["timing"]),
        "'seconds' is the time a step took when it ran; 'this run' is this call's (skipped: finished earlier).",
        "",
        "## Budget",
        "",
        markdown_table(["setting", "value"], budget_rows),
        "## Training runs (equivalent commands)",
        "",
        "```",
    ]
    for run in runs:
        sets = " ".join(f"--set {shlex.quote(o)}" for o in run.overrides)
        lines.append(f"wav2lip-emotion train {shlex.quote(str(run.config_file))} {sets}")
    lines += ["```", ""]
    if eval_info.get("skipped"):
        lines += ["## Skipped in the evaluation", ""] + [f"- {s}" for s in eval_info["skipped"]] + [""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ entry


def run_reproduction(config: ReproduceConfig) -> ReproductionResult:
    """Run (or resume) the whole reproduction described by ``config``; see the module docstring.

    Progress lines go to stderr. ``config.threads`` applies to this call only (restored afterwards)."""
    if not config.threads:
        return _run(config)
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(config.threads)
    cv2.setNumThreads(config.threads)
    try:
        return _run(config)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _run(config: ReproduceConfig) -> ReproductionResult:
    from .evaluation.report import write_csv
    from .evaluation.scores import VideoScore

    started = time.perf_counter()
    rep = _Reproduction(config)
    b = rep.budget
    runs = rep.plan_runs()  # every config found and valid before anything is written
    config.out.mkdir(parents=True, exist_ok=True)
    rep._load_state()
    total = 2 + len(runs) + 2
    _say(
        f"reproduce: budget {b.name}, {len(runs)} trainings, output {config.out} "
        f"({sum(r.steps for r in runs)} training steps in all)"
    )
    index = 1
    label = f"world: {b.actors} actors x {b.sentences} sentences at {b.size} px"
    rep._step(index, total, "world", label, rep.world_done(), rep.make_world)
    index += 1
    label = f"preprocess: faces at {b.face_size()} px"
    rep._step(index, total, "preprocess", label, rep.preprocess_done(), rep.make_cache)
    rep.check_split()
    for run in runs:
        index += 1
        rep._step(
            index,
            total,
            f"train:{run.name}",
            f"{run.label} ({run.steps} steps)",
            rep.run_done(run),
            lambda run=run: rep.train_run(run),
        )
    checkpoints, names = rep.eval_names(runs)
    index += 1
    n_variants = len(set(names.values())) + len(BASELINE_ROWS)
    rep._step(
        index,
        total,
        "evaluate",
        f"evaluating {n_variants} variants ({len(checkpoints)} models) on test actors {', '.join(rep.split['test'])}",
        rep.eval_done(checkpoints),
        lambda: rep.evaluate(checkpoints),
    )
    saved = json.loads(rep.scores_path.read_text())
    scores = [VideoScore(**s) for s in saved["scores"]]
    labels: dict[str, str] = saved["labels"]
    summaries = merge_scores(scores, [tuple(f) for f in saved["frechet"]], names)  # type: ignore[misc]

    index += 1
    _say(f"[{index}/{total}] report...")
    report_start = time.perf_counter()
    tables = {"table2": table2(summaries, labels), "table3": table3(summaries)}
    report_seconds = time.perf_counter() - report_start
    rep.timings.append(StepTime("report", "report", report_seconds, report_seconds, False))
    tables["timing"] = timing_table(rep.timings, time.perf_counter() - started)
    files: dict[str, Path] = {}
    for name, (header, rows) in tables.items():
        files[f"{name}.csv"] = write_csv(config.out / "tables" / f"{name}.csv", header, rows)
    report = write_text_atomic(
        config.out / "reproduction.md",
        _report_markdown(config, runs, rep.split, labels, tables, saved),
    )
    files["reproduction.md"] = report
    seconds = time.perf_counter() - started
    _say(f"[{index}/{total}] report: {report} ({seconds:.0f} s in this run)")
    return ReproductionResult(
        out=config.out,
        report=report,
        tables=files,
        budget=b,
        split=rep.split,
        runs=runs,
        timings=rep.timings,
        summaries=summaries,
        labels=labels,
        table2=tables["table2"],
        table3=tables["table3"],
        evaluation_names=names,
        cases=int(saved.get("cases") or 0),
        seconds=seconds,
    )


__all__ = [
    "BUDGETS",
    "PAIRS",
    "PUBLIC_BUDGETS",
    "VARIANTS",
    "Budget",
    "ReproduceConfig",
    "ReproductionResult",
    "StepTime",
    "TrainingRun",
    "merge_scores",
    "run_reproduction",
    "table2",
    "table3",
]
