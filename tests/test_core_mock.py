"""Mock interviews (quiz/mock.py): which parts a plan holds, how a run keeps its deadline, how it scores."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quiz import mock
from quiz.bank import Question
from quiz.catalog import Exercise
from quiz.grading.results import GradeResult, TestResult
from quiz.session import Graded, Result, summarize
from quiz.store import Store

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=timezone.utc)
KEY_POINTS = ({"en": "a"}, {"en": "b"}, {"en": "c"}, {"en": "d"})


def open_question(qid: str, topic: str) -> Question:
    return Question(id=qid, type="open", topic=topic, difficulty=2, prompt={"en": "p"}, explanation={"en": "e"},
                    key_points=KEY_POINTS, model_answer={"en": "m"})


def exercise(eid: str, order: int, topic: str = "tensors") -> Exercise:
    return Exercise(id=eid, title={"en": eid}, topic=topic, difficulty=1, order=order, tasks=("f",),
                    summary={"en": "s"}, hints=(), references=(), folder=Path("/nowhere") / eid)


TOPICS = ("gpu", "autograd", "evaluation", "deployment", "behavioural", "tensors")
OPEN = [open_question(f"{topic}-{n}", topic) for topic in TOPICS for n in range(3)]
CHOICE = Question(id="a-choice", type="choice", topic="gpu", difficulty=1, prompt={"en": "p"},
                  explanation={"en": "e"})
EXERCISES = [exercise("ex-c", 3), exercise("ex-a", 1), exercise("ex-b", 2)]


# -- the plan ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("minutes, count", [(5, 1), (12, 1), (24, 2), (45, 3), (60, 5), (72, 6), (300, 6)])
def test_a_plan_asks_one_open_question_per_topic_as_time_allows(minutes, count):
    planned = mock.plan(OPEN + [CHOICE], EXERCISES, minutes=minutes, seed=1)
    topics = [q.topic for q in planned.questions]
    assert len(topics) == len(set(topics)) == count, "two thirds of the time, 8 minutes a question"
    assert all(q.type == "open" for q in planned.questions)
    assert (planned.minutes, planned.seed) == (minutes, 1)


def test_the_default_plan_is_45_minutes():
    planned = mock.plan(OPEN, EXERCISES, seed=2)
    assert planned.minutes == 45 and len(planned.questions) == 3


def test_a_plan_is_a_function_of_its_seed_not_of_the_bank_order():
    first = mock.plan(OPEN, EXERCISES, minutes=60, seed=9)
    assert mock.plan(list(reversed(OPEN)), list(reversed(EXERCISES)), minutes=60, seed=9) == first
    plans = [mock.plan(OPEN, EXERCISES, minutes=60, seed=seed) for seed in range(8)]
    assert len({tuple(q.id for q in p.questions) for p in plans}) > 1 and len({p.exercise.id for p in plans}) > 1
    assert len({q.id for p in plans for q in p.questions if q.topic == "gpu"}) > 1, "any question of a topic"


def test_the_exercise_is_one_not_passed_yet_while_there_is_one():
    for seed in range(6):
        planned = mock.plan(OPEN, EXERCISES, seed=seed, passed=frozenset({"ex-a", "ex-c"}))
        assert planned.exercise.id == "ex-b"
    everything = frozenset({"ex-a", "ex-b", "ex-c"})
    assert {mock.plan(OPEN, EXERCISES, seed=s, passed=everything).exercise.id for s in range(10)} == {
        "ex-a", "ex-b", "ex-c"}, "with every exercise passed, any may come again"


def test_a_plan_without_exercises_or_open_questions_has_none():
    assert mock.plan(OPEN, [], seed=1).exercise is None
    planned = mock.plan([CHOICE], EXERCISES, seed=1)
    assert planned.questions == () and planned.exercise in EXERCISES


# -- scoring --------------------------------------------------------------------------------------------------------

def grade_result(passed: int, total: int, skipped: int = 0) -> GradeResult:
    tests = tuple(TestResult(f"t{i}", "f", "pass" if i < passed else "fail") for i in range(total)) + tuple(
        TestResult(f"gpu{i}", "f", "skip") for i in range(skipped))
    return GradeResult("ex-a", "pass" if passed == total else "fail", "", tests, 2.0, "/w/ex-a.py", "0" * 64)


def outcome(results, grade=None, with_exercise=True, questions=None):
    questions = tuple(questions if questions is not None else (r.question for r in results))
    planned = mock.Plan(questions, EXERCISES[1] if with_exercise else None, 45, 3)
    return mock.Outcome(planned, summarize(results, T0, T0), grade, T0, T0, False)


def test_every_part_scores_and_the_mock_is_their_mean():
    q1, q2, q3 = open_question("q1", "gpu"), open_question("q2", "autograd"), open_question("q3", "evaluation")
    result = outcome([Result(q1, Graded("right", 0.75, "")), Result(q2, Graded("skipped", 0.0, ""))],
                     grade_result(1, 4, skipped=2), questions=(q1, q2, q3))
    assert result.parts() == [
        {"kind": "question", "id": "q1", "topic": "gpu", "score": 0.75, "status": "right"},
        {"kind": "question", "id": "q2", "topic": "autograd", "score": 0.0, "status": "skipped"},
        {"kind": "question", "id": "q3", "topic": "evaluation", "score": 0.0, "status": "not reached"},
        {"kind": "exercise", "id": "ex-a", "topic": "tensors", "score": 0.25, "status": "fail", "passed": 1,
         "total": 4},
    ]
    assert result.score == pytest.approx(0.25)


def test_a_skipped_part_scores_zero_even_if_its_grade_said_otherwise():
    q1 = open_question("q1", "gpu")
    result = outcome([Result(q1, Graded("skipped", 1.0, ""))], with_exercise=False)
    assert result.parts()[0]["score"] == 0.0 and result.score == 0.0


def test_an_exercise_not_reached_or_without_tests_scores_zero():
    q1 = open_question("q1", "gpu")
    result = outcome([Result(q1, Graded("right", 1.0, ""))])
    assert result.parts()[-1] == {"kind": "exercise", "id": "ex-a", "topic": "tensors", "score": 0.0,
                                  "status": "not reached", "passed": 0, "total": 0}
    assert result.score == 0.5
    empty = outcome([Result(q1, Graded("right", 1.0, ""))], grade_result(0, 0))
    assert empty.parts()[-1]["score"] == 0.0 and empty.parts()[-1]["status"] == "pass"


def test_a_mock_with_no_parts_scores_zero():
    assert outcome([], with_exercise=False).score == 0.0
    assert outcome([], with_exercise=False).parts() == []


# -- running one ---------------------------------------------------------------------------------------------------

class Clock:
    def __init__(self, step_s: float):
        self.now, self.step = T0, timedelta(seconds=step_s)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class UI:
    def __init__(self, responses, exercise_reply=""):
        self.responses, self.exercise_reply = list(responses), exercise_reply
        self.deadline = None
        self.events = []

    def mock_intro(self, plan):
        self.events.append(("intro", plan))

    def show_question(self, question, order, index, total):
        self.events.append(("question", question.id))

    def ask(self, question):
        return self.responses.pop(0)

    ask_covered = ask

    def reveal_open(self, question):
        pass

    def show_feedback(self, question, order, graded):
        pass

    def skipped(self, question):
        pass

    def show_hint(self, question, number):
        pass

    def notice(self, what, **details):
        pass

    def mock_exercise(self, exercise, path, remaining):
        self.events.append(("exercise", exercise.id, path, remaining))
        return self.exercise_reply


def play(planned, ui, clock, grade=grade_result(3, 4), tmp_path=None, home=None):
    graded = []

    def grader(exercise, path):
        graded.append((exercise.id, path))
        return grade

    with Store.open(home) as store:
        result = mock.run(planned, store=store, ui=ui, clock=clock, grader=grader,
                          starter=lambda e: Path("/work") / f"{e.id}.py")
        return result, graded, store.mocks(), store.attempts(), store.answers()


def test_a_mock_in_time_asks_everything_grades_the_exercise_and_records_it(tmp_path):
    planned = mock.Plan((open_question("q1", "gpu"), open_question("q2", "autograd")), EXERCISES[1], 45, 5)
    ui = UI(["said it", "all", "said less", "1 2"], exercise_reply="done")
    clock = Clock(60)
    result, graded, mocks, attempts, answers = play(planned, ui, clock, home=tmp_path)
    assert ui.events[0] == ("intro", planned)
    assert [e[1] for e in ui.events if e[0] == "question"] == ["q1", "q2"]
    assert ui.deadline == result.started_at + timedelta(minutes=45)
    assert result.started_at == T0 + timedelta(seconds=60)
    (exercise_event,) = [e for e in ui.events if e[0] == "exercise"]
    assert exercise_event[2] == Path("/work/ex-a.py") and timedelta(minutes=30) < exercise_event[3] < timedelta(
        minutes=45), "the exercise is shown the time that is left"
    assert graded == [("ex-a", Path("/work/ex-a.py"))]
    assert not result.time_up and result.grade == grade_result(3, 4)
    assert result.score == pytest.approx((1.0 + 0.5 + 0.75) / 3)
    assert result.ended_at == clock.now
    (saved,) = mocks
    assert (saved.started_at, saved.ended_at, saved.minutes, saved.seed) == (result.started_at, result.ended_at, 45, 5)
    assert saved.score == pytest.approx(result.score)
    assert json.loads(saved.detail) == {"parts": result.parts(), "time_up": False}
    (attempt,) = attempts
    assert (attempt.exercise_id, attempt.status, attempt.passed, attempt.total, attempt.duration_s,
            attempt.submission_sha256) == ("ex-a", "fail", 3, 4, 2.0, "0" * 64)
    assert result.started_at < attempt.attempted_at <= result.ended_at
    assert [a.question_id for a in answers] == ["q1", "q2"]


def test_no_question_is_asked_after_the_deadline(tmp_path):
    planned = mock.Plan(tuple(open_question(f"q{n}", "gpu") for n in range(5)), EXERCISES[0], 10, 1)
    ui = UI(["a", "all"] * 5)
    result, graded, mocks, attempts, _ = play(planned, ui, Clock(200), home=tmp_path)
    assert [e[1] for e in ui.events if e[0] == "question"] == ["q0"]
    assert result.time_up and graded == [] and attempts == []
    assert not any(e[0] == "exercise" for e in ui.events), "the exercise is skipped after the deadline"
    assert json.loads(mocks[0].detail)["time_up"] is True


def test_time_running_out_during_the_exercise_is_recorded_as_time_up(tmp_path):
    planned = mock.Plan((), EXERCISES[0], 1, 1)
    ui = UI([], exercise_reply="")
    result, graded, _, attempts, _ = play(planned, ui, Clock(15), home=tmp_path)  # the deadline: 75 s
    assert graded and result.time_up, "started at 60 s, graded, and past the deadline at 105 s"
    assert attempts[0].attempted_at == T0 + timedelta(seconds=90)


def test_the_deadline_is_the_planned_minutes_after_the_start(tmp_path):
    planned = mock.Plan((open_question("q1", "gpu"),), None, 1, 1)
    ui = UI(["x", "all"])
    play(planned, ui, Clock(29), home=tmp_path)  # started at 29 s: the question is due at 87 s of 89
    assert ui.deadline == T0 + timedelta(seconds=29) + timedelta(minutes=1)
    assert [e[1] for e in ui.events if e[0] == "question"] == ["q1"]
    ui = UI(["x", "all"])
    result, *_ = play(planned, ui, Clock(30), home=tmp_path / "b")  # due at 90 s, the deadline itself
    assert [e[1] for e in ui.events if e[0] == "question"] == []
    assert result.time_up


@pytest.mark.parametrize("reply", ["q", " Q ", "q\n"])
def test_q_at_the_exercise_skips_its_grading(tmp_path, reply):
    planned = mock.Plan((), EXERCISES[0], 45, 1)
    result, graded, mocks, attempts, _ = play(planned, UI([], exercise_reply=reply), Clock(1), home=tmp_path)
    assert graded == [] and attempts == [] and result.grade is None
    assert result.parts()[-1]["status"] == "not reached"
    assert len(mocks) == 1


def test_quitting_the_questions_skips_the_exercise(tmp_path):
    planned = mock.Plan((open_question("q1", "gpu"), open_question("q2", "gpu")), EXERCISES[0], 45, 1)
    ui = UI(["q"])
    result, graded, mocks, _, _ = play(planned, ui, Clock(1), home=tmp_path)
    assert result.summary.quit_early and graded == [] and not result.time_up
    assert not any(e[0] == "exercise" for e in ui.events)
    assert len(mocks) == 1


def test_a_mock_without_an_exercise_never_starts_one(tmp_path):
    planned = mock.Plan((open_question("q1", "gpu"),), None, 45, None)
    ui = UI(["x", "all"])
    result, graded, mocks, _, _ = play(planned, ui, Clock(1), home=tmp_path)
    assert graded == [] and result.score == 1.0 and mocks[0].seed is None


def test_a_mock_is_recorded_as_a_mock_session_in_its_language(tmp_path):
    planned = mock.Plan((open_question("q1", "gpu"),), None, 45, None)
    for lang, home in (("en", tmp_path / "en"), ("zh", tmp_path / "zh")):
        with Store.open(home) as store:
            kwargs = {} if lang == "en" else {"lang": "zh"}
            mock.run(planned, store=store, ui=UI(["x", "all"]), clock=Clock(1), grader=None,
                     starter=lambda e: Path("/x"), **kwargs)
            rows = [tuple(r) for r in store.connection.execute("SELECT kind, lang FROM sessions")]
        assert rows == [("mock", lang)]


def test_time_is_up_at_the_deadline_itself(tmp_path):
    result, *_ = play(mock.Plan((), None, 1, 1), UI([]), Clock(20), home=tmp_path / "a")  # checked at 80 s of 80
    assert result.time_up
    result, graded, *_ = play(mock.Plan((), EXERCISES[0], 1, 1), UI([]), Clock(10), home=tmp_path / "b")
    assert graded and result.time_up, "graded, then checked at 70 s, the deadline"


# -- fitting the exercise to the time ------------------------------------------------------------------------------

def test_a_mock_assigns_only_an_exercise_that_fits_the_time_its_questions_leave():
    graded = [dataclasses.replace(exercise(f"ex-{d}", d), difficulty=d) for d in (1, 2, 3)]
    short = mock.plan(OPEN, graded, minutes=5, seed=1)
    assert short.exercise is None, "5 minutes hold one question and no exercise"
    assert short.minutes_for_an_exercise == 18, "the least --minutes with room for the quickest exercise"
    assert mock.plan(OPEN, graded, minutes=18, seed=1).exercise.difficulty == 1
    for seed in range(12):
        assert mock.plan(OPEN, graded, minutes=45, seed=seed).exercise.difficulty <= 2, "24 minutes of questions"
    assert {mock.plan(OPEN, graded, minutes=90, seed=s).exercise.difficulty for s in range(20)} == {1, 2, 3}
    assert mock.plan(OPEN, graded, minutes=45, seed=1).minutes_for_an_exercise is None


def test_without_open_questions_the_whole_time_goes_to_the_exercise():
    graded = [dataclasses.replace(exercise(f"ex-{d}", d), difficulty=d) for d in (1, 2, 3)]
    planned = mock.plan([CHOICE], graded, minutes=10, seed=1)
    assert planned.questions == () and planned.exercise.difficulty == 1, "10 minutes hold the ★ exercise"
    assert mock.plan([CHOICE], graded, minutes=9, seed=1).minutes_for_an_exercise == 10


def test_the_suggested_minutes_are_never_fewer_than_asked():
    # A ★★ exercise needs 15 minutes after the questions: 24 minutes ask two questions and leave 8, 31 leave 15
    # (23 would also leave 15, with one question fewer, but a suggestion never cuts the time asked for).
    medium = [dataclasses.replace(exercise("ex-2", 2), difficulty=2)]
    assert mock.plan(OPEN, medium, minutes=24, seed=1).minutes_for_an_exercise == 31
    assert mock.plan(OPEN, medium, minutes=31, seed=1).exercise is not None
