"""Spaced repetition with FSRS, through the `fsrs` package (the scheduler behind modern Anki).

Every graded answer becomes an FSRS review of that question's card. Every task of an exercise is a card too
(id ``exercise:<exercise>/<task>``), reviewed by `torchprep check`: the task's first pass creates it (Good;
Hard after a hint about it; Again after the solution was revealed: a pass after reading the answer is not
recall), and from then on a check while the card is due reviews it: a failing task Again, a pass after a hint
Hard, a clean pass Good. Checks while a task's card is not due leave it alone, so that checking ten times while
you work is not ten reviews, and tasks not passed yet are exercise work, not reviews.

Cards are stored, but they are derived data: ``rebuild`` replays the answers and exercise events, which is
how imported progress gets its schedule. Fuzzing is off so that the same history always gives the same
schedule (and tests can name exact due dates). A user's own fitted parameters (`torchprep fit`, kept in the
settings as FSRS_PARAMETERS) replace the defaults wherever cards are read from or written to their store.
"""

from __future__ import annotations

import functools
import json
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from quiz.bank import Question
from quiz.lazy import lazy_import
from quiz.session import Order
from quiz.store import Answer, Store, parse_time

fsrs = lazy_import("fsrs")  # loaded at the first review, after the first question shows

EXERCISE_PREFIX = "exercise:"
FSRS_PARAMETERS = "fsrs_parameters"  # the settings key of the user's fitted parameters (a JSON list)

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


_active_parameters: tuple[float, ...] | None = None  # None: FSRS's defaults


@functools.cache
def _scheduler(parameters: tuple[float, ...] | None) -> fsrs.Scheduler:
    if parameters is None:
        return fsrs.Scheduler(enable_fuzzing=False)
    return fsrs.Scheduler(parameters=parameters, enable_fuzzing=False)


def scheduler() -> fsrs.Scheduler:
    """The scheduler of the parameters in use: one per set of parameters per process (a scheduler is stateless
    between calls, and building one validates its parameters)."""
    return _scheduler(_active_parameters)


def stored_parameters(store: Store) -> tuple[float, ...] | None:
    """The user's fitted parameters, None when there are none (or they are not a list of numbers)."""
    text = store.setting(FSRS_PARAMETERS)
    if not text:
        return None
    try:
        values = json.loads(text)
        parameters = tuple(float(v) for v in values)
        fsrs.Scheduler(parameters=parameters)  # validates their number and bounds
    except (ValueError, TypeError):
        return None
    return parameters


def use_parameters(parameters: Sequence[float] | None) -> None:
    global _active_parameters
    _active_parameters = tuple(parameters) if parameters is not None else None


def activate(store: Store) -> None:
    """Schedule with this store's parameters (its user's fit, or the defaults)."""
    use_parameters(stored_parameters(store))


def load_cards(store: Store) -> dict[str, fsrs.Card]:
    activate(store)
    return {question_id: fsrs.Card.from_json(text) for question_id, text in store.cards().items()}


def new_card(card_id: str, at: datetime) -> fsrs.Card:
    """A card never reviewed, numbered from its id: fsrs.Card() numbers cards by the clock (and sleeps a
    millisecond to keep them apart), which would make a replay slow and its cards differ run to run."""
    return fsrs.Card(card_id=zlib.crc32(card_id.encode("utf-8")), due=at)


def task_card_id(exercise_id: str, task: str) -> str:
    return f"{EXERCISE_PREFIX}{exercise_id}/{task}"


def task_of_card(card_id: str) -> tuple[str, str] | None:
    """(exercise id, task) of an exercise task's card; None for a question's."""
    if not card_id.startswith(EXERCISE_PREFIX):
        return None
    exercise_id, _, task = card_id[len(EXERCISE_PREFIX):].partition("/")
    return exercise_id, task


def review(store: Store, answer: Answer, cards: dict[str, fsrs.Card] | None = None) -> fsrs.Card | None:
    """Apply one answer to its question's card and save the card; returns it (None for a skip)."""
    rating = rating_for(answer.qtype, answer.outcome, answer.score, answer.duration_s, answer.hints_used)
    if rating is None:
        return None
    cards = cards if cards is not None else load_cards(store)
    card = cards.get(answer.question_id) or new_card(answer.question_id, answer.answered_at)
    card, _ = scheduler().review_card(card, rating, answer.answered_at)
    cards[answer.question_id] = card
    store.save_card(answer.question_id, card.to_json(), card.due)
    return card


@dataclass(frozen=True)
class Review:
    """One review as the scheduler took it: what it predicted just before, and how it went."""
    card_id: str
    rating: fsrs.Rating
    at: datetime
    predicted: float | None  # predicted recall just before; None for a card's first review
    elapsed_days: float | None  # since the card's previous review; None for the first

    @property
    def recalled(self) -> bool:
        return self.rating != fsrs.Rating.Again


