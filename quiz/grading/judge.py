"""The trusted judge: grades submissions in sandboxes and compares what they observed with the reference.

Started by torchprep as ``python -m quiz.grading.judge`` with a job (JSON) on stdin; writes progress and
results, one JSON object a line, on stdout. With ``--serve`` (``torchprep watch``) it stays up and grades one
job per line of stdin until stdin closes, so a re-grade costs the tests, not the import of torch.

It is the only process that imports torch *and* decides a verdict, and no submission code ever runs in it:
each submission runs in a sandboxed child forked from a clean zygote (see sandbox.py and zygote.py) and
reports an observation stream; the reference's stream is recorded the same way once and cached under
(exercise, tests, reference, grading code, torch version, CUDA) so that later checks run one child, not two.

The judge grades against a verified copy of the catalog: the tests and reference as shipped (their hashes
are in catalog.sha256). When the files on disk differ, it grades against the copy it verified earlier and
says so, or refuses when it has none.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quiz import userfile
from quiz.grading import compare, manifest, sandbox, stream
from quiz.grading.results import GradeResult, TestResult

PACKAGE = Path(__file__).resolve().parent
INI = PACKAGE / "pytest.ini"
GRADING_CODE = ("plugin.py", "scenario.py", "stream.py", "compare.py", "judge.py", "pytest.ini")
REFERENCE_TIMEOUT_S = 600
MAX_SUBMISSION_BYTES = 4 * 2**20  # a solution is a page or two of code; more is not one to read into memory
PRELOAD = ("torch", "torch.testing", "torch._dynamo", "pytest", "quiz.grading.plugin", "numpy")


_REMEMBERED: dict[str, list[dict]] = {}  # the last reference stream read, by its key


class JobError(Exception):
    """The job cannot be graded at all (the catalog is broken or was changed): one message for all."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def catalog_entries(exercise_id: str) -> dict[str, str]:
    return {"tests": f"exercises/{exercise_id}/test_{exercise_id}.py", "reference": f"solutions/{exercise_id}.py"}


def verified_sources(job: dict, cache: Path) -> tuple[dict[str, bytes], list[str]]:
    """The tests and the reference to grade with, and notes on how they were verified."""
    expected = manifest.load()
    notes: list[str] = []
    sources: dict[str, bytes] = {}
    store = cache / "catalog"
    for role, key in catalog_entries(job["exercise"]).items():
        path = Path(job[role])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise JobError(f"cannot read {path}: {error.strerror}") from error
        want = expected.get(key) if job.get("builtin", True) else None
        if want is None:
            sources[role] = data
            continue
        if sha256(data) == want:
            _remember(store, want, data)
            sources[role] = data
            continue
        kept = store / want
        if kept.is_file() and sha256(kept.read_bytes()) == want:
            sources[role] = kept.read_bytes()
            notes.append(f"{path} was changed on disk since torchprep was installed; graded against the "
                         "copy torchprep verified earlier. Reinstall torchprep (or `git checkout` the file) "
                         "to restore it.")
            continue
        raise JobError(f"{path} is not the file torchprep was installed with (its hash differs from the "
                       f"catalog's) and there is no verified copy to grade against: reinstall torchprep, or "
                       f"`git checkout {key}` in a source checkout.")
    return sources, notes


def _remember(store: Path, digest: str, data: bytes) -> None:
    target = store / digest
    if target.is_file():
        return
    store.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)


def reference_key(job: dict, sources: dict[str, bytes], cuda: bool) -> str:
    import torch

    digest = hashlib.sha256()
    for part in (sources["tests"], sources["reference"], torch.__version__.encode(), b"cuda" if cuda else b"cpu"):
        digest.update(sha256(part).encode())
    for name in GRADING_CODE:
        digest.update(sha256((PACKAGE / name).read_bytes()).encode())
    return f"{job['exercise']}-{digest.hexdigest()[:24]}"


