"""The reproduction's fixed design (the paper's emotions, pairs and variants) and its budgets: how big a run is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..data.pairing import PAPER_PAIRS
from ..errors import ConfigError

#: the paper's three emotions, the ones the reproduction's world is made of (non-neutral ones at level 3);
#: not :data:`wav2lip_emotion.emotions.EMOTIONS`, the 8 emotions of MEAD
REPRODUCED_EMOTIONS = ("neutral", "happy", "sad")
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
#: budgets shown by ``--help`` (the Python API also takes any :class:`Budget`)
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
        from ..models.profiles import PROFILES

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
        from ..models.profiles import get_profile

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
}


def pair_name(pair: Sequence[str]) -> str:
    """("neutral", "happy") -> "neutral->happy", the name of a pair in the evaluation and the tables."""
    return f"{pair[0]}->{pair[1]}"
