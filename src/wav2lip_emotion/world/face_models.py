"""The face models the world's identities are checked with: one unsmoothed tracker (:func:`track`) and one
face-api model (:func:`expression`) per process, loaded on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .portraits import landmark_box


class _Models:
    """One unsmoothed tracker and one face-api model per process (loaded on first use)."""

    tracker: Any = None
    faceapi: Any = None


def tracker() -> Any:
    """The shared unsmoothed FaceTracker (reset before each use: every image is a fresh search)."""
    if _Models.tracker is None:
        from ..faces import FaceTracker, TrackerConfig

        _Models.tracker = FaceTracker(TrackerConfig(smooth=False))
    return _Models.tracker


def track(rgb: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(landmarks [468, 3], score) of the most prominent face in an image, or None."""
    t = tracker()
    t.reset()
    obs = t.update(np.ascontiguousarray(rgb))
    if not obs.found or obs.landmarks is None:
        return None
    return np.asarray(obs.landmarks, dtype=np.float64), float(obs.score)


def expression(rgb: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """face-api's probabilities for the face, cropped as the project's classifiers see faces."""
    import torch

    from ..faces import FaceCrop
    from ..perception import load_emotion_model
    from ..perception.crops import CLASSIFIER_CROP

    if _Models.faceapi is None:
        _Models.faceapi = load_emotion_model("faceapi")
    crop = FaceCrop.from_box(landmark_box(landmarks), CLASSIFIER_CROP).extract(rgb)
    faces = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0
    return {k: round(float(v), 6) for k, v in _Models.faceapi.predict(faces)[0].items()}
