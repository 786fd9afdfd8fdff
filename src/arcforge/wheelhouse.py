"""An offline wheelhouse: arcforge's own wheel and every wheel it needs, for one Python version and
platform, so that a machine with no network (a Kaggle notebook) installs it with

    pip install --no-index --find-links DIR arcforge            # or "arcforge[llm]"

    arcforge wheelhouse DIR                                       # for this machine
    arcforge wheelhouse DIR --python 3.11 --platform manylinux2014_x86_64 --extras llm

Kaggle's notebooks run CPython on x86_64 Linux with torch, transformers and safetensors installed
(3.11 assumed here, not checked on Kaggle: pass what `python --version` says in a notebook); the
default `--extras` (none) is what such a notebook lacks. Only wheels are taken (a notebook cannot
build an sdist).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from arcforge.errors import ArcError


def source_tree() -> Path:
    """The checkout arcforge runs from (its pyproject.toml): the wheel is built from it."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ArcError(f"wheelhouse: arcforge is not running from its source tree ({root} has no pyproject.toml)")
    return root


def _pip(args: list[str], what: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ArcError(f"wheelhouse: {what} failed: {last}")


def build(out: Path, python: str | None = None, platform: str | None = None, extras: tuple[str, ...] = ()) -> list[Path]:
    """Fill `out` with arcforge's wheel and its dependencies' wheels (with `extras`), for `python`
    ("3.11") and `platform` (a pip platform tag), each this machine's when None. Returns the wheels."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("arcforge-*.whl"):  # a rebuilt arcforge replaces the last one
        old.unlink()
    root = source_tree()
    with tempfile.TemporaryDirectory() as tmp:  # a clean copy: a build/ folder left in the tree never leaks in
        copy = Path(tmp) / "arcforge"
        shutil.copytree(root / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(root / name, copy / name)
        _pip(["wheel", "--no-deps", "-q", "-w", str(out), str(copy)], "building arcforge's wheel")
    (wheel,) = out.glob("arcforge-*.whl")
    target = []
    if python:
        target += ["--python-version", python, "--implementation", "cp"]
    if platform:
        target += ["--platform", platform]
    spec = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    _pip(["download", "-q", "--only-binary=:all:", "-d", str(out), *target, spec], "downloading the dependencies")
    return sorted(out.glob("*.whl"))
