"""Regenerate the pictures in docs/ from the real media of the model store: python docs/figures.py"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli.face_report import draw_observation
from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker, full_mask, half_mask, pose_prior, soft_mask
from wav2lip_emotion.media import read_image, write_image

HERE = Path(__file__).parent


def main() -> None:
    # only public-domain pictures are drawn into the committed figures (NASA's astronaut photo)
    tracker = FaceTracker()
    rgb = read_image(asset_path("astronaut"))
    obs = tracker.update(rgb)
    crop = FaceCrop.from_box(obs.box, CropConfig(size=192, padding=0.1))
    face = crop.extract(rgb)
    lm = crop.to_crop(obs.landmarks)
    full = full_mask(lm, 192)
    tiles = [
        face,
        pose_prior(face, half_mask(192)),
        pose_prior(face, full),
        (np.repeat(soft_mask(full)[..., None], 3, 2) * 255).astype(np.uint8),
    ]
    strip = np.concatenate([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=255) for t in tiles], axis=1)
    write_image(HERE / "crop_masks.png", strip)
    view = draw_observation(rgb, obs, CropConfig(size=96))
    write_image(HERE / "faces_preview.png", cv2.resize(view, (384, 384), interpolation=cv2.INTER_AREA))


if __name__ == "__main__":
    main()
