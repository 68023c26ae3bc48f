"""face-api.js's expression network as an emotion model (7 expression classes), the default judge.

The network and the reading of its TF.js weights are a port in :mod:`wav2lip_emotion.ports.faceapi`
(:class:`~wav2lip_emotion.ports.faceapi.FaceExpressionNet`, checked against TF.js itself). This module
*uses* it: :class:`FaceApiExpressionModel` resizes RGB face crops to 112 x 112 (:func:`resize`:
bilinear, antialiased when shrinking, stretched if not square; face-api.js instead zero-pads to a
square and uses tfjs's ``resizeBilinear``) and normalises them, and names the classes in our
vocabulary; :func:`build_faceapi` registers it as the ``faceapi`` emotion model with the cached files.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError
from ..ports.faceapi import INPUT_SIZE, MEAN_RGB, FaceExpressionNet, load_faceapi_weights
from .emotions import EmotionClassifier, register_emotion_model, resize

#: face-api's classes (:data:`~wav2lip_emotion.ports.faceapi.FACEAPI_LABELS`) in our vocabulary, in model output order
FACEAPI_CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fear", "disgusted", "surprised")


class FaceApiExpressionModel(EmotionClassifier):
    """face-api.js FaceExpressionNet: RGB face [B, 3, H, W] in [0, 1] -> 7 expressions.

    ``net`` is the port; built with zero weights: use :func:`build_faceapi` for the pretrained model.
    """

    name = "faceapi"
    classes = FACEAPI_CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.net = FaceExpressionNet()
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1) / 255.0, persistent=False)

    def preprocess(self, faces: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] RGB in [0, 1] -> the network input: (255 x - mean) / 255 at 112 x 112."""
        if faces.dim() != 4 or faces.shape[1] != 3:
            raise ConfigError(f"the faceapi emotion model expects faces [B, 3, H, W], got {tuple(faces.shape)}")
        x = resize(faces.to(self.mean.dtype), INPUT_SIZE)
        return x - self.mean  # == (255 * x - MEAN_RGB) / 255

    def features(self, faces: torch.Tensor) -> torch.Tensor:
        """The 256-d bottleneck (face-api's FaceFeatureExtractor output, pooled) [B, 256]."""
        return self.net.features(self.preprocess(faces))

    def logits(self, faces: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(faces))


@register_emotion_model("faceapi")
def build_faceapi(weights: str | Path | None = None, manifest: str | Path | None = None) -> FaceApiExpressionModel:
    """The pretrained face-api expression model, frozen (defaults: the cached @vladmandic/face-api files)."""
    if weights is None or manifest is None:
        from ..assets.store import asset_path

        weights = asset_path("faceapi_expression") if weights is None else weights
        manifest = asset_path("faceapi_expression_manifest") if manifest is None else manifest
    model = FaceApiExpressionModel()
    load_faceapi_weights(model.net, weights, manifest)
    model.freeze()
    return model
