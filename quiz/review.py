"""Spaced repetition with FSRS, through the `fsrs` package (the scheduler behind modern Anki).

Every graded answer becomes an FSRS review of that question's card. Cards are stored, but they are derived
data: ``rebuild`` replays the answer history, which is how imported progress gets its schedule. Fuzzing is
off so that the same history always gives the same schedule (and tests can name exact due dates).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import fsrs

from quiz.bank import Question
from quiz.session import Order
from quiz.store import Answer, Store

# "Answered quickly": within this many seconds for the question's type, and with no hint.
QUICK_S = {"choice": 20.0, "multi": 30.0, "output": 45.0, "bug": 45.0}


def rating_for(qtype: str, outcome: str, score: float, duration_s: float | None, hints_used: int
               ) -> fsrs.Rating | None:
    """The FSRS rating of one answer; None for a skip, which is not a review.

    wrong -> Again (a multi-select answer one choice off, scored 0.5: Hard); right -> Good, or Easy when answered
    quickly at the first try (no hint); open questions
    by the share of key points covered: under half Again, under three quarters Hard, under all Good, all Easy.
    """
    if outcome == "skipped":
        return None
    if qtype == "open":
        if score < 0.5:
            return fsrs.Rating.Again
        if score < 0.75:
            return fsrs.Rating.Hard
        return fsrs.Rating.Good if score < 1.0 else fsrs.Rating.Easy
    if qtype == "multi" and outcome == "wrong" and score > 0:
        return fsrs.Rating.Hard  # one slip of a multi-select answer: partial credit (quiz/credit.py)
    if outcome == "wrong":
        return fsrs.Rating.Again
    quick = duration_s is not None and duration_s <= QUICK_S.get(qtype, 30.0)
    return fsrs.Rating.Easy if quick and hints_used == 0 else fsrs.Rating.Good


@functools.cache
def scheduler() -> fsrs.Scheduler:
    """One scheduler per process: it is stateless between calls, and building one validates its parameters."""
    return fsrs.Scheduler(enable_fuzzing=False)


def load_cards(store: Store) -> dict[str, fsrs.Card]:
    return {question_id: fsrs.Card.from_json(text) for question_id, text in store.cards().items()}


def review(store: Store, answer: Answer, cards: dict[str, fsrs.Card] | None = None) -> fsrs.Card | None:
    """Apply one answer to its question's card and save the card; returns it (None for a skip)."""
    rating = rating_for(answer.qtype, answer.outcome, answer.score, answer.duration_s, answer.hints_used)
    if rating is None:
        return None
    cards = cards if cards is not None else load_cards(store)
    card = cards.get(answer.question_id) or fsrs.Card()
    card, _ = scheduler().review_card(card, rating, answer.answered_at)
    cards[answer.question_id] = card
    store.save_card(answer.question_id, card.to_json(), card.due)
    return card


def replay(answers: Iterable[Answer]) -> dict[str, fsrs.Card]:
    """The cards a history of answers leads to, answers taken in time order."""
    engine = scheduler()
    cards: dict[str, fsrs.Card] = {}
    for answer in sorted(answers, key=lambda a: a.answered_at):
        rating = rating_for(answer.qtype, answer.outcome, answer.score, answer.duration_s, answer.hints_used)
        if rating is not None:
            cards[answer.question_id], _ = engine.review_card(cards.get(answer.question_id) or fsrs.Card(), rating,
                                                              answer.answered_at)
    return cards


def rebuild(store: Store) -> int:
    """Recompute every card from the stored answers (after an import or a reset). Returns the card count."""
    cards = replay(store.answers())
    store.replace_cards((question_id, card.to_json(), card.due) for question_id, card in cards.items())
    return len(cards)


def is_due(card: fsrs.Card, now: datetime) -> bool:
    return card.due <= now


def spaced_order(cards: Mapping[str, fsrs.Card], now: datetime) -> Order:
    """Due reviews first (most overdue first), then never-seen questions (shuffled), then the rest by due."""

    def order(candidates: list[Question], rng: random.Random) -> list[Question]:
        due = due_questions(candidates, cards, now)
        new = [q for q in candidates if q.id not in cards]
        rng.shuffle(new)
        later = sorted((q for q in candidates if q.id in cards and not is_due(cards[q.id], now)),
                       key=lambda q: (cards[q.id].due, q.id))
        return due + new + later

    return order


def due_questions(questions: Sequence[Question], cards: Mapping[str, fsrs.Card], now: datetime) -> list[Question]:
    """Only what is due now, most overdue first."""
    return sorted((q for q in questions if q.id in cards and is_due(cards[q.id], now)),
                  key=lambda q: (cards[q.id].due, q.id))


def next_due(questions: Sequence[Question], cards: Mapping[str, fsrs.Card]) -> datetime | None:
    dues = [cards[q.id].due for q in questions if q.id in cards]
    return min(dues) if dues else None


def recall(card: fsrs.Card, now: datetime) -> float:
    """FSRS's predicted probability of recalling the card's answer now."""
    return float(scheduler().get_card_retrievability(card, now))
