"""The catalog's own submissions graded once per test session: the reference, the correct solutions written
differently (tests/variants/), the starter and every known-wrong submission (tests/mutants/), through the real
judge. test_catalog.py checks their verdicts and test_messages.py their first messages from the same results;
both mark their tests with the exercise's xdist group, so one worker grades an exercise once for both.
"""

from __future__ import annotations

import functools
from pathlib import Path

from quiz import catalog
from quiz.grading import runner
from quiz.grading.results import GradeResult, TestResult
from tests.check_exercise import cases


@functools.cache
def graded(exercise_id: str) -> tuple[tuple[Path, str, GradeResult], ...]:
    """(file, "pass" or "fail" as it must be graded, its result) for each of the exercise's own files."""
    exercise = catalog.get(exercise_id)
    files = cases(exercise)
    results = runner.grade_many(exercise, [path for path, _ in files], jobs=1, timeout=300)
    return tuple((path, expected, result) for (path, expected), result in zip(files, results, strict=True))


def first_failure(result: GradeResult) -> TestResult | None:
    """The failure `torchprep check` shows first: that of the first task (in the tests' order) with one."""
    for tests in result.by_task().values():
        wrong = [test for test in tests if test.status in ("fail", "error")]
        if wrong:
            return wrong[0]
    return None
