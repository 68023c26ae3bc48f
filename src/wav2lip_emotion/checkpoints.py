"""Loading and saving model weights.

Two formats are understood, recognised by their content (not their file name):

* **official** PyTorch ``.pth`` files of Wav2Lip / Wav2Lip-Emotion: a dict with ``state_dict`` (or a
  bare state dict), keys possibly prefixed ``module.``, sometimes with optimiser state. They are read
  with ``torch.load(..., weights_only=True)``, which never runs code from the file. The model kind
  and profile are inferred from the tensor names and shapes.
* **ours**: a single ``.safetensors`` file whose header metadata holds a JSON config (model kind,
  profile, options, package version), so loading needs no flags.

Every failure raises :class:`CheckpointError` with a one-line message naming the file and the problem.
The files are read (and their kind told from the tensor names) by :mod:`wav2lip_emotion.ports.loading`,
which the ports of third-party networks share; this module keeps our own format and model building.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .atomic import atomic_path
from .errors import CheckpointError, ConfigError
from .models import MODEL_REGISTRY, PROFILES, DiscriminatorForm, ModelProfile, build_model, get_profile
from .ports.loading import KIND_NAMES, WeightFile, detect_kind, read_weight_file

FORMAT_NAME = "wav2lip-emotion"
FORMAT_VERSION = 1
_METADATA_KEY = "wav2lip_emotion_config"

#: options an official file cannot tell (both discriminator forms have identical tensors)
_OFFICIAL_DEFAULT_OPTIONS: dict[str, dict[str, str]] = {
    "discriminator": {"form": DiscriminatorForm.FULL_FACE_RESIDUAL.value},
}


@dataclass
class Checkpoint:
    """What a checkpoint file holds once read (before a model is built from it)."""

    path: Path
    #: "official" (.pth) or "native" (our safetensors)
    source: str
    #: model kind ("generator", "syncnet", "discriminator", ...), None when unrecognised
    kind: str | None
    state_dict: dict[str, torch.Tensor]
    #: our config (native files) or {} (official files)
    config: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading


def shipped_weights(name: str) -> Path | None:
    """The file ``name`` among the weights shipped inside the package (``wav2lip_emotion/weights/``), or None."""
    path = Path(str(resources.files("wav2lip_emotion") / "weights" / name))
    return path if path.is_file() else None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint of either format without building a model. Raises CheckpointError."""
    weights = read_weight_file(path)  # missing / empty / unsafe / not a checkpoint -> CheckpointError
    if weights.format == "safetensors":
        return _native_checkpoint(weights)
    return Checkpoint(weights.path, "official", detect_kind(weights.state_dict), weights.state_dict, {})


def _native_checkpoint(weights: WeightFile) -> Checkpoint:
    path, meta, tensors = weights.path, weights.metadata, weights.state_dict
    if _METADATA_KEY not in meta:
        return Checkpoint(path, "native", detect_kind(tensors), tensors, {})
    try:
        config = json.loads(meta[_METADATA_KEY])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: its wav2lip-emotion config is not valid JSON") from None
    if config.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a {FORMAT_NAME} checkpoint (format {config.get('format')!r})")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer wav2lip-emotion (format {config['format_version']}); "
            f"this version reads format {FORMAT_VERSION}: upgrade the package"
        )
    return Checkpoint(path, "native", config.get("kind"), tensors, config)


