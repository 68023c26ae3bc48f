"""One pass over one video: everything the evaluation needs from it, measured per frame.

:func:`measure_video` decodes the video once, tracks the face and, per frame, records

* the judge's class probabilities (NaN rows where no face was found), on the crop the perception
  layer uses (:data:`~wav2lip_emotion.perception.crops.CLASSIFIER_CROP`);
* the mouth opening: inner-lip gap (mesh points 13 and 14) over the outer-eye-corner distance (33, 263),
  so it does not depend on the face's size in the frame;
* features of the same crop for the Frechet distance (FID or its labelled stand-in);
* every ``identity_every``-th frame, dlib's 128-d identity descriptor (averaged per video);
* with a ``reference`` video (the world's aligned ground truth), PSNR and SSIM of the whole frame;
* the realism values of :mod:`.realism` (face sharpness, aligned flicker, mesh score, BRISQUE), which
  :mod:`.scores` compares with the source video's.

Only one batch of crops is held at a time. The result is saved as an ``.npz`` (+ ``.json`` summary) so
a resumed evaluation does not measure a video twice.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import MediaError
from ..faces import FaceCrop, FaceTracker, TrackerConfig
from ..faces.mesh import LEFT_EYE_OUTER, LOWER_LIP_INNER, RIGHT_EYE_OUTER, UPPER_LIP_INNER
from ..media import VideoReader, probe_video
from ..perception.crops import CLASSIFIER_CROP
from ..perception.emotions import EmotionClassifier
from .realism import RealismAccumulator, RealismTrack

#: bump when what is measured changes, so cached measurements are redone (2: realism values)
MEASURE_VERSION = 3


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over the outer-eye-corner distance, from 468-point mesh landmarks [468, >=2]."""
    gap = np.linalg.norm(landmarks[UPPER_LIP_INNER, :2] - landmarks[LOWER_LIP_INNER, :2])
    eyes = np.linalg.norm(landmarks[RIGHT_EYE_OUTER, :2] - landmarks[LEFT_EYE_OUTER, :2])
    return float(gap / eyes) if eyes > 0 else math.nan


