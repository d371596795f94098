"""The grader on a tiny torch-free exercise: every way a submission can break comes back as a result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quiz import catalog
from quiz.grading import runner, sandbox
from quiz.store import Store
from tests.conftest import FIXTURES, subprocess_env, torchprep_command

SUBMISSIONS = FIXTURES / "submissions"


@pytest.fixture
def adder(fixture_catalog):
    return catalog.get("adder")


def statuses(result):
    return {test.name: test.status for test in result.tests}


def test_reference_passes_and_cuda_tests_count_apart(adder):
    result = runner.grade(adder, FIXTURES / "solutions" / "adder.py")
    assert (result.status, result.passed, result.total, result.skipped) == ("pass", 2, 2, 1)
    assert statuses(result)["test_scale_on_gpu"] == "skip"
    assert result.message == "all 2 tests passed; 1 needs a CUDA GPU and was not checked here"
    assert {t.name: t.task for t in result.tests} == {"test_add_matches_reference": "add", "test_scale": "scale",
                                                      "test_scale_on_gpu": "scale"}


def test_starter_fails_with_a_learner_message(adder):
    result = runner.grade(adder, adder.starter)
    assert result.status == "fail" and result.passed == 0
    assert result.tests[0].message.startswith("not implemented yet: it still raises NotImplementedError (line 6")


def test_a_wrong_answer_says_what_was_expected_and_what_came(adder):
    result = runner.grade(adder, SUBMISSIONS / "wrong_add.py")
    assert (result.status, result.passed, result.total) == ("fail", 1, 2)
    assert result.tests[0].message == "add(1, 2): expected 3, got -1"
    assert result.message == "1 of 2 tests failed; 1 needs a CUDA GPU and was not checked here"


def test_a_skip_inside_the_submission_fails_instead_of_dropping_out(adder):
    result = runner.grade(adder, SUBMISSIONS / "skips.py")
    assert (result.status, result.passed, result.total) == ("fail", 0, 2)
    assert all("pytest.skip()" in t.message for t in result.tests if t.status == "fail")


def test_a_lying_eq_is_compared_by_value_in_the_judge(adder):
    result = runner.grade(adder, SUBMISSIONS / "lying_int.py")
    assert (result.status, result.passed) == ("fail", 0)
    assert "Yes object" in result.tests[0].message


@pytest.mark.parametrize(("file", "status", "message"), [
    ("syntax_error.py", "error", "syntax_error.py line 1: syntax error: expected ':'. Fix it and check again."),
    ("import_error.py", "error", "the submission does not import: import_error.py fails when imported (line 1): "
                                 "ImportError: cannot import name 'does_not_exist' from 'math'"),
    ("exit_at_import.py", "error", "the submission does not import: exit_at_import.py fails when imported "
                                   "(line 2): SystemExit: 3"),
    ("os_exit.py", "error", "the grading run ended with exit code 0 before all tests were done"),
    ("segfault.py", "error", "the grading run was killed by SIGSEGV before all tests were done"),
])
def test_broken_submissions_are_graded_error_with_a_reason(adder, file, status, message):
    result = runner.grade(adder, SUBMISSIONS / file)
    assert result.status == status
    assert result.message.startswith(message), result.message


def test_sys_exit_inside_a_function_fails_that_test_only(adder):
    result = runner.grade(adder, SUBMISSIONS / "exit_in_function.py")
    assert result.status == "fail"
    assert statuses(result) == {"test_add_matches_reference": "fail", "test_scale": "pass",
                                "test_scale_on_gpu": "skip"}
    assert "called sys.exit()" in result.tests[0].message


def test_an_endless_loop_is_stopped_at_the_timeout(adder):
    result = runner.grade(adder, SUBMISSIONS / "endless_loop.py", timeout=3)
    assert result.status == "error"
    assert result.message.startswith("the tests did not finish within 3 s and were stopped")
    assert result.duration_s < 30


def test_megabytes_of_print_are_cut(adder):
    result = runner.grade(adder, SUBMISSIONS / "prints_megabytes.py")
    assert result.status == "pass"
    assert 0 < len(result.tests[0].output) < 5_000
    assert "more characters cut" in result.tests[0].output


def test_a_missing_file_is_an_error_not_a_crash(adder, tmp_path):
    result = runner.grade(adder, tmp_path / "nope.py")
    assert result.status == "error" and "torchprep start adder" in result.message


def test_json_has_the_exercism_shape(cli, fixture_catalog, isolated):
    result = cli("check", "adder", "--file", SUBMISSIONS / "wrong_add.py", "--json", expect=1)
    document = json.loads(result.output)
    assert set(document) >= {"version", "exercise", "status", "message", "tests", "passed", "total", "duration_s"}
    assert (document["version"], document["exercise"], document["status"]) == (3, "adder", "fail")
    assert (document["passed"], document["total"]) == (1, 2)
    assert set(document["tests"][0]) >= {"name", "task", "status", "message", "output"}
    assert document["isolation"] in (sandbox.NAMESPACES, sandbox.FALLBACK)
    with Store.open(isolated) as store:
        attempt = store.attempts("adder")[0]
    assert (attempt.status, attempt.passed, attempt.total) == ("fail", 1, 2)
    assert len(attempt.submission_sha256) == 64


def test_check_shows_each_task_and_its_first_failure(cli, fixture_catalog):
    result = cli("check", "adder", "--file", SUBMISSIONS / "wrong_add.py", expect=1)
    assert "✗ add  0/1 tests passed" in result.output
    assert "  test_add_matches_reference" in result.output
    assert "    add(1, 2): expected 3, got -1" in result.output
    assert "✓ scale  1/1 tests, 1 more needs a CUDA GPU" in result.output
    assert "add ✗ 1 · scale ✓" in result.output
    assert "FAIL  1/2 tests passed  (2 of 3 checked; 1 needs a CUDA GPU" in result.output
    assert "Next: fix add" in result.output and "torchprep hint adder" in result.output
    result = cli("check", "adder", "--file", FIXTURES / "solutions" / "adder.py", expect=0)
    assert "PASS  2/2 tests" in result.output
    assert "torchprep solution adder" in result.output


def test_verbose_check_lists_every_test(cli, fixture_catalog):
    result = cli("check", "adder", "--file", SUBMISSIONS / "wrong_add.py", "--verbose", expect=1)
    assert "✗ test_add_matches_reference  [add]" in result.output
    assert "✓ test_scale  [scale]" in result.output
    assert "- test_scale_on_gpu  [scale]" in result.output and "needs a CUDA GPU" in result.output


def test_verbose_check_says_which_sandbox_ran(cli, fixture_catalog):
    result = cli("check", "adder", "--file", FIXTURES / "solutions" / "adder.py", "--verbose")
    assert "Sandbox: " in result.output


def test_the_fallback_without_namespaces_grades_the_same(adder):
    result = runner.grade(adder, SUBMISSIONS / "wrong_add.py", isolate=False)
    assert result.isolation == sandbox.FALLBACK
    assert (result.status, result.passed) == ("fail", 1)
    assert result.tests[0].message == "add(1, 2): expected 3, got -1"


MARKER = b"7777.0191"  # the argument of the sleep that spawns_and_loops.py double-forks


def _processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) for every process on the machine."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (parent, (entry / "cmdline").read_bytes())
            except (OSError, IndexError, ValueError):
                continue
    return found


def _descendants(root: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def _with_marker() -> list[int]:
    return [pid for pid, (_, command) in _processes().items() if MARKER in command]


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# The tests that look for the marker run one after another on one worker: another test's submission carries
# the same marker, and would be taken for this one's, or for a leftover.
ONE_AT_A_TIME = pytest.mark.xdist_group("marker-processes")


@ONE_AT_A_TIME
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_process_outlives_a_check_that_timed_out(adder):
    result = runner.grade(adder, SUBMISSIONS / "spawns_and_loops.py", timeout=4)
    assert result.status == "error" and "did not finish within 4 s" in result.message
    assert _wait_for(lambda: not _with_marker(), 5), "the double-forked sleep outlived the check"


@ONE_AT_A_TIME
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_no_process_outlives_torchprep_stopped_mid_check(fixture_catalog, signum):
    command = [*torchprep_command(), "check", "adder", "--file", str(SUBMISSIONS / "spawns_and_loops.py"),
               "--timeout", "120"]
    process = subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: bool(set(_with_marker()) & _descendants(process.pid)), 60), \
            "the submission never started"
        started = _descendants(process.pid)
        assert started, "torchprep started no grading processes"
        process.send_signal(signum)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert _wait_for(lambda: not (started & set(_processes())) and not _with_marker(), 10), (
        f"alive after {signum.name}: {sorted(started & set(_processes()))}, marker: {_with_marker()}")


def test_the_zygote_starts_every_run_when_requests_arrive_together(tmp_path):
    """Start requests sent back to back can reach the zygote in one read; every one of them must run and end
    (a buffered reader once left the second unstarted, and a batch hung)."""
    from quiz.grading.zygote import Zygote

    zygote = Zygote()
    try:
        runs = []
        for index in range(4):
            work = tmp_path / f"run{index}"
            work.mkdir()
            runs.append(zygote.start(argv=["-p", "quiz.grading.plugin", "--version"], work=str(work),
                                     stream=str(work / "stream"), log=str(work / "log"), hide=[], secrets=[],
                                     limits=sandbox.Limits(memory_bytes=4 * 2**30), token=f"zygote-test-{index}",
                                     isolate=False))
        codes = [zygote.wait_ended(run, 60) for run in runs]
    finally:
        zygote.close()
    assert codes == [0, 0, 0, 0], [(work.name, (work / "log").read_text()[-300:]) for work in tmp_path.iterdir()]


def test_gradings_side_by_side_share_the_cores_out_unless_the_user_set_the_threads(monkeypatch):
    from quiz.grading import runner

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert runner._threads_for(1) is None, "one grading keeps torch's own default"
    assert (runner._threads_for(2), runner._threads_for(3), runner._threads_for(16)) == ("4", "2", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert runner._threads_for(2) is None, "a thread count the user set is theirs"
