"""The installed wheel, not the source tree: build the wheel of this checkout, install it into a fresh venv and run
``wav2lip-emotion reproduce`` from a directory outside the checkout (``--help``, then the ``small`` budget's first
step, ``--until world``). Offline: the wheel is built without build isolation, installed with ``--no-index
--no-deps``, and the fresh venv borrows the dependencies of the running interpreter through a ``.pth`` file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the files of the checkout a wheel is built from
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src/wav2lip_emotion")

pytestmark = pytest.mark.wheel


def _env() -> dict[str, str]:
    """The environment of the commands: no PYTHONPATH (it would put a source tree first), pip offline and quiet."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONNOUSERSITE="1")
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args[:4]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel of this checkout; its python."""
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in the running venv")
    base = tmp_path_factory.mktemp("wheel")
    # a copy of the checkout: building in place would leave build/ and *.egg-info in it
    source = base / "source"
    for name in SOURCES:
        src, dst = ROOT / name, source / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, source], base, 600)
    (wheel,) = wheels.glob("wav2lip_emotion-*.whl")

    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, 60).stdout.strip()
    )
    # the dependencies: the running interpreter's site-packages, appended to the fresh venv's path. Its .pth files
    # (the editable install of this checkout among them) are not processed there, so the wheel's copy is the one
    # imported; the check below makes sure of it.
    own = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "zz_test_dependencies.pth").write_text("".join(f"{p}\n" for p in own))
    _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], base, 300)
    return python


def test_the_wheel_is_the_package_imported(installed: Path, tmp_path: Path) -> None:
    code = "import wav2lip_emotion as w; print(w.__file__)"
    where = Path(_run([installed, "-c", code], tmp_path, 120).stdout.strip())
    assert where.is_relative_to(installed.parents[1]), where  # inside the fresh venv, not the checkout
    code = "from wav2lip_emotion.reproduce import default_configs_dir as d; print(d())"
    configs = Path(_run([installed, "-c", code], tmp_path, 300).stdout.strip())
    assert configs.is_relative_to(installed.parents[1]) and (configs / "syncnet.toml").is_file(), configs
    assert (configs.parent / "mead" / "conditional.toml").is_file()


def test_reproduce_help_and_first_step_run_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    text = _run([installed, "-m", "wav2lip_emotion", "reproduce", "--help"], cwd, 300).stdout
    assert "{small,full}" in text and "--until" in text

    out = cwd / "repro"
    args = ["reproduce", "--budget", "small", "--out", "repro", "--until", "world", "--threads", "1", "-q"]
    done = _run([installed, "-m", "wav2lip_emotion", *args], cwd, 900)
    assert done.stdout.strip() == f"stopped after world: {Path('repro')}", done.stdout
    world = json.loads((out / "world" / "world.json").read_text())
    assert len(world["actors"]) == 6 and world["takes"]  # the small budget's world
    assert set(json.loads((out / "reproduction.json").read_text())["steps"]) == {"world"}
    assert not (out / "cache").exists() and not (out / "runs").exists()
    assert "[1/" in done.stderr and "stopped after world" in done.stderr  # progress lines on stderr
