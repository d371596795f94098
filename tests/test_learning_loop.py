"""Spaced repetition, the readiness report, mock interviews and portable progress."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsrs
import pytest

from quiz import bank, mock, progress, report, review, session
from quiz.catalog import Exercise
from quiz.grading.runner import GradeResult, TestResult
from quiz.store import Answer, Attempt, Store
from tests.conftest import SAMPLE_BANK

QUESTIONS = {q.id: q for q in bank.read_file(SAMPLE_BANK)[0]}
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def answer(question_id: str, outcome: str, when: datetime, *, score: float | None = None, duration: float = 60.0,
           hints: int = 0) -> Answer:
    question = QUESTIONS[question_id]
    if score is None:
        score = 1.0 if outcome == "right" else 0.0
    return Answer(question_id, question.topic, question.type, outcome, score, when, None, hints, duration)


def exercise(exercise_id: str, topic: str, order: int) -> Exercise:
    return Exercise(exercise_id, {"en": exercise_id}, topic, 1, order, ("f",), {"en": "s"}, ({"en": "h"},), (),
                    Path("/nowhere"))


def schedules(cards) -> dict:
    """Cards without fsrs's own random card_id: what the schedule says, not which object holds it."""
    return {key: {k: v for k, v in card.to_dict().items() if k != "card_id"} for key, card in cards.items()}


def stored_schedules(store: Store) -> dict:
    return schedules(review.load_cards(store))


class TestRatings:
    @pytest.mark.parametrize(("qtype", "outcome", "score", "duration", "hints", "rating"), [
        ("choice", "wrong", 0.0, 5.0, 0, fsrs.Rating.Again),
        ("choice", "right", 1.0, 5.0, 0, fsrs.Rating.Easy),
        ("choice", "right", 1.0, 5.0, 1, fsrs.Rating.Good),   # a hint: not at the first try
        ("choice", "right", 1.0, 90.0, 0, fsrs.Rating.Good),  # slow
        ("output", "right", 1.0, 40.0, 0, fsrs.Rating.Easy),
        ("bug", "wrong", 0.0, 10.0, 0, fsrs.Rating.Again),
        ("open", "wrong", 0.25, 100.0, 0, fsrs.Rating.Again),
        ("open", "right", 0.5, 100.0, 0, fsrs.Rating.Hard),
        ("open", "right", 0.8, 100.0, 0, fsrs.Rating.Good),
        ("open", "right", 1.0, 100.0, 0, fsrs.Rating.Easy),
    ])
    def test_rating_mapping(self, qtype, outcome, score, duration, hints, rating):
        assert review.rating_for(qtype, outcome, score, duration, hints) == rating

    def test_a_skip_is_not_a_review(self):
        assert review.rating_for("choice", "skipped", 0.0, 1.0, 0) is None


class TestScheduling:
    def test_due_ordering_with_a_fixed_clock(self, isolated):
        with Store.open(isolated) as store:
            for record in (answer("sample-choice", "wrong", T0), answer("sample-bug", "right", T0, duration=90),
                           answer("sample-output", "wrong", T0 + timedelta(minutes=5))):
                store.record_answer(record)
                review.review(store, record)
            cards = review.load_cards(store)
        assert all(card.due.tzinfo is not None for card in cards.values())
        # Missed cards come back within minutes (the learning step), a right one much later.
        assert cards["sample-choice"].due == T0 + timedelta(minutes=1)
        assert cards["sample-output"].due == T0 + timedelta(minutes=6)
        assert cards["sample-bug"].due > T0 + timedelta(minutes=6)
        later = T0 + timedelta(minutes=9)  # a first Good is due again after 10 minutes
        questions = list(QUESTIONS.values())
        assert [q.id for q in review.due_questions(questions, cards, later)] == ["sample-choice", "sample-output"]
        drawn = session.draw(questions, session.Filters(), 5, order=review.spaced_order(cards, later))
        ids = [q.id for q in drawn]
        assert ids[:2] == ["sample-choice", "sample-output"]        # due first, most overdue first
        assert set(ids[2:4]) == {"sample-multi", "sample-open"}     # then new
        assert ids[4] == "sample-bug"                               # then the rest
        assert review.next_due(questions, cards) == T0 + timedelta(minutes=1)

    def test_replay_gives_the_stored_cards(self, isolated):
        history = [answer("sample-choice", "wrong", T0), answer("sample-choice", "right", T0 + timedelta(hours=1)),
                   answer("sample-open", "right", T0, score=0.8), answer("sample-multi", "skipped", T0)]
        with Store.open(isolated) as store:
            for record in history:
                store.record_answer(record)
                review.review(store, record)
            stored = review.load_cards(store)
            assert review.rebuild(store) == 2
            assert schedules(review.load_cards(store)) == schedules(stored)
        assert schedules(review.replay(history)) == schedules(stored)

    def test_review_command_when_nothing_is_due(self, cli, sample_only, isolated):
        result = cli("review", "--bank", sample_only)
        assert "Nothing to review yet" in result.output
        cli("quiz", "--bank", sample_only, "--type", "bug", "--seed", "1", input="1\n")
        result = cli("review", "--bank", sample_only)
        assert re.search(r"Nothing is due\. Next review: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in \d+", result.output)

    def test_review_command_serves_what_is_due(self, cli, sample_only, isolated):
        with Store.open(isolated) as store:
            record = answer("sample-bug", "wrong", datetime.now(timezone.utc) - timedelta(days=2))
            store.record_answer(record)
            review.review(store, record)
        result = cli("review", "--bank", sample_only, input="1\n")
        assert "Question 1/1" in result.output and "spot the bug" in result.output and "✓ Right" in result.output


