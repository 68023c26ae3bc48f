"""The package's shape, as docs/architecture.md draws it: imports run downwards only, no package cycle,
no private name crosses a module, no module is much over 500 lines without a stated reason, and the
bottom of the package loads without torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "wav2lip_emotion"

#: the layers, bottom first; a module may import from its own layer or any layer below (see docs/architecture.md)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "messages", "emotions", "atomic", "devices", "assets"),
    ("media", "audio", "visual"),
    ("faces",),
    ("expression", "perception", "ports"),
    ("world", "data"),
    ("models", "checkpoints"),
    ("train", "translation"),
    ("evaluation", "reproduce"),
    ("demo", "demo_world", "app"),
    ("cli", "__main__"),
)
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}

#: modules allowed over MAX_LINES, each with its reason
MAX_LINES = 520
LONG_MODULES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports() -> list[tuple[str, str, list[str], int]]:
    """(importing module, imported module, names, line) for every import of the package, lazy ones included."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [a.name for a in node.names]
                if target.startswith("wav2lip_emotion"):
                    found.append((module, target, names, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("wav2lip_emotion"):
                        found.append((module, alias.name, [], node.lineno))
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(target: str, names: list[str]) -> list[str]:
    """``from wav2lip_emotion import x`` imports the submodule x when there is one."""
    if target != "wav2lip_emotion":
        return [target]
    return [f"wav2lip_emotion.{n}" for n in names if n != "__version__"] or [target]


def test_every_top_level_module_has_a_layer() -> None:
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    tops -= {"__init__", "__pycache__", "templates", "weights", "configs"}
    tops = {t for t in tops if (PACKAGE / t).is_file() or any((PACKAGE / t).glob("*.py"))}
    assert sorted(tops - set(LAYER_OF)) == []


def test_imports_run_downwards_only() -> None:
    upwards = []
    for module, target, names, line in _imports():
        for imported in _resolve(target, names):
            a, b = _top(module), _top(imported)
            if not a or not b or a == b:
                continue  # the root facade (lazy translate/evaluate, __version__) and imports inside a package
            if LAYER_OF[b] > LAYER_OF[a]:
                upwards.append(f"{module}:{line} imports {imported} (layer {LAYER_OF[b]} above {LAYER_OF[a]})")
    assert upwards == []


def test_no_package_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, target, names, _ in _imports():
        for imported in _resolve(target, names):
            a, b = _top(module), _top(imported)
            if a and b and a != b:
                graph[a].add(b)
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in seen and (cycle := visit(nxt)):
                return cycle
        seen[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in seen:
            assert visit(node) is None


def test_no_private_name_crosses_a_module() -> None:
    crossing = [
        f"{module}:{line} imports {name} from {target}"
        for module, target, names, line in _imports()
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert crossing == []


def test_no_module_over_about_500_lines_without_a_reason() -> None:
    long = {}
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[_module_name(path)] = lines
    assert sorted(set(long) - set(LONG_MODULES)) == []
    assert sorted(set(LONG_MODULES) - set(long)) == []  # the list stays honest


@pytest.mark.parametrize(
    "module",
    [
        "wav2lip_emotion.emotions",
        "wav2lip_emotion.errors",
        "wav2lip_emotion.atomic",
        "wav2lip_emotion.assets",
        "wav2lip_emotion.data.layouts",
        "wav2lip_emotion.data.records",
    ],
)
def test_the_bottom_loads_without_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
