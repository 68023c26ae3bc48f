"""The training configuration: one typed, commented dataclass tree read from TOML.

A config file is TOML whose tables mirror :class:`TrainConfig` (``[model]``, ``[data]``, ``[loss]``,
``[optim]``, ``[schedule]``, ``[runtime]``). ``extends = "other.toml"`` (relative to the file) reads
another file first and overrides it key by key, so the shipped variants stay a few lines each.
``--set section.key=value`` on the command line overrides any key; the value is read as TOML
(``--set optim.lr=2e-4``, ``--set data.pairs='[["neutral","happy"]]'``) or else taken as a string.

Stages (``stage``):

* ``syncnet``     the lip-sync expert: BCE on cosine similarity, in-sync vs. shifted windows;
* ``wav2lip``     Wav2Lip pre-training, every video paired with itself (LRS2 style);
* ``emotion``     the paper's emotion fine-tuning of one directed pair, ``strategy`` picking the variant;
* ``conditional`` one model for every emotion pair, with target / source / intensity inputs.

Loss weights left unset come from the stage and strategy (:data:`STRATEGY_WEIGHTS`, the paper's).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..models.discriminator import DiscriminatorForm
from ..models.profiles import PROFILES

Stage = Literal["syncnet", "wav2lip", "emotion", "conditional"]
Strategy = Literal["l1+emotion", "emotion", "l1", "source_affect"]
STAGES: tuple[str, ...] = ("syncnet", "wav2lip", "emotion", "conditional")
STRATEGIES: tuple[str, ...] = ("l1+emotion", "emotion", "l1", "source_affect")
#: where the L1 targets of the emotion stages come from (DataConfig.targets)
TARGETS: tuple[str, ...] = ("auto", "destination", "source", "aligned")

#: (l1, sync, gan, emotion) weights of the paper (METHOD.md) per stage / strategy.
#: "source_affect" is the paper's ablation: L1 targets from the SOURCE video with the L1 + emotion
#: weights (the "emotion" strategy also takes targets from the source, with s_r 0.6 / s_e 0.3).
#: Wav2Lip pre-training weighs L1 by 1 - s_w - s_g as the original does (0.9 with the sync loss on).
STRATEGY_WEIGHTS: dict[str, tuple[float, float, float, float]] = {
    "l1+emotion": (0.8, 0.03, 0.07, 0.1),
    "emotion": (0.6, 0.03, 0.07, 0.3),
    "l1": (0.8, 0.03, 0.07, 0.0),
    "source_affect": (0.8, 0.03, 0.07, 0.1),
    "wav2lip": (0.9, 0.03, 0.07, 0.0),
    "conditional": (0.8, 0.03, 0.07, 0.1),
}


@dataclass
class ModelConfig:
    """Which networks are trained or used, and where their starting weights come from."""

    #: model profile: "paper" (96 px, the published sizes), "small" (64 px, x1/4), "tiny" (48 px, x1/8)
    profile: str = "small"
    #: pose-prior masking: "half" (lower half zeroed, Wav2Lip's), "full" (whole face hull blacked out) or
    #: "none" (the whole source face visible: an editing model, beyond the paper; emotion stages only)
    mask: Literal["half", "full", "none"] = "half"
    #: quality discriminator: "full_face_residual" (Wav2Lip-Emotion), "lower_half" (Wav2Lip) or "none"
    discriminator: str = "full_face_residual"
    #: conditioning vector size of the conditional generator (stage "conditional")
    condition_dim: int = 128
    #: stage "conditional": blend the drawn face with the visible prior through a learned per-pixel mask
    #: (GANimation's attention; meant for mask "none": what needs no change is copied, not redrawn)
    blend: bool = False
    #: starting weights of the generator: official Wav2Lip .pth or our safetensors (None = from scratch);
    #: a plain generator may start a conditional one (its conditioning starts at zero)
    init_generator: str | None = None
    #: starting weights of the discriminator (official .pth or ours); None = from scratch
    init_discriminator: str | None = None
    #: the frozen lip-sync expert used by the sync loss (generator stages); for stage "syncnet" the
    #: expert's starting weights. Official lipsync_expert.pth or ours
    syncnet: str | None = None


@dataclass
class DataConfig:
    """Where samples come from: a preprocessed face cache, a split, and an emotion pairing."""

    #: face cache written by `wav2lip-emotion preprocess` (its face size must match the profile)
    cache: str = ""
    #: directory with train.txt / val.txt / test.txt from `wav2lip-emotion splits`; None = split the
    #: cache's actors here (``val_actors`` / ``test_actors`` held out, seeded by runtime.seed)
    splits: str | None = None
    val_actors: int = 1
    test_actors: int = 1
    #: directed (source, destination) emotion pairs; [] = every video paired with itself (stages
    #: syncnet / wav2lip); None = every directed pair of different emotions found (stage conditional)
    pairs: list[list[str]] | None = None
    #: levels of the source / destination videos (None = all found; neutral is always level 1)
    source_levels: list[int] | None = None
    destination_levels: list[int] | None = None
    #: MEAD camera views (None = all)
    views: list[str] | None = None
    #: emotion stages: where the L1 targets come from. "auto" = the strategy's (the destination take; the
    #: source for "emotion" / "source_affect"); "aligned" = the generated world's aligned ground truth (the
    #: source take rendered in the destination emotion, frame for frame: needs a cache preprocessed with
    #: --aligned); "destination" / "source" force one
    targets: str = "auto"
    #: conditional stage: also train on every video paired with itself (intensity 0 = unchanged)
    reconstruction_pairs: bool = True
    #: conditional stage: probability of hiding the source emotion ("unknown") from the model
    source_dropout: float = 0.5
    #: frames per window (the published models use 5)
    window: int = 5
    #: stage syncnet: random flip and colour jitter per window (the same for all its frames), which
    #: keeps a small expert from memorising faces instead of learning lip movement
    augment: bool = True
    #: DataLoader worker processes (0 = in the training process; fastest on 2 cores)
    workers: int = 0
    #: samples per epoch (None = from the videos' lengths)
    samples_per_epoch: int | None = None


@dataclass
class LossConfig:
    """Loss weights (None = the stage / strategy's, see STRATEGY_WEIGHTS) and their settings."""

    #: emotion-fine-tuning variant: "l1+emotion", "emotion" (objective only), "l1", "source_affect"
    strategy: str = "l1+emotion"
    l1: float | None = None
    sync: float | None = None
    gan: float | None = None
    emotion: float | None = None
    #: extra L1 on the crop's lower-centre box (mouth and chin), as a multiple of its own mean error: the
    #: L1 term becomes L1(crop) + l1_lower_face * L1(box). 0 = the paper's plain L1
    l1_lower_face: float = 0.0
    #: Wav2Lip's rule: the sync loss is off until the validation sync loss falls below the threshold
    sync_warmup: bool = True
    sync_warmup_threshold: float = 0.75
    #: the frozen classifier of the emotion objective: "fer" (default), "faceapi", "densenet121"
    emotion_model: str = "fer"
    #: weights file of the emotion objective (required for densenet121: the paper's FER2013 model)
    emotion_model_path: str | None = None
    #: the discriminator's gradient norm is clamped into [low, high] (scaled up / down), as the paper
    disc_grad_clamp: list[float] = field(default_factory=lambda: [1e-2, 1e10])

    def weights(self, stage: str) -> dict[str, float]:
        """The four generator-loss weights for a stage, unset ones from the preset."""
        preset = STRATEGY_WEIGHTS[stage if stage in ("wav2lip", "conditional") else self.strategy]
        names = ("l1", "sync", "gan", "emotion")
        chosen = (getattr(self, n) for n in names)
        return {n: float(d if v is None else v) for n, v, d in zip(names, chosen, preset, strict=True)}


@dataclass
class OptimConfig:
    """Adam for generator (or expert) and discriminator, the paper's settings by default."""

    lr: float = 1e-4
    disc_lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    weight_decay: float = 0.0
    #: windows per batch (the paper: 8 windows of 5 frames)
    batch_size: int = 8


@dataclass
class ScheduleConfig:
    """How long to train and how often to evaluate, sample, log and save."""

    steps: int = 1000
    #: validate every N steps (and at the end); 0 = never
    eval_every: int = 200
    #: batches per validation (fixed draws: the same samples every time)
    eval_batches: int = 4
    #: also validate before the first step (decides the sync warm-up of a pre-trained generator)
    eval_at_start: bool = True
    #: write a training-state checkpoint every N steps (and at the end)
    save_every: int = 200
    #: sample grid (reference | pose prior | generated | target) every N steps; 0 = never
    sample_every: int = 200
    #: write a log line every N steps
    log_every: int = 10
    #: training-state checkpoints kept (oldest deleted first); the final one is always kept
    keep: int = 2


@dataclass
class RuntimeConfig:
    """Where and how the run happens."""

    #: run directory: checkpoints, logs, samples, the resolved config
    output: str = "runs/train"
    seed: int = 0
    #: "auto" (cuda, then mps, then cpu), "cpu", "cuda", "cuda:N", "mps"
    device: str = "auto"
    #: autocast on GPU: "none", "bf16", "fp16" (fp16 uses a gradient scaler); ignored on CPU
    precision: Literal["none", "bf16", "fp16"] = "none"
    #: TensorBoard event files in <output>/tensorboard (needs the `tensorboard` package)
    tensorboard: bool = True
    #: progress bar on stderr
    progress: bool = True
    #: the judge used to report p(destination) at validation (never trained on): "faceapi", "fer",
    #: or "none"; it must differ from the emotion objective's model to be a fair judge
    judge: str = "faceapi"
    #: CPU threads for this process (0 = PyTorch's default)
    threads: int = 0


@dataclass
class TrainConfig:
    """Everything a training run needs; written to <output>/config.toml at the start."""

    stage: str = "wav2lip"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def validate(self) -> TrainConfig:
        """Raise ConfigError on any inconsistent setting; return self."""
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.model.profile not in PROFILES:
            raise ConfigError(f"model.profile must be one of {', '.join(PROFILES)}, got {self.model.profile!r}")
        if self.model.mask not in ("half", "full", "none"):
            raise ConfigError(f"model.mask must be half, full or none, got {self.model.mask!r}")
        if self.model.mask == "none" and self.stage in ("syncnet", "wav2lip"):
            raise ConfigError(
                f"model.mask none is for the emotion stages: stage {self.stage!r} pairs each video with itself, so "
                "an unmasked prior would teach a copy; use half or full"
            )
        if self.model.blend and self.stage != "conditional":
            raise ConfigError(f"model.blend is an option of the conditional generator, not of stage {self.stage!r}")
        if self.loss.l1_lower_face < 0:
            raise ConfigError(f"loss.l1_lower_face must be >= 0, got {self.loss.l1_lower_face}")
        if self.data.targets not in TARGETS:
            raise ConfigError(f"data.targets must be one of {', '.join(TARGETS)}, got {self.data.targets!r}")
        if self.model.discriminator != "none":
            DiscriminatorForm.parse(self.model.discriminator)
        if self.loss.strategy not in STRATEGIES:
            raise ConfigError(f"loss.strategy must be one of {', '.join(STRATEGIES)}, got {self.loss.strategy!r}")
        if not self.data.cache:
            raise ConfigError("data.cache is not set: give the face cache written by `wav2lip-emotion preprocess`")
        if self.runtime.precision not in ("none", "bf16", "fp16"):
            raise ConfigError(f"runtime.precision must be none, bf16 or fp16, got {self.runtime.precision!r}")
        lo_hi = self.loss.disc_grad_clamp
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
            raise ConfigError(f"loss.disc_grad_clamp must be [low, high] with 0 < low <= high, got {lo_hi}")
        if len(self.optim.betas) != 2:
            raise ConfigError(f"optim.betas must be two numbers, got {self.optim.betas}")
        for name in ("steps", "batch_size"):
            section = self.schedule if name == "steps" else self.optim
            if getattr(section, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(section, name)}")
        for name in ("eval_every", "save_every", "sample_every", "eval_batches", "log_every", "keep"):
            if getattr(self.schedule, name) < 0:
                raise ConfigError(f"schedule.{name} must be >= 0, got {getattr(self.schedule, name)}")
        if not 0.0 <= self.data.source_dropout <= 1.0:
            raise ConfigError(f"data.source_dropout must be in [0, 1], got {self.data.source_dropout}")
        if self.stage != "syncnet":
            w = self.loss.weights(self.stage)
            if min(w.values()) < 0:
                raise ConfigError(f"loss weights must be >= 0, got {w}")
            if w["sync"] > 0 and not self.model.syncnet:
                raise ConfigError(
                    "the sync loss needs a trained lip-sync expert: set model.syncnet (ours from stage "
                    "'syncnet', or the official lipsync_expert.pth), or --set loss.sync=0"
                )
            if w["gan"] > 0 and self.model.discriminator == "none":
                raise ConfigError("loss.gan > 0 needs a discriminator: set model.discriminator or loss.gan = 0")
            if self.stage == "emotion" and (not self.data.pairs or any(len(p) != 2 for p in self.data.pairs)):
                raise ConfigError("stage 'emotion' needs data.pairs = [[source, destination]] (one or more)")
        return self

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The config as TOML (None values are left out: they mean 'the default')."""
        lines: list[str] = [f"stage = {_toml_value(self.stage)}"]
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if not dataclasses.is_dataclass(section):
                continue
            lines += ["", f"[{f.name}]"]
            for sf in dataclasses.fields(section):
                value = getattr(section, sf.name)
                if value is not None:
                    lines.append(f"{sf.name} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to TOML")


# ------------------------------------------------------------------------------------ reading


def _check_type(where: str, value: Any, annotation: Any) -> Any:
    """Check (and lightly coerce: int -> float) a TOML value against a field's annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(where, value, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [_check_type(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value)] if args else value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _apply(target: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(target))
    names = {f.name for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"unknown setting {where}{key} (known in this section: {known})")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} is a section: give a table, got {value!r}")
            _apply(current, value, f"{where}{key}.")
        else:
            setattr(target, key, _check_type(f"{where}{key}", value, hints[key]))


