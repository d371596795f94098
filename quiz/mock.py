"""Mock interviews: a timed mix of open questions from different topics and one coding exercise.

``plan`` picks the parts (seeded), ``run`` plays them against a clock and a deadline through an injected UI
and grader, and ``score`` turns the results into one number: the mean of every part's score.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from quiz import play
from quiz.bank import Question
from quiz.catalog import Exercise
from quiz.grading.runner import GradeResult
from quiz.session import Summary
from quiz.store import Attempt, Mock, Store

MINUTES_PER_QUESTION = 8  # an open question answered aloud, then checked against the key points


@dataclass(frozen=True)
class Plan:
    questions: tuple[Question, ...]
    exercise: Exercise | None
    minutes: int
    seed: int | None


def plan(questions: Sequence[Question], exercises: Sequence[Exercise], *, minutes: int = 45,
         seed: int | None = None, passed: frozenset[str] = frozenset()) -> Plan:
    """Open questions from as many different topics as the time allows (leaving a third for the exercise),
    and one exercise, preferring those not passed yet."""
    rng = random.Random(seed)
    by_topic: dict[str, list[Question]] = {}
    for question in sorted(questions, key=lambda q: q.id):
        if question.type == "open":
            by_topic.setdefault(question.topic, []).append(question)
    count = max(1, min(len(by_topic), (minutes * 2 // 3) // MINUTES_PER_QUESTION))
    chosen_topics = rng.sample(sorted(by_topic), count) if by_topic else []
    picked = tuple(rng.choice(by_topic[topic]) for topic in chosen_topics)
    candidates = [e for e in exercises if e.id not in passed] or list(exercises)
    exercise = rng.choice(sorted(candidates, key=lambda e: e.order)) if candidates else None
    return Plan(picked, exercise, minutes, seed)


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    summary: Summary
    grade: GradeResult | None
    started_at: datetime
    ended_at: datetime
    time_up: bool

    def parts(self) -> list[dict]:
        answered = {result.question.id: result.graded for result in self.summary.results}
        parts = [{"kind": "question", "id": q.id, "topic": q.topic,
                  "score": answered[q.id].score if q.id in answered and answered[q.id].outcome != "skipped" else 0.0,
                  "status": answered[q.id].outcome if q.id in answered else "not reached"}
                 for q in self.plan.questions]
        if self.plan.exercise is not None:
            grade = self.grade
            parts.append({"kind": "exercise", "id": self.plan.exercise.id, "topic": self.plan.exercise.topic,
                          "score": grade.passed / grade.total if grade and grade.total else 0.0,
                          "status": grade.status if grade else "not reached",
                          "passed": grade.passed if grade else 0, "total": grade.total if grade else 0})
        return parts

    @property
    def score(self) -> float:
        parts = self.parts()
        return sum(part["score"] for part in parts) / len(parts) if parts else 0.0


class MockUI(play.QuizUI, Protocol):
    deadline: datetime | None  # set by run, so the UI can count down

    def mock_intro(self, plan: Plan) -> None: ...
    def mock_exercise(self, exercise: Exercise, path: Path, remaining: timedelta) -> str: ...


Grader = Callable[[Exercise, Path], GradeResult]
Starter = Callable[[Exercise], Path]


def run(mock_plan: Plan, *, store: Store, ui: MockUI, clock: Callable[[], datetime], grader: Grader,
        starter: Starter, lang: str = "en", after_answer: play.AfterAnswer | None = None) -> Outcome:
    """Play a planned mock interview; questions stop at the deadline, the exercise is skipped after it."""
    ui.mock_intro(mock_plan)
    started = clock()
    deadline = started + timedelta(minutes=mock_plan.minutes)
    ui.deadline = deadline
    summary = play.run(mock_plan.questions, store=store, ui=ui, lang=lang, kind="mock", clock=clock,
                       after_answer=after_answer, deadline=deadline)
    grade = None
    time_up = clock() >= deadline
    if mock_plan.exercise is not None and not time_up and not summary.quit_early:
        path = starter(mock_plan.exercise)
        reply = ui.mock_exercise(mock_plan.exercise, path, deadline - clock())
        if reply.strip().lower() != "q":
            grade = grader(mock_plan.exercise, path)
            store.record_attempt(Attempt(mock_plan.exercise.id, grade.status, grade.passed, grade.total, clock(),
                                         grade.duration_s, grade.submission_sha256))
        time_up = clock() >= deadline
    outcome = Outcome(mock_plan, summary, grade, started, clock(), time_up)
    store.record_mock(Mock(outcome.started_at, outcome.ended_at, mock_plan.minutes, mock_plan.seed, outcome.score,
                           json.dumps({"parts": outcome.parts(), "time_up": time_up})))
    return outcome
