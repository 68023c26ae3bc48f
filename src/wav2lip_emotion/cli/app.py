"""The ``app`` command: the local web page (:class:`~wav2lip_emotion.app.AppOptions`, upload
:class:`~wav2lip_emotion.app.Limits`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Wav2LipEmotionError
from .options import Command, add_option, config_from_args

if TYPE_CHECKING:
    from ..app import AppOptions

MB = 1024 * 1024


def megabytes(text: str) -> int:
    """``--max-upload-mb``: megabytes (a float) as bytes."""
    return int(float(text) * MB)


def app_options(args: argparse.Namespace) -> AppOptions:
    """The ``app`` options given, the rest AppOptions's and Limits's defaults."""
    from ..app import AppOptions, Limits

    limits = config_from_args(Limits, args)
    if limits.max_bytes <= 0 or limits.max_seconds <= 0:
        raise Wav2LipEmotionError("--max-upload-mb and --max-seconds must be positive")
    return config_from_args(AppOptions, args, limits=limits)


def _run_app(args: argparse.Namespace) -> int:
    from ..app import serve

    serve(app_options(args))
    return 0


def _app_options(p: argparse.ArgumentParser) -> None:
    from ..app import AppOptions, Limits

    add_option(
        p,
        "--host",
        source=AppOptions,
        help="address to listen on (default %(default)s: this machine only)",
    )
    add_option(p, "--port", source=AppOptions, type=int, help="port (default %(default)s)")
    add_option(
        p,
        "--checkpoints",
        source=AppOptions,
        type=Path,
        metavar="DIR",
        help="also offer every .safetensors generator under DIR",
    )
    add_option(
        p,
        "--max-upload-mb",
        source=Limits,
        field="max_bytes",
        type=megabytes,
        show=lambda size: f"{size / MB:g}",
        help="largest upload in MB (default %(default)s)",
    )
    add_option(p, "--max-seconds", source=Limits, type=float, help="longest video in seconds (default %(default)s)")
    add_option(
        p,
        "--workdir",
        source=AppOptions,
        type=Path,
        metavar="DIR",
        help="make the temporary folder here (default: the system's)",
    )
    add_option(
        p,
        "--no-analysis",
        source=AppOptions,
        field="analyse",
        action="store_false",
        help="skip the per-frame emotions and realism checks",
    )


COMMANDS = (
    Command(
        "app",
        "a local web page: upload a video or photo, translate it, compare, measure, download",
        _run_app,
        _app_options,
        description="Serve a web page (Gradio; needs the app extra) to translate an uploaded video or photo, or a "
        "bundled sample, with the mesh engine or a learned checkpoint, and see the result next to the source with "
        "the emotion judge's per-frame probabilities and realism checks. Jobs run one at a time and can be "
        "cancelled. Listens on 127.0.0.1 unless --host says otherwise. See docs/app.md.",
    ),
)
