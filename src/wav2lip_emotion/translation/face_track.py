"""Per-frame faces read from a file (``translate --faces F.json``) instead of tracked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, TranslationError
from ..faces import FaceObservation
from ..faces.glasses import GlassesEvidence


class FaceTrackFile:
    """Per-frame faces from ``wav2lip-emotion faces --json`` (``frames``: index, found, box, landmarks)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: no such face-track file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{self.path}: not a face-track JSON file ({exc})") from None
        frames = data.get("frames") if isinstance(data, dict) else None
        if not isinstance(frames, list) or not frames:
            raise ConfigError(f"{self.path}: has no 'frames' list (write it with `wav2lip-emotion faces VIDEO --json`)")
        self.frames: dict[int, dict[str, Any]] = {}
        for i, rec in enumerate(frames):
            if not isinstance(rec, dict) or not isinstance(rec.get("index", i), int):
                raise ConfigError(f"{self.path}: frame record {i} is not an object with an integer index")
            self.frames[int(rec.get("index", i))] = rec
        self.count = max(self.frames) + 1
        #: the glasses evidence ``faces --json`` measured (since 2026-12-05), or None
        self.glasses: GlassesEvidence | None = None
        if isinstance(data, dict) and data.get("glasses") is not None:
            try:
                self.glasses = GlassesEvidence.from_json(data["glasses"])
            except ValueError as exc:
                raise ConfigError(f"{self.path}: malformed 'glasses' record: {exc}") from None

    def observation(self, index: int, time_s: float) -> FaceObservation:
        rec = self.frames.get(index)
        if rec is None:
            raise TranslationError(
                f"{self.path}: has no record for frame {index} (it covers {self.count} frames); was it made from "
                "this video?"
            )
        if not rec.get("found") or rec.get("box") is None:
            return FaceObservation(index, time_s, False)
        try:
            box = np.asarray(rec["box"], dtype=np.float64).reshape(4)
            lm = rec.get("landmarks")
            landmarks = None if lm is None else np.asarray(lm, dtype=np.float64)
            if landmarks is not None and (landmarks.ndim != 2 or landmarks.shape[1] not in (2, 3)):
                raise ValueError("landmarks are not [N, 2] or [N, 3]")
        except (TypeError, ValueError):
            raise TranslationError(f"{self.path}: frame {index} has a malformed box or landmarks") from None
        if landmarks is not None and landmarks.shape[1] == 2:  # written before depth was kept (2026-12-05)
            landmarks = np.concatenate([landmarks, np.zeros((len(landmarks), 1))], axis=1)
        return FaceObservation(
            index,
            time_s,
            True,
            box=box,
            landmarks=landmarks,
            score=float(rec.get("score", 1.0)),
            track=int(rec.get("track", 0)),
        )

    def mesh_track(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the mesh engine's tracking pass gives (see :func:`~.mesh_run.track_faces`), from the file:
        (landmarks [n, 468, 3], found [n], times [n], tracks [n]) for its ``count`` frames. Needs the 468
        mesh points with their depth (``faces --json`` since 2026-12-05): the engine fits the head's pose
        in 3D, and a flat mesh would take a turn of the head for an expression."""
        n = self.count
        landmarks = np.zeros((n, 468, 3), np.float32)
        valid = np.zeros(n, bool)
        times = np.zeros(n)
        tracks = np.full(n, -1, np.int64)
        for i in range(n):
            rec = self.frames.get(i)
            if rec is None:
                raise TranslationError(f"{self.path}: has no record for frame {i} of its {n}")
            times[i] = float(rec.get("time", 0.0))
            if not rec.get("found") or rec.get("landmarks") is None:
                continue
            lm = np.asarray(rec["landmarks"], dtype=np.float64) if isinstance(rec["landmarks"], list) else None
            if lm is None or lm.shape != (468, 3):
                shape = "?" if lm is None else "x".join(map(str, lm.shape))
                raise TranslationError(
                    f"{self.path}: frame {i} has landmarks of shape {shape}, the mesh engine needs the 468 mesh points "
                    "with depth (468x3): make the file again with `wav2lip-emotion faces VIDEO --json`"
                )
            landmarks[i], valid[i], tracks[i] = lm, True, int(rec.get("track", 0))
        return landmarks, valid, times, tracks