class Judge:
    def __init__(self, job: dict, zygote, progress: Callable[[dict], None]):
        import torch

        self.job = job
        self.zygote = zygote
        self.progress = progress
        self.cuda = bool(torch.cuda.is_available())
        self.cache = Path(job["cache_dir"])
        self.timeout = float(job.get("timeout", 60))
        self.memory_gib = float(job.get("memory_gib", 4))
        self.limits = sandbox.Limits(memory_bytes=int(self.memory_gib * 2**30))
        # The caller (runner.py) owns the scratch folder and removes it however the judge ends.
        self.owns_scratch = not job.get("scratch")
        self.scratch = Path(tempfile.mkdtemp(prefix="torchprep-judge-") if self.owns_scratch else job["scratch"])
        self.token = job.get("token") or secrets.token_hex(8)
        self._runs = 0
        self._lock = threading.Lock()

    # -- one sandboxed run ---------------------------------------------------------------------------

    def run(self, impl_name: str, impl_source: bytes, tests: bytes, hide: list[str],
            timeout: float | None = None) -> dict:
        """Run the tests against one module in a sandbox; the stream's records and how the run ended."""
        with self._lock:
            self._runs += 1
            number = self._runs
        folder = self.scratch / f"{self.token}-run-{number}"  # a served judge shares one scratch folder
        work = folder / "work"
        work.mkdir(parents=True)
        test_file = f"test_{self.job['exercise']}.py"
        (work / test_file).write_bytes(tests)
        (work / impl_name).write_bytes(impl_source)
        shutil.copyfile(INI, work / "pytest.ini")
        stream_path, log_path = folder / "stream.bin", folder / "log.txt"
        argv = ["-c", "{work}/pytest.ini", "-p", "quiz.grading.plugin", "--rootdir", "{work}",
                f"{{work}}/{test_file}", "--impl", f"{{work}}/{impl_name}", "--cuda", "1" if self.cuda else "0",
                "-q", "--no-header", "-p", "no:cacheprovider", "--color=no"]
        token = f"{self.token}-{number}"
        started = time.monotonic()
        run = self.zygote.start(argv=argv, work=str(work), stream=str(stream_path), log=str(log_path), hide=hide,
                                secrets=self.secrets(), limits=self.limits, token=token,
                                isolate=self.job.get("isolate", True))
        info = self.zygote.wait_started(run)
        timeout = self.timeout if timeout is None else timeout
        code = self.zygote.wait_ended(run, timeout)
        timed_out = code is None
        if timed_out:
            if info.get("pid"):  # no pid: the zygote itself is gone, and the run with it
                self.zygote.kill(info["pid"])
            code = self.zygote.wait_ended(run, 30)
        for pid in sandbox.processes_with_token(token):  # only the fallback leaves any: namespaces die whole
            self.zygote.kill(pid)
        records, problem = stream.read_records(stream_path)
        log = _tail(log_path)
        shutil.rmtree(folder, ignore_errors=True)
        return {"records": records, "problem": problem, "code": code, "timed_out": timed_out, "log": log,
                "isolation": info.get("isolation", "unknown"), "seconds": time.monotonic() - started}

    def secrets(self) -> list[str]:
        """Folders no run may read: the references, torchprep's home (its cache holds reference streams)."""
        return [folder for folder in self.job.get("secrets", []) if folder]

    # -- the reference stream ------------------------------------------------------------------------

    def reference_stream(self, sources: dict[str, bytes]) -> tuple[list[dict], str]:
        key = reference_key(self.job, sources, self.cuda)
        if key in _REMEMBERED:  # a served judge (watch) grades the same exercise again and again
            return _REMEMBERED[key], "remembered"
        records, how = self._reference_stream(key, sources)
        _REMEMBERED.clear()
        _REMEMBERED[key] = records
        return records, how

    def _reference_stream(self, key: str, sources: dict[str, bytes]) -> tuple[list[dict], str]:
        cached = self.cache / "reference" / f"{key}.stream"
        if cached.is_file():
            records, problem = stream.read_records(cached)
            if problem is None and records:
                return records, "cached"
        # The submission's time limit is not the reference's: recording it once may take a loaded machine
        # longer, and a timeout here would blame torchprep for the learner's --timeout.
        outcome = self.run(f"{self.job['exercise']}.py", sources["reference"], sources["tests"],
                           self.job.get("hide", []), timeout=max(self.timeout, REFERENCE_TIMEOUT_S))
        records = outcome["records"]
        session = next((r for r in records if r.get("kind") == "session"), None)
        tests = [r for r in records if r.get("kind") == "test"]
        if outcome["timed_out"] or outcome["problem"] or session is None or session.get("impl_error") or (
                len(tests) != sum(1 for t in session["tests"] if self.cuda or not t[2])):
            detail = (session or {}).get("impl_error") or outcome["problem"] or outcome["log"][-1500:]
            raise JobError(f"the reference solution of {self.job['exercise']} did not complete its own tests "
                           f"(exit {outcome['code']}): a bug in torchprep, please report it.\n{detail}")
        for record in tests:
            try:
                compare.check_reference(record, self.memory_gib)
            except compare.CatalogError as error:
                raise JobError(f"{error}: a bug in torchprep, please report it") from error
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            for record in records:
                stream.write_record(handle.fileno(), record)
        os.replace(partial, cached)
        return records, "recorded"

    # -- verdicts ------------------------------------------------------------------------------------

    def verdict(self, reference: list[dict], submission_path: Path, source: bytes, outcome: dict,
                started: float, notes: list[str]) -> GradeResult:
        exercise = self.job["exercise"]
        digest = sha256(source)

        def result(status: str, message: str, tests: list[TestResult], isolation: str) -> GradeResult:
            return GradeResult(exercise, status, message, tuple(tests), round(time.monotonic() - started, 3),
                               str(submission_path), digest, isolation=isolation, notes=tuple(notes),
                               tests_s=round(tests_s, 4))

        tests_s = 0.0

        session = next(r for r in reference if r.get("kind") == "session")
        listed = [(name, task, needs_cuda) for name, task, needs_cuda in session["tests"]]
        expected = {r["name"]: r for r in reference if r.get("kind") == "test"}
        isolation = outcome["isolation"]
        # What the run says its tests took (its own word, only ever shown as a timing, never graded).
        tests_s = sum(r["duration_s"] for r in outcome["records"] if r.get("kind") == "test"
                      and type(r.get("duration_s")) in (int, float) and 0 <= r["duration_s"] < 1e6)
        got: dict[str, dict] = {}
        duplicate = None
        sub_session = None
        for record in outcome["records"]:
            if record.get("kind") == "session" and sub_session is None:
                sub_session = record
            elif record.get("kind") == "test" and stream.is_text(record.get("name"), 1_000):
                if record["name"] in got:
                    duplicate = record["name"]
                got.setdefault(record["name"], record)
        tests: list[TestResult] = []
        for name, task, needs_cuda in listed:
            if needs_cuda and not self.cuda:
                tests.append(TestResult(name, task, "skip", "needs a CUDA GPU; not checked on this machine"))
                continue
            verdict = compare.judge_test(expected[name], got.get(name), self.memory_gib)
            tests.append(TestResult(name, task, verdict.status, verdict.message, verdict.output))
        counted = [test for test in tests if test.status != "skip"]
        not_here = len(tests) - len(counted)
        cuda_note = (f"; {not_here} {'needs' if not_here == 1 else 'need'} a CUDA GPU and "
                     f"{'was' if not_here == 1 else 'were'} not checked here") if not_here else ""
        import_error = sub_session.get("impl_error") if isinstance(sub_session, dict) else None
        if import_error:
            message = compare.clean(import_error, 1_500)
            tests = [TestResult(t.name, t.task, "skip" if t.status == "skip" else "error",
                                t.message if t.status == "skip" else "not run: the submission does not import")
                     for t in tests]
            return result("error", f"the submission does not import: {message}", tests, isolation)
        code = outcome["code"]
        if outcome["timed_out"]:
            return result("error", f"the tests did not finish within {self.timeout:g} s and were stopped: is "
                                   "there an endless loop, or a step far slower than it needs to be?", tests, isolation)
        if duplicate is not None:
            return result("error", f"the run reported {duplicate} twice: its results cannot be trusted", tests,
                          isolation)
        problem = outcome["problem"]
        missing = [test for test in counted if test.status == "error"]
        if problem or sub_session is None or missing or code not in (0, 1):
            killed_by = -code if code is not None and code < 0 else (code - 128 if code and code > 128 else None)
            if killed_by in signal.valid_signals():
                how = f"was killed by {signal.Signals(killed_by).name}"
            else:
                how = f"ended with exit code {code}"
            if problem:
                reason = f"the grading run's report is broken: {problem} (the run {how})"
            elif code == 70:
                reason = "the grading sandbox could not be set up: " + compare.clean(outcome["log"][-600:])
            elif sub_session is None:
                log = compare.clean(outcome["log"][-1_200:])
                reason = f"the grading run {how} before it started the tests:\n{log}"
            else:
                reason = (f"the grading run {how} before all tests were done ({len(missing)} not run): does the "
                          "code call os._exit(), kill its own process or crash the interpreter?")
            return result("error", reason, tests, isolation)
        if counted and all(test.status == "pass" for test in counted):
            return result("pass", f"all {len(counted)} tests passed{cuda_note}", tests, isolation)
        failed = sum(test.status != "pass" for test in counted)
        return result("fail", f"{failed} of {len(counted)} tests failed{cuda_note}", tests, isolation)

    def grade(self, submissions: list[str]) -> list[GradeResult]:
        try:
            sources, notes = verified_sources(self.job, self.cache)
        except JobError as error:
            return [GradeResult(self.job["exercise"], "error", str(error), (), 0.0, path, None) for path in submissions]
        hide = list(self.job.get("hide", []))
        total = len(submissions)
        done = 0
        done_lock = threading.Lock()

        def one(path_text: str, reference_future) -> GradeResult:
            nonlocal done
            began = time.monotonic()
            path = Path(path_text)
            run_notes = list(notes)
            try:
                source = userfile.read_bytes(path, MAX_SUBMISSION_BYTES, "a submission")
            except userfile.NotAFileError as error:
                source, problem = None, f"{path}: {error}"
            except FileNotFoundError:
                source = None
                problem = f"there is no file at {path}: run `torchprep start {self.job['exercise']}` first"
            except OSError as error:
                source = None
                problem = f"cannot read {path}: {error.strerror}"
            else:
                problem = _syntax_problem(source, path.name)
            if problem is None:
                outcome = self.run(path.name if path.suffix == ".py" else "submission.py", source,
                                   sources["tests"], hide)
                if self.job.get("hidden_reference") and outcome["isolation"] != sandbox.NAMESPACES:
                    run_notes.append("--hidden-reference needs the namespace sandbox, which this system refuses "
                                     "(only a process session and limits ran): not graded")
                    problem = run_notes[-1]
                else:
                    try:
                        reference, _ = reference_future()
                        result = self.verdict(reference, path, source, outcome, began, run_notes)
                    except JobError as error:
                        problem = str(error)
            if problem is not None:  # not graded: unreadable, not Python, or nothing to grade it against
                result = GradeResult(self.job["exercise"], "error", problem, (), 0.0, str(path),
                                     sha256(source) if source is not None else None, notes=tuple(run_notes))
            with done_lock:
                done += 1
                self.progress({"progress": done, "total": total, "status": result.status})
            return result

        jobs = max(1, int(self.job.get("jobs", 1)))
        with ThreadPoolExecutor(max_workers=jobs + 1) as pool:
            reference_job = pool.submit(self.reference_stream, sources)

            def reference_future():
                return reference_job.result()

            gate = threading.Semaphore(jobs)

            def gated(path_text: str) -> GradeResult:
                with gate:
                    return one(path_text, reference_future)

            futures = [pool.submit(gated, path) for path in submissions]
            results = [future.result() for future in futures]
        return results

    def close(self) -> None:
        if self.owns_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _syntax_problem(source: bytes, name: str) -> str | None:
    try:
        compile(source, name, "exec")
    except SyntaxError as error:
        return f"{name} line {error.lineno}: syntax error: {error.msg}. Fix it and check again."
    except ValueError as error:  # null bytes and the like
        return f"{name} is not Python source: {error}"
    return None


def _tail(path: Path, limit: int = 3_000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def preload() -> None:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass


def main() -> int:
    serve = "--serve" in sys.argv[1:]
    job = None if serve else json.loads(sys.stdin.read())
    sandbox.die_with_parent()
    preload()
    from quiz.grading.zygote import Zygote

    zygote = Zygote()  # forked now: before anything of the reference or the submissions is in memory
    out = sys.stdout
    write_lock = threading.Lock()

    def emit(message: dict) -> None:
        with write_lock:
            out.write(json.dumps(message) + "\n")
            out.flush()

    def stop(signum, frame):  # noqa: ARG001 - the signal handler's signature
        zygote.close()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        jobs = (json.loads(line) for line in sys.stdin if line.strip()) if serve else [job]
        emit({"ready": True})
        for one in jobs:
            judge = Judge(one, zygote, emit)
            try:
                results = judge.grade(list(one["submissions"]))
                emit({"results": [result.to_json() for result in results]})
            finally:
                judge.close()
    finally:
        zygote.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
