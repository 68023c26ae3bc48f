"""The ``wav2lip-emotion`` command: a thin layer over the Python API, built from its configs.

One module per command group (:mod:`.models`, :mod:`.faces`, :mod:`.data`, :mod:`.train`, :mod:`.translate`,
:mod:`.evaluate`, :mod:`.reproduce`, :mod:`.demo`, :mod:`.app`, :mod:`.assets`), each a tuple of
:class:`~.options.Command`. Every option that sets a field of a config dataclass (TranslateConfig,
EvaluateConfig, WorldConfig, PreprocessConfig, ReproduceConfig, DemoConfig, AppOptions, TrackerConfig, ...) is
bound to that field (:func:`.options.add_option`): its default and the default its help shows are the
field's, and the config is built from the options the user gave (:func:`.options.config_from_args`).

The parser is built on demand, never at import time, and only the chosen command's options are added
(so ``--help`` and ``assets`` do not import torch); :func:`build_parser` without a command builds them all.

Output streams, the same for every command:

* **stdout**: the results the user asked for: tables, JSON, the summary of what the command found or made,
  and the paths of the files it wrote (``wrote PATH``; ``assets path`` prints just the path). Nothing else,
  so it can be piped or captured.
* **stderr**: progress bars, step and status lines while it runs (``[1/3] ...``, ``fetching ...``, the app's
  address, training log lines), warnings.
* **errors**: one line ``wav2lip-emotion: error: ...`` on stderr and exit status 1 (argparse's usage errors:
  status 2; Ctrl-C: ``wav2lip-emotion: interrupted``, status 130).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import Wav2LipEmotionError
from . import app, assets, data, demo, evaluate, faces, models, reproduce, train, translate
from .options import Command, commands_of

#: the command modules, in the order ``--help`` lists their commands
GROUPS = (models, faces, data, train, translate, evaluate, reproduce, demo, app, assets)


def commands() -> list[Command]:
    """Every sub-command, in ``--help`` order."""
    return commands_of(GROUPS)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``command``, only that command gets its options (the others only their names
    and help lines), so that only the configs it uses are imported."""
    parser = argparse.ArgumentParser(
        prog="wav2lip-emotion",
        description=(
            "Change the facial emotion of a person in a talking-face video while keeping lip sync, "
            "identity and head pose (Wav2Lip-Emotion, reimplemented)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in commands():
        cmd.add_to(sub, with_options=command is None or cmd.name == command)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), if it is one."""
    names = {c.name for c in commands()}
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in names else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_chosen(argv) or "").parse_args(argv)
    try:
        return int(args.func(args))
    except Wav2LipEmotionError as exc:
        print(f"wav2lip-emotion: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wav2lip-emotion: interrupted", file=sys.stderr)
        return 130


__all__ = ["build_parser", "commands", "main"]
