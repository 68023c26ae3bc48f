"""Evaluation: the paper's metrics, tables and plots, and the ones it lacked.

* :mod:`.lip_sync`: LSE-D / LSE-C with joonson/syncnet_python's protocol (its SyncNet, or our expert: LSE*),
  the maths (MFCC, offset search) in :mod:`.sync_maths`;
* :mod:`.fid`: FID with pytorch-fid's Inception-v3 (or a labelled Frechet distance on face-api features),
  the distance in :mod:`.frechet`; the networks themselves are ports in :mod:`wav2lip_emotion.ports`;
* :mod:`.measure` / :mod:`.scores`: per-video measurements and scores, per-pair and per-variant averages;
* :mod:`.realism`: is the edited face still a real face (sharpness, flicker, FD and BRISQUE against the
  source, the mesh's face score), and the realistic-edit verdict; :mod:`.degrade`: constructed failures;
* :mod:`.cases`: test-split cases and the variants that translate them (checkpoints, videos, baselines);
* :mod:`.tables`: the paper's Tables 2-4 (and 2-3 next to the paper's numbers, for ``reproduce``);
  :mod:`.report`: them as Markdown and CSV, plots, report.md;
* :mod:`.runner`: ``wav2lip-emotion evaluate`` (:func:`evaluate`); :mod:`.wild`: the same on any real clips
  (no ground truth); :mod:`.study`: the blinded user study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import EvaluateConfig, EvaluationResult, evaluate

__all__ = ["EvaluateConfig", "EvaluationResult", "evaluate"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not load torch
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'wav2lip_emotion.evaluation' has no attribute {name!r}")