def hand_built_history(store: Store) -> None:
    day = timedelta(days=1)
    records = [
        answer("sample-choice", "right", T0 - 3 * day, duration=5),
        answer("sample-multi", "wrong", T0 - 3 * day),
        answer("sample-multi", "right", T0 - 2 * day),
        answer("sample-output", "skipped", T0 - 2 * day),
        answer("sample-open", "right", T0 - day, score=0.67),
        answer("sample-bug", "wrong", T0 - 40 * day),  # outside the 30-day window
    ]
    for record in records:
        store.record_answer(record)
        review.review(store, record)
    store.record_attempt(Attempt("ex-tensors", "pass", 4, 4, T0 - day))
    store.record_attempt(Attempt("ex-training", "fail", 1, 4, T0 - day))


class TestReport:
    EXERCISES = [exercise("ex-tensors", "tensors", 1), exercise("ex-training", "training-loop", 2)]

    @pytest.fixture
    def built(self, isolated):
        with Store.open(isolated) as store:
            hand_built_history(store)
            return report.build(store, list(QUESTIONS.values()), self.EXERCISES, T0)

    def test_numbers_by_topic(self, built):
        lines = {line.topic: line for line in built.topics}
        tensors = lines["tensors"]  # sample-multi (wrong, right) and sample-output (skipped)
        assert (tensors.questions, tensors.seen, tensors.answered, tensors.right) == (2, 2, 2, 1)
        assert tensors.accuracy == 0.5
        assert (tensors.exercises_passed, tensors.exercises_total) == (1, 1)
        autograd = lines["autograd"]
        assert (autograd.seen, autograd.accuracy) == (1, 1.0)
        assert 0 < autograd.recall <= 1
        training = lines["training-loop"]
        assert (training.seen, training.accuracy, training.exercises_passed, training.exercises_total) == \
            (1, 0.0, 0, 1)
        assert lines["gpu"].questions == 0 and lines["gpu"].accuracy is None
        assert built.answered == 5 and built.accuracy == pytest.approx(3 / 5)
        assert (built.exercises_passed, built.exercises_total) == (1, 2)
        # readiness = mean recall over the topic's questions and exercise tasks, unseen and unpassed counting 0
        assert tensors.tasks == 1 and tensors.readiness == pytest.approx(tensors.recall * 1 / (2 + tensors.tasks))

    def test_weakest_topics_come_with_commands(self, built):
        assert len(built.weakest) == 3
        weakest = {s.topic: s for s in built.weakest}
        assert "training-loop" in weakest
        assert "torchprep start ex-training" in weakest["training-loop"].commands
        assert "torchprep review --topic training-loop" in weakest["training-loop"].commands
        readiness = {line.topic: line.readiness for line in built.topics if line.questions}
        assert max(readiness[s.topic] for s in built.weakest) <= min(
            value for topic, value in readiness.items() if topic not in weakest)

    def test_activity_over_30_days(self, built):
        assert len(built.activity) == 30 and built.activity[-1].day == T0.date()
        counts = {day.day: (day.answers, day.attempts) for day in built.activity if day.answers or day.attempts}
        day = timedelta(days=1)
        assert counts == {(T0 - 3 * day).date(): (2, 0), (T0 - 2 * day).date(): (2, 0),
                          (T0 - day).date(): (1, 2)}

    def test_formats(self, built, tmp_path):
        markdown = report.to_markdown(built)
        assert "| Tensors and fundamentals | 2/2 | 50% |" in markdown
        assert "`torchprep start ex-training`" in markdown
        document = json.loads(report.to_json_text(built))
        assert document["version"] == 1 and document["answered"] == 5
        assert {t["topic"]: t["accuracy"] for t in document["topics"]}["tensors"] == 0.5
        page = report.to_html(built)
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "Tensors and fundamentals" in page
        for forbidden in ("<script", "src=", "href=", "@import", "url("):
            assert forbidden not in page, f"the HTML page must be self-contained: found {forbidden}"
        assert page.count("<rect") == 60  # two stacked bars for each of the 30 days

    def test_report_command_writes_each_format(self, cli, sample_only, tmp_path):
        cli("quiz", "--bank", sample_only, "--type", "bug", "--seed", "1", input="1\n")
        assert "Readiness report" in cli("report", "--bank", sample_only).output
        for fmt in ("md", "html", "json"):
            target = tmp_path / f"out.{fmt}"
            result = cli("report", "--bank", sample_only, "--format", fmt, "--output", target)
            assert f"Wrote {target}" in result.output.replace("\n", "") and target.stat().st_size > 200
        assert json.loads((tmp_path / "out.json").read_text())["answered"] == 1
        assert "unknown format 'pdf'" in cli("report", "--format", "pdf", expect=2).output


