"""Settings of a reproduction (:class:`ReproduceConfig`), its plan (:class:`TrainingRun`) and result."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..evaluation.tables import find_summary
from .budgets import BUDGETS, PUBLIC_BUDGETS, Budget

if TYPE_CHECKING:
    from ..evaluation.scores import Summary

#: the steps of a reproduction, in order; ``ReproduceConfig.until`` (``--until``) stops after one of them
STAGES = ("world", "preprocess", "train", "evaluate", "report")


def default_configs_dir() -> Path:
    """``configs/world`` inside the installed package (package data, read through importlib.resources)."""
    root = resources.files("wav2lip_emotion").joinpath("configs", "world")
    if not isinstance(root, Path):
        raise ConfigError(
            f"{root}: the package's world configs are not files on disk; give ReproduceConfig(configs=DIR)"
        )
    return root


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
    #: directory of the world training configs (None: the package's configs/world)
    configs: Path | None = None
    #: the last step to run (one of :data:`STAGES`; "report": all of them)
    until: str = "report"

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
        if self.until not in STAGES:
            raise ConfigError(f"until must be one of {', '.join(STAGES)}, got {self.until!r}")

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
        if self.until != STAGES[-1]:
            cmd += f" --until {self.until}"
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
    """What :func:`run_reproduction` made (after ``until``'s step: no report, no tables, no summaries)."""

    out: Path
    #: OUT/reproduction.md (None when the run stopped before the report)
    report: Path | None
    tables: dict[str, Path]
    budget: Budget
    #: the actor split: "train", "val", "test" -> actor ids
    split: dict[str, list[str]]
    runs: list[TrainingRun]
    timings: list[StepTime]
    #: per (variant, pair) and per variant ("all") averages, the per-pair models merged into their variant
    summaries: list[Summary]
    #: what the metrics are (evaluate's labels: LSE* or LSE, FD-faceapi or FID, the affect model)
    labels: dict[str, str | bool]
    #: (header, rows) of Table 2 and Table 3 as written to OUT/tables
    table2: tuple[list[str], list[list[Any]]]
    table3: tuple[list[str], list[list[Any]]]
    #: the models' names in OUT/eval -> their variant in the tables
    evaluation_names: dict[str, str] = field(default_factory=dict)
    #: test cases (actor, sentence, pair) evaluated
    cases: int = 0
    #: seconds of this call
    seconds: float = 0.0
    #: the last step that ran or was skipped as finished (ReproduceConfig.until)
    stopped_after: str = "report"

    def summary(self, variant: str, pair: str = "all") -> Summary:
        return find_summary(self.summaries, variant, pair)
