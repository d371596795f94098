"""A faster way to start grading children, for the catalog self-check only.

The catalog test grades about two hundred submissions. Each fresh interpreter spends seconds importing torch,
torch._dynamo (the first optimizer) and torch.testing before a single test runs. Here a fork server imports
them once and every grading child is forked from it: the child still runs the same pytest arguments with the
same plugin, in its own folder, process group and file-size limit, and is killed whole at the time limit.
The product's `torchprep check` always starts a fresh interpreter (runner.launch_subprocess); tests/
test_grading.py covers that path, crashes and timeouts included.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from pathlib import Path

PRELOAD = ["torch", "torch._dynamo", "torch.testing", "torch.export", "pytest", "quiz.grading.plugin"]
_context = None


def _child(arguments: list[str], cwd: str, log_file: str) -> None:
    from quiz.grading import runner

    runner._limit_child()  # own session (so a kill takes everything it started) and the file-size cap
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.chdir(cwd)
    sys.dont_write_bytecode = True
    import pytest

    code = pytest.main(arguments)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def context():
    """The process's one fork server (multiprocessing keeps a single one), warmed with PRELOAD.

    tests/snippets.py uses it too: whichever starts it first decides what it preloads, so both go through here.
    """
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def launch_forked(arguments: list[str], cwd: Path, log_file: Path, timeout: float) -> tuple[int, bool]:
    process = context().Process(target=_child, args=(arguments, str(cwd), str(log_file)))
    process.start()
    process.join(timeout)
    timed_out = process.is_alive()
    if timed_out:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.join()
    return process.exitcode, timed_out


def available() -> bool:
    return sys.platform.startswith("linux")
