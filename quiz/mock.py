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
# What an exercise of each difficulty takes a prepared candidate, roughly: a mock assigns only one that fits in
# the time its questions leave, so a 5-minute mock never hands out a ★★★ exercise.
EXERCISE_MINUTES = {1: 10, 2: 15, 3: 25}
MIN_MINUTES, MAX_MINUTES = 5, 240


@dataclass(frozen=True)
class Plan:
    questions: tuple[Question, ...]
    exercise: Exercise | None
    minutes: int
    seed: int | None
    minutes_for_an_exercise: int | None = None  # set when no exercise fits: the least --minutes that has one


def plan(questions: Sequence[Question], exercises: Sequence[Exercise], *, minutes: int = 45,
         seed: int | None = None, passed: frozenset[str] = frozenset()) -> Plan:
    """Open questions from as many different topics as the time allows (leaving a third for the exercise),
    and one exercise that fits in the time they leave (EXERCISE_MINUTES), preferring those not passed yet;
    none when nothing fits."""
    rng = random.Random(seed)
    by_topic: dict[str, list[Question]] = {}
    for question in sorted(questions, key=lambda q: q.id):
        if question.type == "open":
            by_topic.setdefault(question.topic, []).append(question)

    def question_count(length: int) -> int:
        return max(1, min(len(by_topic), (length * 2 // 3) // MINUTES_PER_QUESTION)) if by_topic else 0

    def fitting(length: int) -> list[Exercise]:
        left = length - question_count(length) * MINUTES_PER_QUESTION
        return [e for e in exercises if EXERCISE_MINUTES.get(e.difficulty, max(EXERCISE_MINUTES.values())) <= left]

    count = question_count(minutes)
    chosen_topics = rng.sample(sorted(by_topic), count) if by_topic else []
    picked = tuple(rng.choice(by_topic[topic]) for topic in chosen_topics)
    fits = fitting(minutes)
    candidates = [e for e in fits if e.id not in passed] or fits
    exercise = rng.choice(sorted(candidates, key=lambda e: e.order)) if candidates else None
    suggestion = None
    if exercise is None and exercises:
        suggestion = next((length for length in range(minutes, MAX_MINUTES + 1) if fitting(length)), None)
    return Plan(picked, exercise, minutes, seed, suggestion)


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
    # The reply ("q" gives up), or None when the time ran out first: the file is then checked as it is.
    def mock_exercise(self, exercise: Exercise, path: Path, remaining: timedelta) -> str | None: ...


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
        if reply is None or reply.strip().lower() != "q":
            grade = grader(mock_plan.exercise, path)
            store.record_attempt(Attempt(mock_plan.exercise.id, grade.status, grade.passed, grade.total, clock(),
                                         grade.duration_s, grade.submission_sha256))
        time_up = clock() >= deadline
    outcome = Outcome(mock_plan, summary, grade, started, clock(), time_up)
    store.record_mock(Mock(outcome.started_at, outcome.ended_at, mock_plan.minutes, mock_plan.seed, outcome.score,
                           json.dumps({"parts": outcome.parts(), "time_up": time_up})))
    return outcome