def psnr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, mean squared error) of two uint8 images of one shape; inf dB when they are equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return (math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)), mse


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004: Gaussian window 11 x 11, sigma 1.5, K1 0.01, K2 0.03) of the luma of two RGB images."""

    def luma(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114 if x.ndim == 3 else x

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the positions where both are finite; NaN with < 3 such or a constant series."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else math.nan


@dataclass
class VideoMeasurement:
    """What :func:`measure_video` found in one video."""

    path: str
    fps: float
    #: judge name and its class names
    judge: str
    classes: tuple[str, ...]
    #: [N, C] class probabilities, NaN rows where no face was found
    probs: np.ndarray
    #: [N] mouth opening (see :func:`mouth_opening`), NaN where no face was found
    opening: np.ndarray
    #: [M, D] crop features for the Frechet distance (one row per frame with a face); D = 0 when not measured
    features: np.ndarray
    #: mean dlib descriptor (128,), or None when not measured / no face in any sampled frame
    identity: np.ndarray | None
    #: whole-frame PSNR (pooled MSE over the frames) and mean SSIM against the reference; NaN without one
    psnr: float = math.nan
    ssim: float = math.nan
    #: frames compared with the reference (min of both lengths), and the reference's frame count
    reference_frames: int = 0
    notes: list[str] = field(default_factory=list)
    #: what measured it (judge, feature extractor, identity, reference, video size and time); a cached
    #: measurement is used again only when this matches
    setup: str = ""
    #: per-frame realism values (empty when not measured)
    realism: RealismTrack = field(default_factory=RealismTrack.empty)

    @property
    def frames(self) -> int:
        return int(self.probs.shape[0])

    @property
    def faces_found(self) -> int:
        return int(np.isfinite(self.probs).all(axis=1).sum())

    def class_probability(self, judge: EmotionClassifier | None, emotion: str) -> np.ndarray:
        """[N] probability of ``emotion`` (our name or a synonym) per frame."""
        from ..emotions import parse_emotion

        name = parse_emotion(emotion).value
        for i, c in enumerate(self.classes):
            if parse_emotion(c).value == name:
                return self.probs[:, i]
        raise KeyError(f"judge {self.judge} has no class {emotion!r}")

    def top_classes(self) -> list[str | None]:
        from ..emotions import parse_emotion

        return [
            parse_emotion(self.classes[int(np.argmax(row))]).value if np.isfinite(row).all() else None
            for row in self.probs
        ]

    # ----------------------------------------------------------------------------- cache files

    def save(self, path: Path) -> None:
        """Write ``path`` (.npz arrays) and ``path.with_suffix('.json')`` (the rest), each atomically."""
        arrays = {"probs": self.probs, "opening": self.opening, "features": self.features.astype(np.float32)}
        if self.identity is not None:
            arrays["identity"] = self.identity
        if self.realism.frames:
            arrays.update(self.realism.arrays())
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".tmp.npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        meta = {
            "version": MEASURE_VERSION,
            "path": self.path,
            "fps": self.fps,
            "judge": self.judge,
            "classes": list(self.classes),
            "psnr": None if not math.isfinite(self.psnr) else self.psnr,
            "psnr_inf": self.psnr == math.inf,
            "ssim": None if math.isnan(self.ssim) else self.ssim,
            "reference_frames": self.reference_frames,
            "notes": self.notes,
            "setup": self.setup,
        }
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: Path) -> VideoMeasurement | None:
        """The measurement saved at ``path``, or None when absent, from another version, or unreadable."""
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("version") != MEASURE_VERSION:
                return None
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            return None
        psnr_value = math.inf if meta.get("psnr_inf") else meta.get("psnr")
        return cls(
            path=meta["path"],
            fps=float(meta["fps"]),
            judge=meta["judge"],
            classes=tuple(meta["classes"]),
            probs=arrays["probs"],
            opening=arrays["opening"],
            features=arrays["features"],
            identity=arrays.get("identity"),
            psnr=math.nan if psnr_value is None else float(psnr_value),
            ssim=math.nan if meta.get("ssim") is None else float(meta["ssim"]),
            reference_frames=int(meta.get("reference_frames", 0)),
            notes=list(meta.get("notes", [])),
            setup=str(meta.get("setup", "")),
            realism=RealismTrack.from_arrays(arrays),
        )


FeatureFn = Callable[[torch.Tensor], np.ndarray]


def _frames(path: Path) -> Iterator[Any]:
    with VideoReader(path) as reader:
        yield from reader


def measure_video(
    path: str | Path,
    judge: EmotionClassifier,
    *,
    features: FeatureFn | None = None,
    identity: Any | None = None,
    identity_every: int = 5,
    reference: str | Path | None = None,
    tracker: FaceTracker | None = None,
    batch_size: int = 32,
    realism: bool = True,
    quality_every: int | None = None,
    align_to: VideoMeasurement | None = None,
) -> VideoMeasurement:
    """Measure one video (see the module docstring). ``identity`` is a
    :class:`~wav2lip_emotion.perception.identity.FaceIdentity` (None: not measured); ``features`` maps
    a [B, 3, H, W] RGB batch in [0, 1] to [B, D] (None: not measured). ``realism``: collect the realism
    values, BRISQUE on every ``quality_every``-th frame (None: :data:`~.realism.QUALITY_EVERY`; 0: no
    BRISQUE). ``align_to``: the measurement of the source this video was translated from, frame by frame
    with its head pose: the flicker is then measured in the source's alignment
    (:class:`~.realism.RealismAccumulator`). MediaError for an unreadable video or one without any face."""
    path = Path(path)
    info = probe_video(path)
    tracker = tracker or FaceTracker(TrackerConfig(smooth=False))
    tracker.reset()
    probs: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    openings: list[float] = []
    descriptors: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    slots: list[bool] = []
    sq_errors: list[float] = []
    ssims: list[float] = []
    notes: list[str] = []
    n_classes = len(judge.classes)
    realism_acc = None
    if realism:
        realism_acc = RealismAccumulator(
            **({} if quality_every is None else {"quality_every": quality_every}),
            align_to=align_to.realism if align_to is not None and align_to.realism.frames else None,
        )

    def flush() -> None:
        if pending:
            batch = torch.from_numpy(np.stack(pending)).permute(0, 3, 1, 2).float() / 255.0
            with torch.inference_mode():
                p = judge(batch).numpy().astype(np.float64)
                if features is not None:
                    feats.append(np.asarray(features(batch), dtype=np.float32))
            rows = iter(p)
        else:
            rows = iter(())
        for has_face in slots:
            probs.append(next(rows) if has_face else np.full(n_classes, np.nan))
        pending.clear()
        slots.clear()

    ref_iter = _frames(Path(reference)) if reference is not None else None
    ref_frames = 0
    for i, frame in enumerate(_frames(path)):
        obs = tracker.update(frame.rgb, frame.time)
        slots.append(obs.found)
        if obs.found:
            pending.append(FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(frame.rgb))
            openings.append(mouth_opening(obs.landmarks))
            if identity is not None and i % identity_every == 0:
                with contextlib.suppress(MediaError):  # dlib misses a face the mesh found: skip that sample
                    descriptors.append(identity.descriptor(frame.rgb, obs.box, box_kind="mesh", what=str(path)))
        else:
            openings.append(math.nan)
        if realism_acc is not None:
            realism_acc.add(frame.rgb, obs.landmarks if obs.found else None, obs.box, obs.score)
        if ref_iter is not None:
            ref = next(ref_iter, None)
            if ref is None:
                ref_iter = None
            else:
                ref_frames += 1
                if ref.rgb.shape != frame.rgb.shape:
                    raise MediaError(
                        f"{reference}: frame size {ref.rgb.shape[1]}x{ref.rgb.shape[0]} differs from "
                        f"{path}'s {frame.rgb.shape[1]}x{frame.rgb.shape[0]}; PSNR/SSIM need the same size"
                    )
                _, mse = psnr(frame.rgb, ref.rgb)
                sq_errors.append(mse)
                ssims.append(ssim(frame.rgb, ref.rgb))
        if len(slots) >= batch_size:
            flush()
    flush()
    if ref_iter is not None:
        ref_frames += sum(1 for _ in ref_iter)
    if not probs:
        raise MediaError(f"{path}: no frames")
    probs_arr = np.array(probs, dtype=np.float64).reshape(-1, n_classes)
    if not np.isfinite(probs_arr).all(axis=1).any():
        raise MediaError(f"{path}: no face found in any of its {len(probs)} frames")
    out = VideoMeasurement(
        path=str(path),
        fps=float(info.fps),
        judge=judge.name,
        classes=tuple(judge.classes),
        probs=probs_arr,
        opening=np.array(openings, dtype=np.float64),
        features=np.concatenate(feats) if feats else np.zeros((0, 0), dtype=np.float32),
        identity=np.mean(descriptors, axis=0) if descriptors else None,
        notes=notes,
        realism=realism_acc.track() if realism_acc is not None else RealismTrack.empty(),
    )
    if reference is not None:
        out.reference_frames = ref_frames
        if sq_errors:
            mse = float(np.mean(sq_errors))
            out.psnr = math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
            out.ssim = float(np.mean(ssims))
        if ref_frames != len(probs):
            notes.append(
                f"{len(probs)} frames against {ref_frames} in the reference; compared the first {len(sq_errors)}"
            )
    if identity is not None and not descriptors:
        notes.append("no identity descriptor: dlib found no face in the sampled frames")
    return out