class FakeClock:
    def __init__(self, step_s: float):
        self.now = T0
        self.step = timedelta(seconds=step_s)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class MockUI:
    def __init__(self, responses, exercise_reply="", clock=None):
        self.responses = list(responses)
        self.exercise_reply = exercise_reply
        self.deadline = None
        self.asked = []

    def mock_intro(self, plan):
        pass

    def show_question(self, question, order, index, total):
        self.asked.append(question.id)

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
        return self.exercise_reply


def fake_grade(passed: int, total: int):
    def grader(exercise, path):
        tests = tuple(TestResult(f"t{i}", "f", "pass" if i < passed else "fail") for i in range(total))
        return GradeResult(exercise.id, "pass" if passed == total else "fail", "", tests, 1.0, str(path), "0" * 64)
    return grader


class TestMock:
    OPEN = [
        bank.Question(id=f"open-{topic}", type="open", topic=topic, difficulty=2, prompt={"en": "p"},
                      explanation={"en": "e"}, key_points=({"en": "a"}, {"en": "b"}, {"en": "c"}, {"en": "d"}),
                      model_answer={"en": "m"})
        for topic in ("gpu", "autograd", "evaluation", "deployment", "behavioural")]
    EXERCISES = [exercise("ex-a", "tensors", 1), exercise("ex-b", "gpu", 2)]

    def test_plan_is_seeded_and_mixes_topics(self):
        first = mock.plan(self.OPEN, self.EXERCISES, minutes=45, seed=4)
        assert first == mock.plan(self.OPEN, self.EXERCISES, minutes=45, seed=4)
        topics_asked = [q.topic for q in first.questions]
        assert len(topics_asked) == len(set(topics_asked)) == 3  # 30 of 45 minutes at 8 minutes a question
        assert first.exercise in self.EXERCISES
        assert mock.plan(self.OPEN, self.EXERCISES, seed=1, passed=frozenset({"ex-a"})).exercise.id == "ex-b"

    def test_scoring_with_a_fake_clock(self, isolated, tmp_path):
        planned = mock.plan(self.OPEN, self.EXERCISES, minutes=45, seed=4)
        ui = MockUI(["my answer", "all", "", "1", "", "none"])
        with Store.open(isolated) as store:
            outcome = mock.run(planned, store=store, ui=ui, clock=FakeClock(60), grader=fake_grade(3, 4),
                               starter=lambda e: tmp_path / f"{e.id}.py")
            saved = store.mocks()
            attempts = store.attempts()
        assert [part["score"] for part in outcome.parts()] == [1.0, 0.25, 0.0, 0.75]
        assert outcome.score == pytest.approx(0.5) and not outcome.time_up
        assert ui.deadline == outcome.started_at + timedelta(minutes=45)
        assert len(saved) == 1 and saved[0].score == pytest.approx(0.5)
        assert json.loads(saved[0].detail)["parts"][3] == {"kind": "exercise", "id": planned.exercise.id,
                                                           "topic": planned.exercise.topic, "score": 0.75,
                                                           "status": "fail", "passed": 3, "total": 4}
        assert [(a.exercise_id, a.passed) for a in attempts] == [(planned.exercise.id, 3)]

    def test_time_up_stops_the_questions_and_skips_the_exercise(self, isolated, tmp_path):
        planned = mock.plan(self.OPEN, self.EXERCISES, minutes=10, seed=2)  # 1 question at 8 minutes each
        planned = mock.Plan(tuple(self.OPEN[:3]), planned.exercise, 10, 2)
        ui = MockUI(["a", "all", "b", "all", "c", "all"])
        with Store.open(isolated) as store:
            outcome = mock.run(planned, store=store, ui=ui, clock=FakeClock(150), grader=fake_grade(4, 4),
                               starter=lambda e: tmp_path / "x.py")
        assert outcome.time_up
        assert len(ui.asked) < 3
        assert outcome.parts()[-1]["status"] == "not reached" and outcome.parts()[-1]["score"] == 0.0
        assert any(part["status"] == "not reached" for part in outcome.parts()[:-1])


