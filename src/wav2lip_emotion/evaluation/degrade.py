"""Constructed failures (and harmless changes) of a real clip, to check the realism metrics against.

Each degradation edits only the tracked face (inside the convex hull of its mesh, feathered), frame by
frame, the way a poor generator's pasted face would look. ``strength`` scales it (1 = the default):

* ``blur``: a Gaussian blur of sigma = 1.5% of the face's size x strength (about 2.5 px on a 170 px face);
* ``texture``: blotchy high-frequency noise (blotches of 1-4 px, a standard deviation of 12 grey levels x
  strength) fixed to the face's crop: it moves with the head, so it does not flicker by itself; the
  grainy, blotchy skin of an under-trained generator;
* ``shuffle``: the face crop cut into an 8 x 8 grid whose tiles inside the face are permuted (one fixed
  permutation): a disfigured face with the right colours and texture statistics;
* ``jitter``: the face shifted by a new random offset every frame (up to 1.5% of the face's size x
  strength either way, about 2.5 px on a 170 px face; feathered into the still frame): a face that
  shakes on a steady head, the unsteady paste-back users complain of in Wav2Lip-style tools;
* ``colour``: a small global colour shift of the whole frame (R +8, B -6 grey levels x strength): a
  harmless change;
* ``copy``: the frames unchanged (re-encoded like the others).

:func:`degrade_video` writes one of them with the project's :class:`~wav2lip_emotion.media.VideoWriter`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from ..faces import FaceCrop, FaceTracker, TrackerConfig
from ..faces.crop import CropConfig, full_mask, soft_mask

#: the degradations :func:`degrade_video` knows, and which of them a realism check must reject
DEGRADATIONS = ("copy", "colour", "blur", "texture", "shuffle", "jitter")
UNREALISTIC = ("blur", "texture", "shuffle", "jitter")

_PADDING = 0.1
_GRID = 8
_MAX_SIDE = 512
_TEXTURE_STD = 12.0
_JITTER = 0.015


@lru_cache(maxsize=4)
def _texture(seed: int) -> np.ndarray:
    """Fixed band-pass noise [512, 512] in face-crop pixels: blotches of 1-4 px, zero mean, a standard
    deviation of ``_TEXTURE_STD`` grey levels."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (_MAX_SIDE, _MAX_SIDE)).astype(np.float32)
    band = cv2.GaussianBlur(noise, (0, 0), 0.7) - cv2.GaussianBlur(noise, (0, 0), 3.0)
    return (band / float(band.std()) * _TEXTURE_STD).astype(np.float32)


def _permutation(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(_GRID * _GRID)


def degrade_frame(
    rgb: np.ndarray,
    landmarks: np.ndarray | None,
    box: np.ndarray | None,
    kind: str,
    *,
    strength: float = 1.0,
    seed: int = 0,
    index: int = 0,
) -> np.ndarray:
    """``rgb`` (uint8 H x W x 3) with degradation ``kind`` applied to the face given by the tracker's
    ``landmarks`` [468, >=2] and ``box`` (frame pixels); a frame without a face is returned unchanged,
    except for the global ``colour`` shift.

    The face is edited at the frame's own resolution: the crop has about as many pixels as the face
    covers, and only the change (edited minus original) goes back, so nothing is lost to resampling
    beyond the degradation itself. ``index``: the frame's number (``jitter`` draws its offset from it)."""
    if kind not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {kind!r}; choose from {', '.join(DEGRADATIONS)}")
    if kind == "copy":
        return rgb
    if kind == "colour":
        out = rgb.astype(np.int16) + np.round(np.array([8.0, 0.0, -6.0]) * strength).astype(np.int16)
        return np.clip(out, 0, 255).astype(np.uint8)
    if landmarks is None or box is None:
        return rgb
    h, w = rgb.shape[:2]
    side = float(max(box[2] - box[0], box[3] - box[1]))
    if kind in ("blur", "jitter"):
        hull_crop = FaceCrop.from_box(box, CropConfig(size=128, padding=_PADDING))
        hull = full_mask(hull_crop.to_crop(landmarks), 128)
        if kind == "blur":
            moved = cv2.GaussianBlur(rgb, (0, 0), max(0.3, 0.015 * side * strength)).astype(np.float32)
        else:
            dx, dy = np.random.default_rng((seed, index)).uniform(-1.0, 1.0, 2) * _JITTER * side * strength
            shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
            moved = cv2.warpAffine(rgb, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = _frame_mask(hull, hull_crop, (h, w))
        return np.clip(rgb + (moved.astype(np.float32) - rgb) * alpha, 0, 255).astype(np.uint8)
    # a crop at (about) the face's own scale, a whole number of tiles
    size = int(np.clip(round(side * (1 + 2 * _PADDING) / _GRID), 2, _MAX_SIDE // _GRID)) * _GRID
    crop = FaceCrop.from_box(box, CropConfig(size=size, padding=_PADDING))
    face = crop.extract(rgb).astype(np.float32)
    hull = full_mask(crop.to_crop(landmarks), size)
    if kind == "texture":
        change = np.repeat(_texture(seed)[:size, :size, None] * strength, 3, axis=2)
    else:  # shuffle
        tile = size // _GRID
        cells = [(r, c) for r in range(_GRID) for c in range(_GRID)]
        inside = [hull[r * tile + tile // 2, c * tile + tile // 2] > 0 for r, c in cells]
        movable = [i for i in range(len(cells)) if inside[i]]
        order = [i for i in _permutation(seed) if inside[i]]
        shuffled = face.copy()
        for dst, src in zip(movable, order, strict=True):
            (r, c), (r2, c2) = cells[dst], cells[src]
            shuffled[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = face[
                r2 * tile : (r2 + 1) * tile, c2 * tile : (c2 + 1) * tile
            ]
        change = shuffled - face
    back = cv2.warpAffine(change, crop.crop_to_frame(), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = _frame_mask(hull, crop, (h, w))
    return np.clip(rgb + back * alpha, 0, 255).astype(np.uint8)


def _frame_mask(hull: np.ndarray, crop: FaceCrop, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    soft = soft_mask(hull, 0.06)
    return cv2.warpAffine(soft, crop.crop_to_frame(), (w, h), flags=cv2.INTER_LINEAR)[..., None]


def degrade_video(
    source: str | Path,
    output: str | Path,
    kind: str,
    *,
    max_frames: int | None = None,
    strength: float = 1.0,
    seed: int = 0,
    tracker: FaceTracker | None = None,
    crf: int = 18,
) -> Path:
    """Write ``output``: the first ``max_frames`` frames of ``source`` with degradation ``kind`` (see the
    module docstring), encoded with the project's VideoWriter at x264 quality ``crf`` (the translations'
    default), without audio."""
    from ..media import VideoReader, VideoWriter, probe_video

    if kind not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {kind!r}; choose from {', '.join(DEGRADATIONS)}")
    info = probe_video(source)
    tracker = tracker or FaceTracker(TrackerConfig(smooth=False))
    tracker.reset()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        VideoReader(source, max_frames=max_frames) as reader,
        VideoWriter(output, info.fps, info.width, info.height, crf=crf) as writer,
    ):
        for index, frame in enumerate(reader):
            obs = tracker.update(frame.rgb, frame.time)
            landmarks, box = (obs.landmarks, obs.box) if obs.found else (None, None)
            writer.write(degrade_frame(frame.rgb, landmarks, box, kind, strength=strength, seed=seed, index=index))
    return output
