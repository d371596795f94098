"""Help is documentation: every command has help text and is in the README."""

from __future__ import annotations

import typer

from quiz.cli import app
from tests.conftest import ROOT


def commands(group, prefix=()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from commands(command, path)
        else:
            yield path, command


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = list(commands(typer.main.get_command(app)))
    assert len(found) >= 17
    for path, command in found:
        assert command.help and len(command.help) > 20, f"`torchprep {' '.join(path)}` needs a docstring"
        assert f"torchprep {' '.join(path)}" in readme, f"the README does not mention `torchprep {' '.join(path)}`"
        for parameter in command.params:
            if parameter.param_type_name == "option":
                assert parameter.help, f"`torchprep {' '.join(path)}`: option {parameter.name} needs help text"


def test_help_runs_for_every_command(cli):
    for path, _ in commands(typer.main.get_command(app)):
        result = cli(*path, "--help")
        assert "Usage:" in result.output


def test_version(cli):
    assert cli("--version").output.startswith("torchprep ")
