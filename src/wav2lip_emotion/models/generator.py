"""The Wav2Lip generator: face encoder (pose prior + reference), audio encoder, U-Net decoder."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import ConfigError
from .blocks import ConvBlock, TransposeConvBlock, fold_time, unfold_time
from .profiles import ModelProfile, get_profile

# Published stride-2 encoder levels, from high to low resolution: (channels, residual convs).
# At 96 px they produce 48, 24, 12, 6 and 3 px feature maps.
_ENCODER_LEVELS = ((32, 2), (64, 3), (128, 2), (256, 2), (512, 1))
# Published decoder upsampling steps, from low to high resolution (output channels; 2 residual convs).
_DECODER_STEPS = (512, 384, 256, 128, 64)
_STEM_CHANNELS = 16  # first 7x7 convolution at full resolution
_BOTTOM_CHANNELS = 512  # 1x1 embedding shared with the audio encoder
_OUTPUT_CHANNELS = 32  # the output block's 3x3 convolution


def unet_geometry(face_size: int) -> tuple[int, int]:
    """Split a face size into (bottom, levels) with face_size == bottom * 2**levels, bottom in {2, 3}."""
    for bottom in (3, 2):
        levels = 0
        size = face_size
        while size % 2 == 0 and size > bottom:
            size //= 2
            levels += 1
        if size == bottom and levels >= 3:
            return bottom, levels
    raise ConfigError(f"face size {face_size} is not 2 or 3 times a power of two (>= 8)")


def audio_encoder(profile: ModelProfile, syncnet: bool = False) -> nn.Sequential:
    """Mel window [B, 1, 80, 16] -> embedding [B, C, 1, 1] (C = 512 at full width).

    The SyncNet expert's audio encoder has one more residual convolution at 256 channels.
    """
    c = profile.channels
    layers: list[nn.Module] = [
        ConvBlock(1, c(32), 3, 1, 1),
        ConvBlock(c(32), c(32), 3, 1, 1, residual=True),
        ConvBlock(c(32), c(32), 3, 1, 1, residual=True),
        ConvBlock(c(32), c(64), 3, (3, 1), 1),
        ConvBlock(c(64), c(64), 3, 1, 1, residual=True),
        ConvBlock(c(64), c(64), 3, 1, 1, residual=True),
        ConvBlock(c(64), c(128), 3, 3, 1),
        ConvBlock(c(128), c(128), 3, 1, 1, residual=True),
        ConvBlock(c(128), c(128), 3, 1, 1, residual=True),
        ConvBlock(c(128), c(256), 3, (3, 2), 1),
        ConvBlock(c(256), c(256), 3, 1, 1, residual=True),
    ]
    if syncnet:
        layers.append(ConvBlock(c(256), c(256), 3, 1, 1, residual=True))
    layers += [ConvBlock(c(256), c(512), 3, 1, 0), ConvBlock(c(512), c(512), 1, 1, 0)]
    return nn.Sequential(*layers)


class Wav2LipGenerator(nn.Module):
    """Wav2Lip's generator, sized by a :class:`ModelProfile`.

    ``forward(audio, faces)`` follows the original call convention:

    * ``audio`` [B, 1, 80, 16] with ``faces`` [B, 6, H, W] -> frames [B, 3, H, W];
    * ``audio`` [B, T, 1, 80, 16] with ``faces`` [B, 6, T, H, W] -> frames [B, 3, T, H, W].

    ``faces`` holds 3 channels of pose prior (the masked target frame) followed by 3 channels of
    reference frame, values in [0, 1]. Output values are in [0, 1] (sigmoid).
    """

    kind = "generator"

    def __init__(self, profile: str | ModelProfile = "paper") -> None:
        super().__init__()
        self.profile = get_profile(profile)
        c = self.profile.channels
        bottom, levels = unet_geometry(self.profile.face_size)
        enc_levels = list(_ENCODER_LEVELS)
        dec_steps = list(_DECODER_STEPS)
        while len(enc_levels) > levels:  # smaller faces: drop the highest-resolution levels
            enc_levels.pop(0)
            dec_steps.pop()
        while len(enc_levels) < levels:  # larger faces: add thin levels at the top
            enc_levels.insert(0, (32, 1))
            dec_steps.append(32)

        # --- face encoder: stem, stride-2 levels, valid conv to 1x1 ---
        blocks: list[nn.Sequential] = [nn.Sequential(ConvBlock(6, c(_STEM_CHANNELS), 7, 1, 3))]
        skip_channels = [c(_STEM_CHANNELS)]
        cin = c(_STEM_CHANNELS)
        for cout, n_res in enc_levels:
            level: list[nn.Module] = [ConvBlock(cin, c(cout), 3, 2, 1)]
            level += [ConvBlock(c(cout), c(cout), 3, 1, 1, residual=True) for _ in range(n_res)]
            blocks.append(nn.Sequential(*level))
            skip_channels.append(c(cout))
            cin = c(cout)
        blocks.append(
            nn.Sequential(
                ConvBlock(cin, c(_BOTTOM_CHANNELS), bottom, 1, 0),
                ConvBlock(c(_BOTTOM_CHANNELS), c(_BOTTOM_CHANNELS), 1, 1, 0),
            )
        )
        skip_channels.append(c(_BOTTOM_CHANNELS))
        self.face_encoder_blocks = nn.ModuleList(blocks)

        self.audio_encoder = audio_encoder(self.profile)

        # --- decoder: 1x1 on the audio embedding, transposed conv 1 -> bottom, then x2 steps ---
        skips = list(reversed(skip_channels))  # bottom first
        dec: list[nn.Sequential] = [nn.Sequential(ConvBlock(c(_BOTTOM_CHANNELS), c(_BOTTOM_CHANNELS), 1, 1, 0))]
        cin = c(_BOTTOM_CHANNELS) + skips[0]
        dec.append(
            nn.Sequential(
                TransposeConvBlock(cin, c(_BOTTOM_CHANNELS), bottom, 1, 0),
                ConvBlock(c(_BOTTOM_CHANNELS), c(_BOTTOM_CHANNELS), 3, 1, 1, residual=True),
            )
        )
        cin = c(_BOTTOM_CHANNELS) + skips[1]
        for i, cout in enumerate(dec_steps):
            dec.append(
                nn.Sequential(
                    TransposeConvBlock(cin, c(cout), 3, 2, 1, output_padding=1),
                    ConvBlock(c(cout), c(cout), 3, 1, 1, residual=True),
                    ConvBlock(c(cout), c(cout), 3, 1, 1, residual=True),
                )
            )
            cin = c(cout) + skips[i + 2]
        self.face_decoder_blocks = nn.ModuleList(dec)

        self.output_block = nn.Sequential(
            ConvBlock(cin, c(_OUTPUT_CHANNELS), 3, 1, 1),
            nn.Conv2d(c(_OUTPUT_CHANNELS), 3, 1, 1, 0),
            nn.Sigmoid(),
        )

    def forward(self, audio: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        batch = audio.size(0)
        windowed = faces.dim() == 5
        if windowed:
            # [B, T, 1, 80, 16] -> [T*B, 1, 80, 16]; [B, 6, T, H, W] -> [T*B, 6, H, W] (time-major)
            audio = audio.transpose(0, 1).reshape(-1, *audio.shape[2:])
            faces = fold_time(faces)

        out, _ = self.encode_decode(audio, faces)
        return unfold_time(out, batch) if windowed else out

    def encode_decode(
        self,
        audio: torch.Tensor,
        faces: torch.Tensor,
        modulate: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The U-Net on folded (4-D) inputs: the output image and the decoder's last features.

        ``modulate(i, h)``, if given, changes decoder step ``i``'s output before its skip connection is
        joined (the conditional generator's FiLM layers use it).
        """
        x = self.audio_encoder(audio)
        skips = []
        f = faces
        for block in self.face_encoder_blocks:
            f = block(f)
            skips.append(f)
        for i, block in enumerate(self.face_decoder_blocks):
            h = block(x)
            if modulate is not None:
                h = modulate(i, h)
            x = torch.cat((h, skips.pop()), dim=1)
        return self.output_block(x), x
