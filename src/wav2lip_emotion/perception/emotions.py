"""One emotion vocabulary for the whole package, the classifier interface and the registry of emotion models.

Every emotion classifier maps its own classes onto MEAD's eight names. A class a model lacks is
*absent* from its outputs (``classes``), never reported as zero: asking a FER2013 model for
``contempt`` is an error, not a probability of 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

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
