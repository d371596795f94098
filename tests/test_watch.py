"""`torchprep watch`: grades at the start and after every finished save, answers keys, leaves nothing behind."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from quiz import watch
from quiz.grading.results import GradeResult, TestResult
from quiz.store import Store
from tests.conftest import FIXTURES, subprocess_env, torchprep_command
from tests.test_grading import _descendants, _processes, _wait_for


class FakeExercise:
    id = "adder"


class FakeGrader:
    """Grades by reading the file: 'ok' passes, anything else fails; records what it graded."""

    def __init__(self, delay: float = 0.0):
        self.graded: list[str] = []
        self.closed = False
        self.delay = delay

    def grade(self, exercise, submission: Path) -> GradeResult:
        text = submission.read_text()
        time.sleep(self.delay)
        self.graded.append(text)
        status = "pass" if text == "ok" else "fail"
        return GradeResult(exercise.id, status, "", (TestResult("test_add", "add", status, ""),), 0.0,
                           str(submission), "digest")

    def close(self) -> None:
        self.closed = True


class FakeUI:
    def __init__(self):
        self.events: list[str] = []

    def grading(self):
        self.events.append("grading")

    def missing(self):
        self.events.append("missing")

    def result(self, result):
        self.events.append(f"result:{result.status}")

    def hint(self):
        self.events.append("hint")


class Script:
    """Keys for the loop, each after the loop has polled `after` times since the previous one; an action
    (a save) may run before a key is given."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.polls = 0

    def __call__(self, timeout):
        self.polls += 1
        if not self.steps:
            return ""
        after, action, key = self.steps[0]
        if self.polls < after:
            time.sleep(0.002)
            return None
        self.steps.pop(0)
        self.polls = 0
        if action:
            action()
        return key


def run_loop(path, steps, grader=None):
    grader = grader or FakeGrader()
    ui = FakeUI()
    kept = []
    shown = watch.run(FakeExercise(), path, grader=grader, ui=ui, read_key=Script(steps), on_graded=kept.append,
                      poll_s=0.001)
    return shown, grader, ui, kept


def test_watch_grades_at_the_start_then_once_per_finished_save(tmp_path):
    path = tmp_path / "adder.py"
    path.write_text("wrong")

    def save():
        path.write_text("ok")
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new stamp even on a coarse clock

    shown, grader, ui, kept = run_loop(path, [(20, None, None), (1, save, None), (40, None, "q")])
    assert grader.graded == ["wrong", "ok"], "one grading at the start and one for the save, nothing more"
    assert ui.events == ["grading", "result:fail", "grading", "result:pass"]
    assert [result.status for result in kept] == ["fail", "pass"] and shown == 2
    assert grader.closed, "quitting must stop the grader"


def test_watch_waits_for_a_save_to_settle_before_grading(tmp_path):
    # An editor may write a file in pieces; the loop grades only a stamp it has seen twice in a row.
    path = tmp_path / "adder.py"
    path.write_text("wrong")
    stamps = iter(range(1, 100))

    def touch():
        path.write_text("wrong")
        os.utime(path, ns=(0, next(stamps) * 10**9))

    steps = [(20, None, None)] + [(1, touch, None)] * 10 + [(40, None, "q")]
    shown, grader, ui, kept = run_loop(path, steps)
    assert len(grader.graded) == 2, f"graded {len(grader.graded)} times for a file still being written"


def test_hint_key_asks_the_view_for_a_hint_only_after_a_result(tmp_path):
    path = tmp_path / "adder.py"
    path.write_text("wrong")
    shown, grader, ui, kept = run_loop(path, [(1, None, "h"), (40, None, "h"), (1, None, "q")],
                                       grader=FakeGrader(delay=0.05))
    assert ui.events.count("hint") == 1, ui.events
    assert ui.events.index("hint") > ui.events.index("result:fail")


def test_r_grades_again_without_a_save(tmp_path):
    path = tmp_path / "adder.py"
    path.write_text("wrong")
    shown, grader, ui, kept = run_loop(path, [(30, None, "r"), (30, None, "q")])
    assert grader.graded == ["wrong", "wrong"]


def test_a_missing_file_is_said_and_graded_once_it_appears(tmp_path):
    path = tmp_path / "adder.py"
    shown, grader, ui, kept = run_loop(path, [(5, lambda: path.write_text("ok"), None), (40, None, "q")])
    assert ui.events[0] == "missing" and ui.events[-1] == "result:pass", ui.events


def test_end_of_piped_input_ends_the_watch(tmp_path):
    path = tmp_path / "adder.py"
    path.write_text("ok")
    shown, grader, ui, kept = run_loop(path, [])
    assert grader.closed


def _reader(stream, lines: queue.Queue):
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def _wait_for_line(lines: queue.Queue, text: str, timeout: float) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}; got:\n{''.join(seen)}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_watch_regrades_a_saved_file_end_to_end_and_leaves_no_process(fixture_catalog, isolated, tmp_path):
    """The real command, its real judge: a wrong file fails, the save that fixes it passes, q quits, both
    checks are kept, and no grading process is left."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    path = workspace / "adder.py"
    path.write_text((FIXTURES / "submissions" / "wrong_add.py").read_text())
    env = subprocess_env(TORCHPREP_EXERCISES=str(FIXTURES / "exercises"),
                         TORCHPREP_SOLUTIONS=str(FIXTURES / "solutions"))
    process = subprocess.Popen([*torchprep_command(), "watch", "adder"], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    try:
        _wait_for_line(lines, "FAIL", 120)
        started = _descendants(process.pid)
        assert started, "watch started no grader"
        path.write_text((FIXTURES / "solutions" / "adder.py").read_text())
        _wait_for_line(lines, "PASS", 60)
        process.stdin.write("q\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with Store.open(isolated) as store:
        assert [attempt.status for attempt in store.attempts("adder")] == ["fail", "pass"]
    assert _wait_for(lambda: not (started & set(_processes())), 10), "a grading process outlived watch"
