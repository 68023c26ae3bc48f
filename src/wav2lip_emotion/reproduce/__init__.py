"""``wav2lip-emotion reproduce``: the paper's experiment in the generated world, end to end, in one command.

Steps (each skips what is already finished in ``OUT``, so a crash or Ctrl-C loses only the step in progress,
and inside a training or the evaluation only the work since its last checkpoint / cached video)::

    1. world       synthesize OUT/world: neutral, happy level 3, sad level 3 (the paper's three emotions);
                   the actor split is drawn from the takes exactly as the trainer draws it, and the aligned
                   ground truth is rendered for the test actors only
    2. preprocess  OUT/cache at the budget profile's face size
    3. train       OUT/runs/<name>: the SyncNet expert, Wav2Lip half / full, the paper's six variants
                   (mask full|half x strategy l1+emotion|emotion|l1, one model per directed pair) and the
                   conditional model (one for all pairs), each from the package's configs/world/*.toml with
                   ``--set`` overrides (paths inside OUT, steps and cadence of the budget, seed)
    4. evaluate    OUT/eval: every emotion model, the conditional one and the ground-truth / copy baselines on
                   the test actors; per-pair models of one variant are merged into that variant's row
    5. report      OUT/reproduction.md and OUT/tables/*.csv: Table 2 and Table 3 next to the paper's numbers,
                   and the time of every step

``ReproduceConfig.until`` (``--until STEP``) stops after one step. The training settings are the
``configs/world/*.toml`` shipped in the package (``src/wav2lip_emotion/configs/world/`` in a source checkout, read
through importlib.resources; ``ReproduceConfig.configs`` overrides them), the same files ``wav2lip-emotion train``
is given, so that the two can never disagree. Finished trainings are recognised by their ``summary.json`` (written
by the trainer only when a run reached its last step) and their resolved ``config.toml``.

Modules: :mod:`.budgets` (the design and the budgets), :mod:`.config` (settings, plan, result), :mod:`.stages`
(the steps), :mod:`.report` (merge, tables, OUT/reproduction.md), :mod:`.run` (:func:`run_reproduction`).
"""

from __future__ import annotations

from .budgets import (
    BUDGETS,
    PAIRS,
    PUBLIC_BUDGETS,
    REPRODUCED_EMOTIONS,
    VARIANTS,
    Budget,
)
from .config import STAGES, ReproduceConfig, ReproductionResult, StepTime, TrainingRun, default_configs_dir
from .report import merge_scores, table2, table3
from .run import run_reproduction
from .stages import Reproduction

__all__ = [
    "BUDGETS",
    "PAIRS",
    "PUBLIC_BUDGETS",
    "REPRODUCED_EMOTIONS",
    "STAGES",
    "VARIANTS",
    "Budget",
    "ReproduceConfig",
    "Reproduction",
    "ReproductionResult",
    "StepTime",
    "TrainingRun",
    "default_configs_dir",
    "merge_scores",
    "run_reproduction",
    "table2",
    "table3",
]