class TestPortableProgress:
    def test_export_import_round_trip_and_twice_changes_nothing(self, tmp_path):
        source, target = tmp_path / "a", tmp_path / "b"
        with Store.open(source) as store:
            hand_built_history(store)
            store.record_event("ex-tensors", "hint", "1", now=T0)
            planned = mock.Plan((QUESTIONS["sample-open"],), None, 10, 1)
            mock.run(planned, store=store, ui=MockUI(["x", "all"]), clock=FakeClock(30), grader=fake_grade(1, 1),
                     starter=lambda e: tmp_path / "x.py", after_answer=lambda record: review.review(store, record))
            counts = progress.write_export(store, tmp_path / "p.json", T0)
            original = (store.answers(), store.attempts(), store.events(), store.mocks(), stored_schedules(store))
        assert counts == {"answers": 7, "attempts": 2, "events": 1, "mocks": 1, "settings": 0}
        document = progress.read_export(tmp_path / "p.json")
        with Store.open(target) as store:
            assert progress.import_document(store, document) == {"answers": 7, "attempts": 2, "events": 1, "mocks": 1,
                                                                 "settings": 0}
            assert progress.import_document(store, document) == {"answers": 0, "attempts": 0, "events": 0, "mocks": 0,
                                                                 "settings": 0}
            copied = (store.answers(), store.attempts(), store.events(), store.mocks(), stored_schedules(store))
        strip = [[a for a in original[0]], original[1:]]
        assert [(a.question_id, a.outcome, a.score, a.answered_at) for a in copied[0]] == \
            [(a.question_id, a.outcome, a.score, a.answered_at) for a in strip[0]]
        assert copied[1:] == original[1:]  # attempts, events, mocks and the rebuilt cards

    def test_a_foreign_file_is_refused(self, tmp_path):
        path = tmp_path / "x.json"
        path.write_text('{"hello": 1}')
        with pytest.raises(Exception, match="not a torchprep progress file"):
            progress.read_export(path)
        path.write_text('{"format": "torchprep-progress", "version": 9}')
        with pytest.raises(Exception, match="newer torchprep"):
            progress.read_export(path)

    def test_cli_export_import_and_reset_by_topic(self, cli, isolated, tmp_path, sample_only):
        cli("quiz", "--bank", sample_only, "--type", "bug", "--type", "choice", "--seed", "2", input="s\n1\n")
        result = cli("progress", "export", tmp_path / "p.json")
        assert "2 answers" in result.output
        result = cli("progress", "reset", "--topic", "training-loop", input="n\n", expect=1)
        assert "Nothing changed" in result.output
        result = cli("progress", "reset", "--topic", "training-loop", input="y\n")
        assert "Forgot your progress on Training loop (1 answers" in result.output.replace("\n", " ")
        with Store.open(isolated) as store:
            assert [a.topic for a in store.answers()] == ["autograd"]
        assert list((isolated / "backups").glob("progress-*.json"))
        result = cli("progress", "import", tmp_path / "p.json")
        assert "1 new answers" in result.output
        result = cli("progress", "import", tmp_path / "p.json")
        assert "0 new answers" in result.output
        cli("progress", "reset", "--yes")
        with Store.open(isolated) as store:
            assert store.answers() == [] and store.cards() == {}
