"""The trusted judge (quiz/grading/judge.py) without torch and without a sandbox.

The judge takes its zygote as an argument: here a fake one plays each run from a script (the records a run
would have written, its exit code, whether it timed out). torch is replaced by a stub that only knows what
the judge and the stream use (its version, CUDA's absence, save and load as pickle), so these tests run in
milliseconds and exercise the judge's own decisions: which runs it starts and with which limits, how it
caches the reference, and how it turns a run into a verdict.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from quiz.grading import judge, manifest, sandbox, stream
from quiz.grading.results import GradeResult, TestResult
from tests.conftest import ROOT

REFERENCE_SOURCE = b"def add(a, b):\n    return a + b\n"


@pytest.fixture
def fake_torch(monkeypatch):
    torch = types.ModuleType("torch")
    torch.__version__ = "0.0-stub"
    torch.cuda = types.SimpleNamespace(is_available=lambda: torch.has_cuda)
    torch.has_cuda = False
    serialization = types.ModuleType("torch.serialization")
    serialization.save = lambda obj, buffer: pickle.dump(obj, buffer)
    torch.serialization = serialization
    torch.load = lambda buffer, weights_only, map_location: pickle.load(buffer)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch.serialization", serialization)
    monkeypatch.setattr(stream, "_save", None)  # bound to the stub's save for this test, then restored
    monkeypatch.setattr(judge, "_REMEMBERED", {})
    return torch


def test_record(name, observations=(), status="returned", **extra):
    return {"kind": "test", "name": name, "observations": [list(o) for o in observations],
            "outcome": {"status": status, **extra.pop("outcome", {})}, "output": extra.pop("output", ""), **extra}


test_record.__test__ = False

TESTS = [["test_small", "add", False], ["test_large", "add", False]]


def session(tests=TESTS, **extra):
    return {"kind": "session", "tests": tests, **extra}


REFERENCE = [session(), test_record("test_small", [("sum", 3, {})]), test_record("test_large", [("sum", 30, {})])]


class Script:
    """What one run does: the records it writes, how it ends (and, optionally, a process it leaves behind)."""

    def __init__(self, records, code=0, timed_out=False, isolation=sandbox.FALLBACK, log="", raw=b"",
                 leftover=False):
        self.records, self.code, self.timed_out, self.isolation, self.log, self.raw = (
            records, code, timed_out, isolation, log, raw)
        self.leftover = leftover


class FakeZygote:
    """Plays each run from its script; runs may start from two threads at once (reference and submission)."""

    def __init__(self, scripts: dict[bytes, Script]):
        self.scripts = scripts
        self.started: list[dict] = []
        self.killed: list[int] = []
        self.lock = threading.Lock()

    def start(self, *, argv, work, stream, log, hide, secrets, limits, token, isolate):
        impl = Path(argv[argv.index("--impl") + 1].replace("{work}", work))
        source = impl.read_bytes()
        script = self.scripts[source]
        tests = Path(work) / next(Path(a).name for a in argv if a.startswith("{work}/test_"))
        with open(stream, "wb") as handle:
            for record in script.records:
                payload = pickle.dumps(record)
                handle.write(len(payload).to_bytes(8, "big") + payload)
            handle.write(script.raw)
        if script.log is not None:
            Path(log).write_bytes(script.log.encode() if isinstance(script.log, str) else script.log)
        leftover = None
        if script.leftover:  # as the fallback sandbox may leave a child: only its token finds it
            leftover = subprocess.Popen(["sleep", "30"], env={**os.environ, sandbox.TOKEN_VARIABLE: token})
        with self.lock:
            self.started.append({"argv": argv, "work": work, "impl": impl.name, "source": source, "hide": hide,
                                 "secrets": secrets, "limits": limits, "token": token, "isolate": isolate,
                                 "tests": tests.read_bytes(), "ini": (Path(work) / "pytest.ini").is_file(),
                                 "script": script, "waits": [], "leftover": leftover})
            return len(self.started) - 1

    def wait_started(self, run):
        isolation = self.started[run]["script"].isolation
        return {"pid": 1000 + run} if isolation is None else {"pid": 1000 + run, "isolation": isolation}

    def wait_ended(self, run, timeout):
        started = self.started[run]
        started["waits"].append(timeout)
        if started["script"].timed_out and len(started["waits"]) == 1:
            return None
        return started["script"].code

    def kill(self, pid):
        self.killed.append(pid)
        for started in self.started:
            if started["leftover"] is not None and started["leftover"].pid == pid:
                started["leftover"].kill()
                started["leftover"].wait()

    def run_of(self, impl: str) -> dict:
        (found,) = [s for s in self.started if s["impl"] == impl]
        return found


def passing(name="test_small", value=3):
    return test_record(name, [("sum", value, {})], duration_s=0.25)


@pytest.fixture
def catalog(tmp_path):
    tests = tmp_path / "exercises" / "adder" / "test_adder.py"
    tests.parent.mkdir(parents=True)
    tests.write_bytes(b"def test_small(): ...\n")
    reference = tmp_path / "solutions" / "adder.py"
    reference.parent.mkdir()
    reference.write_bytes(REFERENCE_SOURCE)
    return tests, reference


# The judge kills every process carrying its run's token: one of its own per test process, so a run of these
# tests never touches what another run (a second checkout, a mutation run) left behind.
TOKEN = f"tok{os.getpid()}"


def make_job(tmp_path, catalog, **extra):
    tests, reference = catalog
    scratch = tmp_path / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    job = {"exercise": "adder", "tests": str(tests), "reference": str(reference), "builtin": False,
           "cache_dir": str(tmp_path / "cache"), "timeout": 5, "memory_gib": 1.5, "scratch": str(scratch),
           "token": TOKEN, "jobs": 2, "hide": ["/hidden"], "secrets": ["", "/secret"], "isolate": False}
    job.update(extra)
    return job


def submit(tmp_path, name: str, source: bytes) -> str:
    path = tmp_path / "subs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(source)
    return str(path)


def grade(tmp_path, catalog, scripts, sources, **job_extra):
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), **scripts})
    progress = []
    j = judge.Judge(make_job(tmp_path, catalog, **job_extra), zygote, progress.append)
    paths = [submit(tmp_path, f"sub{n}.py", source) for n, source in enumerate(sources)]
    results = j.grade(paths)
    j.close()
    return results, zygote, progress


# -- the verdict of whole runs ------------------------------------------------------------------------------

def test_a_submission_observing_what_the_reference_observed_passes(fake_torch, tmp_path, catalog):
    good = b"def add(a, b):\n    return b + a\n"
    run = [session(), passing(), passing("test_large", 30)]
    (result,), zygote, progress = grade(tmp_path, catalog, {good: Script(run)}, [good])
    assert (result.status, result.message) == ("pass", "all 2 tests passed")
    assert result.tests == (TestResult("test_small", "add", "pass"), TestResult("test_large", "add", "pass"))
    assert result.submission_sha256 == judge.sha256(good)
    assert result.exercise == "adder" and result.submission.endswith("sub0.py")
    assert result.isolation == sandbox.FALLBACK
    assert result.tests_s == 0.5, "the run's own timings are summed"
    assert progress == [{"progress": 1, "total": 1, "status": "pass"}]


def test_one_wrong_observation_fails_its_test_and_the_submission(fake_torch, tmp_path, catalog):
    wrong = b"def add(a, b):\n    return a * b\n"
    run = [session(), passing(), passing("test_large", 31)]
    (result,), _, _ = grade(tmp_path, catalog, {wrong: Script(run, code=1)}, [wrong])
    assert (result.status, result.message) == ("fail", "1 of 2 tests failed")
    assert result.tests[1] == TestResult("test_large", "add", "fail", "sum: expected 30, got 31")
    assert result.passed == 1 and result.total == 2


def test_a_run_where_no_test_counts_is_never_a_pass(fake_torch, tmp_path, catalog):
    cuda_only = [session(tests=[["test_gpu", "add", True]])]
    zygote = FakeZygote({REFERENCE_SOURCE: Script(cuda_only), b"x = 1\n": Script([session()])})
    j = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "s.py", b"x = 1\n")])
    assert result.status == "fail", "nothing checked here is not a pass"
    assert result.message == "0 of 0 tests failed; 1 needs a CUDA GPU and was not checked here"
    assert result.tests == (TestResult("test_gpu", "add", "skip", "needs a CUDA GPU; not checked on this machine"),)


def test_tests_needing_cuda_are_skipped_and_said_when_there_is_none(fake_torch, tmp_path, catalog):
    tests = [["test_small", "add", False], ["test_gpu", "add", True], ["test_gpu2", None, True]]
    reference = [session(tests=tests), passing()]
    sub = b"y = 2\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script([session(), passing()])})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert (result.status, result.message) == (
        "pass", "all 1 tests passed; 2 need a CUDA GPU and were not checked here")
    assert [t.status for t in result.tests] == ["pass", "skip", "skip"]


def test_with_cuda_every_test_is_checked(fake_torch, tmp_path, catalog):
    fake_torch.has_cuda = True
    tests = [["test_small", "add", False], ["test_gpu", "add", True]]
    reference = [session(tests=tests), passing(), test_record("test_gpu", [("dev", "cuda", {})])]
    sub = b"z = 3\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script([session(), passing()])})
    j = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "s.py", sub)])
    assert "--cuda" in zygote.started[0]["argv"]
    assert zygote.started[0]["argv"][zygote.started[0]["argv"].index("--cuda") + 1] == "1"
    assert result.status == "error", "a test that never reported is not skipped when there is a GPU"
    assert result.tests[1].message == "not run: the grading run ended before this test finished"


def test_a_submission_that_does_not_import_errors_on_every_test(fake_torch, tmp_path, catalog):
    sub = b"import nothing_here\n"
    tests = [["test_small", "add", False], ["test_gpu", "add", True]]
    reference = [session(tests=tests), passing()]
    run = [session(impl_error="ModuleNotFoundError: No module named 'nothing_here'\x1b[0m")]
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(run, code=1)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert (result.status, result.message) == (
        "error", "the submission does not import: ModuleNotFoundError: No module named 'nothing_here'")
    assert result.tests == (TestResult("test_small", "add", "error", "not run: the submission does not import"),
                            TestResult("test_gpu", "add", "skip", "needs a CUDA GPU; not checked on this machine"))


def test_a_run_that_timed_out_is_killed_and_told(fake_torch, tmp_path, catalog):
    sub = b"while True: pass\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), sub: Script([session()], code=-9, timed_out=True)})
    j = judge.Judge(make_job(tmp_path, catalog, timeout=2.5), zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "s.py", sub)])
    assert result.status == "error"
    assert result.message == ("the tests did not finish within 2.5 s and were stopped: is there an endless loop, "
                              "or a step far slower than it needs to be?")
    run = zygote.run_of("s.py")
    assert run["waits"] == [2.5, 30], "the submission gets its timeout, then 30 s to die"
    assert zygote.killed == [1000 + zygote.started.index(run)]


def test_a_timed_out_run_whose_zygote_is_gone_kills_nothing_and_is_still_told(fake_torch, tmp_path, catalog):
    class GoneZygote(FakeZygote):
        def wait_started(self, run):
            return {}  # what the real zygote gives when it died before the run had a pid

    sub = b"while True: pass\n"
    zygote = GoneZygote({REFERENCE_SOURCE: Script(REFERENCE), sub: Script([session()], code=-9, timed_out=True)})
    (result,) = judge.Judge(make_job(tmp_path, catalog, timeout=2.5), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.status == "error" and result.message.startswith("the tests did not finish within 2.5 s")
    assert zygote.killed == []


def test_the_zygote_never_signals_a_process_group_by_a_pid_of_0_or_less(monkeypatch):
    from quiz.grading import zygote as zygote_module

    sent = []
    monkeypatch.setattr(zygote_module.os, "kill", lambda pid, signum: sent.append((pid, signum)))
    for pid in (0, -1, -1234, 4321):
        zygote_module._kill(pid)
    assert sent == [(4321, zygote_module.signal.SIGKILL)]


def test_a_test_reported_twice_cannot_be_trusted(fake_torch, tmp_path, catalog):
    sub = b"twice = 1\n"
    run = [session(), passing(), passing(), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
    assert (result.status, result.message) == (
        "error", "the run reported test_small twice: its results cannot be trusted")


def test_a_run_that_died_before_its_last_test_is_an_error(fake_torch, tmp_path, catalog):
    sub = b"import os\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(), passing()], code=-9)}, [sub])
    assert result.status == "error"
    assert result.message == ("the grading run was killed by SIGKILL before all tests were done (1 not run): does "
                              "the code call os._exit(), kill its own process or crash the interpreter?")
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(), passing()], code=137)}, [sub])
    assert "was killed by SIGKILL" in result.message
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(), passing()], code=3)}, [sub])
    assert "the grading run ended with exit code 3 before all tests were done (1 not run)" in result.message


def test_an_unexpected_exit_code_is_an_error_even_when_every_test_reported(fake_torch, tmp_path, catalog):
    sub = b"code = 5\n"
    run = [session(), passing(), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run, code=5)}, [sub])
    assert result.status == "error" and "ended with exit code 5 before all tests were done (0 not run)" in \
        result.message


def test_a_run_that_never_started_its_tests_shows_its_log(fake_torch, tmp_path, catalog):
    sub = b"crash = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=2, log="x" * 3000 + "Fatal\x1b[31m!")}, [sub])
    assert result.status == "error"
    assert result.message.startswith("the grading run ended with exit code 2 before it started the tests:\n")
    assert result.message.endswith("xFatal!") and len(result.message) < 1_300


def test_a_sandbox_that_could_not_be_set_up_says_so(fake_torch, tmp_path, catalog):
    sub = b"sandbox = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=70, log="unshare: denied")}, [sub])
    assert (result.status, result.message) == ("error", "the grading sandbox could not be set up: unshare: denied")


def test_a_broken_stream_is_an_error_whatever_the_tests_said(fake_torch, tmp_path, catalog):
    sub = b"broken = 1\n"
    run = [session(), passing(), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run, raw=b"\x00\x01")}, [sub])
    assert (result.status, result.message) == (
        "error", "the grading run's report is broken: the stream ends in the middle of a record (the run ended with "
                 "exit code 0)")
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run, raw=b"\x00\x01", code=-9)}, [sub])
    assert result.message.endswith("the stream ends in the middle of a record (the run was killed by SIGKILL)")


def test_the_first_session_record_counts_and_bad_test_names_are_ignored(fake_torch, tmp_path, catalog):
    sub = b"names = 1\n"
    run = [session(), session(impl_error="forged"), test_record(["not", "text"]), test_record("x" * 1001),
           passing(), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
    assert result.status == "pass"


def test_an_implausible_run_timing_is_left_out(fake_torch, tmp_path, catalog):
    sub = b"timing = 1\n"
    run = [session(), test_record("test_small", [("sum", 3, {})], duration_s=-1.0),
           test_record("test_large", [("sum", 30, {})], duration_s=2e6), {"kind": "other", "duration_s": 4}]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
    assert result.tests_s == 0.0 and result.status == "pass"
    run = [session(), test_record("test_small", [("sum", 3, {})], duration_s="1"),
           test_record("test_large", [("sum", 30, {})], duration_s=3)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
    assert result.tests_s == 3.0


# -- files that never reach a run -----------------------------------------------------------------------------

def test_a_missing_submission_is_told_how_to_start(fake_torch, tmp_path, catalog):
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)})
    progress = []
    j = judge.Judge(make_job(tmp_path, catalog), zygote, progress.append)
    (result,) = j.grade([str(tmp_path / "nowhere.py")])
    assert result == GradeResult("adder", "error", f"there is no file at {tmp_path / 'nowhere.py'}: run "
                                 "`torchprep start adder` first", (), 0.0, str(tmp_path / "nowhere.py"), None)
    assert progress == [{"progress": 1, "total": 1, "status": "error"}]
    assert [s["impl"] for s in zygote.started] == ["adder.py"], "only the reference ran"


def test_an_unreadable_submission_says_why(fake_torch, tmp_path, catalog):
    folder = tmp_path / "a-folder.py"
    folder.mkdir()
    (result,) = judge.Judge(make_job(tmp_path, catalog), FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)}),
                            lambda _: None).grade([str(folder)])
    assert result.status == "error" and result.message == f"cannot read {folder}: Is a directory"
    assert result.submission_sha256 is None


def test_a_submission_that_is_a_pipe_or_too_large_is_an_error_without_waiting_or_reading_it(
        fake_torch, tmp_path, catalog, monkeypatch):
    pipe = tmp_path / "pipe.py"
    os.mkfifo(pipe)  # opening it to read would wait for a writer forever
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 100)
    monkeypatch.setattr(judge, "MAX_SUBMISSION_BYTES", 100)
    results = judge.Judge(make_job(tmp_path, catalog), FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)}),
                          lambda _: None).grade([str(pipe), str(big)])
    assert [(r.status, r.message, r.submission_sha256) for r in results] == [
        ("error", f"{pipe}: a named pipe, not a file: a submission is a file of text", None),
        ("error", f"{big}: too large for a submission (over 100 bytes)", None)]


def test_a_syntax_error_is_reported_with_its_line_and_never_run(fake_torch, tmp_path, catalog):
    source = b"def add(a, b):\n    return a +\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)})
    j = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "adder.py", source)])
    assert result.status == "error"
    assert result.message == "adder.py line 2: syntax error: invalid syntax. Fix it and check again."
    assert result.submission_sha256 == judge.sha256(source)
    (result,) = j.grade([submit(tmp_path, "nul.py", b"x = 1\x00\n")])
    assert result.status == "error" and "null bytes" in result.message  # SyntaxError or ValueError by version
    assert len(zygote.started) == 1


def test_a_submission_not_named_py_runs_as_submission_py(fake_torch, tmp_path, catalog):
    source = b"answer = 42\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), source: Script(REFERENCE)})
    j = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "answer.txt", source)])
    assert result.status == "pass"
    run = zygote.run_of("submission.py")
    assert run["argv"][run["argv"].index("--impl") + 1] == "{work}/submission.py"


# -- the runs the judge starts ---------------------------------------------------------------------------------

def test_each_run_gets_the_tests_the_limits_and_the_hidden_folders(fake_torch, tmp_path, catalog):
    sub = b"limits = 1\n"
    run = [session(), passing(), passing("test_large", 30)]
    (result,), zygote, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub], isolate=True)
    reference_run, submission_run = zygote.run_of("adder.py"), zygote.run_of("sub0.py")
    assert reference_run["source"] == REFERENCE_SOURCE and submission_run["source"] == sub
    for started in zygote.started:
        assert started["tests"] == b"def test_small(): ...\n"
        assert started["ini"], "the grading pytest.ini is copied beside the tests"
        assert started["limits"] == sandbox.Limits(memory_bytes=int(1.5 * 2**30))
        assert started["hide"] == ["/hidden"]
        assert started["secrets"] == ["/secret"], "an empty secret folder is dropped"
        assert started["isolate"] is True
        argv = started["argv"]
        assert argv[:6] == ["-c", "{work}/pytest.ini", "-p", "quiz.grading.plugin", "--rootdir", "{work}"]
        assert "{work}/test_adder.py" in argv
        assert argv[argv.index("--cuda") + 1] == "0"
    assert sorted(s["token"] for s in zygote.started) == [f"{TOKEN}-1", f"{TOKEN}-2"]
    assert reference_run["waits"] == [judge.REFERENCE_TIMEOUT_S], "the reference is not held to the learner's timeout"
    assert submission_run["waits"] == [5.0]
    assert not any((tmp_path / "scratch").iterdir()), "each run's folder is removed"


def test_a_job_without_isolate_or_secrets_gets_the_defaults(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog)
    for key in ("isolate", "secrets", "hide", "timeout", "memory_gib", "token"):
        del job[key]
    sub = b"defaults = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), sub: Script([session(), passing(),
                                                                           passing("test_large", 30)])})
    j = judge.Judge(job, zygote, lambda _: None)
    (result,) = j.grade([submit(tmp_path, "s.py", sub)])
    assert result.status == "pass"
    assert all(s["isolate"] is True and s["secrets"] == [] and s["hide"] == [] for s in zygote.started)
    assert zygote.started[0]["limits"] == sandbox.Limits(memory_bytes=4 * 2**30)
    assert zygote.run_of("adder.py")["waits"] == [judge.REFERENCE_TIMEOUT_S]
    assert zygote.run_of("s.py")["waits"] == [60.0]
    assert len({s["token"] for s in zygote.started}) == 2 and len(j.token) == 16


def test_a_long_timeout_also_applies_to_the_reference(fake_torch, tmp_path, catalog):
    sub = b"slow = 1\n"
    run = [session(), passing(), passing("test_large", 30)]
    _, zygote, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub], timeout=900)
    assert [s["waits"] for s in zygote.started] == [[900.0], [900.0]]


def test_the_judge_removes_only_a_scratch_folder_it_made(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog)
    given = Path(job["scratch"])
    j = judge.Judge(job, FakeZygote({}), lambda _: None)
    j.close()
    assert given.is_dir()
    del job["scratch"]
    own = judge.Judge(job, FakeZygote({}), lambda _: None)
    assert own.scratch.is_dir() and own.scratch.name.startswith("torchprep-judge-")
    own.close()
    assert not own.scratch.exists()
    own.close()  # closing again (its folder already gone, as a temp cleaner may also do) is harmless


def test_many_submissions_are_graded_in_order_with_progress(fake_torch, tmp_path, catalog):
    good, bad = b"good = 1\n", b"bad = 1\n"
    scripts = {good: Script([session(), passing(), passing("test_large", 30)]),
               bad: Script([session(), passing(), passing("test_large", 0)], code=1)}
    results, zygote, progress = grade(tmp_path, catalog, scripts, [good, bad, good], jobs=0)
    assert [r.status for r in results] == ["pass", "fail", "pass"]
    assert [p["progress"] for p in progress] == [1, 2, 3] and {p["total"] for p in progress} == {3}
    assert sorted(p["status"] for p in progress) == ["fail", "pass", "pass"]
    assert [s["impl"] for s in zygote.started].count("adder.py") == 1, "the reference runs once for all"


# -- the reference stream ---------------------------------------------------------------------------------------

def test_the_reference_is_recorded_once_then_read_from_the_cache(fake_torch, tmp_path, catalog):
    sub = b"cached = 1\n"
    run = Script([session(), passing(), passing("test_large", 30)])
    _, zygote, _ = grade(tmp_path, catalog, {sub: run}, [sub])
    assert sorted(s["impl"] for s in zygote.started) == ["adder.py", "sub0.py"]
    cached = list((tmp_path / "cache" / "reference").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("adder-") and cached[0].suffix == ".stream"
    assert stream.read_records(cached[0]) == (REFERENCE, None)
    judge._REMEMBERED.clear()
    (result,), zygote, _ = grade(tmp_path, catalog, {sub: run}, [sub])
    assert [s["impl"] for s in zygote.started] == ["sub0.py"], "the cached stream is used"
    assert result.status == "pass"


def test_a_served_judge_remembers_the_reference_between_jobs(fake_torch, tmp_path, catalog):
    sub = b"served = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), sub: Script([session(), passing(),
                                                                           passing("test_large", 30)])})
    job = make_job(tmp_path, catalog)
    first = judge.Judge(job, zygote, lambda _: None)
    assert first.reference_stream({"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE}) == (
        REFERENCE, "recorded")
    for cached in (tmp_path / "cache" / "reference").iterdir():
        cached.unlink()
    again = judge.Judge(job, zygote, lambda _: None)
    assert again.reference_stream({"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE}) == (
        REFERENCE, "remembered")
    judge._REMEMBERED.clear()
    assert again.reference_stream({"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE}) == (
        REFERENCE, "recorded")
    assert again.reference_stream({"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE})[1] \
        == "remembered"


def test_a_broken_or_empty_cached_stream_is_recorded_again(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog)
    sources = {"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE}
    key = judge.reference_key(job, sources, False)
    cached = tmp_path / "cache" / "reference" / f"{key}.stream"
    cached.parent.mkdir(parents=True)
    for content in (b"", b"\x00\x00"):
        cached.write_bytes(content)
        judge._REMEMBERED.clear()
        zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)})
        assert judge.Judge(job, zygote, lambda _: None).reference_stream(sources) == (REFERENCE, "recorded")
        assert len(zygote.started) == 1
        assert stream.read_records(cached) == (REFERENCE, None)


def test_the_reference_key_changes_with_everything_the_stream_depends_on(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog)
    sources = {"tests": b"t", "reference": b"r"}
    key = judge.reference_key(job, sources, False)
    assert key.startswith("adder-") and len(key) == len("adder-") + 24
    assert judge.reference_key(job, sources, False) == key
    assert judge.reference_key(job, {"tests": b"t2", "reference": b"r"}, False) != key
    assert judge.reference_key(job, {"tests": b"t", "reference": b"r2"}, False) != key
    assert judge.reference_key(job, sources, True) != key
    assert judge.reference_key({**job, "exercise": "other"}, sources, False).startswith("other-")
    assert judge.reference_key(job, {"tests": b"r", "reference": b"t"}, False) != key, "the roles are not swapped"
    fake_torch.__version__ = "0.1-stub"
    assert judge.reference_key(job, sources, False) != key


@pytest.mark.parametrize("script, detail", [
    (Script(REFERENCE, timed_out=True, log="slow"), "slow"),
    (Script(REFERENCE, raw=b"\x00"), "the stream ends in the middle of a record"),
    (Script(REFERENCE[1:], log="no session"), "no session"),
    (Script([session(impl_error="SyntaxError in reference"), *REFERENCE[1:]]), "SyntaxError in reference"),
    (Script(REFERENCE[:2], log="one test short"), "one test short"),
])
def test_a_reference_that_does_not_complete_is_torchprep_s_bug(fake_torch, tmp_path, catalog, script, detail):
    sub = b"anything = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: script, sub: Script(REFERENCE)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.status == "error"
    assert result.message.startswith("the reference solution of adder did not complete its own tests (exit ")
    assert "a bug in torchprep, please report it.\n" in result.message and result.message.endswith(detail)
    assert result.submission_sha256 == judge.sha256(sub)
    assert not (tmp_path / "cache" / "reference").exists(), "a broken reference stream is never cached"


def test_a_reference_needing_cuda_tests_that_did_not_run_here_is_complete(fake_torch, tmp_path, catalog):
    reference = [session(tests=[*TESTS, ["test_gpu", "add", True]]), *REFERENCE[1:]]
    sub = b"fine = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(REFERENCE)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.status == "pass" and result.message.endswith("1 needs a CUDA GPU and was not checked here")


def test_a_reference_failing_its_own_check_is_torchprep_s_bug_and_keeps_the_catalog_s_notes(fake_torch, tmp_path,
                                                                                            catalog, monkeypatch):
    verified = judge.verified_sources
    monkeypatch.setattr(judge, "verified_sources", lambda job, cache: (verified(job, cache)[0], ["a note"]))
    reference = [session(tests=[["test_small", "add", False]]),
                 test_record("test_small", [("sum", 2, {"expect": 3})])]
    sub = b"other = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(reference)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.status == "error"
    assert result.message == ("the reference solution does not meet its own test test_small: sum: expected 3, got 2"
                              ": a bug in torchprep, please report it")
    assert result.notes == ("a note",) and result.submission_sha256 == judge.sha256(sub)


def test_a_result_s_duration_is_its_own_time_in_milliseconds(fake_torch, tmp_path, catalog, monkeypatch):
    monkeypatch.setattr(judge.time, "monotonic", lambda: 101.23456)
    sub = b"fine = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE), sub: Script(REFERENCE)})
    j = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None)
    started = 100.0
    result = j.verdict(REFERENCE, Path("s.py"), sub, {"records": REFERENCE, "code": 0, "timed_out": False,
                                                      "problem": None, "isolation": "x", "log": ""},
                       started, [])
    assert result.status == "pass" and result.duration_s == 1.235


def test_hidden_reference_needs_the_namespace_sandbox(fake_torch, tmp_path, catalog):
    sub = b"hidden = 1\n"
    run = [session(), passing(), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub], hidden_reference=True)
    assert result.status == "error"
    assert result.message == result.notes[-1] == (
        "--hidden-reference needs the namespace sandbox, which this system refuses (only a process session and "
        "limits ran): not graded")
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run, isolation=sandbox.NAMESPACES)}, [sub],
                            hidden_reference=True)
    assert result.status == "pass" and result.notes == ()


# -- the catalog the judge grades with -----------------------------------------------------------------------------

def builtin_job(tmp_path, tests: Path, reference: Path) -> dict:
    return {"exercise": "attention", "tests": str(tests), "reference": str(reference), "builtin": True}


def test_a_builtin_catalog_file_matching_its_hash_is_used_and_kept(tmp_path):
    tests, reference = ROOT / "exercises/attention/test_attention.py", ROOT / "solutions/attention.py"
    sources, notes = judge.verified_sources(builtin_job(tmp_path, tests, reference), tmp_path / "cache")
    assert sources == {"tests": tests.read_bytes(), "reference": reference.read_bytes()} and notes == []
    kept = tmp_path / "cache" / "catalog"
    assert sorted(p.name for p in kept.iterdir()) == sorted(
        manifest.load()[key] for key in judge.catalog_entries("attention").values())


def test_a_changed_builtin_file_is_graded_against_the_verified_copy(tmp_path):
    tests, reference = ROOT / "exercises/attention/test_attention.py", ROOT / "solutions/attention.py"
    judge.verified_sources(builtin_job(tmp_path, tests, reference), tmp_path / "cache")
    changed = tmp_path / "test_attention.py"
    changed.write_bytes(tests.read_bytes() + b"\n# edited\n")
    sources, notes = judge.verified_sources(builtin_job(tmp_path, changed, reference), tmp_path / "cache")
    assert sources == {"tests": tests.read_bytes(), "reference": reference.read_bytes()}
    assert notes == [f"{changed} was changed on disk since torchprep was installed; graded against the copy "
                     "torchprep verified earlier. Reinstall torchprep (or `git checkout` the file) to restore it."]


def test_a_changed_builtin_file_without_a_verified_copy_is_refused(tmp_path):
    reference = tmp_path / "attention.py"
    reference.write_text("def attention(): ...\n")
    tests = ROOT / "exercises/attention/test_attention.py"
    with pytest.raises(judge.JobError) as raised:
        judge.verified_sources(builtin_job(tmp_path, tests, reference), tmp_path / "cache")
    assert str(raised.value) == (
        f"{reference} is not the file torchprep was installed with (its hash differs from the catalog's) and there "
        "is no verified copy to grade against: reinstall torchprep, or `git checkout solutions/attention.py` in a "
        "source checkout.")
    kept = tmp_path / "cache" / "catalog" / manifest.load()["solutions/attention.py"]
    kept.write_bytes(b"tampered")
    with pytest.raises(judge.JobError):
        judge.verified_sources(builtin_job(tmp_path, tests, reference), tmp_path / "cache")


def test_a_user_exercise_is_graded_as_it_is_on_disk(tmp_path, catalog):
    tests, reference = catalog
    job = {"exercise": "attention", "tests": str(tests), "reference": str(reference), "builtin": False}
    assert judge.verified_sources(job, tmp_path / "cache") == (
        {"tests": tests.read_bytes(), "reference": REFERENCE_SOURCE}, [])
    assert not (tmp_path / "cache").exists()
    unknown = {"exercise": "not-in-the-manifest", "tests": str(tests), "reference": str(reference)}
    assert judge.verified_sources(unknown, tmp_path / "cache")[0]["tests"] == tests.read_bytes()


def test_an_unreadable_catalog_file_fails_every_submission_with_its_reason(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog, reference=str(tmp_path / "missing.py"))
    zygote = FakeZygote({})
    results = judge.Judge(job, zygote, lambda _: None).grade(["a.py", "b.py"])
    message = f"cannot read {tmp_path / 'missing.py'}: No such file or directory"
    assert results == [GradeResult("adder", "error", message, (), 0.0, "a.py", None),
                       GradeResult("adder", "error", message, (), 0.0, "b.py", None)]
    assert zygote.started == []


def test_catalog_entries_name_the_tests_and_the_reference():
    assert judge.catalog_entries("cnn") == {"tests": "exercises/cnn/test_cnn.py", "reference": "solutions/cnn.py"}


def test_sha256_is_the_hex_digest():
    assert judge.sha256(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# -- details mutation testing found untested -------------------------------------------------------------------------

RUN = [session(), passing(), passing("test_large", 30)]


def test_the_grading_run_is_asked_for_quiet_colourless_output_against_the_submission(fake_torch, tmp_path, catalog):
    sub = b"argv = 1\n"
    _, zygote, _ = grade(tmp_path, catalog, {sub: Script(RUN)}, [sub])
    assert zygote.run_of("sub0.py")["argv"] == [
        "-c", "{work}/pytest.ini", "-p", "quiz.grading.plugin", "--rootdir", "{work}", "{work}/test_adder.py",
        "--impl", "{work}/sub0.py", "--cuda", "0", "-q", "--no-header", "-p", "no:cacheprovider", "--color=no"]
    assert all(s["isolate"] is False for s in zygote.started), "the job's isolate=False is passed on"


def test_a_given_scratch_folder_is_the_one_used(fake_torch, tmp_path, catalog):
    job = make_job(tmp_path, catalog)
    j = judge.Judge(job, FakeZygote({}), lambda _: None)
    assert j.scratch == Path(job["scratch"]) and not j.owns_scratch


def test_a_process_a_run_leaves_behind_is_killed(fake_torch, tmp_path, catalog):
    sub = b"leaves = 1\n"
    _, zygote, _ = grade(tmp_path, catalog, {sub: Script(RUN, leftover=True)}, [sub])
    leftover = zygote.run_of("sub0.py")["leftover"]
    assert leftover.pid in zygote.killed and leftover.poll() is not None


def test_a_run_whose_sandbox_is_not_said_is_unknown(fake_torch, tmp_path, catalog):
    sub = b"unsaid = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(RUN, isolation=None)}, [sub])
    assert result.status == "pass" and result.isolation == "unknown"


@pytest.mark.parametrize("script, status", [
    (Script([session(impl_error="E")], code=1), "error"),
    (Script([session()], code=-9, timed_out=True), "error"),
    (Script([session(), passing(), passing(), passing("test_large", 30)]), "error"),
    (Script([session(), passing()], code=-9), "error"),
    (Script(RUN, raw=b"\x00"), "error"),
    (Script([session(), passing(), passing("test_large", 1)], code=1), "fail"),
    (Script(RUN), "pass"),
])
def test_every_verdict_says_which_sandbox_ran_and_how_long_it_took(fake_torch, tmp_path, catalog, script, status):
    sub = b"sandbox = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: script}, [sub])
    assert result.status == status and result.isolation == sandbox.FALLBACK
    assert 0 <= result.duration_s < 30 and result.duration_s == round(result.duration_s, 3)


def test_the_runs_own_timing_is_summed_to_a_tenth_of_a_millisecond(fake_torch, tmp_path, catalog):
    sub = b"timing = 2\n"
    run = [session(), test_record("test_small", [("sum", 3, {})], duration_s=0.111111),
           test_record("test_large", [("sum", 30, {})], duration_s=0.222222)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
    assert result.tests_s == 0.3333
    for limit in (1e6, 1e6 + 0.5):
        run = [session(), test_record("test_small", [("sum", 3, {})], duration_s=limit), passing("test_large", 30)]
        (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run)}, [sub])
        assert result.tests_s == 0.25, "a million seconds or more is not a timing"


def test_a_test_name_of_up_to_a_thousand_characters_is_read(fake_torch, tmp_path, catalog):
    for length, status in ((1000, "pass"), (1001, "error")):
        name = "t" * length
        reference = [session(tests=[[name, "add", False]]), test_record(name, [("sum", 3, {})])]
        sub = f"name = {length}\n".encode()
        zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(reference)})
        judge._REMEMBERED.clear()
        (result,) = judge.Judge(make_job(tmp_path / str(length), catalog), zygote, lambda _: None).grade(
            [submit(tmp_path, f"n{length}.py", sub)])
        assert result.status == status, length


def test_a_test_out_of_memory_names_the_jobs_limit_and_keeps_its_output(fake_torch, tmp_path, catalog):
    sub = b"memory = 1\n"
    run = [session(), test_record("test_small", [], status="raised", outcome={"type": "MemoryError"},
                                  output="before the crash"), passing("test_large", 30)]
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(run, code=1)}, [sub])
    assert result.tests[0].message.startswith("it used more than 1.5 GiB of memory")
    assert result.tests[0].output == "before the crash"


def test_a_long_import_error_is_cut(fake_torch, tmp_path, catalog):
    sub = b"long = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(impl_error="x" * 2000)], code=1)}, [sub])
    assert result.message == "the submission does not import: " + "x" * 1500 + " ..."


def test_an_exit_by_signal_number_plus_128_names_the_signal(fake_torch, tmp_path, catalog):
    sub = b"hup = 1\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(), passing()], code=129)}, [sub])
    assert "was killed by SIGHUP before all tests were done" in result.message
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([session(), passing()], code=128)}, [sub])
    assert "ended with exit code 128" in result.message


def test_long_logs_are_cut_to_their_ends(fake_torch, tmp_path, catalog):
    sub = b"logs = 1\n"
    log = "a" * 2000 + "b" * 1200
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=70, log=log)}, [sub])
    assert result.message == "the grading sandbox could not be set up: " + "b" * 600
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=2, log=log)}, [sub])
    assert result.message == "the grading run ended with exit code 2 before it started the tests:\n" + "b" * 1200
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=2, log=b"bad \xff byte")}, [sub])
    assert result.message.endswith("bad \ufffd byte"), "a log that is not UTF-8 is still shown"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script([], code=2, log=None)}, [sub])
    assert result.message == "the grading run ended with exit code 2 before it started the tests:\n"


def test_a_broken_reference_run_shows_the_end_of_its_log(fake_torch, tmp_path, catalog):
    sub = b"ref_log = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script([], log="a" * 100 + "z" * 1500), sub: Script(RUN)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result == GradeResult("adder", "error", "the reference solution of adder did not complete its own tests "
                                 "(exit 0): a bug in torchprep, please report it.\n" + "z" * 1500, (), 0.0,
                                 str(tmp_path / "subs" / "s.py"), judge.sha256(sub))


def test_a_reference_out_of_memory_is_torchprep_s_bug_naming_the_limit(fake_torch, tmp_path, catalog):
    reference = [session(tests=[["test_small", "add", False]]),
                 test_record("test_small", [], status="raised", outcome={"type": "MemoryError"})]
    sub = b"refmem = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(reference)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.message.startswith("the reference solution fails test_small: it used more than 1.5 GiB")


def test_the_reference_is_cached_under_the_key_of_this_machine(fake_torch, tmp_path, catalog):
    fake_torch.has_cuda = True
    job = make_job(tmp_path, catalog)
    sources = {"tests": Path(job["tests"]).read_bytes(), "reference": REFERENCE_SOURCE}
    zygote = FakeZygote({REFERENCE_SOURCE: Script(REFERENCE)})
    assert judge.Judge(job, zygote, lambda _: None).reference_stream(sources)[1] == "recorded"
    (cached,) = (tmp_path / "cache" / "reference").iterdir()
    assert cached.name == judge.reference_key(job, sources, True) + ".stream"
    judge._REMEMBERED.clear()
    assert judge.Judge(job, zygote, lambda _: None).reference_stream(sources) == (REFERENCE, "cached")


def test_a_hidden_reference_refusal_has_no_sandbox_and_no_timing(fake_torch, tmp_path, catalog):
    sub = b"hidden = 2\n"
    (result,), _, _ = grade(tmp_path, catalog, {sub: Script(RUN)}, [sub], hidden_reference=True)
    assert result.isolation == "" and result.tests == () and result.tests_s == 0.0
    assert 0 <= result.duration_s < 30


def test_failed_tests_are_counted_not_passed_ones(fake_torch, tmp_path, catalog):
    tests = [["t1", "f", False], ["t2", "f", False], ["t3", "f", False]]
    reference = [session(tests=tests)] + [test_record(n, [("v", 1, {})]) for n in ("t1", "t2", "t3")]
    run = [session(), test_record("t1", [("v", 1, {})]), test_record("t2", [("v", 2, {})]),
           test_record("t3", [("v", 3, {})])]
    sub = b"count = 1\n"
    zygote = FakeZygote({REFERENCE_SOURCE: Script(reference), sub: Script(run, code=1)})
    (result,) = judge.Judge(make_job(tmp_path, catalog), zygote, lambda _: None).grade(
        [submit(tmp_path, "s.py", sub)])
    assert result.message == "2 of 3 tests failed"


def test_a_job_without_builtin_is_a_builtin_one(tmp_path):
    reference = tmp_path / "attention.py"
    reference.write_text("changed\n")
    job = {"exercise": "attention", "tests": str(ROOT / "exercises/attention/test_attention.py"),
           "reference": str(reference)}
    with pytest.raises(judge.JobError, match="is not the file torchprep was installed with"):
        judge.verified_sources(job, tmp_path / "cache")


def test_notes_on_the_catalog_reach_every_result(fake_torch, tmp_path):
    tests, reference = ROOT / "exercises/attention/test_attention.py", ROOT / "solutions/attention.py"
    cache = tmp_path / "cache"
    judge.verified_sources(builtin_job(tmp_path, tests, reference), cache)
    changed = tmp_path / "test_attention.py"
    changed.write_bytes(tests.read_bytes() + b"\n# edited\n")
    reference_run = [session(tests=[["t", None, False]]), test_record("t", [("v", 1, {})])]
    sub = b"notes = 1\n"
    zygote = FakeZygote({reference.read_bytes(): Script(reference_run), sub: Script(reference_run)})
    job = {**builtin_job(tmp_path, changed, reference), "cache_dir": str(cache), "scratch": str(tmp_path),
           "timeout": 5}
    results = judge.Judge(job, zygote, lambda _: None).grade([submit(tmp_path, "s.py", sub),
                                                             submit(tmp_path, "bad.py", b"def (")])
    note = (f"{changed} was changed on disk since torchprep was installed; graded against the copy torchprep "
            "verified earlier. Reinstall torchprep (or `git checkout` the file) to restore it.")
    assert [r.status for r in results] == ["pass", "error"]
    assert results[0].notes == results[1].notes == (note,)
    assert zygote.run_of("s.py")["tests"] == tests.read_bytes(), "the verified copy, not the edited file, is run"


def test_the_log_tail_is_the_last_3000_bytes_of_a_run_log(tmp_path):
    log = tmp_path / "log.txt"
    log.write_bytes(b"short log\n")
    assert judge._tail(log) == "short log\n", "a log shorter than the limit comes back whole"
    log.write_bytes(b"a" * 10 + b"b" * 3_000)
    assert judge._tail(log) == "b" * 3_000
    assert judge._tail(log, limit=4) == "bbbb"
    log.write_bytes("é".encode() * 2_000)  # 4,000 bytes: the cut may fall inside a character
    assert judge._tail(log).endswith("é" * 1_499) and len(judge._tail(log)) == 1_500
    assert judge._tail(tmp_path / "missing.txt") == ""


# -- the judge's process: its protocol on stdin/stdout, its signals, its zygote -------------------------------------

class RecordedJudge:
    """Stands for Judge in main(): grades each submission to a result naming it, telling its progress as the
    real one does; may fail on a job."""

    made: list = []

    def __init__(self, job, zygote, progress):
        self.job, self.zygote, self.progress, self.closed = job, zygote, progress, False
        RecordedJudge.made.append(self)

    def grade(self, submissions):
        if self.job.get("explode"):
            raise RuntimeError("grading failed")
        for done, _ in enumerate(submissions, 1):
            self.progress({"progress": done, "total": len(submissions)})
        return [types.SimpleNamespace(to_json=lambda s=s: {"graded": s}) for s in submissions]

    def close(self):
        self.closed = True


class RecordedZygote:
    made: list = []

    def __init__(self):
        self.closed = 0
        RecordedZygote.made.append(self)

    def close(self):
        self.closed += 1


@pytest.fixture
def judge_process(monkeypatch):
    """judge.main() in this process: stdin and stdout are strings, the zygote, Judge, signals and the parent's
    death signal are recorded instead of acted on."""
    import io
    import json

    from quiz.grading import zygote as zygote_module

    RecordedJudge.made, RecordedZygote.made = [], []
    calls = {"die_with_parent": 0, "preload": 0, "signals": {}}
    monkeypatch.setattr(sandbox, "die_with_parent", lambda: calls.__setitem__("die_with_parent",
                                                                             calls["die_with_parent"] + 1))
    monkeypatch.setattr(judge, "preload", lambda: calls.__setitem__("preload", calls["preload"] + 1))
    monkeypatch.setattr(zygote_module, "Zygote", RecordedZygote)
    monkeypatch.setattr(judge, "Judge", RecordedJudge)
    monkeypatch.setattr(judge.signal, "signal", lambda signum, handler: calls["signals"].__setitem__(signum, handler))

    def run(stdin: str, *args: str):
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "argv", ["judge", *args])
        try:
            code = judge.main()
        finally:
            monkeypatch.setattr(sys, "stdout", sys.__stdout__)
        return code, [json.loads(line) for line in out.getvalue().splitlines()], out.getvalue()

    run.calls = calls
    return run


def test_the_judge_process_grades_the_one_job_on_stdin_and_says_ready_first(judge_process):
    code, messages, raw = judge_process('{"submissions": ["a.py", "b.py"]}')
    assert code == 0
    assert messages == [{"ready": True}, {"progress": 1, "total": 2}, {"progress": 2, "total": 2},
                        {"results": [{"graded": "a.py"}, {"graded": "b.py"}]}]
    assert raw.endswith("\n") and raw.count("\n") == 4  # one JSON document a line
    assert judge_process.calls["die_with_parent"] == 1 and judge_process.calls["preload"] == 1
    (made,) = RecordedJudge.made
    assert made.job == {"submissions": ["a.py", "b.py"]} and made.zygote is RecordedZygote.made[0] and made.closed
    assert RecordedZygote.made[0].closed == 1


def test_a_serving_judge_grades_each_line_as_a_job_and_skips_blank_lines(judge_process):
    stdin = '{"submissions": ["a.py"]}\n\n   \n{"submissions": ["b.py", "c.py"]}\n'
    code, messages, _ = judge_process(stdin, "--serve")
    assert code == 0
    assert messages == [{"ready": True}, {"progress": 1, "total": 1}, {"results": [{"graded": "a.py"}]},
                        {"progress": 1, "total": 2}, {"progress": 2, "total": 2},
                        {"results": [{"graded": "b.py"}, {"graded": "c.py"}]}]
    assert [j.job["submissions"] for j in RecordedJudge.made] == [["a.py"], ["b.py", "c.py"]]
    assert all(j.closed for j in RecordedJudge.made) and RecordedZygote.made[0].closed == 1


def test_a_job_that_fails_still_closes_its_judge_and_the_zygote(judge_process):
    with pytest.raises(RuntimeError, match="grading failed"):
        judge_process('{"submissions": ["a.py"], "explode": true}')
    (made,) = RecordedJudge.made
    assert made.closed and RecordedZygote.made[0].closed == 1


def test_a_stop_signal_closes_the_zygote_and_exits_with_128_plus_the_signal(judge_process, monkeypatch):
    exits = []
    monkeypatch.setattr(judge.os, "_exit", exits.append)
    judge_process('{"submissions": []}')
    handlers = judge_process.calls["signals"]
    assert set(handlers) == {judge.signal.SIGTERM, judge.signal.SIGHUP, judge.signal.SIGINT}
    zygote = RecordedZygote.made[0]
    closed_before = zygote.closed
    handlers[judge.signal.SIGTERM](judge.signal.SIGTERM, None)
    assert exits == [128 + judge.signal.SIGTERM] and zygote.closed == closed_before + 1
    handlers[judge.signal.SIGHUP](judge.signal.SIGHUP, None)
    assert exits[-1] == 128 + judge.signal.SIGHUP


def test_preload_imports_what_it_can_quietly_and_skips_what_is_missing(monkeypatch):
    import importlib
    import warnings

    imported = []

    def fake_import(name):
        imported.append(name)
        if name == "numpy":
            raise ImportError("no numpy here")
        warnings.warn("noisy import", DeprecationWarning, stacklevel=1)
        return types.ModuleType(name)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judge.preload()
    assert imported == list(judge.PRELOAD)
    assert "numpy" in judge.PRELOAD and caught == []
