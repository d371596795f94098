"""Grade one submission: run the exercise's tests in a child pytest process and read back its results.

The child is the only process that imports torch. It runs in a temporary folder with a time limit and a
cap on the size of files it may write; whatever the submission does (a syntax error, an endless loop,
sys.exit(), os._exit(), megabytes of print, a crash of the interpreter) comes back as a GradeResult with
status "error" and a reason, never as an exception in torchprep.

The JSON form follows the exercism test runners' results.json (version 3): tools that read that read ours.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from quiz.catalog import Exercise, file_hash

RESULTS_VERSION = 3
DEFAULT_TIMEOUT_S = 60.0
FILE_SIZE_LIMIT = 256 * 1024 * 1024  # bytes the child may write to one file: stops a runaway print
LOG_TAIL = 3_000
PLUGIN = "quiz.grading.plugin"
INI = Path(__file__).with_name("pytest.ini")


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # a result, not a test class for pytest to collect

    name: str
    task: str | None
    status: str  # pass | fail | error | skip
    message: str = ""
    output: str = ""


@dataclass(frozen=True)
class GradeResult:
    exercise: str
    status: str  # pass | fail | error
    message: str
    tests: tuple[TestResult, ...]
    duration_s: float
    submission: str
    submission_sha256: str | None
    version: int = RESULTS_VERSION

    @property
    def passed(self) -> int:
        return sum(test.status == "pass" for test in self.tests)

    @property
    def skipped(self) -> int:
        return sum(test.status == "skip" for test in self.tests)

    @property
    def total(self) -> int:
        """Tests that count: a test skipped here (it needs a GPU) neither passes nor fails."""
        return sum(test.status != "skip" for test in self.tests)

    def to_json(self) -> dict:
        document = asdict(self)
        document["tests"] = [asdict(test) for test in self.tests]
        document.update(passed=self.passed, total=self.total, skipped=self.skipped)
        return document


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _limit_child() -> None:
    # Runs in the child before exec (POSIX): its own process group, so a timeout kills everything it
    # started, and a file-size cap, so a print loop cannot fill the disk before the timeout.
    os.setsid()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


def _syntax_problem(submission: Path) -> str | None:
    try:
        compile(submission.read_bytes(), str(submission), "exec")
    except SyntaxError as error:
        return f"{submission.name} line {error.lineno}: syntax error: {error.msg}. Fix it and check again."
    except ValueError as error:  # null bytes and the like
        return f"{submission.name} is not Python source: {error}"
    return None


# How the child pytest is started: given pytest's arguments, its working folder, the log file for its output
# and the time limit, run it and return (exit code, negative for a signal; whether it was stopped at the limit).
Launch = Callable[[list[str], Path, Path, float], tuple[int, bool]]


def launch_subprocess(arguments: list[str], cwd: Path, log_file: Path, timeout: float) -> tuple[int, bool]:
    """A fresh interpreter: `python -m pytest ...` in its own process group, killed whole at the limit."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    # The child must import this very quiz package, whatever its working folder.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    with open(log_file, "wb") as log, open(os.devnull, "rb") as no_input:
        process = subprocess.Popen([sys.executable, "-m", "pytest", *arguments], cwd=cwd, stdin=no_input,
                                   stdout=log, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=_limit_child if os.name == "posix" else None)
        try:
            return process.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return process.wait(), True


def grade(exercise: Exercise, submission: Path, *, reference: Path | None = None,
          timeout: float = DEFAULT_TIMEOUT_S, launch: Launch = launch_subprocess) -> GradeResult:
    """Run ``exercise``'s tests against ``submission`` and return what happened, whatever happened."""
    started = time.monotonic()
    submission = submission.resolve()

    def result(status: str, message: str, tests: list[TestResult]) -> GradeResult:
        digest = file_hash(submission) if submission.is_file() else None
        return GradeResult(exercise.id, status, message, tuple(tests), round(time.monotonic() - started, 3),
                           str(submission), digest)

    if not submission.is_file():
        return result("error", f"there is no file at {submission}: run `torchprep start {exercise.id}` first",
                      [])
    problem = _syntax_problem(submission)
    if problem:
        return result("error", problem, [])

    with tempfile.TemporaryDirectory(prefix="torchprep-grade-") as scratch:
        scratch_dir = Path(scratch)
        results_file = scratch_dir / "results.jsonl"
        log_file = scratch_dir / "pytest.log"
        arguments = [
            "-c", str(INI), "-p", PLUGIN, "--rootdir", str(exercise.folder),
            str(exercise.tests), "--submission", str(submission), "--results", str(results_file),
            "-q", "--no-header", "-p", "no:cacheprovider", "--color=no",
        ]
        if reference is not None:
            arguments += ["--reference", str(reference.resolve())]
        code, timed_out = launch(arguments, scratch_dir, log_file, timeout)
        records = _read_records(results_file)
        log_tail = _tail(log_file)

    tests = [TestResult(r["name"], r.get("task"), r["status"], r.get("message", ""), r.get("output", ""))
             for r in records if "name" in r]
    collected = next((r["collected"] for r in records if "collected" in r), None)
    import_error = next((r["import_error"] for r in records if "import_error" in r), None)
    reported = {test.name for test in tests}
    missing = [TestResult(name, task, "error", "not run: the test process ended before this test finished")
               for name, task in next((r["tests"] for r in records if "tests" in r), [])
               if name not in reported]

    if timed_out:
        return result("error", f"the tests did not finish within {timeout:g} s and were stopped: is there an "
                               "endless loop, or a step far slower than it needs to be?", tests + missing)
    if import_error:
        return result("error", f"the submission does not import: {import_error}", tests)
    if code < 0 or code > 1 or collected is None or missing or (collected and len(tests) < collected):
        how = (f"was killed by signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
               else f"ended with exit code {code}")
        if code == 5 or collected == 0:
            reason = "the exercise has no tests to run: this is a bug in torchprep, please report it"
        elif collected is None:
            reason = f"pytest could not collect the tests; it {how}:\n{log_tail.strip()}"
        else:
            reason = (f"the test process {how} before all tests were done: does the submission call sys.exit() "
                      "or os._exit(), or crash the interpreter?")
        return result("error", reason, tests + missing)
    counted = [test for test in tests if test.status != "skip"]
    if counted and all(test.status == "pass" for test in counted):
        return result("pass", f"all {len(counted)} tests passed", tests)
    failed = sum(test.status != "pass" for test in counted)
    return result("fail", f"{failed} of {len(counted)} tests failed", tests)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()


def _read_records(path: Path) -> list[dict]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return records
