"""The generator's loss terms as small registered pieces, plus the discriminator's loss and clamp.

Each term is an ``nn.Module`` called as ``term(batch)`` on a :class:`GeneratorOutputs` and returns
a scalar; the trainer weighs them by the config (``loss.l1``, ``loss.sync``, ...). A term with
weight 0 is not even built, so a variant without the GAN never loads a discriminator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..emotions import EMOTIONS
from ..models.syncnet import stack_lower_halves, sync_probability
from ..perception.emotions import EmotionClassifier


@dataclass
class GeneratorOutputs:
    """What the loss terms may look at for one batch."""

    generated: torch.Tensor  # [B, 3, T, H, W] in [0, 1]
    targets: torch.Tensor  # [B, 3, T, H, W]
    mel: torch.Tensor  # [B, 1, 80, 16]: the window's mel (SyncNet input)
    destination: torch.Tensor  # [B] int64 index into EMOTIONS (-1: none)


#: name -> factory(**parts) building a loss term. ``parts`` are what the trainer built for the weighted
#: terms: ``expert`` (SyncNet), ``discriminator``, ``classifier`` (emotion model); each term takes its own
LOSS_TERMS: dict[str, Callable[..., nn.Module]] = {}


def register_loss(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def deco(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        LOSS_TERMS[name] = factory
        return factory

    return deco


#: the crop's lower-centre box that ``lower_face`` weighs again: rows from half the height down, the middle
#: 60% of the columns (mouth, lips and chin in a face crop)
LOWER_FACE_ROWS = (0.5, 1.0)
LOWER_FACE_COLS = (0.2, 0.8)


@register_loss("l1")
class ReconstructionLoss(nn.Module):
    """Mean absolute error between generated and target frames (s_r), plus ``lower_face`` times the mean
    absolute error inside the lower-centre box (the mouth: its few pixels of opening are a small share of
    the whole crop's error; 0 = the paper's plain L1)."""

    def __init__(self, lower_face: float = 0.0, **_: object) -> None:
        super().__init__()
        self.lower_face = float(lower_face)

    def forward(self, out: GeneratorOutputs) -> torch.Tensor:
        loss = F.l1_loss(out.generated, out.targets)
        if self.lower_face > 0:
            h, w = out.generated.shape[-2:]
            r0, r1 = (round(f * h) for f in LOWER_FACE_ROWS)
            c0, c1 = (round(f * w) for f in LOWER_FACE_COLS)
            box = (..., slice(r0, r1), slice(c0, c1))
            loss = loss + self.lower_face * F.l1_loss(out.generated[box], out.targets[box])
        return loss


def sync_bce(expert: nn.Module, mel: torch.Tensor, frames: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """BCE between the expert's cosine 'in sync' probability and ``label`` [B] (1 = in sync)."""
    audio, video = expert(mel, stack_lower_halves(frames))
    p = sync_probability(audio, video)
    return F.binary_cross_entropy(p.float(), label.float().view(-1, 1).to(p.device))


@register_loss("sync")
class SyncLoss(nn.Module):
    """A frozen lip-sync expert judges the lower halves of the generated window against its mel (s_w)."""

    def __init__(self, expert: nn.Module, **_: object) -> None:
        super().__init__()
        self.expert = expert.eval()
        for p in self.expert.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> SyncLoss:  # the expert always stays in eval mode
        super().train(mode)
        self.expert.eval()
        return self

    def forward(self, out: GeneratorOutputs) -> torch.Tensor:
        ones = torch.ones(out.generated.shape[0], device=out.generated.device)
        return sync_bce(self.expert, out.mel, out.generated, ones)

    @torch.no_grad()
    def probability(self, frames: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """[B] in-sync probability of real or generated windows (for validation reports)."""
        audio, video = self.expert(mel, stack_lower_halves(frames))
        return sync_probability(audio, video).view(-1)


@register_loss("gan")
class AdversarialLoss(nn.Module):
    """-log D(G): the generator wants the (unwrapped, frozen for this term) discriminator to say real (s_g)."""

    def __init__(self, discriminator: nn.Module, **_: object) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, out: GeneratorOutputs) -> torch.Tensor:
        pred = self.discriminator(out.generated)
        return F.binary_cross_entropy(pred.float(), torch.ones_like(pred, dtype=torch.float32))


@register_loss("emotion")
class EmotionLoss(nn.Module):
    """mean(1 - p(destination emotion)) from a frozen classifier, per window then over the batch (s_e).

    Windows whose destination the classifier has no class for (e.g. contempt for FER2013 models) or
    that have no destination are left out of the mean (and the term is 0 when none is left).
    """

    def __init__(self, classifier: EmotionClassifier, **_: object) -> None:
        super().__init__()
        self.classifier = classifier.freeze()
        # EMOTIONS index -> classifier class index, -1 where the classifier lacks the class
        lookup = [classifier.classes.index(e) if e in classifier.classes else -1 for e in EMOTIONS]
        self.register_buffer("lookup", torch.tensor(lookup, dtype=torch.long), persistent=False)

    def train(self, mode: bool = True) -> EmotionLoss:
        super().train(mode)
        self.classifier.eval()
        return self

    def probabilities(self, frames: torch.Tensor, destination: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(p [B] mean over the window's frames of p(destination), valid [B] bool)."""
        b, c, t, h, w = frames.shape
        dest = destination.to(frames.device).long()
        cls = torch.where(dest >= 0, self.lookup[dest.clamp(min=0)], torch.full_like(dest, -1))
        valid = cls >= 0
        flat = frames.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        probs = self.classifier(flat).float().view(b, t, -1)
        p = probs.gather(2, cls.clamp(min=0).view(b, 1, 1).expand(b, t, 1)).squeeze(2).mean(1)
        return p, valid

    def forward(self, out: GeneratorOutputs) -> torch.Tensor:
        p, valid = self.probabilities(out.generated, out.destination)
        if not bool(valid.any()):
            return out.generated.sum() * 0.0
        return (1.0 - p[valid]).mean()


def discriminator_loss(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """BCE with real = 1 and (detached) generated = 0, summed as Wav2Lip does."""
    pred_real = discriminator(real).float()
    pred_fake = discriminator(fake.detach()).float()
    return F.binary_cross_entropy(pred_real, torch.ones_like(pred_real)) + F.binary_cross_entropy(
        pred_fake, torch.zeros_like(pred_fake)
    )


@torch.no_grad()
def clamp_grad_norm(parameters: Iterable[nn.Parameter], low: float, high: float) -> float:
    """Scale the gradients so that their total L2 norm lies in [low, high]; return the norm before.

    Wav2Lip-Emotion's discriminator rule: a norm below ``low`` is scaled UP to ``low`` (keeps a
    discriminator that has won from stalling), above ``high`` scaled down. A zero norm is left alone.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])).item()
    if norm == 0.0 or not torch.isfinite(torch.tensor(norm)):
        return norm
    scale = low / norm if norm < low else high / norm if norm > high else 1.0
    if scale != 1.0:
        for g in grads:
            g.mul_(scale)
    return norm


__all__ = [
    "LOSS_TERMS",
    "AdversarialLoss",
    "EmotionLoss",
    "GeneratorOutputs",
    "ReconstructionLoss",
    "SyncLoss",
    "clamp_grad_norm",
    "discriminator_loss",
    "register_loss",
    "sync_bce",
]
