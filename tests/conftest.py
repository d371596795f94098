"""Every test runs against temporary locations: no test reads or writes the user's real home."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]

# Under pytest-xdist every worker grades submissions side by side with the others: one torch thread each, or
# N workers on N cores run N x N threads that take turns (what `torchprep grade --jobs` does for itself; see
# runner._threads_for). The grading children inherit this through the judge and the sandbox's environment.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_BANK = Path(__file__).resolve().parent / "banks" / "sample.yaml"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: reference streams are keyed by the files they come from, so tests share
    them safely instead of recording the same reference again in every test's fresh home."""
    return tmp_path_factory.getbasetemp().parent / "torchprep-shared-cache"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("TORCHPREP_HOME", str(home))
    monkeypatch.setenv("TORCHPREP_CACHE", str(shared_cache))
    monkeypatch.setenv("TORCHPREP_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("TORCHPREP_BANKS", raising=False)
    monkeypatch.delenv("TORCHPREP_LANG", raising=False)
    monkeypatch.delenv("TORCHPREP_EXERCISES", raising=False)
    monkeypatch.delenv("TORCHPREP_SOLUTIONS", raising=False)
    monkeypatch.delenv("TORCHPREP_BUILTIN_BANK", raising=False)
    # Fixed width and no colour, so rich output can be asserted exactly.
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    return home


@pytest.fixture
def fixture_catalog(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the catalog at the tiny torch-free `adder` exercise used to test the grader itself."""
    monkeypatch.setenv("TORCHPREP_EXERCISES", str(FIXTURES / "exercises"))
    monkeypatch.setenv("TORCHPREP_SOLUTIONS", str(FIXTURES / "solutions"))
    return FIXTURES


@pytest.fixture
def sample_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Quiz from tests/banks/sample.yaml alone: the built-in bank is swapped for an empty folder."""
    empty = tmp_path / "no-builtin-bank"
    empty.mkdir()
    monkeypatch.setenv("TORCHPREP_BUILTIN_BANK", str(empty))
    return SAMPLE_BANK


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, expect: int | None = 0):
        from quiz.cli import app

        result = self.runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}, output:\n{result.output}"
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli()


def torchprep_command() -> list[str]:
    return [sys.executable, "-m", "quiz"]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    return env
