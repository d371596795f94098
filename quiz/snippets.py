"""Run bank snippets (`output` code, `verify` blocks, claims, bug checks) each in a process of its own.

torch is imported once in a fork server and every snippet runs in a fresh child forked from it, so each is
isolated (no state leaks between questions) without paying torch's import for every one. The test suite calls
``run_all``; `torchprep bank verify` runs ``main`` in a child process (WORKER_COMMAND) (torch never enters the CLI
process), which reads {key: source} as JSON on stdin and writes one JSON line per finished snippet.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import traceback
import types
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass

SNIPPET_TIMEOUT_S = 60
# Not `python -m quiz.snippets`: the fork server must import this module by its name, not as __main__.
WORKER_COMMAND = ["-c", "from quiz.snippets import main; main()"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    stdout: str
    error: str


def _run(source: str) -> Outcome:
    # A snippet should behave as `python snippet.py` would: a fork server's child inherits "forkserver" as
    # its start method, under which a DataLoader with workers cannot pickle classes the snippet defines.
    if "fork" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("fork", force=True)
    # A folder of its own: a snippet that saves `ckpt.pt` never meets another's, nor litters the checkout.
    with tempfile.TemporaryDirectory(prefix="torchprep-snippet-") as folder:
        os.chdir(folder)
        try:
            outcome = _exec(source)
        finally:
            os.chdir("/")
    _end_children()
    return outcome


def _end_children() -> None:
    """Kill what the snippet started and left running (a rank of a process group stuck in its rendezvous):
    this worker waits for its children when it exits, so one left behind would hang the whole run."""
    # A DataLoader's SIGCHLD handler would take its persistent workers' end for a crash and raise.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in multiprocessing.active_children():
        try:
            child.kill()
            child.join(5)
        except Exception:  # noqa: BLE001 - the snippet's verdict is already made; only the cleanup is left
            pass


def _kill_worker(process) -> None:
    """A hung worker and everything below it: each worker leads its own process group (see _pool)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _seed_everything() -> None:
    """The same random numbers on every run: a block that draws `torch.randn` without a seed of its own must
    not pass or fail by the draw (one such check missed its tolerance once in hundreds of runs)."""
    import random

    random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)


def _exec(source: str) -> Outcome:
    # A real __main__ module, so that pickling a class the snippet defines (torch.save, DataLoader workers)
    # finds it, as it would in a script.
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    _seed_everything()
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(source, "<snippet>", "exec"), main.__dict__)
    except BaseException:  # noqa: BLE001 - report whatever the snippet raised
        return Outcome(False, buffer.getvalue(), traceback.format_exc(limit=-3))
    return Outcome(True, buffer.getvalue(), "")


PRELOAD = ["torch", "torch._dynamo", "torch.testing", "torch.export"]


def _warm_context():
    """A fork server that imported torch once: each snippet is a fresh child forked from it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _pool(workers: int = 2) -> ProcessPoolExecutor:
    if sys.version_info >= (3, 11) and "fork" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(max_workers=workers, mp_context=_warm_context(), max_tasks_per_child=1,
                                   initializer=os.setpgrp)
    # pragma: no cover - Python 3.10 or Windows: a fresh interpreter for each snippet
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=getattr(os, "setpgrp", None))


def stream(sources: dict[str, str], emit, workers: int = 2) -> None:
    """Run every snippet, calling ``emit(key, Outcome)`` as each finishes. When nothing finishes for
    SNIPPET_TIMEOUT_S, the running ones are reported timed out and their processes killed, so a snippet that
    hangs never hangs the run."""
    remaining = dict(sources)
    while remaining:
        pool = _pool(workers)
        futures = {pool.submit(_run, source): key for key, source in remaining.items()}
        pending = set(futures)
        hung = False
        while pending:
            done, pending = wait(pending, timeout=SNIPPET_TIMEOUT_S, return_when=FIRST_COMPLETED)
            if not done:
                hung = True
                break
            for future in done:
                key = futures[future]
                try:
                    outcome = future.result()
                except Exception as error:  # noqa: BLE001 - a crashed child is a failure of that snippet
                    outcome = Outcome(False, "", f"{type(error).__name__}: {error}")
                remaining.pop(key)
                emit(key, outcome)
        if hung:
            for future in pending:
                if future.running():
                    key = futures[future]
                    remaining.pop(key)
                    emit(key, Outcome(False, "", f"TimeoutError: still running after {SNIPPET_TIMEOUT_S} s"))
            for process in list(getattr(pool, "_processes", {}).values()):
                _kill_worker(process)
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown()


def main() -> None:
    """The child of `torchprep bank verify`: the torch it runs under, then one JSON line per snippet."""
    import torch

    sources = json.load(sys.stdin)
    out = sys.stdout
    out.write(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available()}) + "\n")
    out.flush()

    def emit(key: str, outcome: Outcome) -> None:
        out.write(json.dumps({"key": key, **asdict(outcome)}) + "\n")
        out.flush()

    stream(sources, emit)


def run_all(sources: dict[str, str]) -> dict[str, Outcome]:
    """id -> Outcome for every snippet (through stream: a snippet that hangs is killed, never waited for)."""
    results: dict[str, Outcome] = {}
    stream(sources, results.__setitem__)
    return results
