"""The pytest plugin of a grading run: it runs each exercise test as a scenario and writes what it observed.

It runs inside the sandbox, beside the code under test, so nothing it writes is believed: it reports, the
judge decides. Each test gets the module under test as the ``impl`` fixture (the submission, or the
reference when the judge records what is expected), the same seeds before every test, and one record in
the stream: the test's observations and how the test ended (returned, or raised what, where). Tests that
need CUDA (``@pytest.mark.cuda``) are left out when the judge says this machine has none.

Loaded with ``-p quiz.grading.plugin``; options ``--impl``, ``--stream-fd`` and ``--cuda``.
"""

from __future__ import annotations

import collections
import importlib.util
import random
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

import pytest

from quiz.grading import scenario
from quiz.grading.stream import bind_writer, write_record

MESSAGE_LIMIT = 2_000
OUTPUT_LIMIT = 4_000
IMPL_MODULE = "torchprep_impl"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("torchprep")
    group.addoption("--impl", help="the module under test (a submission or the reference)")
    group.addoption("--stream-fd", type=int, help="file descriptor the observation stream is appended to")
    group.addoption("--cuda", default="0", help="1 when the judge found a CUDA GPU: run the CUDA-only tests")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(name): the function or class of the exercise this test grades")
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU; not run (and not counted) on a machine without")
    config._torchprep_impl = None
    bind_writer()


def _emit(config: pytest.Config, record: dict) -> None:
    fd = config.getoption("stream_fd")
    if fd is not None:
        write_record(fd, record)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters cut)"


def test_name(item: pytest.Item) -> str:
    """The test's name as the learner reads it: parameters by name (``[lr=0.05, steps=3, dtype=float64]``)
    instead of pytest's ids (``[9-3-0.05-2-dtype0]``); set for every item at collection."""
    return getattr(item, "_torchprep_name", None) or item.nodeid.split("::", 1)[-1]


def _readable(value: object) -> str | None:
    """A parameter's value in a few characters, or None when it has no short form."""
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, str):
        return value if len(value) <= 40 else None
    import torch

    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, (list, tuple)) and len(value) <= 8:
        parts = [_readable(part) for part in value]
        if all(part is not None for part in parts):
            return "[" + ", ".join(parts) + "]" if isinstance(value, list) else "(" + ", ".join(parts) + ")"
    return None


def _name_items(items: list[pytest.Item]) -> None:
    names = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        base = item.nodeid.split("::", 1)[-1]
        if callspec is None or not callspec.params:
            continue
        parts = [(key, _readable(value)) for key, value in callspec.params.items() if key != "impl"]
        if not parts or any(text is None for _, text in parts):
            continue
        names[item] = base.split("[", 1)[0] + "[" + ", ".join(f"{key}={text}" for key, text in parts) + "]"
    counts = collections.Counter(names.values())
    for item, name in names.items():
        if counts[name] == 1:  # pytest's own id where two would read the same
            item._torchprep_name = name


def _task_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("task")
    return str(marker.args[0]) if marker and marker.args else None


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as a fresh module called ``name``.

    Anything the file raises while it runs (SystemExit included) becomes ImportError with the line in the
    file, so a submission that exits at import is graded "does not import" instead of ending the run.
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cuda_here = config.getoption("cuda") == "1"
    _name_items(items)
    listed, kept = [], []
    for item in items:
        needs_cuda = item.get_closest_marker("cuda") is not None
        listed.append([test_name(item), _task_of(item), needs_cuda])
        if needs_cuda and not cuda_here:
            continue
        kept.append(item)
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    config._torchprep_listed = listed


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    error = None
    option = config.getoption("impl")
    if option:
        try:
            config._torchprep_impl = load_module(Path(option), IMPL_MODULE)
        except ImportError as raised:
            error = str(raised)
    else:
        error = "no --impl was given"
    _emit(config, {"kind": "session", "tests": getattr(config, "_torchprep_listed", []), "impl_error": error})
    config._torchprep_impl_error = error


@pytest.fixture
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """The module under test: the learner's submission, or the reference solution."""
    module = request.config._torchprep_impl
    if module is None:
        pytest.fail(request.config._torchprep_impl_error or "the module under test did not import", pytrace=False)
    return module


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The same seeds before every test, in every run: the reference's stream is reproducible, and a test
    # that draws from the global generator draws the same numbers for the submission.
    random.seed(0)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(0)
    torch = sys.modules.get("torch")
    if torch is not None and item.config.getoption("cuda") == "1":
        torch.manual_seed(0)
    elif torch is not None:
        # No GPU: the CPU generator is all torch.manual_seed would seed now, and it would also queue a
        # lazy CUDA seeding with a formatted stack each time (a few ms per test, the most of a quick test).
        torch.random.default_generator.manual_seed(0)
    scenario._current = []
    item._torchprep_started = time.monotonic()


def describe_exception(error: BaseException, impl_file: str | None) -> dict:
    frames = traceback.extract_tb(error.__traceback__)
    in_impl = [frame for frame in frames if impl_file and frame.filename == impl_file]
    kind = type(error)
    name = kind.__name__
    if isinstance(error, pytest.skip.Exception):
        name = "Skipped"
    elif isinstance(error, pytest.exit.Exception):
        name = "Exit"
    elif isinstance(error, pytest.xfail.Exception):
        name = "XFailed"
    message = getattr(error, "msg", None) if name in ("Skipped", "Exit", "XFailed") else None
    return {
        "status": "raised",
        "type": name,
        "message": _cut(str(message if message is not None else error), MESSAGE_LIMIT),
        "line": in_impl[-1].lineno if in_impl else None,
        "code": in_impl[-1].line if in_impl else None,
    }


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool:
    # The test runs here, under our own try: whatever it raises (a skip, an xfail, pytest.exit,
    # KeyboardInterrupt, SystemExit) is recorded as how the test ended, and the session goes on.
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    impl_file = getattr(pyfuncitem.config._torchprep_impl, "__file__", None)
    try:
        pyfuncitem.obj(**arguments)
    except BaseException as error:  # noqa: BLE001 - recording it is the point
        pyfuncitem._torchprep_outcome = describe_exception(error, impl_file)
    else:
        pyfuncitem._torchprep_outcome = {"status": "returned"}
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    result = yield
    report: pytest.TestReport = result.get_result()
    if call.when == "call":
        outcome = getattr(item, "_torchprep_outcome", None) or {"status": "raised", "type": "Error",
                                                               "message": "the test did not run", "line": None}
    elif call.when == "setup" and call.excinfo is not None:
        outcome = describe_exception(call.excinfo.value, None)
        outcome["phase"] = "setup"
    else:
        return
    observations = [list(entry) for entry in (scenario._current or [])]
    scenario._current = None
    output = "".join(content for _, content in report.sections)
    _emit(item.config, {
        "kind": "test",
        "name": test_name(item),
        "task": _task_of(item),
        "observations": observations,
        "outcome": outcome,
        "output": _cut(output, OUTPUT_LIMIT),
        "duration_s": round(time.monotonic() - getattr(item, "_torchprep_started", time.monotonic()), 4),
    })
