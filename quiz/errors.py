"""One error type for everything a user can cause, each carrying the sentence the user reads.

cli.py turns a QuizError into its message and an exit code; anything else is a bug and keeps its traceback
under --debug.
"""

from __future__ import annotations

from dataclasses import dataclass


class QuizError(Exception):
    """A problem the user can fix; ``str(error)`` is the whole message."""

    exit_code = 2


class NotFound(QuizError):
    """A question, topic, exercise or file that does not exist."""


class UsageError(QuizError):
    """Options that do not fit together or a value out of range."""


@dataclass(frozen=True)
class BankProblem:
    """One thing wrong in a bank file, located so the author can go straight to it."""

    file: str
    line: int | None
    question_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        subject = f" [{self.question_id}]" if self.question_id else ""
        return f"{where}{subject}: {self.message}"


class BankError(QuizError):
    """A bank that cannot be used; carries every problem found, not only the first."""

    def __init__(self, problems: list[BankProblem]):
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"the question bank has {len(self.problems)} problem(s):\n{lines}")


class GradingError(QuizError):
    """The grader itself could not run (not a wrong submission: those are graded results)."""
