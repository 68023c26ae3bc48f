"""Which torch device a job runs on (shared by training and translation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

#: the device names every ``--device`` option accepts (``runtime.device`` of training also takes ``cuda:N``)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto", local_rank: int = 0, setting: str = "device") -> torch.device:
    """``auto`` -> cuda (this rank's GPU), then mps, then cpu; an explicit unavailable device is a ConfigError
    naming ``setting`` (e.g. ``runtime.device`` or ``--device``)."""
    import torch  # here, not at the top: the command line reads DEVICES without importing torch

    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("mps") if has_mps else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{setting}={name!r} but no CUDA GPU is available (use auto or cpu)")
    if device.type == "mps" and not has_mps:
        raise ConfigError(f"{setting}={name!r} but MPS is not available (use auto or cpu)")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device
