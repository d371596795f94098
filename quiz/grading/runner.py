"""Grade submissions from torchprep's own process, which never imports torch and never runs their code.

``grade`` and ``grade_many`` start the judge (``python -m quiz.grading.judge``) in a session of its own,
hand it the job and read its verdicts back as JSON. The judge runs every submission in a sandbox (see
judge.py); this side makes sure nothing outlives the call: the judge and everything below it carry a
parent-death signal, and Ctrl-C, SIGHUP or SIGTERM here kill the judge's whole process group before
torchprep exits, then sweep any process still carrying this call's token.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from quiz import paths
from quiz.catalog import Exercise
from quiz.grading.results import RESULTS_VERSION, GradeResult, TestResult

__all__ = ["GradeResult", "TestResult", "RESULTS_VERSION", "grade", "grade_many", "WarmJudge", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_GIB = 4.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _secret_folders(home: Path, exercise: Exercise) -> list[str]:
    folders = {home, paths.cache_dir(home), paths.solutions_dir(), exercise.solution.parent,
               paths.PACKAGE_DIR / "_data" / "solutions", paths.PACKAGE_DIR.parent / "solutions"}
    return sorted(str(folder.resolve()) for folder in folders if folder.exists())


def _hidden_folders(submissions: Sequence[Path]) -> list[str]:
    folders = {Path.home(), paths.workspace(), *(submission.parent for submission in submissions)}
    return sorted(str(folder.resolve()) for folder in folders if folder.is_dir())


def _is_builtin(exercise: Exercise) -> bool:
    return not os.environ.get("TORCHPREP_EXERCISES") and not os.environ.get("TORCHPREP_SOLUTIONS")


@contextlib.contextmanager
def _killed_on_signal(process: subprocess.Popen, token: str) -> Iterator[None]:
    """While the judge runs: Ctrl-C, SIGHUP and SIGTERM take it (and all below it) down before we go."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def stop(signum, frame):  # noqa: ARG001 - the signal handler's signature
        _kill_everything(process, token)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _kill_everything(process: subprocess.Popen, token: str) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    with contextlib.suppress(Exception):
        process.wait(timeout=10)
    from quiz.grading.sandbox import processes_with_token

    for pid in processes_with_token(token, prefix=True):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _job(exercise: Exercise, submissions: Sequence[Path], *, jobs: int, timeout: float, memory_gib: float,
         home_dir: Path, hidden_reference: bool, isolate: bool, token: str, scratch: str) -> dict:
    return {
        "exercise": exercise.id, "tests": str(exercise.tests), "reference": str(exercise.solution),
        "builtin": _is_builtin(exercise), "cache_dir": str(paths.cache_dir(home_dir)),
        "submissions": [str(path) for path in submissions], "timeout": timeout, "memory_gib": memory_gib,
        "jobs": jobs, "hide": _hidden_folders(submissions), "secrets": _secret_folders(home_dir, exercise),
        "hidden_reference": hidden_reference, "isolate": isolate, "token": token, "scratch": scratch,
    }


