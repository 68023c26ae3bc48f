"""The preprocessed face cache: one directory per video with memory-mappable arrays.

Layout (format version 1)::

    <root>/cache.json                      format, face size, fps, crop padding, layout of the source
    <root>/videos/<id>/frames.npy          uint8 [T, S, S, 3]  RGB face crops at the model size S
    <root>/videos/<id>/masks.npy           uint8 [T, S, S]     255 inside the full-face mask (mesh hull)
    <root>/videos/<id>/found.npy           bool  [T]           a face was found in the frame
    <root>/videos/<id>/mel.npy             float32 [80, M]     the mel spectrogram of the 16 kHz audio
    <root>/videos/<id>/meta.json           the video's record (written last: its presence = complete)
<root>/videos/aligned/<source id>/<emotion>_level_<n>/...   (world, ``preprocess --aligned``) the
                                       aligned render of a take in another emotion, cropped with the
                                       take's own face boxes so that its pixels line up with it
    <root>/failed.json                     videos that could not be used, with the reason
    <root>/manifest.json                   summary of the last run (ids, counts)

``<id>`` is the video's relative id (``M003/front/happy/level_3/001``, LRS2 ``<folder>/<clip>``), used
as a directory path. Frames are at ``fps`` (25) from the start of the video; frame i's audio starts at
mel step int(80 * i / fps). Frames without a face hold zeros and ``found`` False. Each video directory
is built under a temporary name and renamed into place, so a crash never leaves a half-written video.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..errors import CacheError

CACHE_FORMAT = "wav2lip-emotion-face-cache"
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheInfo:
    """``cache.json``: how the cache was made (all videos share it)."""

    size: int
    fps: float
    padding: float
    layout: str
    format: str = CACHE_FORMAT
    version: int = CACHE_VERSION


@dataclass(frozen=True)
class CachedVideo:
    """``meta.json`` of one cached video."""

    id: str
    actor: str
    sentence: str
    emotion: str | None
    level: int | None
    view: str | None
    gender: str | None
    frames: int
    found: int
    mel_steps: int
    source: str
    audio_source: str
    #: an aligned render (generated world): the id of the source take it re-renders in ``emotion`` /
    #: ``level`` with the same timing and pose; such videos are L1 targets only, never records
    aligned_from: str | None = None

    def record(self) -> Any:
        """The video as a :class:`~wav2lip_emotion.data.records.VideoRecord` (for splits and pairing)."""
        from .records import VideoRecord

        return VideoRecord(
            id=self.id,
            actor=self.actor,
            sentence=self.sentence,
            emotion=self.emotion,
            level=self.level,
            view=self.view,
            frames=self.frames,
            gender=self.gender,
        )


class FaceCache:
    """Read access to a preprocessed cache (arrays are memory-mapped, nothing is loaded up front)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        info_path = self.root / "cache.json"
        if not info_path.is_file():
            raise CacheError(f"{self.root}: not a face cache (no cache.json); run 'wav2lip-emotion preprocess' first")
        try:
            data = json.loads(info_path.read_text())
            self.info = CacheInfo(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise CacheError(f"{info_path}: unreadable cache description ({exc})") from None
        if self.info.format != CACHE_FORMAT or self.info.version > CACHE_VERSION:
            raise CacheError(f"{info_path}: cache format {self.info.format} v{self.info.version} is not supported")
        self._videos: dict[str, CachedVideo] | None = None
        self._aligned: dict[tuple[str, str, int | None], str] | None = None

    @property
    def videos(self) -> dict[str, CachedVideo]:
        """Every complete video, by id (found by their meta.json files)."""
        if self._videos is None:
            found: dict[str, CachedVideo] = {}
            base = self.root / "videos"
            for meta in sorted(base.rglob("meta.json")) if base.is_dir() else []:
                if any(part.startswith(".tmp-") for part in meta.relative_to(base).parts):
                    continue
                try:
                    video = CachedVideo(**json.loads(meta.read_text()))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise CacheError(f"{meta}: damaged video record ({exc})") from None
                found[video.id] = video
            self._videos = found
        return self._videos

    def records(self) -> list[Any]:
        """The videos to split and pair (aligned renders are left out: they are targets only)."""
        return [v.record() for v in self.videos.values() if v.aligned_from is None]

    def aligned_renders(self) -> dict[tuple[str, str, int | None], str]:
        """(source id, destination emotion, destination level) -> id of the cached aligned render."""
        if self._aligned is None:
            self._aligned = {
                (str(v.aligned_from), str(v.emotion), v.level): v.id
                for v in self.videos.values()
                if v.aligned_from is not None
            }
        return self._aligned

    def path(self, video_id: str) -> Path:
        return self.root / "videos" / video_id

    def _array(self, video_id: str, name: str) -> np.ndarray:
        path = self.path(video_id) / f"{name}.npy"
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise CacheError(f"{path}: missing or damaged ({exc})") from None

    def frames(self, video_id: str) -> np.ndarray:
        """uint8 [T, S, S, 3] face crops (memory-mapped)."""
        return self._array(video_id, "frames")

    def masks(self, video_id: str) -> np.ndarray:
        """uint8 [T, S, S], 255 inside the full-face mask."""
        return self._array(video_id, "masks")

    def found(self, video_id: str) -> np.ndarray:
        return self._array(video_id, "found")

    def mel(self, video_id: str) -> np.ndarray:
        """float32 [80, M] mel spectrogram (80 steps per second)."""
        return self._array(video_id, "mel")

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[CachedVideo]:
        return iter(self.videos.values())


class FaceCacheWriter:
    """Builds one video's cache directory under a temporary name; :meth:`commit` renames it into place.

    Frames are appended one at a time to raw files (bounded memory whatever the video's length) and
    turned into ``.npy`` arrays at the end.
    """

    def __init__(self, root: Path, video_id: str, size: int) -> None:
        self.root = root
        self.final = root / "videos" / video_id
        (root / "videos").mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root / "videos"))
        self.size = size
        self.count = 0
        self._frames = (self.tmp / "frames.raw").open("wb")
        self._masks = (self.tmp / "masks.raw").open("wb")
        self._found: list[bool] = []

    def add(self, crop: np.ndarray | None, mask: np.ndarray | None) -> None:
        s = self.size
        if crop is None:
            self._frames.write(bytes(s * s * 3))
            self._masks.write(bytes(s * s))
        else:
            self._frames.write(np.ascontiguousarray(crop, dtype=np.uint8).tobytes())
            self._masks.write(np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
        self._found.append(crop is not None)
        self.count += 1

    def _to_npy(self, raw: Path, shape: tuple[int, ...]) -> None:
        src = np.memmap(raw, dtype=np.uint8, mode="r", shape=shape) if shape[0] else np.zeros(shape, np.uint8)
        out = np.lib.format.open_memmap(raw.with_suffix(".npy"), mode="w+", dtype=np.uint8, shape=shape)
        for start in range(0, shape[0], 256):
            out[start : start + 256] = src[start : start + 256]
        out.flush()
        del out, src
        raw.unlink()

    def commit(self, mel: np.ndarray, meta: CachedVideo) -> None:
        self._frames.close()
        self._masks.close()
        s = self.size
        self._to_npy(self.tmp / "frames.raw", (self.count, s, s, 3))
        self._to_npy(self.tmp / "masks.raw", (self.count, s, s))
        np.save(self.tmp / "found.npy", np.array(self._found, dtype=bool))
        np.save(self.tmp / "mel.npy", mel.astype(np.float32))
        write_json_atomic(self.tmp / "meta.json", asdict(meta))
        self.final.parent.mkdir(parents=True, exist_ok=True)
        if self.final.exists():  # a stale, incomplete copy (no meta.json) from an older layout
            shutil.rmtree(self.final)
        os.rename(self.tmp, self.final)

    def abort(self) -> None:
        for fh in (self._frames, self._masks):
            if not fh.closed:
                fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def clean_partial(root: Path) -> int:
    """Remove temporary video directories left by a crashed run; returns how many."""
    base = root / "videos"
    removed = 0
    if base.is_dir():
        for tmp in base.glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed
