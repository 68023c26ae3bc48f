"""The visual-quality discriminator, in Wav2Lip's and Wav2Lip-Emotion's forms."""

from __future__ import annotations

from enum import StrEnum

import torch
from torch import nn

from ..errors import ConfigError
from .blocks import PlainConvBlock, conv_out, fold_time
from .profiles import ModelProfile, get_profile


class DiscriminatorForm(StrEnum):
    """Which published discriminator to build. Both have identical state-dict keys and shapes."""

    #: Wav2Lip's: sees the lower half of each face, no residual connections
    LOWER_HALF = "lower_half"
    #: Wav2Lip-Emotion's: sees the whole face, residual connections in every level
    FULL_FACE_RESIDUAL = "full_face_residual"

    @classmethod
    def parse(cls, value: str | DiscriminatorForm) -> DiscriminatorForm:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(f.value for f in cls)
            raise ConfigError(f"unknown discriminator form {value!r}; choose one of {names}") from None


class QualityDiscriminator(nn.Module):
    """Plain Conv2d + LeakyReLU(0.01) levels from the face down to 1x1, then a sigmoid.

    ``forward(frames)`` takes [B, 3, T, H, W] windows (or [N, 3, H, W] frames) in [0, 1] and returns
    'real' probabilities [B*T, 1], frames folded into the batch time-major (all t=0 first).
    """

    kind = "discriminator"

    def __init__(
        self,
        profile: str | ModelProfile = "paper",
        form: str | DiscriminatorForm = DiscriminatorForm.FULL_FACE_RESIDUAL,
    ) -> None:
        super().__init__()
        self.profile = get_profile(profile)
        self.form = DiscriminatorForm.parse(form)
        c = self.profile.channels
        lower_half = self.form is DiscriminatorForm.LOWER_HALF
        residual = not lower_half
        s = self.profile.face_size
        size = (s - s // 2, s) if lower_half else (s, s)

        # (cout, kernel, padding, stride of the level's first conv); the lower-half form halves only
        # the width first so that its 48x96 input becomes square.
        levels: list[tuple[int, int, int, int | tuple[int, int]]] = [
            (64, 5, 2, (1, 2) if lower_half else 2),
            (128, 5, 2, 2),
            (256, 5, 2, 2),
            (512, 3, 1, 2),
            (512, 3, 1, 2),
        ]
        blocks: list[nn.Sequential] = [nn.Sequential(PlainConvBlock(3, c(32), 7, 1, 3))]
        size = conv_out(size, 7, 1, 3)
        cin = c(32)
        for cout, k, p, stride in levels:
            blocks.append(
                nn.Sequential(
                    PlainConvBlock(cin, c(cout), k, stride, p),
                    PlainConvBlock(c(cout), c(cout), k, 1, p, residual=residual),
                )
            )
            size = conv_out(size, k, stride, p)
            cin = c(cout)
        blocks.append(
            nn.Sequential(
                PlainConvBlock(cin, c(512), size, 1, 0),  # valid conv over what is left (3x3 at 96 px)
                PlainConvBlock(c(512), c(512), 1, 1, 0, residual=residual),
            )
        )
        self.face_encoder_blocks = nn.ModuleList(blocks)
        self.binary_pred = nn.Sequential(nn.Conv2d(c(512), 1, 1, 1, 0), nn.Sigmoid())

    def build_options(self) -> dict[str, str]:
        """Constructor options besides the profile (saved in our checkpoint config)."""
        return {"form": self.form.value}

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = fold_time(frames) if frames.dim() == 5 else frames
        if self.form is DiscriminatorForm.LOWER_HALF:
            x = x[:, :, x.size(2) // 2 :]
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).view(len(x), -1)
