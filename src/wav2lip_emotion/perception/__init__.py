"""Perception: emotion classifiers (training objective and judge), valence/arousal, face identity.

* ``fer``: the fer package's mini-Xception (FER2013, 7 classes), the default training objective;
* ``faceapi``: face-api's expression network (7 classes), the default judge, independent of fer;
* ``densenet121``: the paper's DenseNet121 FER2013 classifier, from a checkpoint you supply;
* :mod:`.affect`: valence/arousal (a documented circumplex proxy, and an importer for external CSVs);
* :mod:`.identity`: dlib's 128-d face descriptor distance (same person if < 0.6).

The networks themselves (architectures and reading their published weights) are ports in
:mod:`wav2lip_emotion.ports`; these modules use them (preprocessing, probabilities, labels). The loss
that pushes generated faces towards an emotion is ``train.losses.EmotionLoss``. Models load lazily:
importing this package does not read any weights.
"""

from __future__ import annotations

from .emotions import (
    EMOTION_MODELS,
    EMOTIONS,
    FER2013_CLASSES,
    Emotion,
    EmotionClassifier,
    load_emotion_model,
    parse_emotion,
)

__all__ = [
    "EMOTIONS",
    "EMOTION_MODELS",
    "FER2013_CLASSES",
    "Emotion",
    "EmotionClassifier",
    "load_emotion_model",
    "parse_emotion",
]
