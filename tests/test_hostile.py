"""Hostile submissions (tests/hostile/*.py) against the real judge: none passes, none hangs, none leaves a
process behind or changes a file outside its sandbox, none reads the reference or reaches the network.

Each file attacks the grader one way (patched torch or pytest, a forged stream, a lying subclass, a skip,
leftover processes, a pickle payload, a flood, reading or writing other files) on top of a wrong
tensor_ops. The suite grows whenever someone finds a new way.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

import pytest

from quiz import catalog, paths
from quiz.grading import runner, sandbox

HOSTILE = sorted((Path(__file__).resolve().parent / "hostile").glob("*.py"))
# These attacks are stopped by the namespace sandbox only: the fallback cannot hide or protect files.
STOPPED_BY_NAMESPACES_ONLY = {"read_reference", "replay_cached_stream"}
SURVIVOR_MARKERS = (b"8888.0417", b"8888.0418")
ESCAPE_MARKERS = ("/tmp/torchprep-hostile-escaped", "/tmp/torchprep-hostile-pickle-ran")


def _fingerprint() -> dict[str, str]:
    roots = [paths.exercises_dir(), paths.solutions_dir(), paths.PACKAGE_DIR]
    return {str(file): hashlib.sha256(file.read_bytes()).hexdigest()
            for root in roots for file in sorted(root.rglob("*")) if file.is_file() and "__pycache__" not in file.parts}


def _survivors() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if any(marker in command for marker in SURVIVOR_MARKERS):
                found.append(f"{entry.name}: {command.replace(bytes(1), b' ').decode(errors='replace')}")
    return found


class _Listener:
    """A TCP port on the host's loopback: a sandboxed run must not be able to connect to it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                self.received.append(connection.recv(100) or b"(connected)")

    def close(self):
        self.stop.set()
        self.thread.join()
        self.server.close()


def _grade(isolate: bool, files: list[Path], monkeypatch) -> list:
    exercise = catalog.get("tensor_ops")
    return runner.grade_many(exercise, files, jobs=2, timeout=60, memory_gib=2, isolate=isolate)


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.supported(), reason="the namespace sandbox is Linux-only")
def test_no_hostile_submission_passes_hangs_or_leaves_anything_behind(monkeypatch):
    for marker in ESCAPE_MARKERS:
        Path(marker).unlink(missing_ok=True)
    listener = _Listener()
    monkeypatch.setenv("TORCHPREP_HOSTILE_PORT", str(listener.port))
    before = _fingerprint()
    try:
        results = _grade(True, HOSTILE, monkeypatch)
    finally:
        listener.close()
    assert len(HOSTILE) >= 25
    isolation = {result.isolation for result in results if result.isolation}
    if isolation != {sandbox.NAMESPACES}:
        pytest.skip(f"namespaces are refused on this machine ({isolation}); the fallback is tested below")
    passed = [f"{Path(r.submission).name}: {r.message}" for r in results if r.status not in ("fail", "error")]
    assert not passed, "hostile submissions graded pass:\n" + "\n".join(passed)
    assert _survivors() == [], "processes outlived the check"
    assert _fingerprint() == before, "a hostile submission changed torchprep's files"
    assert [marker for marker in ESCAPE_MARKERS if Path(marker).exists()] == []
    assert not Path.home().joinpath("torchprep-hostile-escaped").exists()
    assert listener.received == [], "a sandboxed run reached the host's loopback"
    by_name = {Path(r.submission).stem: r for r in results}
    # The attacks' own tell-tales reach the learner as plain text: no terminal escape survives.
    assert all("\x1b" not in t.message for t in by_name["terminal_escapes"].tests)
    assert "memory" in " ".join(t.message for t in by_name["memory_hog"].tests), by_name["memory_hog"].message
    assert any("pytest.skip()" in t.message for t in by_name["pytest_skip"].tests)
    assert "broken" in by_name["pickle_payload"].message or by_name["pickle_payload"].status == "error"


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.supported(), reason="Linux-only: /proc is read for leftovers")
def test_the_fallback_without_namespaces_still_never_passes_a_hostile_submission(monkeypatch):
    files = [f for f in HOSTILE if f.stem not in STOPPED_BY_NAMESPACES_ONLY and f.stem not in (
        "rewrite_catalog", "write_outside", "reach_network", "fork_bomb")]
    results = _grade(False, files, monkeypatch)
    assert {result.isolation for result in results if result.isolation} == {sandbox.FALLBACK}
    passed = [f"{Path(r.submission).name}: {r.message}" for r in results if r.status not in ("fail", "error")]
    assert not passed, "hostile submissions graded pass without namespaces:\n" + "\n".join(passed)
    assert _survivors() == [], "processes outlived the check (the fallback's sweep missed them)"
