"""Spaced repetition (quiz/review.py): how an answer rates, how cards are kept, which questions come first."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import fsrs
import pytest

from quiz import review
from quiz.bank import Question
from quiz.store import Answer, Store

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc)


def schedules(cards) -> dict[str, dict]:
    """Each card's schedule: everything but its id, which fsrs draws from the clock."""
    return {qid: {k: v for k, v in json.loads(card.to_json()).items() if k != "card_id"} for qid, card in cards.items()}
Rating = fsrs.Rating


def question(qid: str) -> Question:
    return Question(id=qid, type="choice", topic="tensors", difficulty=1, prompt={"en": "p"},
                    explanation={"en": "e"})


def answer(qid: str, outcome: str = "right", at: datetime = T0, qtype: str = "choice", score: float | None = None,
           duration_s: float | None = 60.0, hints_used: int = 0) -> Answer:
    score = (1.0 if outcome == "right" else 0.0) if score is None else score
    return Answer(qid, "tensors", qtype, outcome, score, at, "r", hints_used, duration_s)


# -- ratings ----------------------------------------------------------------------------------------------------

def test_a_skip_is_not_a_review():
    assert review.rating_for("choice", "skipped", 0.0, 1.0, 0) is None
    assert review.rating_for("open", "skipped", 1.0, 1.0, 0) is None


def test_a_wrong_answer_is_again_however_fast():
    assert review.rating_for("choice", "wrong", 0.0, 1.0, 0) == Rating.Again
    assert review.rating_for("bug", "wrong", 0.0, None, 2) == Rating.Again


@pytest.mark.parametrize("qtype, limit", [("choice", 20.0), ("multi", 30.0), ("output", 45.0), ("bug", 45.0),
                                          ("other", 30.0)])
def test_a_quick_right_answer_without_hints_is_easy(qtype, limit):
    assert review.rating_for(qtype, "right", 1.0, limit, 0) == Rating.Easy
    assert review.rating_for(qtype, "right", 1.0, 0.0, 0) == Rating.Easy
    assert review.rating_for(qtype, "right", 1.0, limit + 0.01, 0) == Rating.Good
    assert review.rating_for(qtype, "right", 1.0, 1.0, 1) == Rating.Good, "a hint makes it merely good"
    assert review.rating_for(qtype, "right", 1.0, None, 0) == Rating.Good, "no timing is not quick"


@pytest.mark.parametrize("score, rating", [(0.0, Rating.Again), (0.49, Rating.Again), (0.5, Rating.Hard),
                                           (0.74, Rating.Hard), (0.75, Rating.Good), (0.99, Rating.Good),
                                           (1.0, Rating.Easy)])
def test_an_open_answer_rates_by_the_share_of_key_points(score, rating):
    outcome = "right" if score >= 0.5 else "wrong"
    assert review.rating_for("open", outcome, score, 1.0, 0) == rating
    assert review.rating_for("open", outcome, score, 1000.0, 3) == rating, "time and hints do not matter"


# -- cards ------------------------------------------------------------------------------------------------------

def test_the_scheduler_is_built_once_and_never_fuzzes():
    assert review.scheduler() is review.scheduler()
    assert review.scheduler().enable_fuzzing is False


def test_a_review_saves_the_card_and_a_skip_saves_nothing(tmp_path):
    with Store.open(tmp_path) as store:
        assert review.review(store, answer("q1", "skipped")) is None
        assert store.cards() == {}
        card = review.review(store, answer("q1", "right"))
        assert card is not None and card.due > T0
        saved = review.load_cards(store)
        assert list(saved) == ["q1"]
        assert saved["q1"].to_json() == card.to_json()
        assert saved["q1"].due == card.due


def test_a_second_review_builds_on_the_first(tmp_path):
    with Store.open(tmp_path) as store:
        first = review.review(store, answer("q1", "right", T0))
        second = review.review(store, answer("q1", "right", first.due))
        assert second.due - first.due > first.due - T0, "a second success spaces the next review further"
        assert review.load_cards(store)["q1"].due == second.due


def test_a_review_uses_and_updates_the_cards_it_is_given(tmp_path):
    with Store.open(tmp_path) as store:
        cards: dict[str, fsrs.Card] = {}
        card = review.review(store, answer("q1", "wrong", T0), cards)
        assert cards == {"q1": card}
        stale = review.review(store, answer("q1", "right", T0 + timedelta(minutes=10)), cards)
        assert cards["q1"] is stale
        assert review.load_cards(store)["q1"].due == stale.due
        fresh = review.review(store, answer("q2", "right", T0), {})
        assert fresh.due == review.replay([answer("q2", "right", T0)])["q2"].due


def test_the_same_answer_always_gives_the_same_due_date(tmp_path):
    dues = set()
    for n in range(3):
        with Store.open(tmp_path / str(n)) as store:
            dues.add(review.review(store, answer("q1", "right", T0, duration_s=5.0)).due)
    assert len(dues) == 1


