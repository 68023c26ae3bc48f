"""The settings of one evaluation: :class:`EvaluateConfig` (``wav2lip-emotion evaluate``, :func:`.runner.evaluate`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .cases import BASELINES, PAPER_PAIRS, baseline_variant


@dataclass(kw_only=True)
class EvaluateConfig:
    """Settings of one evaluation: ``wav2lip-emotion evaluate`` and :func:`evaluate`."""

    #: the dataset root (a generated world, or MEAD) and its layout ("world" or "mead"); None with ``videos``
    data: Path | None = None
    #: output directory: tables/, plots/, videos.csv, summary.json, report.md, and the caches
    out: Path
    layout: str = "world"
    #: in-the-wild evaluation instead of a dataset: video files or directories of videos (no ground truth)
    videos: tuple[Path, ...] = ()
    #: ... translated into each of these emotions
    to: tuple[str, ...] = ()
    #: generator checkpoints to evaluate, "PATH" or "NAME=PATH" (default name: mask/strategy from the file)
    checkpoints: tuple[str, ...] = ()
    #: translation engines as variants, "[NAME=]ENGINE[@INTENSITY]": "mesh" (training-free), "mesh@0.5",
    #: "model" (the shipped model); see wav2lip_emotion.translate's ``engine``
    engines: tuple[str, ...] = ()
    #: directories of videos generated elsewhere, "DIR" or "NAME=DIR", laid out <actor>/<sentence>/<src>_to_<dst>.mp4
    generated: tuple[str, ...] = ()
    #: built-in baselines: "ground-truth" (the ideal translation) and "copy" (output = input)
    baselines: tuple[str, ...] = BASELINES
    #: directed emotion pairs (default: the paper's six among neutral, happy, sad)
    pairs: tuple[tuple[str, str], ...] = PAPER_PAIRS
    #: intensity level of the non-neutral takes (the paper: 3)
    level: int = 3
    #: which actors: by name, or a split (splits dir with train/val/test.txt, or drawn like the trainer)
    actors: tuple[str, ...] | None = None
    splits: Path | None = None
    split: str = "test"
    val_actors: int | None = None
    test_actors: int | None = None
    seed: int = 0
    #: use the world's aligned ground truth (PSNR/SSIM, FID reference) when it was rendered
    use_aligned: bool = True
    #: at most this many cases (after sorting by actor, sentence, pair); None = all
    max_cases: int | None = None
    #: the emotion judge (never the training objective): faceapi (default), fer or densenet121
    judge: str = "faceapi"
    #: per-frame valence/arousal CSVs from an external model (see docs/evaluation.md); None = the proxy
    affect_csv: Path | None = None
    #: skip deltas whose real source and destination differ by at most this (the ratio explodes when they
    #: nearly agree); 0 = the paper's rule, which skips only exact ties
    min_affect_gap: float = 0.0
    #: joonson/syncnet_python's syncnet_v2.model: comparable LSE. None = our expert (labelled LSE*)
    syncnet: Path | None = None
    #: our SyncNet expert (.safetensors) for LSE* when ``syncnet`` is not given; None = the shipped world expert
    expert: Path | None = None
    #: pytorch-fid's pt_inception-2015-12-05 weights: real FID. None = Frechet distance on face-api features
    inception: Path | None = None
    #: measure LSE and identity (dlib) distances (both cost time)
    lse: bool = True
    identity: bool = True
    #: realism metrics (evaluation/realism.py), BRISQUE on every ``quality_every``-th frame (0: none)
    realism: bool = True
    quality_every: int = 5
    #: device and batch size of the translations
    device: str = "auto"
    batch_size: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        from ..perception.emotions import parse_emotion

        self.out = Path(self.out)
        self.videos = tuple(Path(v) for v in self.videos)
        if self.videos and self.data is not None:
            raise ConfigError("give either a dataset (--data) or clips (--videos), not both")
        if not self.videos and self.data is None:
            raise ConfigError("nothing to evaluate on: give a dataset (--data) or clips (--videos)")
        if self.videos and not self.to:
            raise ConfigError("in-the-wild evaluation needs the destination emotions (--to happy,sad)")
        if self.to and not self.videos:
            raise ConfigError("--to is for clips (--videos); a dataset's emotions are chosen with --pairs")
        self.to = tuple(dict.fromkeys(parse_emotion(e).value for e in self.to))
        if self.quality_every < 0:
            raise ConfigError(f"quality_every must be >= 0 (0 = no BRISQUE), got {self.quality_every}")
        for name in ("data", "splits", "affect_csv", "syncnet", "expert", "inception"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        if self.layout not in ("world", "mead"):
            raise ConfigError(f"evaluation layout must be world or mead, got {self.layout!r}")
        if self.level not in (1, 2, 3):
            raise ConfigError(f"level must be 1, 2 or 3, got {self.level}")
        if not self.min_affect_gap >= 0:
            raise ConfigError(f"min_affect_gap must be >= 0, got {self.min_affect_gap}")
        if self.max_cases is not None and self.max_cases < 1:
            raise ConfigError(f"max_cases must be at least 1, got {self.max_cases}")
        for b in self.baselines:
            baseline_variant(b)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = str(v) if isinstance(v, Path) else [str(x) for x in v] if f.name == "videos" else v
        return out
