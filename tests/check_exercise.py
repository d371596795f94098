"""Grade an exercise's reference, starter and every known-wrong submission through the real judge.

For catalog authors: ``python -m tests.check_exercise ID [ID ...] [--jobs N] [--verbose]``. Prints one line per
file (its status, and the first failing test's message) and exits 1 when the reference does not pass, or a
starter or a mutant passes. The catalog self-check (tests/test_catalog.py) asserts the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from quiz import catalog
from quiz.grading import runner

MUTANTS = Path(__file__).resolve().parent / "mutants"
VARIANTS = Path(__file__).resolve().parent / "variants"


def cases(exercise) -> list[tuple[Path, str]]:
    return ([(exercise.solution, "pass")]
            + [(variant, "pass") for variant in sorted((VARIANTS / exercise.id).glob("*.py"))]
            + [(exercise.starter, "fail")]
            + [(mutant, "fail") for mutant in sorted((MUTANTS / exercise.id).glob("*.py"))])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ids", nargs="+")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    os.environ.setdefault("TORCHPREP_HOME", str(Path(tempfile.gettempdir()) / "torchprep-check-home"))
    bad = 0
    for exercise_id in options.ids:
        exercise = catalog.get(exercise_id)
        files = cases(exercise)
        results = runner.grade_many(exercise, [path for path, _ in files], jobs=options.jobs, timeout=300)
        for (path, expected), result in zip(files, results, strict=True):
            wrong = result.status != expected and not (expected == "fail" and result.status == "error")
            bad += wrong
            first = next((t for t in result.tests if t.status not in ("pass", "skip")), None)
            detail = first.message.splitlines()[0][:150] if first else result.message[:150]
            mark = "WRONG" if wrong else "ok   "
            print(f"{mark} {exercise_id}/{path.name}: {result.status} {result.passed}/{result.total}"
                  f" {result.duration_s:.1f}s :: {first.name + ': ' if first else ''}{detail}")
            if options.verbose or (wrong and expected == "pass"):
                for test in result.tests:
                    if test.status not in ("pass", "skip"):
                        print(f"      {test.status} {test.name}: {test.message[:400]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
