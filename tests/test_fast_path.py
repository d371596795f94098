"""torch stays out of the torchprep process for help, quiz, topics and the exercise list; rich out of help."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, SAMPLE_BANK, subprocess_env

PROBE = textwrap.dedent("""
    import sys
    from quiz.cli import main
    sys.argv = ["torchprep", *sys.argv[1:]]  # the entry point itself, fast path included
    try:
        main()
    except SystemExit:
        pass
    print("MODULES", "torch" in sys.modules, "rich" in sys.modules, file=sys.stderr)
""")


def modules_after(args: list[str], stdin: str = "", **env: str) -> tuple[bool, bool]:
    completed = subprocess.run([sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, text=True,
                               env=subprocess_env(**env), cwd=ROOT, timeout=120)
    line = next(line for line in completed.stderr.splitlines() if line.startswith("MODULES"))
    _, torch_loaded, rich_loaded = line.split()
    return torch_loaded == "True", rich_loaded == "True"


def test_help_imports_neither_torch_nor_rich(isolated):
    assert modules_after(["--help"], TORCHPREP_HOME=str(isolated)) == (False, False)


@pytest.mark.parametrize("args", [["quiz", "--count", "3"], ["topics"], ["exercise", "list"], ["report"], ["fit"],
                                  ["quiz", "--bank", str(SAMPLE_BANK), "--type", "bug"]])
def test_quiz_and_listings_never_import_torch(isolated, args):
    torch_loaded, _ = modules_after(args, stdin="s\ns\ns\n", TORCHPREP_HOME=str(isolated))
    assert not torch_loaded, f"`torchprep {' '.join(args)}` imported torch"


def test_the_probe_can_see_torch_when_it_is_imported(isolated):
    """The check above could pass vacuously; show it detects an import of torch."""
    completed = subprocess.run([sys.executable, "-c", "import torch\n" + PROBE, "--help"], capture_output=True,
                               text=True, env=subprocess_env(TORCHPREP_HOME=str(isolated)), cwd=ROOT, timeout=120)
    assert "MODULES True" in completed.stderr


ENTRY = textwrap.dedent("""
    import sys
    from quiz import cli
    full = sys.argv[1] == "full"
    sys.argv = ["torchprep", *sys.argv[2:]]
    cli.app() if full else cli.main()
""")


@pytest.mark.parametrize("args", [["quiz", "--help"], ["report", "--home", "{home}"], ["--home", "{home}", "topics"],
                                  ["quiz", "--no-such-option"], ["plan", "--json"], ["review", "--count", "0"],
                                  ["report", "--format", "nope"], ["--debug", "topics"]])
def test_a_command_run_on_its_own_behaves_as_in_the_whole_app(isolated, args):
    """main() runs the commands users wait on in a group of their own (quiz/cli.py FAST_COMMANDS): the same
    output, errors and exit code as the whole app gives."""
    args = [arg.replace("{home}", str(isolated)) for arg in args]
    runs = [subprocess.run([sys.executable, "-c", ENTRY, way, *args], input="q\n", capture_output=True, text=True,
                           env=subprocess_env(TORCHPREP_HOME=str(isolated), COLUMNS="80", NO_COLOR="1"), cwd=ROOT,
                           timeout=120) for way in ("full", "fast")]
    full, fast = runs
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)


def test_the_command_word_is_found_after_the_global_options():
    from quiz.cli import _command_named

    assert _command_named(["--home", "x", "--debug", "quiz", "--count", "2"]) == "quiz"
    assert _command_named(["--home=x", "report"]) == "report"
    assert _command_named(["--help"]) is None and _command_named([]) is None
    assert _command_named(["check", "--home", "x"]) == "check"


def test_code_is_drawn_exactly_as_rich_syntax_draws_it():
    """Questions' code is highlighted without pygments (ui.code_view); its text and layout are Syntax's own."""
    from rich.console import Console
    from rich.syntax import Syntax

    from quiz import bank, ui

    questions = [q for q in bank.load().questions if q.code]
    assert len(questions) > 100
    for question in questions:
        for width in (76, 44):
            drawn = []
            for renderable in (Syntax(question.code.rstrip("\n"), "python", theme=ui.SYNTAX_THEME, line_numbers=True,
                                      word_wrap=True, background_color="default"), ui.code_view(question.code)):
                console = Console(width=width, color_system=None, record=True, file=open(os.devnull, "w"))
                console.print(renderable)
                drawn.append([line.rstrip() for line in console.export_text().split("\n")])
            assert drawn[1] == drawn[0], f"{question.id} at {width} columns"


def test_code_highlighting_colours_tokens_and_survives_code_that_does_not_tokenize():
    from quiz import ui

    (line,) = ui.highlight_python("x = len('a')  # note")
    styles = {line.plain[span.start:span.end]: span.style for span in line.spans}
    assert styles == {"len": ui.CODE_STYLES["builtin"], "'a'": ui.CODE_STYLES["string"],
                      "# note": ui.CODE_STYLES["comment"]}
    assert [t.plain for t in ui.highlight_python('s = """open\nnever closed')] == ['s = """open', "never closed"]
