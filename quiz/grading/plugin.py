"""The pytest plugin that grades one submission inside the grading child process.

It gives the exercise tests two module fixtures, ``submission`` and ``reference``, so the same tests grade
any file, and it writes each test's outcome as one JSON line the moment it is known: if the submission
kills the interpreter half-way, the parent still reads every result reported before that.

Loaded with ``-p quiz.grading.plugin``; options ``--submission``, ``--reference`` and ``--results``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from types import ModuleType

import pytest

MESSAGE_LIMIT = 2_000
OUTPUT_LIMIT = 4_000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("torchprep")
    group.addoption("--submission", help="the file to grade (default: the exercise's reference)")
    group.addoption("--reference", help="the reference solution (default: solutions/<exercise id>.py)")
    group.addoption("--results", help="append one JSON line per test outcome to this file")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(name): the function or class of the exercise this test grades")
    config._torchprep_modules = {}  # (role, path) -> module, or the import error's text
    config.pluginmanager.register(_ResultWriter(config), "torchprep-results")


def _exercise_id(request: pytest.FixtureRequest) -> str:
    # Tests live at exercises/<id>/test_<id>.py: the folder names the exercise.
    return Path(str(request.node.path)).parent.name


def _default_reference(exercise_id: str) -> Path:
    from quiz import paths

    return paths.solution_file(exercise_id)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters cut)"


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a fresh module called ``name``.

    A SystemExit or any other BaseException raised while the file runs is turned into ImportError, so a
    submission that calls sys.exit() at import is graded as "does not import", never ends the run.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(name, None)
        raise ImportError(f"{path.name} line {error.lineno}: syntax error: {error.msg}") from error
    except BaseException as error:  # noqa: BLE001 - a submission may raise anything, SystemExit included
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
        where = f" (line {frames[-1].lineno})" if frames else ""
        raise ImportError(f"{path.name} fails when imported{where}: {type(error).__name__}: {error}") from error
    return module


def _module_fixture(request: pytest.FixtureRequest, role: str) -> ModuleType:
    option = request.config.getoption(role)
    exercise_id = _exercise_id(request)
    if option:
        path = Path(option).resolve()
    else:
        path = _default_reference(exercise_id)
    cache = request.config._torchprep_modules
    key = (role, str(path))
    if key not in cache:
        try:
            cache[key] = load_module(path, f"torchprep_{role}_{exercise_id}")
        except ImportError as error:
            cache[key] = str(error)
            _write_record(request.config, {"import_error": str(error)} if role == "submission"
                          else {"reference_error": str(error)})
    value = cache[key]
    if isinstance(value, str):
        pytest.fail(value, pytrace=False)
    return value


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> ModuleType:
    """The file being graded, imported as a module."""
    return _module_fixture(request, "submission")


@pytest.fixture
def reference(request: pytest.FixtureRequest) -> ModuleType:
    """The exercise's reference solution, imported as a module."""
    return _module_fixture(request, "reference")


def _task_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("task")
    return str(marker.args[0]) if marker and marker.args else None


def _message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    if report.skipped:
        longrepr = report.longrepr
        return str(longrepr[2]).removeprefix("Skipped: ") if isinstance(longrepr, tuple) else str(longrepr)
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    if message.startswith("NotImplementedError"):
        return "not implemented yet: the function still raises NotImplementedError"
    if message.startswith("SystemExit"):
        return f"the code called sys.exit() ({message}): a function must return its result, not exit"
    message = message.removeprefix("Failed: ")
    # "AssertionError: <our sentence>\nassert <pytest's introspection>": the learner needs the sentence.
    head, separator, _ = message.partition("\nassert ")
    return head if separator and head.strip() else message


def _outcome(report: pytest.TestReport) -> str:
    if report.passed:
        return "pass"
    if report.skipped:
        return "skip"
    # A failure while setting up (the submission does not import) or in a test both mean "not right yet".
    return "fail"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    report._torchprep_task = _task_of(item)


class _ResultWriter:
    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # One record per test: the call phase, or the setup phase when it failed or skipped before the call.
        if report.when == "call" or (report.when == "setup" and not report.passed):
            _write_result(report, self.config)


def _write_record(config: pytest.Config, record: dict) -> None:
    path = config.getoption("results")
    if not path:
        return
    # Appended and flushed line by line so a crash loses only the test that was running.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def pytest_collection_finish(session: pytest.Session) -> None:
    tests = [[item.nodeid.split("::", 1)[-1], _task_of(item)] for item in session.items]
    _write_record(session.config, {"collected": len(tests), "tests": tests})


def _write_result(report: pytest.TestReport, config: pytest.Config) -> None:
    output = "".join(content for _, content in report.sections)
    record = {
        "name": report.nodeid.split("::", 1)[-1],
        "task": getattr(report, "_torchprep_task", None),
        "status": _outcome(report),
        "message": _cut(_message(report), MESSAGE_LIMIT),
        "output": _cut(output, OUTPUT_LIMIT),
        "duration_s": round(report.duration, 4),
    }
    _write_record(config, record)
