"""The study plan to an interview date (quiz/plan.py) and partial credit for multi-select (quiz/credit.py).

Everything runs on a fixed clock with fake questions and a learner whose answers are written out below.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import fsrs
import pytest

from quiz import plan, review
from quiz.bank import Question
from quiz.credit import multi_rating
from quiz.store import Answer

NOW = datetime(2026, 3, 2, 19, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
Rating = fsrs.Rating


def question(qid: str, topic: str, qtype: str = "choice", difficulty: int = 1) -> Question:
    return Question(id=qid, type=qtype, topic=topic, difficulty=difficulty, prompt={"en": qid},
                    explanation={"en": "e"})


BANK = ([question(f"tensors-{n}", "tensors") for n in range(6)]
        + [question(f"autograd-{n}", "autograd", "output") for n in range(6)]
        + [question(f"transformers-{n}", "transformers", difficulty=1 + n % 2) for n in range(30)]
        + [question(f"distributed-{n}", "distributed", "multi") for n in range(4)])
BY_ID = {q.id: q for q in BANK}


def answer(qid: str, outcome: str, at: datetime) -> Answer:
    q = BY_ID[qid]
    return Answer(qid, q.topic, q.type, outcome, 1.0 if outcome == "right" else 0.0, at, duration_s=60.0)


def learner_history() -> list[Answer]:
    """Forty days ago the learner got every tensors question right, and again ten days later; three days ago
    it got autograd-0 wrong. Nothing else seen."""
    answers = [answer(f"tensors-{n}", "right", NOW - timedelta(days=40)) for n in range(6)]
    answers += [answer(f"tensors-{n}", "right", NOW - timedelta(days=30)) for n in range(6)]
    answers.append(answer("autograd-0", "wrong", NOW - timedelta(days=3)))
    return answers


def make_plan(days: int = 5, hours: float = 0.5, rule: str = "interview", **options) -> plan.Plan:
    answers = learner_history()
    return plan.build(BANK, review.replay(answers), answers, NOW, TODAY + timedelta(days=days), hours, rule=rule,
                      **options)


def recall_on(qid: str, when: date) -> float:
    """Predicted recall of a card on a date with no more study (at NOW's time of day)."""
    cards = review.replay(learner_history())
    at = datetime.combine(when, NOW.time(), timezone.utc)
    return review.recall(cards[qid], at)


def cost(day: plan.Day) -> float:
    ids = list(day.reviews) + [qid for ids in day.new_questions.values() for qid in ids]
    return sum(plan.minutes_for(BY_ID[qid]) for qid in ids) + plan.EXERCISE_MINUTES * len(day.exercises)


# -- the shape of a plan ---------------------------------------------------------------------------------------

def test_the_days_run_from_today_to_the_interview_and_nothing_comes_after():
    result = make_plan(days=5)
    assert [day.date for day in result.days] == [TODAY + timedelta(days=n) for n in range(6)]
    assert result.days[-1] == plan.Day(TODAY + timedelta(days=5), {}, (), (), 0.0, interview=True)
    assert [day.interview for day in result.days] == [False] * 5 + [True]
    assert all(day.date <= result.interview for day in result.days)
    assert result.today().date == TODAY


@pytest.mark.parametrize("hours", [0.25, 0.5, 1.0, 3.0])
def test_every_day_holds_its_hours_and_no_more(hours):
    result = make_plan(days=7, hours=hours, exercises=[SimpleNamespace(id=f"ex{n}", topic="autograd", order=n)
                                                       for n in range(10)])
    budget = hours * 60
    for day in result.days[:-1]:
        assert day.minutes == pytest.approx(cost(day))
        assert day.minutes <= budget + 1e-9
    if result.unplanned:  # questions were left for lack of time: then the first day is full to the last question
        assert budget - result.days[0].minutes < max(plan.MINUTES.values())


def test_a_day_is_sized_with_the_stated_minutes_per_type():
    assert plan.MINUTES == {"choice": 1.5, "multi": 2.0, "output": 3.0, "bug": 3.0, "open": 6.0}
    assert plan.EXERCISE_MINUTES == 20.0
    # Half an hour on the first day: the five unseen autograd outputs (15 min), then ten transformers choices.
    first = make_plan(days=5, hours=0.5).today()
    assert first.new_questions == {"autograd": tuple(f"autograd-{n}" for n in range(1, 6)),
                                   "transformers": tuple(f"transformers-{n}" for n in range(0, 20, 2))}
    assert first.minutes == 30.0


def test_weakest_and_most_asked_topics_are_learned_first():
    result = make_plan(days=5, hours=0.5)
    # autograd is asked most (5) and barely known; transformers (3) and distributed (2) are not started;
    # tensors is asked most too but known (recall now well above 80%), so it comes last.
    assert plan.ASKED["autograd"] == plan.ASKED["tensors"] == 5
    assert plan.ASKED["transformers"] == 3 and plan.ASKED["distributed"] == 2
    assert result.topic_order == ("autograd", "transformers", "distributed", "tensors")
    learned = [qid for day in result.days for ids in day.new_questions.values() for qid in ids]
    topics_in_order = [BY_ID[qid].topic for qid in learned]
    assert topics_in_order == sorted(topics_in_order, key=result.topic_order.index)
    # Within a topic, the easier questions first.
    assert learned.index("transformers-28") < learned.index("transformers-1")


def test_lower_accuracy_breaks_a_tie_between_topics_equally_asked_and_equally_known():
    questions = [question("gpu-0", "gpu"), question("evaluation-0", "evaluation")]
    answers = [Answer("gpu-0", "gpu", "choice", "right", 1.0, NOW - timedelta(days=1)),
               Answer("evaluation-0", "evaluation", "choice", "skipped", 0.0, NOW - timedelta(days=1)),
               Answer("evaluation-0", "evaluation", "choice", "wrong", 0.0, NOW - timedelta(days=2))]
    assert plan.ASKED["gpu"] == plan.ASKED["evaluation"]
    # Neither has a card, so both are unknown; evaluation was answered wrong, gpu right.
    assert plan.topic_order(questions, {}, answers, NOW) == ("evaluation", "gpu")


def test_a_seen_question_is_never_new_and_each_new_one_comes_once():
    result = make_plan(days=14, hours=1.0)
    learned = [qid for day in result.days for ids in day.new_questions.values() for qid in ids]
    assert len(learned) == len(set(learned))
    assert not set(learned) & ({f"tensors-{n}" for n in range(6)} | {"autograd-0"})
    assert result.unplanned == len(BANK) - 7 - len(learned) == 0


# -- reviews for the interview date ------------------------------------------------------------------------------

def test_a_card_that_would_fade_by_the_date_is_reviewed_the_day_before():
    interview = TODAY + timedelta(days=5)
    assert recall_on("tensors-0", interview) == pytest.approx(0.8756, abs=1e-3)  # under 90% left alone
    result = make_plan(days=5, hours=2.0)  # time for every question and every late review
    assert result.unplanned == 0
    day_before = result.days[-2]
    assert day_before.date == interview - timedelta(days=1)
    assert "tensors-0" in day_before.reviews
    # Its last answer before the interview is that review (the spare time also takes FSRS's due review today).
    assert [day.date for day in result.days if "tensors-0" in day.reviews][-1] == day_before.date
    assert result.predicted["tensors-0"] > 0.99


def test_a_wrong_answer_waits_for_its_late_review_under_the_interview_rule_not_under_plain_fsrs():
    assert review.replay(learner_history())["autograd-0"].due < NOW  # FSRS has it due now
    interview_plan, fsrs_plan = make_plan(days=5, rule="interview"), make_plan(days=5, rule="fsrs")
    assert "autograd-0" in fsrs_plan.today().reviews
    assert "autograd-0" not in interview_plan.today().reviews
    assert "autograd-0" in interview_plan.days[-2].reviews
    # Plain FSRS plans no late reviews: on the day before, it reviews only what falls due then.
    assert "tensors-0" not in fsrs_plan.days[-2].reviews


def test_late_reviews_fill_the_days_backwards_from_the_interview_worst_recalled_first():
    # Three minutes a day: a study day holds one output question or two choice ones.
    result = make_plan(days=5, hours=0.05)
    interview = result.interview
    assert recall_on("autograd-0", interview) == pytest.approx(0.5707, abs=1e-3)  # the worst on the date
    assert recall_on("tensors-0", interview) == pytest.approx(0.8756, abs=1e-3)
    assert [day.reviews for day in result.days[1:-1]] == [("tensors-4", "tensors-5"), ("tensors-2", "tensors-3"),
                                                          ("tensors-0", "tensors-1"), ("autograd-0",)]
    # The first day is not needed for a promised review: it learns (with no late review left to promise).
    assert result.today().reviews == () and result.today().new_questions == {"autograd": ("autograd-1",)}
    assert all(day.minutes == 3.0 for day in result.days[:-1])


def test_following_the_plan_predicts_higher_recall_on_the_date_than_stopping():
    result = make_plan(days=7, hours=1.0)
    assert result.recall_without_plan == pytest.approx(
        sum(recall_on(q, result.interview) for q in {f"tensors-{n}" for n in range(6)} | {"autograd-0"}) / len(BANK))
    assert result.recall_without_plan < 0.15
    assert result.recall_at_interview > 0.9
    assert min(result.predicted.values()) >= 0.9  # every question seen and reviewed late enough


# -- exercises -------------------------------------------------------------------------------------------------

def test_exercises_follow_the_topic_order_skip_the_passed_and_keep_to_their_share():
    exercises = [SimpleNamespace(id="fit_tensors", topic="tensors", order=1),
                 SimpleNamespace(id="fit_linear", topic="autograd", order=2),
                 SimpleNamespace(id="custom_function", topic="autograd", order=1),
                 SimpleNamespace(id="attention", topic="transformers", order=1)]
    result = make_plan(days=5, hours=1.0, exercises=exercises, passed={"custom_function"})
    planned = [eid for day in result.days for eid in day.exercises]
    assert planned == ["fit_linear", "attention", "fit_tensors"]
    assert all(len(day.exercises) * plan.EXERCISE_MINUTES <= 60 * plan.EXERCISE_SHARE for day in result.days)


# -- refusals and output ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("interview", "words"), [(TODAY, "today"), (TODAY - timedelta(days=1), "1 day ago"),
                                                  (TODAY - timedelta(days=30), "30 days ago")])
