"""The Makefile builds .venv on the distribution's Python when that one qualifies, else on python3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned_commands(tmp_path: Path, system_python: Path) -> list[str]:
    """What `make` would run to build a new .venv (make -n), given the distribution's interpreter."""
    venv = tmp_path / "venv"
    # A parent `make test PYTHON=...` passes its variables down in MAKEFLAGS: this make starts clean.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    result = subprocess.run(
        ["make", "-n", "-C", str(REPO), f"VENV={venv}", f"SYSTEM_PYTHON={system_python}", f"{venv}/bin/.installed"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout.splitlines()


def stand_in_python(tmp_path: Path, version: tuple[int, int], with_venv: bool = True) -> Path:
    """The interpreter running the tests, claiming another version and, without venv, no ensurepip
    (as Debian's python3 is until python3-venv is installed). It runs the Makefile's question."""
    claims = f"import sys; sys.version_info = {version!r}"
    if not with_venv:
        claims += '; sys.modules["ensurepip"] = None'  # import ensurepip then fails (no ' : the shell quotes with it)
    path = tmp_path / f"python{version[0]}.{version[1]}{'' if with_venv else '-without-venv'}"
    path.write_text(
        f'#!/bin/sh\n[ "$1" = -c ] || exit 2\nexec {sys.executable} -c \'{claims}; exec(sys.argv[1])\' "$2"\n'
    )
    path.chmod(0o755)
    return path


def venv_command(commands: list[str]) -> str:
    return next(line for line in commands if " -m venv " in line)


@pytest.mark.parametrize("version", [(3, 11), (3, 13)])
def test_the_distributions_python_builds_the_venv_when_it_qualifies(tmp_path: Path, version: tuple[int, int]) -> None:
    system_python = stand_in_python(tmp_path, version)
    assert venv_command(planned_commands(tmp_path, system_python)).startswith(f"{system_python} -m venv ")


@pytest.mark.parametrize(("version", "with_venv"), [((3, 10), True), ((3, 12), False)])
def test_python3_on_the_path_builds_it_when_the_distributions_is_too_old_or_lacks_venv(
    tmp_path: Path, version: tuple[int, int], with_venv: bool
) -> None:
    system_python = stand_in_python(tmp_path, version, with_venv)
    assert venv_command(planned_commands(tmp_path, system_python)).startswith("python3 -m venv ")


def test_python3_on_the_path_builds_it_when_there_is_no_distribution_python(tmp_path: Path) -> None:
    assert venv_command(planned_commands(tmp_path, tmp_path / "absent")).startswith("python3 -m venv ")