def _threads_for(jobs: int) -> str | None:
    """torch's threads for each of ``jobs`` gradings side by side: the cores shared out, so that two gradings on
    two cores do not run four threads that take turns (a matrix-heavy test then runs several times slower).
    None leaves torch's own default (a single grading, or a thread count the user set)."""
    if jobs <= 1 or any(name in os.environ for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    return str(max(1, (os.cpu_count() or 1) // jobs))


def _start_judge(errors, *, serve: bool = False, jobs: int = 1) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    threads = _threads_for(jobs)
    if threads is not None:
        environment.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    package_root = str(paths.PACKAGE_DIR.parent)  # the judge imports this very quiz package
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "quiz.grading.judge", *(["--serve"] if serve else [])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=environment,
                            start_new_session=True, preexec_fn=_die_with_parent)


def _read_results(process: subprocess.Popen, progress: Callable[[int, int, str], None] | None
                  ) -> list[GradeResult] | None:
    """The judge's messages up to its results (None: it ended first)."""
    for line in iter(process.stdout.readline, b""):
        message = json.loads(line)
        if "results" in message:
            return [GradeResult.from_json(document) for document in message["results"]]
        if progress is not None and "progress" in message:
            progress(message["progress"], message["total"], message.get("status", ""))
    return None


def _judge_died(exercise: Exercise, submissions: Sequence[Path], process: subprocess.Popen, errors
                ) -> list[GradeResult]:
    errors.seek(0)
    problem = errors.read()[-2_000:].decode("utf-8", "replace").strip()
    reason = f"the grader stopped unexpectedly (exit {process.poll()})" + (f":\n{problem}" if problem else "")
    return [GradeResult(exercise.id, "error", reason + ". This is a bug in torchprep, please report it.", (),
                        0.0, str(path), None) for path in submissions]


def grade_many(exercise: Exercise, submissions: Sequence[Path], *, jobs: int = 1,
               timeout: float = DEFAULT_TIMEOUT_S, memory_gib: float = DEFAULT_MEMORY_GIB,
               home: Path | None = None, hidden_reference: bool = False, isolate: bool = True,
               progress: Callable[[int, int, str], None] | None = None) -> list[GradeResult]:
    """Grade each submission with ``exercise``'s tests in a sandbox; results in the submissions' order."""
    home_dir = paths.home(home)
    submissions = [Path(submission).absolute() for submission in submissions]
    token = secrets.token_hex(8)
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryDirectory(prefix="torchprep-judge-") as scratch:
        job = _job(exercise, submissions, jobs=jobs, timeout=timeout, memory_gib=memory_gib, home_dir=home_dir,
                   hidden_reference=hidden_reference, isolate=isolate, token=token, scratch=scratch)
        process = _start_judge(errors, jobs=jobs)
        results = None
        with _killed_on_signal(process, token):
            try:
                process.stdin.write(json.dumps(job).encode())
                process.stdin.close()
                results = _read_results(process, progress)
                process.wait()
            finally:
                if process.poll() is None:
                    _kill_everything(process, token)
        if results is None:
            return _judge_died(exercise, submissions, process, errors)
    return results


class WarmJudge:
    """One judge kept up for many gradings (``torchprep watch``): torch is imported once, and each grading
    forks a run from the judge's zygote, so a re-grade costs the tests and not the import.

    Use as a context manager; leaving it (or Ctrl-C, SIGHUP, SIGTERM while it is up) kills the judge and
    everything below it. ``grade`` may be called from a worker thread; ``close`` from any thread stops a
    grading in progress, which then returns an error result.
    """

    def __init__(self, *, home: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 memory_gib: float = DEFAULT_MEMORY_GIB, isolate: bool = True):
        self.home_dir = paths.home(home)
        self.timeout, self.memory_gib, self.isolate = timeout, memory_gib, isolate
        self.token = secrets.token_hex(8)
        self._gradings = 0
        self._stack = contextlib.ExitStack()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> WarmJudge:
        self._errors = self._stack.enter_context(tempfile.TemporaryFile())
        self._scratch = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="torchprep-judge-"))
        self.process = _start_judge(self._errors, serve=True)
        self._stack.callback(self.close)
        self._stack.enter_context(_killed_on_signal(self.process, self.token))
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()

    def wait_ready(self) -> bool:
        """Block until torch is imported and the zygote forked (False: the judge died on the way)."""
        line = self.process.stdout.readline()
        return bool(line) and "ready" in json.loads(line)

    def grade(self, exercise: Exercise, submission: Path) -> GradeResult:
        submission = Path(submission).absolute()
        self._gradings += 1
        job = _job(exercise, [submission], jobs=1, timeout=self.timeout, memory_gib=self.memory_gib,
                   home_dir=self.home_dir, hidden_reference=False, isolate=self.isolate,
                   token=f"{self.token}-{self._gradings}", scratch=self._scratch)
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
            results = _read_results(self.process, None)
        except (BrokenPipeError, ValueError, OSError):  # closed under us, or the judge is gone
            results = None
        if results is None:
            return _judge_died(exercise, [submission], self.process, self._errors)[0]
        return results[0]

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            _kill_everything(self.process, self.token)


def grade(exercise: Exercise, submission: Path, *, timeout: float = DEFAULT_TIMEOUT_S,
          memory_gib: float = DEFAULT_MEMORY_GIB, home: Path | None = None, isolate: bool = True) -> GradeResult:
    """Grade one submission (see grade_many); whatever it does comes back as a GradeResult."""
    return grade_many(exercise, [submission], timeout=timeout, memory_gib=memory_gib, home=home,
                      isolate=isolate)[0]
