"""What the page may choose from, and checks of what it sends: uploads, samples, engines, paths.

Nothing the browser sends is used as a path: an upload is a file the web server itself stored under the
app's folder (checked with :func:`inside`), a sample is a name looked up in :data:`SAMPLES`, an engine is a
label looked up in :class:`EngineCatalogue`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import Wav2LipEmotionError
from ..media import is_image_path
from .jobs import AppError

#: the bundled real media the page offers (asset name -> what it is)
SAMPLES: dict[str, str] = {
    "movie_hello": "video: a man saying hello (8.3 s, with speech)",
    "kphotoalbum_movie": "video: small talking face (4.5 s, with speech)",
    "single_face": "video: a face going from neutral to smiling (2.4 s, no sound)",
    "grace_hopper": "photo: portrait of Grace Hopper",
    "astronaut": "photo: astronaut Eileen Collins",
}
#: what an upload may be
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
UPLOAD_SUFFIXES = VIDEO_SUFFIXES + IMAGE_SUFFIXES
#: destination emotions in the order the menu offers them (all 8 of wav2lip_emotion.emotions.EMOTIONS;
#: the engine says which it can do)
EMOTION_CHOICES = ("happy", "sad", "neutral", "angry", "surprised", "fear", "disgusted", "contempt")
MESH_LABEL = "mesh (no model; any video or photo)"


@dataclass(frozen=True)
class Limits:
    """What one upload may be (``--max-upload-mb``, ``--max-seconds``)."""

    max_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 60.0

    @property
    def max_mb(self) -> float:
        return self.max_bytes / (1024 * 1024)


@dataclass(frozen=True)
class CheckedInput:
    """A video or photo that passed :func:`check_media`."""

    path: Path
    #: the name the person knows it by (the uploaded file's name, or the sample's file name)
    name: str
    kind: str  # "video" or "image"
    width: int
    height: int
    frames: int = 1
    seconds: float = 0.0
    fps: float = 0.0
    has_audio: bool = False

    def describe(self) -> str:
        if self.kind == "image":
            return f"{self.name}: photo {self.width}x{self.height}"
        sound = "with sound" if self.has_audio else "no sound"
        return (
            f"{self.name}: video {self.width}x{self.height}, {self.frames} frames at {self.fps:.3g} fps "
            f"({self.seconds:.1f} s), {sound}"
        )


def public_message(text: str, names: dict[str, str], *, one_line: bool = True) -> str:
    """``text`` (an error line) with each server path in ``names`` replaced by the name the person knows
    (on one line unless ``one_line`` is False): the message the command line prints for a file of that name."""
    for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if path:
            text = text.replace(path, name)
    return " ".join(text.split("\n")) if one_line else text


def inside(path: str | Path, roots: Iterable[str | Path]) -> bool:
    """True when ``path`` (links resolved) lies in one of ``roots``."""
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    for root in roots:
        try:
            real.relative_to(Path(root).resolve())
            return True
        except ValueError:
            continue
    return False


def check_media(path: Path, name: str, limits: Limits, *, check_size: bool = True) -> CheckedInput:
    """Check a file is a video or photo the app takes, within ``limits``. Raises a
    :class:`~wav2lip_emotion.errors.Wav2LipEmotionError` with one line that names ``name`` (never the
    server's path)."""
    from ..media import probe_video, read_image

    names = {str(path): name}
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise AppError(f"{name}: not a video or photo this app takes (use {', '.join(UPLOAD_SUFFIXES)})")
    try:
        size = path.stat().st_size
    except OSError:
        raise AppError(f"{name}: the upload did not arrive; try again") from None
    if check_size and size > limits.max_bytes:
        raise AppError(
            f"{name}: {size / (1024 * 1024):.0f} MB, more than this server's upload limit of {limits.max_mb:g} MB"
        )
    try:
        if is_image_path(path):
            rgb = read_image(path)
            return CheckedInput(path=path, name=name, kind="image", width=rgb.shape[1], height=rgb.shape[0])
        info = probe_video(path)
    except Wav2LipEmotionError as exc:
        raise type(exc)(public_message(str(exc), names)) from None
    if info.duration > limits.max_seconds + 0.5 / max(info.fps, 1.0):
        raise AppError(
            f"{name}: lasts {info.duration:.1f} s, longer than this server's limit of {limits.max_seconds:g} s"
        )
    return CheckedInput(
        path=path,
        name=name,
        kind="video",
        width=info.width,
        height=info.height,
        frames=info.frame_count,
        seconds=info.duration,
        fps=info.fps,
        has_audio=info.has_audio,
    )


def sample_path(name: str) -> Path:
    """The local file of a bundled sample (fetched into the asset cache if needed); AppError for a name
    not in :data:`SAMPLES`."""
    from ..assets.store import asset_path

    if name not in SAMPLES:
        raise AppError(f"{name!r}: not one of the samples ({', '.join(SAMPLES)})")
    return asset_path(name)


def engine_available(name: str) -> bool:
    """Whether this install's translate has the engine (the mesh engine came with the ``engine`` setting)."""
    if name != "mesh":
        return True
    import dataclasses
    import inspect

    from ..translation import TranslateConfig, translate

    fields = {f.name for f in dataclasses.fields(TranslateConfig)}
    return "engine" in fields or "engine" in inspect.signature(translate).parameters


class EngineCatalogue:
    """The engines the page offers, by label: the mesh engine, the shipped model, and every
    ``.safetensors`` file under ``--checkpoints DIR`` (labelled by its path inside DIR)."""

    def __init__(self, checkpoints_dir: str | Path | None = None, *, mesh: bool | None = None) -> None:
        from ..translation import shipped_checkpoint

        self.checkpoints_dir = Path(checkpoints_dir).resolve() if checkpoints_dir else None
        if self.checkpoints_dir is not None and not self.checkpoints_dir.is_dir():
            raise AppError(f"{checkpoints_dir}: --checkpoints must be a folder of .safetensors files")
        self.entries: dict[str, tuple[str, Path | None]] = {}
        if engine_available("mesh") if mesh is None else mesh:
            self.entries[MESH_LABEL] = ("mesh", None)
        shipped = shipped_checkpoint()
        if shipped is not None:
            self.entries[f"model: shipped ({shipped.name})"] = ("model", shipped)
        if self.checkpoints_dir is not None:
            for path in sorted(self.checkpoints_dir.rglob("*.safetensors")):
                if path.is_file():
                    self.entries[f"model: {path.relative_to(self.checkpoints_dir).as_posix()}"] = ("model", path)

    @property
    def labels(self) -> list[str]:
        return list(self.entries)

    @property
    def default(self) -> str | None:
        return next(iter(self.entries), None)

    def resolve(self, label: str) -> tuple[str, Path | None]:
        """(engine, checkpoint) of a label; AppError for anything else."""
        try:
            return self.entries[label]
        except KeyError:
            raise AppError(f"{label!r}: not one of this server's engines") from None


def safe_stem(name: str, default: str = "input") -> str:
    """A file-name stem made of letters, digits, '-' and '_' only (for output names)."""
    stem = Path(name).stem
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem).strip("_")
    return cleaned[:60] or default
