"""The interactive quiz loop: asks through a UI, grades with session.py, commits each answer to the store.

The loop owns no rendering (the UI object does) and no grading rules (session.py does); it only puts them
together so that every answer is in the database before the next question is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from quiz import session
from quiz.bank import Question
from quiz.session import Graded, Result, Summary, Unreadable
from quiz.store import Answer, Store, utcnow

HINT, SKIP, QUIT = "h", "s", "q"


class QuizUI(Protocol):
    """What the loop needs from a terminal (ui.QuizView) or a test double."""

    def show_question(self, question: Question, order: Sequence[int], index: int, total: int) -> None: ...
    def ask(self, question: Question) -> str: ...
    def show_hint(self, question: Question, number: int) -> None: ...
    def notice(self, what: str, **details: object) -> None: ...
    def reveal_open(self, question: Question) -> None: ...
    def ask_covered(self, question: Question) -> str: ...
    def show_feedback(self, question: Question, order: Sequence[int], graded: Graded) -> None: ...
    def skipped(self, question: Question) -> None: ...


class _Quit(Exception):
    pass


AfterAnswer = Callable[[Answer], None]  # called once the answer is committed (spaced repetition hooks in)


def run(questions: Sequence[Question], *, store: Store, ui: QuizUI, seed: int | None = None,
        lang: str = "en", kind: str = "quiz", clock: Callable[[], datetime] = utcnow,
        after_answer: AfterAnswer | None = None, deadline: datetime | None = None) -> Summary:
    """Ask every question; stop early on q, Ctrl-C or end of input, keeping every answer already given.

    With a deadline (mock interviews), no new question is asked once it has passed.
    """
    started = clock()
    session_id = store.start_session(kind, seed=seed, lang=lang, now=started)
    results: list[Result] = []
    quit_early = False
    try:
        for index, question in enumerate(questions, 1):
            if deadline is not None and clock() >= deadline:
                quit_early = True
                break
            order = session.choice_order(question, seed)
            ui.show_question(question, order, index, len(questions))
            asked_at = clock()
            graded, hints_used = _answer_one(question, order, ui)
            answered_at = clock()
            duration = (answered_at - asked_at).total_seconds()
            answer = Answer(
                question_id=question.id, topic=question.topic, qtype=question.type, outcome=graded.outcome,
                score=graded.score, answered_at=answered_at, response=graded.response, hints_used=hints_used,
                duration_s=duration, session_id=session_id,
            )
            store.record_answer(answer)
            results.append(Result(question, graded))
            if after_answer is not None:
                after_answer(answer)
            if graded.outcome != "skipped":
                ui.show_feedback(question, order, graded)
            else:
                ui.skipped(question)
    except (_Quit, KeyboardInterrupt, EOFError):
        quit_early = True
    ended = clock()
    store.end_session(session_id, now=ended)
    return session.summarize(results, started, ended, quit_early)


def _answer_one(question: Question, order: Sequence[int], ui: QuizUI) -> tuple[Graded, int]:
    hints_used = 0
    while True:
        response = ui.ask(question)
        command = response.strip().lower()
        if command == HINT:
            if hints_used < len(question.hints):
                hints_used += 1
                ui.show_hint(question, hints_used)
            else:
                ui.notice("no_more_hints" if question.hints else "no_hints")
            continue
        if command == SKIP:
            return session.skipped(), hints_used
        if command == QUIT:
            raise _Quit
        try:
            if question.type in ("choice", "multi"):
                return session.grade_choice(question, order, response), hints_used
            if question.type == "output":
                return session.grade_output(question, response), hints_used
            if question.type == "bug":
                return session.grade_bug(question, response), hints_used
            return _grade_open(question, response, ui), hints_used
        except Unreadable as problem:
            ui.notice(problem.reason, controls=True, hints=bool(question.hints), **problem.details)


def _grade_open(question: Question, response: str, ui: QuizUI) -> Graded:
    ui.reveal_open(question)
    while True:
        covered_text = ui.ask_covered(question)
        if covered_text.strip().lower() == QUIT:
            raise _Quit
        try:
            covered = session.parse_covered(covered_text, len(question.key_points))
        except Unreadable as problem:
            ui.notice(problem.reason, **problem.details)
            continue
        return session.grade_open(question, response, covered)
