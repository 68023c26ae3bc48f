"""One emotion vocabulary for the whole package, the classifier interface, and the emotion objective.

Every emotion classifier maps its own classes onto MEAD's eight names. A class a model lacks is
*absent* from its outputs (``classes``), never reported as zero: asking a FER2013 model for
``contempt`` is an error, not a probability of 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..emotions import EMOTIONS as EMOTIONS
from ..emotions import FER2013_CLASSES as FER2013_CLASSES
from ..emotions import Emotion, parse_emotion
from ..errors import ConfigError


class EmotionClassifier(nn.Module, ABC):
    """A face -> emotion probabilities network.

    Input: RGB face crops ``[B, 3, H, W]`` with values in [0, 1] at any size (e.g. the generator's
    96 x 96 output); every model does its own preprocessing *differentiably*, so gradients reach the
    frames. Output of ``forward``: probabilities ``[B, len(classes)]`` in ``classes`` order.
    """

    #: short registry name, e.g. "fer"
    name: str = ""
    #: the model's classes in output order, in our vocabulary
    classes: tuple[str, ...] = ()

    @abstractmethod
    def logits(self, faces: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores [B, len(classes)] for faces [B, 3, H, W] in [0, 1]."""

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.logits(faces), dim=1)

    def index(self, emotion: str | Emotion) -> int:
        """Output column of an emotion; ConfigError if this model does not have that class."""
        name = parse_emotion(emotion).value
        try:
            return self.classes.index(name)
        except ValueError:
            raise ConfigError(
                f"the {self.name or type(self).__name__} emotion model has no class {name!r} "
                f"(it knows {', '.join(self.classes)})"
            ) from None

    def has(self, emotion: str | Emotion) -> bool:
        return parse_emotion(emotion).value in self.classes

    @torch.no_grad()
    def predict(self, faces: torch.Tensor) -> list[dict[str, float]]:
        """Per face, {emotion: probability} over the classes this model has (absent ones left out)."""
        probs = self(faces).cpu()
        return [dict(zip(self.classes, row.tolist(), strict=True)) for row in probs]

    def freeze(self) -> EmotionClassifier:
        """Eval mode, no parameter gradients (gradients still flow to the input)."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


def to_grey(faces: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] RGB -> [B, 1, H, W] luma (0.299 R + 0.587 G + 0.114 B), differentiable."""
    w = faces.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (faces * w).sum(dim=1, keepdim=True)


def resize(faces: torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable bilinear resize to size x size (antialiased when shrinking)."""
    if faces.shape[-2:] == (size, size):
        return faces
    shrink = faces.shape[-1] > size or faces.shape[-2] > size
    return F.interpolate(faces, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


# ------------------------------------------------------------------------------------ registry

#: name -> factory(**kwargs) returning a frozen EmotionClassifier; filled by the model modules
EMOTION_MODELS: dict[str, Callable[..., EmotionClassifier]] = {}


def register_emotion_model(name: str) -> Callable[[Callable[..., EmotionClassifier]], Callable[..., EmotionClassifier]]:
    def deco(factory: Callable[..., EmotionClassifier]) -> Callable[..., EmotionClassifier]:
        EMOTION_MODELS[name] = factory
        return factory

    return deco


def load_emotion_model(name: str, **kwargs: object) -> EmotionClassifier:
    """Build a registered emotion model by name ("fer", "faceapi", "densenet121" with path=...)."""
    from . import densenet, faceapi, fer  # noqa: F401  (registration side effects)

    try:
        factory = EMOTION_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown emotion model {name!r}; known: {', '.join(sorted(EMOTION_MODELS))}") from None
    return factory(**kwargs)


# ------------------------------------------------------------------------------------ objective


class EmotionObjective(nn.Module):
    """Loss pushing generated faces towards a desired emotion through a frozen classifier.

    ``loss = mean(1 - p(desired emotion))`` over a batch of frames ``[B, 3, H, W]`` or windows
    ``[B, 3, T, H, W]`` (every frame counts). ``target`` is one emotion for the whole batch, or a
    sequence / LongTensor of per-sample emotions (per window for 5-D input). The classifier is frozen:
    its parameters never change, gradients flow only to the frames.
    """

    def __init__(self, classifier: EmotionClassifier) -> None:
        super().__init__()
        self.classifier = classifier.freeze()

    def train(self, mode: bool = True) -> EmotionObjective:  # the classifier stays in eval mode
        super().train(mode)
        self.classifier.eval()
        return self

    def target_indices(
        self, target: str | Emotion | Sequence[str | Emotion] | torch.Tensor, batch: int
    ) -> torch.Tensor:
        if isinstance(target, torch.Tensor):
            idx = target.long().reshape(-1)
        elif isinstance(target, str | Emotion):
            idx = torch.full((batch,), self.classifier.index(target), dtype=torch.long)
        else:
            idx = torch.tensor([self.classifier.index(t) for t in target], dtype=torch.long)
        if idx.numel() == 1 and batch > 1:
            idx = idx.expand(batch)
        if idx.numel() != batch:
            raise ConfigError(f"{idx.numel()} target emotions for a batch of {batch}")
        n = len(self.classifier.classes)
        if isinstance(target, torch.Tensor) and idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise ConfigError(
                f"target class indices must be in [0, {n - 1}] for the {self.classifier.name} emotion model, "
                f"got {idx.min().item()}..{idx.max().item()}"
            )
        return idx

    def forward(
        self, frames: torch.Tensor, target: str | Emotion | Sequence[str | Emotion] | torch.Tensor
    ) -> torch.Tensor:
        batch = frames.shape[0]
        idx = self.target_indices(target, batch).to(frames.device)
        if frames.dim() == 5:  # windows: every frame of window b has target idx[b]
            t = frames.shape[2]
            frames = frames.permute(0, 2, 1, 3, 4).reshape(batch * t, *frames.shape[1:2], *frames.shape[3:])
            idx = idx.repeat_interleave(t)
        probs = self.classifier(frames)
        return (1.0 - probs.gather(1, idx[:, None])).mean()
