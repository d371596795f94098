"""Run bank snippets (`output` code and `verify` blocks) each in a process of its own.

torch is imported once in a fork server and every snippet runs in a fresh child forked from it, so each is
isolated (no state leaks between questions) without paying torch's import for every one.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
import traceback
import types
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

SNIPPET_TIMEOUT_S = 60


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
            return _exec(source)
        finally:
            os.chdir("/")


def _exec(source: str) -> Outcome:
    # A real __main__ module, so that pickling a class the snippet defines (torch.save, DataLoader workers)
    # finds it, as it would in a script.
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
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


def run_all(sources: dict[str, str]) -> dict[str, Outcome]:
    """id -> Outcome for every snippet."""
    if sys.version_info >= (3, 11) and "fork" in multiprocessing.get_all_start_methods():
        pool = ProcessPoolExecutor(max_workers=2, mp_context=_warm_context(), max_tasks_per_child=1)
    else:  # pragma: no cover - Python 3.10 or Windows: a fresh interpreter for each snippet
        pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    results = {}
    with pool:
        futures = {key: pool.submit(_run, source) for key, source in sources.items()}
        for key, future in futures.items():
            try:
                results[key] = future.result(timeout=SNIPPET_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 - a timeout or a crashed child is a failure of that snippet
                results[key] = Outcome(False, "", f"{type(error).__name__}: {error}")
    return results
