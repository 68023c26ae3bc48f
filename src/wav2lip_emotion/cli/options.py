"""Shared pieces of the command line: commands as data, options bound to config fields, configs from options.

An option bound to a field of a config dataclass (or to a parameter of a function) with :func:`add_option`
has no argparse default: the namespace holds it only when the user gave it, and :func:`config_from_args`
builds the config from the given options, so every other setting keeps the dataclass's own default. Its
help text shows that default (``%(default)s`` is filled in from the field), so the defaults are written
once, in the configs.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..devices import DEVICES

T = TypeVar("T")

#: the attribute :func:`add_option` sets on each action it adds: (config class or function, field name)
BOUND = "wav2lip_emotion_field"


@dataclass(frozen=True)
class Command:
    """One sub-command: its name and texts, the function adding its options, and the function running it."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    #: adds the options; called only when the command is used (or when the whole parser is built), so that
    #: the modules its defaults come from are imported only then
    options: Callable[[argparse.ArgumentParser], None]
    description: str | None = None
    epilog: str | None = None
    raw_text: bool = False

    def add_to(self, sub: Any, *, with_options: bool = True) -> argparse.ArgumentParser:
        """Add this command to ``sub`` (the subparsers action); its options too unless ``with_options`` is False."""
        extra: dict[str, Any] = {"formatter_class": argparse.RawDescriptionHelpFormatter} if self.raw_text else {}
        parser: argparse.ArgumentParser = sub.add_parser(
            self.name, help=self.help, description=self.description, epilog=self.epilog, **extra
        )
        if with_options:
            self.options(parser)
        parser.set_defaults(func=self.run)
        return parser


def default_of(source: Any, name: str) -> Any:
    """The default of field ``name`` of a dataclass, or of parameter ``name`` of a function."""
    if dataclasses.is_dataclass(source):
        for f in dataclasses.fields(source):
            if f.name == name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
                raise TypeError(f"{source.__name__}.{name} has no default")
        raise TypeError(f"{source.__name__} has no field {name!r}")
    parameter = inspect.signature(source).parameters[name]
    if parameter.default is inspect.Parameter.empty:
        raise TypeError(f"{source.__name__}({name}) has no default")
    return parameter.default


def shown(value: Any) -> str:
    """A default as a help text shows it: enums by value, sequences comma-separated, None as 'none'."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return ",".join(shown(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def add_option(
    parser: argparse.ArgumentParser,
    *flags: str,
    source: Any,
    field: str | None = None,
    show: Callable[[Any], str] = shown,
    **kwargs: Any,
) -> argparse.Action:
    """Add an option bound to ``field`` of ``source`` (a config dataclass or a function; the field defaults to the
    long flag's name, ``--max-misses`` -> ``max_misses``). The option has no default of its own (it is in the
    namespace only when given); ``%(default)s`` in its help shows the source's default, written by ``show``."""
    name = field or next(f for f in flags if f.startswith("--")).lstrip("-").replace("-", "_")
    if "%(default)s" in kwargs.get("help", ""):
        kwargs["help"] = kwargs["help"].replace("%(default)s", show(default_of(source, name)).replace("%", "%%"))
    action = parser.add_argument(*flags, dest=name, default=argparse.SUPPRESS, **kwargs)
    setattr(action, BOUND, (source, name))
    return action


def add_device(parser: argparse.ArgumentParser, source: Any, help: str = "default %(default)s") -> argparse.Action:
    """``--device``, bound to ``source.device``, with the device names of :data:`wav2lip_emotion.devices.DEVICES`."""
    return add_option(parser, "--device", source=source, choices=DEVICES, help=help)


def add_quiet(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``-q/--quiet`` (the configs' ``progress = not quiet``)."""
    parser.add_argument("-q", "--quiet", action="store_true", help=help)


def given(source: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The options the user gave that are fields of ``source`` (a dataclass), or parameters with a default of
    ``source`` (a function: its positional inputs are the command's own business); lists become tuples."""
    if dataclasses.is_dataclass(source):
        names = [f.name for f in dataclasses.fields(source)]
    else:
        parameters = inspect.signature(source).parameters.values()
        names = [p.name for p in parameters if p.default is not inspect.Parameter.empty]
    values = vars(args)
    return {n: tuple(values[n]) if isinstance(values[n], list) else values[n] for n in names if n in values}


def config_from_args(config: Callable[..., T], args: argparse.Namespace, /, **values: Any) -> T:
    """``config`` (a dataclass) from the options the user gave and ``values`` (worked out by the command, and
    taking precedence); every other field keeps the dataclass's default."""
    return config(**{**given(config, args), **values})


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def comma_list_or_all(text: str) -> tuple[str, ...] | None:
    """As :func:`comma_list`, but an empty list is None (the configs' "all")."""
    return comma_list(text) or None


def int_list(text: str) -> tuple[int, ...]:
    """``"1,3"`` -> ``(1, 3)`` (a ValueError becomes argparse's usage error)."""
    return tuple(int(t) for t in comma_list(text))


def int_list_or_all(text: str) -> tuple[int, ...] | None:
    """As :func:`int_list`, but an empty list is None (the configs' "all")."""
    return int_list(text) or None


def bound_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action added by :func:`add_option` in ``parser`` and its sub-parsers (for tests and docs)."""
    found: list[argparse.Action] = []
    for action in parser._actions:
        if hasattr(action, BOUND):
            found.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += bound_actions(sub)
    return found


def commands_of(groups: Sequence[Any]) -> list[Command]:
    """The :class:`Command` objects of the command modules, in order."""
    return [c for g in groups for c in g.COMMANDS]
