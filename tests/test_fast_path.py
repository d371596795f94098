"""torch stays out of the torchprep process for help, quiz, topics and the exercise list; rich out of help."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _every_command():
    """(command, ctx) for the app, every command and every command of its groups."""
    import typer

    from quiz import cli

    group = typer.main.get_command(cli.app)
    ctx = group.make_context("torchprep", ["topics"], resilient_parsing=True)
    yield group, ctx
    stack = [(group, ctx)]
    while stack:
        parent, parent_ctx = stack.pop()
        for name in parent.list_commands(parent_ctx):
            command = parent.get_command(parent_ctx, name)
            sub_ctx = type(parent_ctx)(command, parent=parent_ctx, info_name=name)
            yield command, sub_ctx
            if hasattr(command, "list_commands"):
                stack.append((command, sub_ctx))


def _wrapped_parameters():
    """(command, ctx, param) for every parameter quiz/options.py converts itself, help options included."""
    found = []
    for command, ctx in _every_command():
        for param in command.get_params(ctx):
            if "process_value" in vars(param):
                found.append((command, ctx, param))
    return found


def _outcome(process, ctx, value):
    try:
        result = process(ctx, value)
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return ("error", type(error).__name__, str(error))
    items = result if isinstance(result, (list, tuple)) else [result]
    return ("value", type(result).__name__, [(type(item).__name__, repr(item)) for item in items])  # nan == nan


def test_an_option_left_at_its_default_gets_what_typers_own_conversion_gives():
    """Defaults skip typer's pydantic conversion (quiz/options.py): for every option of every command, the
    value is the one typer would make of it: equal, of the same type, a list never the shared one."""
    from typer._click.core import ParameterSource

    wrapped = _wrapped_parameters()
    kinds = {param.type_descriptor.annotation for _, _, param in wrapped}
    assert {int, float, str, bool, Path, list[str], list[Path]} <= kinds, kinds
    for command, ctx, param in wrapped:
        ctx.set_parameter_source(param.name, ParameterSource.DEFAULT)
        ours = param.process_value(ctx, param.default)
        theirs = type(param).process_value(param, ctx, param.default)
        assert _outcome(lambda c, v: v, ctx, ours) == _outcome(lambda c, v: v, ctx, theirs), \
            f"{command.name} --{param.name}"
        if isinstance(ours, list):
            assert ours is not param.default


VALUE_TEXT = st.text(alphabet=st.sampled_from(list("0123456789-+._ eE,xé٣\t")), max_size=8) | st.sampled_from(
    ["inf", "nan", "1e3", "0x1", "", "0", "1", "3", "4", "-1", "10", "0.5", "0.4", "1.0", "07",
     "999999999999999", "1" * 20, "zh", "en", ".", "/", "/nonexistent", "README.md", "tests", "-"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_value_given_on_the_command_line_gets_what_typers_own_conversion_gives(data):
    """Every text a user may type, for every parameter quiz/options.py converts: the same value of the same
    type as typer's pydantic conversion, or (through typer itself) the same error."""
    from typer._click.core import ParameterSource

    command, ctx, param = data.draw(st.sampled_from([w for w in WRAPPED if w[2].type_descriptor.annotation
                                                     is not bool]))
    many = param.type_descriptor.is_list
    value = tuple(data.draw(st.lists(VALUE_TEXT, max_size=3))) if many else data.draw(VALUE_TEXT)
    ctx.set_parameter_source(param.name, ParameterSource.COMMANDLINE)
    ours = _outcome(param.process_value, ctx, value)
    theirs = _outcome(lambda c, v: type(param).process_value(param, c, v), ctx, value)
    assert ours == theirs, f"{command.name} --{param.name} {value!r}"


def test_quiz_and_report_never_import_pydantic(isolated):
    """What makes a quiz's first question cheaper than a bare typer command (benchmarks/bench.py startup)."""
    probe = PROBE.replace('print("MODULES"', 'print("PYDANTIC", "pydantic" in sys.modules, file=sys.stderr)\n'
                          'print("MODULES"')
    for args in (["quiz", "--count", "2", "--topic", "gpu", "--lang", "zh", "--type", "choice"], ["report"],
                 ["review", "--count", "3"], ["quiz", "--bank", str(SAMPLE_BANK), "--difficulty", "2"]):
        completed = subprocess.run([sys.executable, "-c", probe, *args], input="q\n", capture_output=True, text=True,
                                   env=subprocess_env(TORCHPREP_HOME=str(isolated)), cwd=ROOT, timeout=120)
        assert "PYDANTIC False" in completed.stderr, (args, completed.stderr[-2000:])
    completed = subprocess.run([sys.executable, "-c", probe, "quiz", "--count", "0"], capture_output=True, text=True,
                               env=subprocess_env(TORCHPREP_HOME=str(isolated)), cwd=ROOT, timeout=120)
    assert "PYDANTIC True" in completed.stderr, "a value out of range goes through typer (the probe sees it)"


def test_an_option_given_on_the_command_line_is_still_converted_and_checked(isolated):
    for bad in (["quiz", "--count", "0"], ["quiz", "--count", "x"], ["quiz", "--difficulty", "4"]):
        completed = subprocess.run([sys.executable, "-c", ENTRY, "fast", *bad], capture_output=True, text=True,
                                   env=subprocess_env(TORCHPREP_HOME=str(isolated)), cwd=ROOT, timeout=120)
        assert completed.returncode == 2 and "Invalid value for" in completed.stderr, (bad, completed.stderr)


WRAPPED = _wrapped_parameters()
