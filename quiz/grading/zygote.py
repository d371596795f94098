"""A clean fork server for grading runs: torch and pytest imported once, nothing secret ever loaded.

The judge forks the zygote right after importing torch, pytest and the plugin, before it reads a reference
stream or any submission. Every grading run is forked from the zygote, so a run starts in about a tenth of
a second instead of the seconds a fresh interpreter spends importing torch, and no run can find anything
of the judge's in its memory (``gc.get_objects()`` in a run sees only what the zygote had).

Protocol, one JSON object a line over a socket pair: the judge sends ``{"run": id, ...}``; the zygote
answers ``{"started": id, "pid": waiter_pid, "isolation": ...}`` and later ``{"ended": id, "code": n}``
(n < 0: killed by signal -n).
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict

from quiz.grading import sandbox

PR_SET_CHILD_SUBREAPER = 36


def _run_child(request: dict, sync_read: int, sync_write: int, go_read: int) -> None:
    """The waiter, forked from the zygote: enter the sandbox, fork the worker, wait for it, exit with it."""
    plan = sandbox.Plan(work=request["work"], hide=tuple(request["hide"]), secrets=tuple(request["secrets"]),
                        keep=tuple(request["keep"]), limits=sandbox.Limits(**request["limits"]),
                        token=request["token"])
    sandbox.die_with_parent()
    stream = os.open(request["stream"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.environ.clear()
    os.environ.update(sandbox.minimal_environment("/tmp/work", plan.token))
    isolated = request.get("isolate", True) and sandbox.unshare_namespaces()
    os.write(sync_write, b"1" if isolated else b"0")
    prepared = sandbox.prepare(plan)
    if isolated:
        os.read(go_read, 1)
        sandbox.become_mapped_root()
        sandbox.die_with_parent()  # a change of credentials clears the parent-death signal: set it again
    worker = os.fork()
    if worker == 0:
        sandbox.die_with_parent()
        try:
            if isolated:
                folder = sandbox.isolate_worker(plan, prepared)
            else:
                os.setsid()
                folder = plan.work
                os.environ.update(HOME=folder, TMPDIR=folder)
            sandbox.apply_limits(plan.limits)
            os.chdir(folder)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            # Nothing else the zygote held (the pipes it shares with the judge) reaches the submission.
            low, high = sorted((stream, log))
            os.closerange(3, low)
            os.closerange(low + 1, high)
            os.closerange(high + 1, 65536)
            # Python's own streams afresh on 0, 1 and 2: the old ones may sit on closed descriptors, or hold
            # what the judge had buffered when it forked the zygote.
            sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.dont_write_bytecode = True
            import pytest

            arguments = [argument.replace("{work}", folder) for argument in request["argv"]]
            code = pytest.main([*arguments, "--stream-fd", str(stream)])
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(code))
        except BaseException as error:  # noqa: BLE001 - the sandbox could not be set up: say why, in the log
            try:
                import traceback

                os.write(log, f"\ntorchprep: the grading sandbox failed: {error!r}\n".encode())
                os.write(log, "".join(traceback.format_exception(error)).encode())
            finally:
                os._exit(70)
    _, status = os.waitpid(worker, 0)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _fork_run(request: dict, channel: socket.socket) -> tuple[int, bool]:
    """Fork one run's waiter and, when it entered new namespaces, write its uid and gid maps."""
    sync_read, sync_write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        channel.close()  # a run must never talk to the zygote: it could ask for runs of its own
        os.close(sync_read)
        os.close(go_write)
        _run_child(request, sync_read, sync_write, go_read)
    os.close(sync_write)
    os.close(go_read)
    isolated = os.read(sync_read, 1) == b"1"
    if isolated:
        try:
            sandbox.write_id_maps(pid)
        except OSError:
            pass  # the child then cannot become root inside: its setup fails and says so in the log
        os.write(go_write, b"1")
    os.close(sync_read)
    os.close(go_write)
    return pid, isolated


def serve(channel: socket.socket) -> None:
    """The zygote's loop: start runs on request, report each end; exits when the judge goes."""
    sandbox.die_with_parent()
    if sandbox.supported():
        sandbox._c().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a run come back here, to be reaped
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Everything imported so far (torch, pytest) moves to the collector's permanent generation: a run's
    # gc.collect() then scans only what the run made. pytest collects five times at its end, and over
    # torch's heap that alone cost a second of every run, longer than most exercises' tests.
    gc.collect()
    gc.freeze()
    waiters: dict[int, int] = {}
    # Requests are read into a buffer of our own: two requests can arrive in one read, and a buffered file
    # over the socket would hold the second where select() cannot see it, leaving that run unstarted.
    pending = b""
    while True:
        ready, _, _ = select.select([channel], [], [], 0.02)
        if ready:
            chunk = channel.recv(65536)
            if not chunk:
                for pid in waiters:
                    _kill(pid)
                os._exit(0)
            pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid, isolated = _fork_run(request, channel)
            waiters[pid] = request["run"]
            isolation = sandbox.NAMESPACES if isolated else sandbox.FALLBACK
            channel.sendall(json.dumps({"started": request["run"], "pid": pid, "isolation": isolation}).encode()
                            + b"\n")
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            run = waiters.pop(pid, None)
            if run is not None:
                code = os.waitstatus_to_exitcode(status)
                channel.sendall(json.dumps({"ended": run, "code": code}).encode() + b"\n")


def _kill(pid: int) -> None:
    if pid <= 0:  # 0 and -1 would signal a whole process group, or every process we may signal
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Zygote:
    """The judge's handle on its zygote: start runs, wait for them, kill them."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            parent.close()
            try:
                serve(child)
            finally:
                os._exit(0)
        child.close()
        self._channel = parent
        self._lock = threading.Lock()
        self._events: dict[int, dict] = {}
        self._changed = threading.Condition()
        self._next = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._channel.makefile("rb"):
            message = json.loads(line)
            with self._changed:
                key = message.get("started", message.get("ended"))
                self._events.setdefault(key, {}).update(message)
                self._changed.notify_all()
        with self._changed:
            self._events[-1] = {"gone": True}
            self._changed.notify_all()

    def start(self, *, argv: Sequence[str], work: str, stream: str, log: str, hide: Sequence[str],
              secrets: Sequence[str], limits: sandbox.Limits, token: str, isolate: bool = True) -> int:
        with self._lock:
            self._next += 1
            run = self._next
            request = {"run": run, "argv": list(argv), "work": work, "stream": stream, "log": log,
                       "hide": list(hide), "secrets": list(secrets), "keep": list(sandbox._import_paths()),
                       "limits": asdict(limits), "token": token, "isolate": isolate}
            self._channel.sendall(json.dumps(request).encode() + b"\n")
        return run

    def wait_started(self, run: int) -> dict:
        with self._changed:
            self._changed.wait_for(lambda: "pid" in self._events.get(run, {}) or -1 in self._events)
            return dict(self._events.get(run, {}))

    def wait_ended(self, run: int, timeout: float | None) -> int | None:
        """The run's exit code, or None when it is still running after ``timeout`` seconds."""
        with self._changed:
            done = self._changed.wait_for(lambda: "code" in self._events.get(run, {}) or -1 in self._events,
                                          timeout)
            if not done:
                return None
            return self._events.get(run, {}).get("code", -signal.SIGKILL)

    def kill(self, pid: int) -> None:
        _kill(pid)

    def close(self) -> None:
        try:
            self._channel.close()
        except OSError:
            pass
        _kill(self.pid)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