def packaged_config(path: str | Path) -> Path:
    """``path`` itself when it exists, else the config of that name shipped with the package:
    ``world/syncnet`` or ``mead/conditional.toml`` (``src/wav2lip_emotion/configs/``), so an installed
    wheel trains from its own configs. A name that is neither is returned unchanged (not found later)."""
    path = Path(path)
    if path.exists():
        return path
    name = path.with_suffix(".toml") if path.suffix != ".toml" else path
    if len(name.parts) == 2:
        shipped = resources.files("wav2lip_emotion").joinpath("configs", *name.parts)
        if shipped.is_file() and isinstance(shipped, Path):
            return shipped
    return path


def _read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: 'extends' loops back to itself")
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (a file, or a shipped config such as world/syncnet or mead/conditional)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    merged = _read_toml(path.parent / str(base), (*seen, path))
    _merge(merged, data)
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"section.key=value"`` -> (["section", "key"], value read as TOML, else the raw string)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects section.key=value, got {item!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [k.strip() for k in key.split(".")], value


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **sections: dict[str, Any]
) -> TrainConfig:
    """Read a TOML config (with ``extends``), apply ``section.key=value`` overrides, validate.

    ``sections`` are dicts applied after the file and before the overrides (the Python API's way).
    Relative paths inside a file (data.cache, model.*) are taken relative to the current directory.
    """
    data = _read_toml(packaged_config(path)) if path is not None else {}
    for name, values in sections.items():
        _merge(data, {name: values})
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {k} is not a section")
        node[keys[-1]] = value
    config = TrainConfig()
    where = f"{path}: " if path is not None else ""
    try:
        _apply(config, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    return config.validate()


__all__ = [
    "STAGES",
    "STRATEGIES",
    "STRATEGY_WEIGHTS",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RuntimeConfig",
    "ScheduleConfig",
    "TrainConfig",
    "load_config",
    "parse_override",
]
