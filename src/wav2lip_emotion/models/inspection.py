"""Example inputs, parameter and FLOP counts for any registered model (CLI table, benchmarks)."""

from __future__ import annotations

import torch
from torch import nn

from ..audio import MEL_WINDOW
from .syncnet import SYNC_FRAMES


def example_inputs(model: nn.Module, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """Inputs with the right shapes for ``model`` (values in the ranges the model expects)."""
    size = model.profile.face_size  # type: ignore[attr-defined]
    gen = torch.Generator().manual_seed(0)
    mel = torch.rand(batch, 1, 80, MEL_WINDOW, generator=gen) * 8 - 4
    if model.kind == "generator":  # type: ignore[attr-defined]
        return mel, torch.rand(batch, 6, size, size, generator=gen)
    if model.kind == "syncnet":  # type: ignore[attr-defined]
        return mel, torch.rand(batch, 3 * SYNC_FRAMES, size - size // 2, size, generator=gen)
    if model.kind == "discriminator":  # type: ignore[attr-defined]
        return (torch.rand(batch, 3, size, size, generator=gen),)
    raise TypeError(f"no example inputs for {type(model).__name__}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Floating-point operations (2 per multiply-add) of the convolutions in one forward pass."""
    total = 0

    def conv_hook(mod: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.ConvTranspose2d):
            kh, kw = mod.kernel_size
            total += 2 * args[0].numel() * mod.out_channels * kh * kw // mod.groups
        elif isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw

    handles = [
        m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    try:
        was_training = model.training
        model.eval()
        model(*inputs)
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total
