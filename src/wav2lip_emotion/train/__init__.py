"""Training: one config-driven trainer for the SyncNet expert, Wav2Lip pre-training, the paper's
emotion fine-tuning variants and the conditional all-emotions model (see docs/training.md)."""

from __future__ import annotations

from .config import STAGES, STRATEGIES, STRATEGY_WEIGHTS, TrainConfig, load_config
from .logbook import read_log
from .trainer import Trainer, train

__all__ = ["STAGES", "STRATEGIES", "STRATEGY_WEIGHTS", "TrainConfig", "Trainer", "load_config", "read_log", "train"]
