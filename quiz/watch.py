"""`torchprep watch`: grade the workspace file again on every save, the way rustlings' watch mode does.

The loop owns no rendering (the UI object does), no grading (a warm judge does, see runner.WarmJudge) and
no terminal handling (``read_key`` does); it only decides when to grade: once at the start, then whenever
the file's stamp (modification time, size, inode) has changed and stayed the same for one more poll.
Polling one file's stat every 20 ms costs nothing, needs no dependency, and keeps working when an editor
saves by writing a new file and renaming it over the old one (vim, JetBrains), where a watch on the inode
would go quiet. Grading runs on a worker thread, so `q` and Ctrl-C answer at once, even mid-grading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from quiz.catalog import Exercise
from quiz.grading.results import GradeResult

HINT, QUIT, AGAIN = "h", "q", "r"
POLL_S = 0.02

Stamp = tuple[int, int, int] | None


def stamp(path: Path) -> Stamp:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


class Grader(Protocol):
    def grade(self, exercise: Exercise, submission: Path) -> GradeResult: ...
    def close(self) -> None: ...


class WatchUI(Protocol):
    """What the loop needs from a terminal (ui.WatchView) or a test double."""

    def grading(self) -> None: ...
    def missing(self) -> None: ...
    def result(self, result: GradeResult) -> None: ...
    def hint(self) -> None: ...


def run(exercise: Exercise, path: Path, *, grader: Grader, ui: WatchUI, read_key: Callable[[float], str | None],
        on_graded: Callable[[GradeResult], None] = lambda result: None, poll_s: float = POLL_S) -> int:
    """Watch until `q`, Ctrl-C or the end of the key input; returns how many gradings were shown.

    ``read_key(timeout)`` waits at most ``timeout`` seconds for one key: None when none came, "" when no
    more input will ever come (the end of piped input), which ends the watch like `q`."""
    shown = 0
    graded_stamp: Stamp = None
    pending: Stamp = None  # a change seen once, graded when it is seen again unchanged (the save is done)
    worker: threading.Thread | None = None
    outcome: list[GradeResult] = []
    first = True

    def start_grading() -> None:
        nonlocal worker
        ui.grading()
        worker = threading.Thread(target=lambda: outcome.append(grader.grade(exercise, path)), daemon=True)
        worker.start()

    try:
        while True:
            if worker is not None and not worker.is_alive():
                worker = None
                result = outcome.pop()
                on_graded(result)
                ui.result(result)
                shown += 1
            now_stamp = stamp(path)
            if worker is None:
                if now_stamp is None:
                    if first or graded_stamp is not None:
                        ui.missing()
                    graded_stamp, first = None, False
                elif first or (now_stamp != graded_stamp and now_stamp == pending):
                    graded_stamp, pending, first = now_stamp, None, False
                    start_grading()
                elif now_stamp != graded_stamp:
                    pending = now_stamp
            key = read_key(poll_s)
            if key == QUIT or key == "":
                return shown
            if key == HINT and worker is None and shown:
                ui.hint()
            elif key == AGAIN and worker is None and now_stamp is not None:
                graded_stamp, pending = now_stamp, None
                start_grading()
    except KeyboardInterrupt:
        return shown
    finally:
        grader.close()
        if worker is not None:
            worker.join(timeout=15)
