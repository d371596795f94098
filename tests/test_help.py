"""Help is documentation: every command has help text and is in the README."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import typer

from quiz.cli import app
from tests.conftest import ROOT, subprocess_env


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


def test_no_help_text_is_cut_or_shows_a_python_type(cli):
    """Every help screen at 80 columns: command descriptions whole (no "..."), options named in words
    (`--count N`, `--lang en|zh`), never `<int range>`, `<list[str]>`, `<str>`, `{ID}` or `[[ID]]`."""
    screens = [cli("--help").output] + [cli(*path, "--help").output
                                        for path, _ in commands(typer.main.get_command(app))]
    screens += [cli(name, "--help").output for name in ("bank", "progress", "exercise")]
    for screen in screens:
        text = "\n".join(line for line in screen.splitlines() if not line.startswith("Usage:"))
        assert "..." not in text, screen  # the usage line's `[PATHS]...` means "more than one"
        for leftover in ("<int", "<list[", "<str>", "<path>", "<float", "{ID}", "[[ID]]", "ID <"):
            assert leftover not in screen, f"{leftover!r} in:\n{screen}"


def test_global_options_work_after_the_command(cli, tmp_path):
    home = tmp_path / "elsewhere"
    cli("report", "--home", home)
    assert (home / "progress.db").is_file(), "--home after the command was ignored"
    cli("topics", f"--home={tmp_path / 'other'}")
    assert (tmp_path / "other" / "progress.db").is_file()


# -- tab completion (`torchprep --install-completion`) ------------------------------------------------------------

COMPLETION_PROBE = textwrap.dedent("""
    import atexit, sys
    atexit.register(lambda: print("MODULES", "torch" in sys.modules, file=sys.stderr))
    from quiz.cli import app
    app(prog_name="torchprep")
""")


def complete(line: str) -> tuple[list[str], bool]:
    """What bash completion offers for the last word of ``line``, and whether torch was imported to find it."""
    words = line.split(" ")
    completed = subprocess.run([sys.executable, "-c", COMPLETION_PROBE], capture_output=True, text=True,
                               env=subprocess_env(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1),
                                                  _TORCHPREP_COMPLETE="complete_bash"), cwd=ROOT, timeout=120)
    assert completed.returncode == 0, completed.stderr
    torch_loaded = "MODULES True" in completed.stderr
    return completed.stdout.split(), torch_loaded


def test_tab_completes_commands_exercise_ids_topics_languages_and_types_without_torch():
    from quiz import catalog, topics

    offered, torch_loaded = complete("torchprep ch")
    assert offered == ["check"] and not torch_loaded
    ids = [exercise.id for exercise in catalog.load()]
    assert complete("torchprep start ")[0] == ids
    assert complete("torchprep check kv")[0] == [i for i in ids if i.startswith("kv")] == ["kv_cache"]
    offered, torch_loaded = complete("torchprep quiz --topic tr")
    assert offered == [slug for slug in topics.TOPIC_SLUGS if slug.startswith("tr")] and not torch_loaded
    assert complete("torchprep report --lang ")[0] == ["en", "zh"]
    assert complete("torchprep quiz --type ")[0] == ["choice", "multi", "output", "bug", "open"]


class _HelpContext:
    """What _show_help uses of click's context."""

    resilient_parsing, color = False, None

    def __init__(self, lines: int):
        self.text = "\n".join(f"line {n}" for n in range(1, lines + 1))

    def get_help(self) -> str:
        return self.text

    def exit(self):
        raise SystemExit(0)


@pytest.mark.parametrize("terminal, lines, paged", [
    (True, 50, True),  # the command list at 24 rows: its top would scroll away
    (True, 23, False),  # fits, with the prompt's line
    (True, 24, True),
    (False, 50, False),  # piped or captured: the text as it is
])
def test_help_taller_than_the_terminal_goes_through_the_pager(monkeypatch, capsys, terminal, lines, paged):
    import os
    import pydoc
    import shutil

    from quiz import cli as cli_module

    shown = []
    monkeypatch.setattr(pydoc, "pager", shown.append)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=None: os.terminal_size((80, 24)))
    monkeypatch.setattr(cli_module.sys.stdout, "isatty", lambda: terminal)
    monkeypatch.delenv("LESS", raising=False)
    context = _HelpContext(lines)
    with pytest.raises(SystemExit):
        cli_module._show_help(context, None, True)
    if paged:
        assert shown == [context.text + "\n"] and capsys.readouterr().out == ""
        assert os.environ["LESS"] == "FRX"
    else:
        assert shown == [] and capsys.readouterr().out == context.text + "\n"


def test_every_help_option_is_the_paging_one(cli):
    import typer

    from quiz import cli as cli_module

    group = typer.main.get_command(cli_module.app)
    context = group.make_context("torchprep", ["quiz"], resilient_parsing=True)
    assert group.get_help_option(context).callback is cli_module._show_help
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command.get_help_option(context).callback is cli_module._show_help, name
