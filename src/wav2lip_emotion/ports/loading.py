"""Reading published weight files: what every port (and :mod:`wav2lip_emotion.checkpoints`) shares.

* :func:`torch_load_weights`: ``torch.load(path, map_location="cpu", weights_only=True)``, which never
  runs code from the file, with one-line :class:`~wav2lip_emotion.errors.CheckpointError` messages;
* :func:`fit_state_dict`: a state dict checked against a model and made loadable with ``strict=True``;
* :func:`read_weight_file`: the tensors (and header metadata) of a ``.pth`` or ``.safetensors`` file,
  recognised by its content; :func:`find_state_dict` finds the tensors inside a loaded ``.pth``;
* :func:`detect_kind` / :data:`KIND_NAMES`: which known network a state dict holds, by its tensor names
  (for messages such as "is a Wav2Lip generator checkpoint, not a DenseNet121 emotion classifier").

Our own checkpoint format (a JSON config in the safetensors header) and building models from files
stay in :mod:`wav2lip_emotion.checkpoints`, which reads files through this module.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..messages import first_line, listing

#: human names of the networks recognised by :func:`detect_kind`, for error messages
KIND_NAMES = {
    "generator": "Wav2Lip generator",
    "conditional_generator": "conditional emotion generator",
    "syncnet": "SyncNet lip-sync expert",
    "discriminator": "visual-quality discriminator",
    "emotion_densenet121": "DenseNet121 emotion classifier",
}


def torch_load_weights(path: str | Path) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``: never runs code from the file.

    CheckpointError (one line naming the file) for a missing file, a pickle that needs code to load, or
    junk bytes. Shared by every loader of a third-party ``.pth`` (official Wav2Lip, SyncNet v2, FID Inception).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if "Unsupported global" in msg or "not an allowed global" in msg:
            raise CheckpointError(
                f"{path}: refused: this pickle needs to run code to load (only tensors, numbers, "
                "strings and dicts are accepted); if you trust it, re-save its state_dict with torch.save"
            ) from None
        raise CheckpointError(f"{path}: truncated or not a PyTorch checkpoint ({_unpickler_reason(exc)})") from None
    except Exception as exc:  # the safe unpickler raises many types on junk bytes; all mean "unreadable"
        raise CheckpointError(f"{path}: truncated or not a PyTorch checkpoint ({first_line(exc)})") from None


def _unpickler_reason(exc: BaseException) -> str:
    """The safe unpickler's own reason ('Unsupported operand 110'), without PyTorch's advice around it."""
    lines = [line.strip() for line in str(exc).splitlines()]
    for k, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            following = [x for x in lines[k + 1 :] if x]
            return (rest or (following[0] if following else "unreadable"))[:200]
    return first_line(exc)


def fit_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str
) -> dict[str, torch.Tensor]:
    """``state`` checked against ``model`` and made loadable with ``strict=True``.

    Missing BatchNorm ``num_batches_tracked`` counters are filled with zeros (files written before PyTorch
    0.4.1 have none; they play no part in eval mode) and floating tensors are cast to float32. Missing or
    unexpected tensors or wrong shapes: CheckpointError naming the file, ``what`` it should be and the
    first few offending keys.
    """
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}

    unexpected = [k for k in state if k not in want]
    missing = [k for k in want if k not in state and not k.endswith("num_batches_tracked")]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s): {listing(unexpected)}")
    if problems:
        raise CheckpointError(f"{path}: not {what}: {'; '.join(problems)}")
    wrong = [f"{k} {list(v.shape)} (expected {list(want[k])})" for k, v in state.items() if tuple(v.shape) != want[k]]
    if wrong:
        raise CheckpointError(f"{path}: wrong tensor shapes for {what}: {listing(wrong)}")
    out: dict[str, torch.Tensor] = {}
    for key in want:
        value = state.get(key)
        if value is None:
            value = torch.zeros((), dtype=torch.long)
        elif value.is_floating_point():
            value = value.float()
        out[key] = value
    return out


# --------------------------------------------------------------------------- weight files


@dataclass
class WeightFile:
    """The tensors of a weight file, as read by :func:`read_weight_file`."""

    path: Path
    #: "pytorch" (a pickled ``.pth``) or "safetensors"
    format: str
    state_dict: dict[str, torch.Tensor]
    #: the safetensors header metadata ({} for ``.pth`` files)
    metadata: dict[str, str] = field(default_factory=dict)


def read_weight_file(path: str | Path) -> WeightFile:
    """The tensors of a ``.pth`` or ``.safetensors`` file, recognised by its content (not its name).

    A ``.pth`` is read with :func:`torch_load_weights` and its tensors found by :func:`find_state_dict`.
    CheckpointError, one line naming the file, when it is missing, a directory, empty, unreadable or
    holds no tensors.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: is empty (0 bytes), not a checkpoint")
    with path.open("rb") as fh:
        head = fh.read(16)
    if len(head) > 8 and head[8:9] == b"{":
        return _read_safetensors(path)
    obj = torch_load_weights(path)
    state = find_state_dict(obj)
    if state is None:
        found = ", ".join(sorted(map(str, obj))[:6]) if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointError(f"{path}: holds no model weights (found: {found})")
    return WeightFile(path, "pytorch", state)


def _read_safetensors(path: Path) -> WeightFile:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no items())
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({first_line(exc)})") from None
    return WeightFile(path, "safetensors", tensors, dict(meta))


def find_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    """The tensors of a loaded .pth: under 'state_dict', 'net', 'model' or 'generator', or the dict itself.

    ``module.`` prefixes (``nn.DataParallel``) are removed; None when there are no tensors.
    """
    if not isinstance(obj, Mapping):
        return None
    for key in ("state_dict", "net", "model", "generator"):
        inner = obj.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            obj = inner
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        return None
    return {k.removeprefix("module."): v for k, v in tensors.items()}


def detect_kind(state: Mapping[str, Any]) -> str | None:
    """Which network of :data:`KIND_NAMES` a state dict holds, by its tensor names; None when none fits."""
    keys = list(state)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if has("face_decoder_blocks.") and (has("conditioning.") or has("film.")):
        return "conditional_generator"  # before the generator rule: it has the generator's tensors too
    if has("face_decoder_blocks.") and has("audio_encoder."):
        return "generator"
    if has("face_encoder.") and has("audio_encoder."):
        return "syncnet"
    if has("binary_pred.") and has("face_encoder_blocks."):
        return "discriminator"
    if has("features.denseblock") or (has("features.conv0") and has("classifier.")):
        return "emotion_densenet121"
    return None
