"""What a translation run does: one typed config shared by the command line and the Python API."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..devices import DEVICES
from ..emotions import parse_emotion
from ..errors import ConfigError
from ..expression.intensity import IntensitySchedule
from ..faces import CropConfig, MaskMode, PasteMode, TrackerConfig
from ..faces.glasses import GLASSES_MODES

#: the engines: mesh = training-free warp of the real face (default), model = a learned generator
ENGINES = ("mesh", "model")
#: default x264 quality of each engine's output (see TranslateConfig.crf)
MODEL_CRF, MESH_CRF = 18, 14
#: x264's quantisation dead zones (inter, intra) for the mesh engine's output: small ones keep the
#: source's fine texture, which x264's own (21, 11) round away (see TranslateConfig.crf)
MESH_DEADZONES = (6, 4)
#: output names translate writes for a video (H.264 in an MP4 container)
OUTPUT_SUFFIXES = (".mp4", ".m4v", ".mov")
#: crop margin used when the checkpoint does not record one (the face cache's default)
DEFAULT_CROP_PADDING = 0.1


def parse_intensity(value: float | None) -> float | None:
    """An intensity in [0, 1]: values in [0, 1] are taken as they are, values in (1, 3] as a MEAD level
    (level / 3, so 2 -> 0.667 and 3 -> 1.0). None stays None (the model's full strength)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"intensity must be a number in 0..1 or a level in 1..3, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or v > 3:
        raise ConfigError(f"intensity must be in 0..1 (fraction) or 1..3 (MEAD level), got {value!r}")
    return v if v <= 1 else v / 3.0


@dataclass
class TranslateConfig:
    """Settings of one translation: ``wav2lip-emotion translate`` and :func:`wav2lip_emotion.translate`."""

    #: destination emotion (neutral, happy, sad, angry, disgusted, fear, surprised, contempt or a synonym)
    to: str
    #: mesh (training-free, edits any real clip or photo, needs no audio) or model (a learned generator:
    #: ``checkpoint``, else the shipped in-world model). None = mesh, or model when a checkpoint or a
    #: loaded translator is given (see :meth:`engine_for`)
    engine: str | None = None
    #: source emotion. Mesh engine: the expression the face holds at rest (None = estimated from its
    #: shape). Model: what a paired checkpoint was trained from, or "unknown" for a conditional one
    source: str | None = None
    #: how strong the destination emotion is. Mesh engine: 0..1.5 (0 = unchanged, 1 = the prototype,
    #: more exaggerates), ``level1``..``level3`` (also the bare numbers 2 and 3), or a schedule over time
    #: such as "0s:0,2s:1,5.5s:1,6s:0" (smoothly eased). Model: 0..1 or a MEAD level 1..3, conditional
    #: checkpoints only. None = 1
    intensity: float | str | None = None
    #: mesh engine: fade the edit out where a hand or another object covers the face
    occluders: bool = True
    #: mesh engine: hold the eyes and brows under a glasses frame still, so that the frame never bends.
    #: auto = where a frame is clearly seen (thick frames; thin and rimless ones are often missed), on =
    #: always (the frame's shape measured on the face, or a generous default), off = never
    glasses: str = "auto"
    #: generator checkpoint: ours (.safetensors, plain or conditional) or an official .pth. None = the
    #: model shipped with the package
    checkpoint: Path | None = None
    #: half (lower half of the face, Wav2Lip's) or full (whole face, Wav2Lip-Emotion's). None = what
    #: the checkpoint records; official .pth files do not record it, so it is inferred from how the
    #: model treats the first faces of the video (see docs/translate.md)
    mask: MaskMode | None = None
    #: faces per generator call. None = 8 on CPU (fastest on a 2-core machine), 32 on a GPU
    batch_size: int | None = None
    #: auto = cuda, then mps, then cpu
    device: str = "auto"
    #: also write source | translated next to each other (with the audio) to this file
    side_by_side: Path | None = None
    #: face track from ``wav2lip-emotion faces --json`` instead of tracking here (same video)
    faces: Path | None = None
    #: replace = the generated face replaces the original inside the mask (as published); detail = only
    #: the generator's change is added, keeping the original's resolution where nothing changed
    paste: PasteMode = PasteMode.REPLACE
    #: margin of the model crop around the face, as a fraction of its side. None = the checkpoint's
    #: (the face cache it was trained on), else 0.1
    crop_padding: float | None = None
    #: grow the pasted region beyond the face-mesh hull by this fraction of the crop side (jaw movement)
    paste_grow: float = 0.06
    #: x264 quality of the output (0 = lossless, 18 = visually lossless, 51 = worst) and speed preset.
    #: None = 18 for the learned engine, 14 for the mesh engine. The mesh engine's output keeps the
    #: source's own detail, so it is encoded with small dead zones (:data:`MESH_DEADZONES`): re-encoded
    #: unchanged, movie-hello's face kept 0.94 of its Laplacian variance at crf 12 with x264's own dead
    #: zones (the setting until 2026-12-05) and keeps 1.00 at crf 14 with these, at the same PSNR and
    #: with 30% more bits (docs/media.md)
    crf: int | None = None
    preset: str = "veryfast"
    #: video, either engine: the output is encoded in pieces of this many seconds, kept (with the mesh
    #: engine's tracked faces) in a hidden folder next to it (``.OUTPUT.resume``) until the whole is
    #: joined, so that a run stopped by a crash or Ctrl-C goes on where it stopped when run again
    #: (docs/translate.md); 0 = one piece, nothing kept (a stopped run starts over)
    resume_every: float = 10.0
    #: CPU threads for torch (None = torch's default: all cores)
    threads: int | None = None
    #: show a progress bar (frames/s, ETA) on stderr
    progress: bool = True
    #: called as ``on_progress(done, total)`` while it runs (frames; the mesh engine counts its two
    #: passes, so total = 2 x frames; total None when the length is unknown)
    on_progress: Callable[[int, int | None], None] | None = field(default=None, repr=False, compare=False)
    #: face detection and tracking settings
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    def __post_init__(self) -> None:
        self.to = parse_emotion(self.to).value
        self.glasses = str(self.glasses).lower()
        if self.glasses not in GLASSES_MODES:
            raise ConfigError(f"glasses must be one of {', '.join(GLASSES_MODES)}, got {self.glasses!r}")
        if self.source is not None:
            self.source = parse_emotion(self.source).value
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint)
        if self.engine is not None:
            self.engine = str(self.engine).lower()
            if self.engine not in ENGINES:
                raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "mesh" and self.checkpoint is not None:
            raise ConfigError(
                f"{self.checkpoint}: a checkpoint is for the learned engine; use --engine model (or drop --engine)"
            )
        if self.engine == "mesh" or (self.engine is None and self.checkpoint is None):
            # the mesh engine's intensity (also the default engine's): a number is kept as a number
            schedule = IntensitySchedule.parse(self.intensity)
            if self.intensity is not None and schedule.is_constant and ":" not in str(self.intensity):
                self.intensity = schedule.keys[0][1]
        else:
            if isinstance(self.intensity, str):
                try:
                    self.intensity = float(self.intensity)
                except ValueError:
                    raise ConfigError(
                        f"intensity {self.intensity!r}: schedules over time need the mesh engine (--engine mesh)"
                    ) from None
            self.intensity = parse_intensity(self.intensity)
        if self.mask is not None:
            try:
                self.mask = MaskMode(str(getattr(self.mask, "value", self.mask)).lower())
            except ValueError:
                raise ConfigError(f"mask must be half, full or none, got {self.mask!r}") from None
        try:
            self.paste = PasteMode(str(getattr(self.paste, "value", self.paste)).lower())
        except ValueError:
            raise ConfigError(f"paste must be replace or detail, got {self.paste!r}") from None
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.side_by_side is not None:
            self.side_by_side = Path(self.side_by_side)
        if self.faces is not None:
            self.faces = Path(self.faces)
        if self.crop_padding is not None:
            CropConfig(padding=float(self.crop_padding))  # range check
        if not 0 <= self.paste_grow <= 0.5:
            raise ConfigError(f"paste_grow must be in [0, 0.5], got {self.paste_grow}")
        if not (isinstance(self.resume_every, int | float) and 0 <= self.resume_every < float("inf")):
            raise ConfigError(f"resume_every must be 0 or a number of seconds, got {self.resume_every!r}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")

    def crf_for(self, engine: str) -> int:
        """The x264 quality used by ``engine``."""
        return self.crf if self.crf is not None else (MESH_CRF if engine == "mesh" else MODEL_CRF)

    def deadzones_for(self, engine: str) -> tuple[int, int] | None:
        """The x264 dead zones used by ``engine`` (None: x264's own)."""
        return MESH_DEADZONES if engine == "mesh" else None

    def engine_for(self, translator_given: bool = False) -> str:
        """The engine this run uses."""
        if self.engine is not None:
            return self.engine
        return "model" if self.checkpoint is not None or translator_given else "mesh"

    def with_overrides(self, **changes: Any) -> TranslateConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