def test_replay_equals_reviewing_one_answer_at_a_time_in_time_order(tmp_path):
    history = [answer("q1", "right", T0), answer("q2", "wrong", T0 + timedelta(minutes=1)),
               answer("q1", "wrong", T0 + timedelta(days=2)), answer("q2", "skipped", T0 + timedelta(days=3)),
               answer("q2", "right", T0 + timedelta(days=4), duration_s=3.0),
               answer("q3", "skipped", T0 + timedelta(days=5))]
    with Store.open(tmp_path) as store:
        for one in history:
            review.review(store, one)
        incremental = schedules(review.load_cards(store))
    shuffled = list(history)
    random.Random(3).shuffle(shuffled)
    replayed = review.replay(shuffled)
    assert schedules(replayed) == incremental
    assert "q3" not in replayed, "a question only ever skipped has no card"


def test_rebuild_replaces_every_card_from_the_answers(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("q1", "right", T0))
        store.record_answer(answer("q2", "wrong", T0 + timedelta(hours=1)))
        store.record_answer(answer("q3", "skipped", T0 + timedelta(hours=2)))
        store.save_card("gone", fsrs.Card().to_json(), T0)
        assert review.rebuild(store) == 2
        cards = review.load_cards(store)
        assert sorted(cards) == ["q1", "q2"]
        expected = review.replay(store.answers())
        assert schedules(cards) == schedules(expected)


# -- what is due --------------------------------------------------------------------------------------------------

def card_due(at: datetime) -> fsrs.Card:
    card = fsrs.Card()
    card.due = at
    return card


def test_a_card_is_due_from_its_due_time_on():
    card = card_due(T0)
    assert review.is_due(card, T0)
    assert review.is_due(card, T0 + timedelta(seconds=1))
    assert not review.is_due(card, T0 - timedelta(seconds=1))


def test_due_questions_are_only_the_due_ones_most_overdue_first():
    questions = [question(q) for q in ("a", "b", "c", "d", "e")]
    cards = {"a": card_due(T0 - timedelta(hours=1)), "b": card_due(T0 + timedelta(hours=1)),
             "c": card_due(T0 - timedelta(days=2)), "e": card_due(T0)}
    assert [q.id for q in review.due_questions(questions, cards, T0)] == ["c", "a", "e"]
    same = {"y": card_due(T0 - timedelta(hours=1)), "x": card_due(T0 - timedelta(hours=1))}
    assert [q.id for q in review.due_questions([question("y"), question("x")], same, T0)] == ["x", "y"]


def test_spaced_order_is_due_then_new_then_the_rest_by_due_date():
    questions = [question(q) for q in ("a", "b", "c", "n1", "n2", "n3", "n4", "d")]
    cards = {"a": card_due(T0 - timedelta(hours=1)), "b": card_due(T0 + timedelta(days=3)),
             "c": card_due(T0 - timedelta(days=1)), "d": card_due(T0 + timedelta(days=1))}
    ordered = [q.id for q in review.spaced_order(cards, T0)(questions, random.Random(1))]
    assert ordered[:2] == ["c", "a"]
    assert sorted(ordered[2:6]) == ["n1", "n2", "n3", "n4"]
    assert ordered[6:] == ["d", "b"]
    orders = {tuple(q.id for q in review.spaced_order(cards, T0)(questions, random.Random(seed))[2:6])
              for seed in range(6)}
    assert len(orders) > 1, "new questions are shuffled"
    tie = {"y": card_due(T0 + timedelta(days=1)), "x": card_due(T0 + timedelta(days=1))}
    assert [q.id for q in review.spaced_order(tie, T0)([question("y"), question("x")], random.Random(0))] == [
        "x", "y"]


def test_next_due_is_the_earliest_due_of_the_questions_given():
    questions = [question(q) for q in ("a", "b", "c")]
    cards = {"a": card_due(T0 + timedelta(days=2)), "b": card_due(T0 + timedelta(days=1)),
             "z": card_due(T0 - timedelta(days=9))}
    assert review.next_due(questions, cards) == T0 + timedelta(days=1)
    assert review.next_due([question("c")], cards) is None
    assert review.next_due([], {}) is None


def test_recall_is_certain_right_after_a_review_and_fades_with_time(tmp_path):
    with Store.open(tmp_path) as store:
        card = review.review(store, answer("q1", "right", T0))
    now = review.recall(card, T0)
    later = review.recall(card, T0 + timedelta(days=30))
    assert isinstance(now, float)
    assert now == pytest.approx(1.0)
    assert 0.0 < later < now


def test_a_new_card_is_due_when_it_is_made_and_numbered_by_its_id():
    from quiz import review as review_module

    at = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    card = review_module.new_card("q-one", at)
    assert card.due == at and card.card_id == review_module.new_card("q-one", at + timedelta(days=1)).card_id
    assert card.card_id != review_module.new_card("q-two", at).card_id


def test_each_review_in_a_history_has_its_time_and_the_days_since_the_card_was_last_reviewed():
    from quiz import review as review_module
    from quiz.store import Answer

    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    answers = [Answer("q-one", "tensors", "choice", "right", 1.0, t0 + timedelta(days=d), None, 0, 10.0)
               for d in (0, 2.5)]
    _, reviews = review_module.history(answers)
    assert [r.at for r in reviews] == [t0, t0 + timedelta(days=2.5)]
    assert reviews[0].elapsed_days is None and reviews[1].elapsed_days == pytest.approx(2.5)
