"""How the emotion classifiers see a face: the crop every layer shares, and batched classification of crops.

The evaluation, the app, the world's identity checks and the ``emotions`` command all crop faces with
:data:`CLASSIFIER_CROP` so that their probabilities agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..faces import CropConfig
from .emotions import EmotionClassifier

#: how classifiers see a face: the landmark box (forehead to chin) with the generator's 10% margin, at 128 px
#: (tight crops make fer unstable: grace_hopper flips from neutral 0.82 to angry 0.55 without the margin)
CLASSIFIER_CROP = CropConfig(size=128, padding=0.1)


def classify_crops(
    crops: Iterable[np.ndarray | None], models: Sequence[EmotionClassifier], batch_size: int = 32
) -> list[np.ndarray]:
    """Probabilities [N, C_m] per model for a stream of uint8 crops (None -> a NaN row).

    Memory stays bounded: only one batch of crops is held at a time."""
    out: list[list[np.ndarray]] = [[] for _ in models]
    pending: list[np.ndarray] = []
    slots: list[bool] = []

    def flush() -> None:
        faces = torch.from_numpy(np.stack(pending)).permute(0, 3, 1, 2).float() / 255.0 if pending else None
        for k, model in enumerate(models):
            probs = model(faces).numpy() if faces is not None else np.zeros((0, len(model.classes)))
            rows = iter(probs)
            for has_face in slots:
                out[k].append(next(rows) if has_face else np.full(len(model.classes), np.nan))
        pending.clear()
        slots.clear()

    with torch.inference_mode():
        for crop in crops:
            slots.append(crop is not None)
            if crop is not None:
                pending.append(crop)
            if len(slots) >= batch_size:
                flush()
        flush()
    return [np.array(rows, dtype=np.float64).reshape(-1, len(m.classes)) for rows, m in zip(out, models, strict=True)]
