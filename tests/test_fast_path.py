"""torch stays out of the torchprep process for help, quiz, topics and the exercise list; rich out of help."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, SAMPLE_BANK, subprocess_env

PROBE = textwrap.dedent("""
    import sys
    from quiz.cli import app
    try:
        app(sys.argv[1:])
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


@pytest.mark.parametrize("args", [["quiz", "--count", "3"], ["topics"], ["exercise", "list"],
                                  ["quiz", "--bank", str(SAMPLE_BANK), "--type", "bug"]])
def test_quiz_and_listings_never_import_torch(isolated, args):
    torch_loaded, _ = modules_after(args, stdin="s\ns\ns\n", TORCHPREP_HOME=str(isolated))
    assert not torch_loaded, f"`torchprep {' '.join(args)}` imported torch"


def test_the_probe_can_see_torch_when_it_is_imported(isolated):
    """The check above could pass vacuously; show it detects an import of torch."""
    completed = subprocess.run([sys.executable, "-c", "import torch\n" + PROBE, "--help"], capture_output=True,
                               text=True, env=subprocess_env(TORCHPREP_HOME=str(isolated)), cwd=ROOT, timeout=120)
    assert "MODULES True" in completed.stderr
