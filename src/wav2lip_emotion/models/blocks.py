"""Convolution building blocks shared by every Wav2Lip-family network.

The module layout (``conv_block.0`` = convolution, ``conv_block.1`` = batch norm) is the one of the
original implementation, so that official state dicts load key for key.
"""

from __future__ import annotations

import torch
from torch import nn

IntPair = int | tuple[int, int]


class ConvBlock(nn.Module):
    """Conv2d + BatchNorm2d (+ residual add when ``residual``) + ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if residual and cin != cout:
            raise ValueError(f"a residual block needs cin == cout, got {cin} -> {cout}")
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size, stride, padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class TransposeConvBlock(nn.Module):
    """ConvTranspose2d + BatchNorm2d + ReLU (the decoder's upsampling step)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


class PlainConvBlock(nn.Module):
    """Conv2d (+ residual add) + LeakyReLU(0.01), no normalisation: the discriminator's block."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if residual and cin != cout:
            raise ValueError(f"a residual block needs cin == cout, got {cin} -> {cout}")
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding))
        self.act = nn.LeakyReLU(0.01)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


def conv_out(size: tuple[int, int], kernel: IntPair, stride: IntPair, padding: IntPair) -> tuple[int, int]:
    """Spatial output size of a convolution (floor rule, dilation 1)."""
    k = _pair(kernel)
    s = _pair(stride)
    p = _pair(padding)
    return tuple((size[i] + 2 * p[i] - k[i]) // s[i] + 1 for i in range(2))  # type: ignore[return-value]


def _pair(v: IntPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] -> [T*B, C, H, W], time-major (all t=0 first), as the original code does."""
    b, c, t, h, w = x.shape
    return x.permute(2, 0, 1, 3, 4).reshape(t * b, c, h, w)


def unfold_time(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`fold_time`: [T*B, C, H, W] -> [B, C, T, H, W]."""
    tb, c, h, w = x.shape
    return x.reshape(tb // batch, batch, c, h, w).permute(1, 2, 0, 3, 4)