def _options_from_tensors(kind: str, state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Options a file without our config still tells by its shapes (a conditional generator's condition_dim)."""
    film = state.get("film.0.weight")
    if kind == "conditional_generator" and film is not None and film.dim() == 2:
        return {"condition_dim": int(film.shape[1])}
    return {}


def _is_buffer(key: str) -> bool:
    return key.endswith(("running_mean", "running_var", "num_batches_tracked"))


# --------------------------------------------------------------------------- building


def _shapes(module_or_state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    return {k: tuple(v.shape) for k, v in state.items()}


def _build_meta(kind: str, profile: ModelProfile, options: Mapping[str, Any]) -> nn.Module:
    with torch.device("meta"):
        return build_model(kind, profile, **options)


def _shape_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """None if ``state`` fits ``model`` exactly, else a short description of the first difference."""
    want = _shapes(model)
    have = _shapes(state)
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    if missing:
        return f"{len(missing)} tensors missing (e.g. {missing[0]})"
    if extra:
        return f"{len(extra)} unexpected tensors (e.g. {extra[0]})"
    for k, shape in want.items():
        if have[k] != shape:
            return f"{k} is {list(have[k])} but the profile needs {list(shape)}"
    return None


def _infer_profile(kind: str, state: Mapping[str, torch.Tensor], options: Mapping[str, Any]) -> ModelProfile | None:
    """The named profile whose shapes the tensors fit, else a custom one found by search, else None."""
    for profile in PROFILES.values():
        if _shape_mismatch(_build_meta(kind, profile, options), state) is None:
            return profile
    # custom sizes: the first layer's width tells the channel multiplier; try every face size
    first = state.get("face_encoder_blocks.0.0.conv_block.0.weight", next(iter(state.values())))
    from .models.profiles import SUPPORTED_FACE_SIZES

    base = {"generator": 16, "conditional_generator": 16, "syncnet": 32, "discriminator": 32}.get(kind)
    if base is None or first.dim() == 0:
        return None
    width = first.shape[0] / base
    for size in SUPPORTED_FACE_SIZES:
        try:
            candidate = ModelProfile(f"custom-{size}px-x{width:g}", face_size=size, width=width)
        except ConfigError:
            return None
        if _shape_mismatch(_build_meta(kind, candidate, options), state) is None:
            return candidate
    return None


def load_model(
    path: str | Path,
    kind: str | None = None,
    profile: str | ModelProfile | None = None,
    **options: Any,
) -> nn.Module:
    """Load any checkpoint into an eval-mode model.

    ``kind`` is what the caller expects (an error names what the file really holds when it differs);
    ``profile`` is optional (inferred from the file); ``options`` are kind-specific (e.g. ``form`` of a
    discriminator, needed only for official files since their two forms have identical tensors).
    """
    return _model_from_checkpoint(read_checkpoint(path), kind, profile, **options)


def _model_from_checkpoint(
    ckpt: Checkpoint,
    kind: str | None = None,
    profile: str | ModelProfile | None = None,
    **options: Any,
) -> nn.Module:
    found = ckpt.kind
    if found is None:
        raise CheckpointError(
            f"{ckpt.path}: its tensors match no known model (first key: {next(iter(ckpt.state_dict))})"
        )
    if kind is not None and found != kind:
        raise CheckpointError(
            f"{ckpt.path}: is a {KIND_NAMES.get(found, found)} checkpoint, not a "
            f"{KIND_NAMES.get(kind, kind)} checkpoint"
        )
    if found not in MODEL_REGISTRY:
        raise CheckpointError(f"{ckpt.path}: a {KIND_NAMES.get(found, found)} cannot be loaded by load_model")

    saved_options = dict(ckpt.config.get("options", {}))
    if not ckpt.config:  # official .pth or a bare safetensors file: options cannot be read from it
        saved_options.update(_OFFICIAL_DEFAULT_OPTIONS.get(found, {}))
        saved_options.update(_options_from_tensors(found, ckpt.state_dict))
    for key, value in options.items():
        if value is None:
            continue
        asked = str(getattr(value, "value", value))  # enums are compared by their value
        if ckpt.config and key in saved_options and str(saved_options[key]) != asked:
            raise CheckpointError(
                f"{ckpt.path}: was saved with {key}={saved_options[key]!r}, but {key}={asked!r} was asked for"
            )
        saved_options[key] = value

    wanted = get_profile(profile) if profile is not None else None
    if ckpt.config.get("profile"):
        try:
            saved = ModelProfile.from_dict(ckpt.config["profile"])
        except ConfigError as exc:
            raise CheckpointError(f"{ckpt.path}: {exc}") from None
        if wanted is not None and (wanted.face_size, wanted.width) != (saved.face_size, saved.width):
            raise CheckpointError(
                f"{ckpt.path}: is a {saved.name!r} profile model ({saved.face_size} px, width x{saved.width:g}), "
                f"not {wanted.name!r} ({wanted.face_size} px, width x{wanted.width:g})"
            )
        chosen = saved
    elif wanted is not None:
        chosen = wanted
    else:
        inferred = _infer_profile(found, ckpt.state_dict, saved_options)
        if inferred is None:
            raise CheckpointError(f"{ckpt.path}: a {KIND_NAMES[found]} whose tensor shapes fit no supported profile")
        chosen = inferred

    try:
        model = build_model(found, chosen, **saved_options)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{ckpt.path}: cannot build its model ({exc})") from None
    problem = _shape_mismatch(model, ckpt.state_dict)
    if problem is not None:
        hint = ""
        if ckpt.config.get("profile") is None:
            fit = _infer_profile(found, ckpt.state_dict, saved_options)
            hint = f"; it fits profile {fit.name!r}" if fit is not None else ""
        raise CheckpointError(
            f"{ckpt.path}: does not match profile {chosen.name!r} of a {KIND_NAMES[found]}: {problem}{hint}"
        )
    model.load_state_dict(ckpt.state_dict, strict=True)
    return model.eval()


def load_generator(path: str | Path, profile: str | ModelProfile | None = None) -> nn.Module:
    """Load a Wav2Lip generator (official .pth or ours) in eval mode."""
    return load_model(path, kind="generator", profile=profile)


def load_generator_any(path: str | Path, profile: str | ModelProfile | None = None) -> nn.Module:
    """Load a generator of either kind in eval mode: a plain Wav2Lip generator or a conditional one.

    Check ``model.kind`` (``"generator"`` or ``"conditional_generator"``) to know which call convention it has.
    """
    return load_generator_checkpoint(path, profile)[0]


def load_generator_checkpoint(
    path: str | Path, profile: str | ModelProfile | None = None
) -> tuple[nn.Module, Checkpoint]:
    """:func:`load_generator_any`, also returning what the file holds (its config says what the model was
    trained for)."""
    ckpt = read_checkpoint(path)
    if ckpt.kind not in ("generator", "conditional_generator"):
        what = KIND_NAMES.get(ckpt.kind or "", "unrecognised model")
        raise CheckpointError(f"{ckpt.path}: is a {what} checkpoint, not a generator (plain or conditional)")
    return _model_from_checkpoint(ckpt, ckpt.kind, profile), ckpt


def load_syncnet(path: str | Path, profile: str | ModelProfile | None = None) -> nn.Module:
    """Load a SyncNet lip-sync expert (official ``lipsync_expert.pth`` or ours) in eval mode."""
    return load_model(path, kind="syncnet", profile=profile)


def load_discriminator(
    path: str | Path,
    profile: str | ModelProfile | None = None,
    form: str | DiscriminatorForm | None = None,
) -> nn.Module:
    """Load a visual-quality discriminator in eval mode.

    Our files record their form. Official files cannot tell it (Wav2Lip's lower-half and
    Wav2Lip-Emotion's full-face residual discriminators have identical tensors): ``form`` defaults to
    Wav2Lip-Emotion's ``full_face_residual``; pass ``form="lower_half"`` for Wav2Lip's
    ``visual_quality_disc.pth``.
    """
    chosen_form = DiscriminatorForm.parse(form).value if form is not None else None
    return load_model(path, kind="discriminator", profile=profile, form=chosen_form)


# --------------------------------------------------------------------------- saving


def model_config(model: nn.Module, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON config saved next to a model's tensors."""
    kind = getattr(model, "kind", None)
    profile = getattr(model, "profile", None)
    if kind not in MODEL_REGISTRY or not isinstance(profile, ModelProfile):
        raise CheckpointError(f"cannot save a {type(model).__name__}: not a registered wav2lip-emotion model")
    options = model.build_options() if hasattr(model, "build_options") else {}
    config: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "profile": profile.to_dict(),
        "options": options,
        "package_version": __version__,
    }
    if extra:
        config["extra"] = dict(extra)
    return config


def save_model(model: nn.Module, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Save a model as safetensors with its config in the header; written atomically.

    ``extra`` (JSON-serialisable) is stored with the config, e.g. training step or metrics.
    """
    from safetensors.torch import save_file

    path = Path(path)
    config = model_config(model, extra)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={_METADATA_KEY: json.dumps(config, sort_keys=True)})
    return path


def describe_checkpoint(path: str | Path) -> dict[str, Any]:
    """A summary of a checkpoint (kind, format, profile, parameter count) for ``wav2lip-emotion inspect``."""
    ckpt = read_checkpoint(path)
    summary: dict[str, Any] = {
        "path": str(ckpt.path),
        "format": "safetensors (wav2lip-emotion)" if ckpt.source == "native" else "PyTorch .pth (official layout)",
        "kind": ckpt.kind,
        "kind_name": KIND_NAMES.get(ckpt.kind or "", "unknown"),
        "tensors": len(ckpt.state_dict),
        "parameters": int(
            sum(v.numel() for k, v in ckpt.state_dict.items() if v.is_floating_point() and not _is_buffer(k))
        ),
    }
    if ckpt.config:
        summary["profile"] = ckpt.config.get("profile")
        summary["options"] = ckpt.config.get("options")
        summary["package_version"] = ckpt.config.get("package_version")
        if "extra" in ckpt.config:
            summary["extra"] = ckpt.config["extra"]
    elif ckpt.kind in MODEL_REGISTRY:
        opts = {**_OFFICIAL_DEFAULT_OPTIONS.get(ckpt.kind, {}), **_options_from_tensors(ckpt.kind, ckpt.state_dict)}
        prof = _infer_profile(ckpt.kind, ckpt.state_dict, opts)
        summary["profile"] = prof.to_dict() if prof else None
    return summary