def task_reviews(events: Iterable[dict], hint_tasks: Mapping[str, Sequence[str | None]]
                 ) -> Iterable[tuple[str, datetime, str, int, bool]]:
    """From the exercise events in time order: (card id, when, task status, hints about the task, revealed)
    for each task of each check, the hints and a revealed solution counted since that task's last check."""
    hints: dict[str, int] = {}  # card id (or the exercise's "*") -> hints since the task's last check
    revealed: dict[str, bool] = {}  # exercise id -> its solution was shown since its last check
    for event in events:
        exercise_id, kind, detail = event["exercise_id"], event["kind"], event.get("detail")
        whole = task_card_id(exercise_id, "*")  # what is about the exercise as a whole counts for each task
        if kind == "hint" and (detail or "").isdecimal():
            tasks = hint_tasks.get(exercise_id, ())
            number = int(detail)
            task = tasks[number - 1] if 0 < number <= len(tasks) else None
            card_id = whole if task is None else task_card_id(exercise_id, task)
            hints[card_id] = hints.get(card_id, 0) + 1
        elif kind == "revealed":  # the whole solution: every task
            revealed[exercise_id] = True
        elif kind == "tasks":
            try:
                statuses = json.loads(detail or "{}")
            except ValueError:
                continue
            if not isinstance(statuses, dict):
                continue
            for task, status in statuses.items():
                card_id = task_card_id(exercise_id, str(task))
                yield (card_id, parse_time(event["at"]), str(status), hints.get(card_id, 0) + hints.get(whole, 0),
                       revealed.get(exercise_id, False))
                hints[card_id] = 0
            hints.pop(whole, None)
            revealed.pop(exercise_id, None)


def task_rating(status: str, hints: int, revealed: bool) -> fsrs.Rating | None:
    """A task's rating from one check: fail or error Again; a pass Good, Hard after a hint, Again after the
    solution was revealed; None for a task whose tests were all skipped here (nothing was graded)."""
    if status in ("fail", "error"):
        return fsrs.Rating.Again
    if status != "pass":
        return None
    if revealed:
        return fsrs.Rating.Again
    return fsrs.Rating.Hard if hints else fsrs.Rating.Good


def history(answers: Iterable[Answer], events: Iterable[dict] = (),
            hint_tasks: Mapping[str, Sequence[str | None]] | None = None,
            engine: fsrs.Scheduler | None = None) -> tuple[dict[str, fsrs.Card], list[Review]]:
    """The cards a history leads to, and every review on the way (in time order): the answers, then each
    exercise task's checks under the rules of the module docstring. Question and task cards never share an
    id, so taking the two histories one after the other is the same as interleaving them."""
    engine = engine or scheduler()
    cards: dict[str, fsrs.Card] = {}
    reviews: list[Review] = []

    def apply(card_id: str, rating: fsrs.Rating, at: datetime) -> None:
        card = cards.get(card_id)
        predicted = elapsed = None
        if card is not None and card.last_review is not None:
            predicted = float(engine.get_card_retrievability(card, at))
            elapsed = (at - card.last_review).total_seconds() / 86400
        cards[card_id], _ = engine.review_card(card or new_card(card_id, at), rating, at)
        reviews.append(Review(card_id, rating, at, predicted, elapsed))

    for answer in sorted(answers, key=lambda a: a.answered_at):
        rating = rating_for(answer.qtype, answer.outcome, answer.score, answer.duration_s, answer.hints_used)
        if rating is not None:
            apply(answer.question_id, rating, answer.answered_at)
    ordered = sorted(events, key=lambda e: parse_time(e["at"]))
    for card_id, at, status, hints, revealed in task_reviews(ordered, hint_tasks or {}):
        rating = task_rating(status, hints, revealed)
        card = cards.get(card_id)
        if rating is None or (card is None and status != "pass") or (card is not None and not is_due(card, at)):
            continue
        apply(card_id, rating, at)
    return cards, reviews


def replay(answers: Iterable[Answer], events: Iterable[dict] = (),
           hint_tasks: Mapping[str, Sequence[str | None]] | None = None) -> dict[str, fsrs.Card]:
    """The cards a history of answers (and exercise events) leads to, taken in time order."""
    return history(answers, events, hint_tasks)[0]


def hint_tasks_of(exercises: Iterable) -> dict[str, tuple[str | None, ...]]:
    """exercise id -> the task each of its hints is about (what `task_reviews` needs)."""
    return {exercise.id: tuple(exercise.hint_tasks) for exercise in exercises}


def store_history(store: Store, exercises: Iterable | None = None) -> tuple[dict[str, fsrs.Card], list[Review]]:
    """The history of this store under its parameters (the built-in catalog's hints unless told otherwise)."""
    if exercises is None:
        from quiz import catalog, paths

        exercises = catalog.load(cache_dir=paths.cache_dir(store.path.parent))
    activate(store)
    return history(store.answers(), store.events(), hint_tasks_of(exercises))


def rebuild(store: Store, exercises: Iterable | None = None) -> int:
    """Recompute every card from the stored answers and exercise events (after an import, a reset or a new
    fit). Returns the card count."""
    cards, _ = store_history(store, exercises)
    store.replace_cards((card_id, card.to_json(), card.due) for card_id, card in cards.items())
    return len(cards)


def update_exercise_cards(store: Store, exercise) -> list[str]:
    """After a check: replay the exercise's events and save its task cards. Returns the ids of the cards that
    changed (a check while they were not due changes none)."""
    activate(store)
    events = [event for event in store.events() if event["exercise_id"] == exercise.id]
    cards, _ = history((), events, hint_tasks_of([exercise]))
    before = store.cards()
    changed = []
    for card_id, card in cards.items():
        text = card.to_json()
        if before.get(card_id) != text:
            store.save_card(card_id, text, card.due)
            changed.append(card_id)
    return changed


def due_tasks(cards: Mapping[str, fsrs.Card], now: datetime, exercise_ids: Iterable[str] | None = None
              ) -> list[tuple[str, str]]:
    """The exercise tasks due now, most overdue first: (exercise id, task)."""
    known = set(exercise_ids) if exercise_ids is not None else None
    due = []
    for card_id, card in cards.items():
        task = task_of_card(card_id)
        if task and is_due(card, now) and (known is None or task[0] in known):
            due.append((card.due, card_id, task))
    return [task for _, _, task in sorted(due)]


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