def test_an_interview_today_or_in_the_past_is_refused_with_the_date(interview, words):
    with pytest.raises(ValueError, match=f"{interview.isoformat()} is {words}: a plan needs a date after today"):
        plan.build(BANK, {}, [], NOW, interview, 1.0)


@pytest.mark.parametrize("hours", [0, -1, 25, float("nan")])
def test_hours_per_day_out_of_range_are_refused(hours):
    with pytest.raises(plan.PlanError, match="hours per day must be more than 0 and at most 24"):
        plan.build(BANK, {}, [], NOW, TODAY + timedelta(days=3), hours)


def test_the_plan_is_json():
    data = json.loads(json.dumps(make_plan(days=3).to_json()))
    assert data["version"] == 1 and data["interview"] == (TODAY + timedelta(days=3)).isoformat()
    assert [day["date"] for day in data["days"]][-1] == data["interview"]
    assert data["days"][0]["new_questions"]["autograd"][0] == "autograd-1"
    assert "predicted" not in data


# -- partial credit for multi-select -----------------------------------------------------------------------------

@pytest.mark.parametrize(("chosen", "duration", "hints", "expected"), [
    ({0, 2}, 60.0, 0, (1.0, Rating.Good)),  # all right, not quick
    ({0, 2}, 12.0, 0, (1.0, Rating.Easy)),  # all right and quick
    ({0, 2}, 12.0, 1, (1.0, Rating.Good)),  # quick but with a hint
    ({0, 2}, None, 0, (1.0, Rating.Good)),  # no time recorded
    ({0}, 12.0, 0, (0.5, Rating.Hard)),  # one right choice missed
    ({0, 1, 2}, 12.0, 0, (0.5, Rating.Hard)),  # one wrong choice added
    ({1, 2}, 60.0, 0, (0.0, Rating.Again)),  # one missed and one wrong: two slips
    ({0, 1, 2, 3}, 60.0, 0, (0.0, Rating.Again)),  # two wrong added
    (set(), 5.0, 0, (0.0, Rating.Again)),  # nothing chosen
])
def test_multi_select_partial_credit(chosen, duration, hints, expected):
    assert multi_rating({0, 2}, chosen, duration, hints) == expected


def test_one_correct_choice_missed_alone_is_not_a_slip_but_nothing_chosen():
    assert multi_rating({"b"}, set()) == (0.0, Rating.Again)
    assert multi_rating({"b"}, {"a"}) == (0.0, Rating.Again)
    assert multi_rating({"b"}, {"a", "b"}) == (0.5, Rating.Hard)
    with pytest.raises(ValueError, match="at least one correct choice"):
        multi_rating(set(), {"a"})


# -- the simulation's claim --------------------------------------------------------------------------------------

def simulation():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "plan_simulation.py"
    spec = importlib.util.spec_from_file_location("plan_simulation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("plan_simulation", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("bank_size", "history"), [(80, 30), (30, 15)])  # bank over the time, and within it
def test_interview_date_scheduling_recalls_at_least_as_much_on_the_date_as_plain_fsrs(bank_size, history):
    result = simulation().compare(7, range(2), bank_size=bank_size, history=history)
    ours, baseline = result["interview"], result["fsrs"]
    assert ours.predicted >= baseline.predicted
    assert ours.simulated >= baseline.simulated
    assert ours.simulated > 0.5 and baseline.simulated > 0.3  # real learning happened under both
