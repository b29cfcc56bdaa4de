"""Docs stay true: every CLI command is in the README, and the example config loads."""

from __future__ import annotations

from pathlib import Path

import click

from triage.cli import main

ROOT = Path(__file__).resolve().parent.parent


def command_paths(group: click.Group, prefix: str = "triage") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
    return paths


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [path for path in command_paths(main) if f"`{path}" not in readme]
    assert missing == []


def leaf_commands(group: click.Group) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update({f"{name} {k}": v for k, v in leaf_commands(command).items()})
        else:
            found[name] = command
    return found


def test_every_command_accepts_config() -> None:
    for name, command in leaf_commands(main).items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if name != "demo":  # the demo builds its own configuration
            assert "--config" in options, name


def test_makefile_and_ci_run_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
