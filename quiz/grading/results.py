"""What a grading produces, in the shape of the exercism test runners' results.json (version 3).

Plain dataclasses without torch: the judge builds them, torchprep's CLI process reads them back from JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

RESULTS_VERSION = 3


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # a result, not a test class for pytest to collect

    name: str
    task: str | None
    status: str  # pass | fail | error | skip (skip: needs a CUDA GPU this machine does not have)
    message: str = ""
    output: str = ""


@dataclass(frozen=True)
class GradeResult:
    exercise: str
    status: str  # pass | fail | error
    message: str
    tests: tuple[TestResult, ...]
    duration_s: float
    submission: str
    submission_sha256: str | None
    version: int = RESULTS_VERSION
    isolation: str = ""  # which sandbox was in force for the submission's run
    notes: tuple[str, ...] = ()  # what the judge wants the user to know (the catalog changed on disk, ...)
    tests_s: float = 0.0  # the time the submission's run says its tests took (a timing, never a verdict)

    @property
    def passed(self) -> int:
        return sum(test.status == "pass" for test in self.tests)

    @property
    def skipped(self) -> int:
        return sum(test.status == "skip" for test in self.tests)

    @property
    def total(self) -> int:
        """Tests that count: a test not run here for want of a GPU neither passes nor fails."""
        return sum(test.status != "skip" for test in self.tests)

    def by_task(self) -> dict[str, list[TestResult]]:
        """The tests grouped by task, tasks in the order their first test ran ("other" for untasked tests)."""
        groups: dict[str, list[TestResult]] = {}
        for test in self.tests:
            groups.setdefault(test.task or "other", []).append(test)
        return groups

    def to_json(self) -> dict:
        document = asdict(self)
        document["tests"] = [asdict(test) for test in self.tests]
        document["notes"] = list(self.notes)
        document.update(passed=self.passed, total=self.total, skipped=self.skipped)
        return document

    @classmethod
    def from_json(cls, document: dict) -> GradeResult:
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in document.items() if key in known}
        values["tests"] = tuple(TestResult(**{k: v for k, v in test.items() if k in
                                              {f.name for f in fields(TestResult)}}) for test in document["tests"])
        values["notes"] = tuple(document.get("notes", ()))
        return cls(**values)
