"""The SyncNet lip-sync expert (Wav2Lip's colour SyncNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBlock, conv_out
from .generator import audio_encoder
from .profiles import ModelProfile, get_profile

SYNC_FRAMES = 5  # frames per window the expert looks at (stacked on channels)


class SyncNetExpert(nn.Module):
    """Lower half of 5 frames + one mel window -> two L2-normalised embeddings.

    ``forward(audio [B, 1, 80, 16], faces [B, 15, H/2, W])`` returns
    ``(audio_embedding, face_embedding)``, each [B, C] with unit norm (C = 512 at full width).
    Their cosine similarity is the probability that audio and lips are in sync.
    """

    kind = "syncnet"

    def __init__(self, profile: str | ModelProfile = "paper") -> None:
        super().__init__()
        self.profile = get_profile(profile)
        c = self.profile.channels
        size = (self.profile.face_size // 2, self.profile.face_size)

        spec: list[tuple[int, int, int | tuple[int, int], int | tuple[int, int], int, bool]] = [
            # (cin, cout, kernel, stride, padding, residual)
            (3 * SYNC_FRAMES, 32, 7, 1, 3, False),
            (32, 64, 5, (1, 2), 1, False),
            (64, 64, 3, 1, 1, True),
            (64, 64, 3, 1, 1, True),
            (64, 128, 3, 2, 1, False),
            (128, 128, 3, 1, 1, True),
            (128, 128, 3, 1, 1, True),
            (128, 128, 3, 1, 1, True),
            (128, 256, 3, 2, 1, False),
            (256, 256, 3, 1, 1, True),
            (256, 256, 3, 1, 1, True),
            (256, 512, 3, 2, 1, False),
            (512, 512, 3, 1, 1, True),
            (512, 512, 3, 1, 1, True),
            (512, 512, 3, 2, 1, False),
        ]
        layers: list[nn.Module] = []
        for cin, cout, k, s, p, res in spec:
            cin_scaled = cin if cin == 3 * SYNC_FRAMES else c(cin)
            layers.append(ConvBlock(cin_scaled, c(cout), k, s, p, residual=res))
            size = conv_out(size, k, s, p)
        # valid convolution over what is left (3x3 at 96 px), then a 1x1 embedding layer
        layers.append(ConvBlock(c(512), c(512), size, 1, 0))
        layers.append(ConvBlock(c(512), c(512), 1, 1, 0))
        self.face_encoder = nn.Sequential(*layers)
        self.audio_encoder = audio_encoder(self.profile, syncnet=True)

    def forward(self, audio: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        face_embedding = self.face_encoder(faces).flatten(1)
        audio_embedding = self.audio_encoder(audio).flatten(1)
        return F.normalize(audio_embedding, p=2, dim=1), F.normalize(face_embedding, p=2, dim=1)


def stack_lower_halves(frames: torch.Tensor) -> torch.Tensor:
    """[B, 3, T, H, W] frames -> [B, 3*T, H/2, W] lower halves stacked on channels (SyncNet input)."""
    b, ch, t, h, w = frames.shape
    lower = frames[:, :, :, h // 2 :]
    return lower.permute(0, 2, 1, 3, 4).reshape(b, t * ch, h - h // 2, w)


def sync_probability(audio_embedding: torch.Tensor, face_embedding: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the two unit embeddings, as a [B, 1] 'in sync' probability."""
    return F.cosine_similarity(audio_embedding, face_embedding).clamp(1e-7, 1 - 1e-7).unsqueeze(1)
