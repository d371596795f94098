"""A day-by-day study plan up to an interview date: what to learn new, what to review, which exercises.

``build`` returns a Plan (plain data); it never prints and never imports torch. Each study day runs from today
to the day before the interview; the interview day closes the plan with nothing on it. Day ``d`` is taken to
happen at the time of day of ``now``, ``d`` days later, and the interview at that time on its date, so FSRS's
whole-day intervals come out exact.

Sizing. A day holds ``hours_per_day`` of work, counted with MINUTES per question type (a review costs what a
first answer costs: you answer the question again) and EXERCISE_MINUTES per exercise. Each day takes, in order:
the reviews it cannot put off, exercises (at most EXERCISE_SHARE of the day), new questions, and with the time
left the reviews that could wait (see below). A day is never planned over its minutes.

What to learn first. Topics are ranked by ASKED[topic] * (1 - readiness), where readiness is the topic's mean
predicted recall now, its unseen questions counting 0 (as in the report): the weakest of the most-asked
topics first, lower accuracy in the answer history breaking ties. New questions are taken topic by topic in
that order, easier ones first; exercises follow the same order.

Reviews for the interview date (rule "interview"). Plain FSRS reviews a card whenever its predicted recall
falls to 90%: right for remembering for years, blind to a date. Here what counts is recall *on the date*:

1. Late reviews. Every card whose predicted recall on the date would be under TARGET (90%) is promised one
   review as late as possible: the day before the interview when that day has room, else the day before that;
   the cards that would be recalled worst go first. A review the day before leaves one day of forgetting, one
   a week before leaves a week.
2. Reserved first. A new question (or exercise) is planned only while the days left can still hold every
   promised review, its own included: what is learned stays learned.
3. Due reviews wait. A card FSRS has due waits for its late review, unless by the last study day its
   predicted recall would be under FLOOR (50%: more likely forgotten than not); then it is reviewed when due.
4. Time left over. What the late reviews leave goes, in turn, to new questions (with no late review promised),
   late reviews for every card still under SURE (97%) on the date, and FSRS's due reviews that were waiting
   (not on a day the card is answered anyway, nor the day before one): recall as high as the time allows.

Why this rule: FSRS's forgetting curve is a power law that falls fastest just after a review and then flattens,
so one review the day before the interview lifts recall on the date to 90% or more whatever came before it;
the reviews in between buy little for the date, and their minutes learn questions not seen yet.
benchmarks/plan_simulation.py checks it on a simulated learner with stabilities of its own, against rule
"fsrs" (plain FSRS: due reviews, then new questions) with the same minutes a day: recall on the date is higher
with this rule at 3, 7 and 14 days, whether or not the bank fits the time.

Exercise tasks. A task passed before is a card (quiz/review.py) and is reviewed like a question, TASK_MINUTES
each (re-doing it from a fresh starter): promised a late review, or reviewed when due. Exercises not passed
yet are planned whole, EXERCISE_MINUTES each, as new work.

Predictions assume each planned answer is right (Good); ``torchprep today`` replans from the real answers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

import fsrs

from quiz import report, review, topics
from quiz.bank import Question
from quiz.errors import QuizError
from quiz.store import Answer

# Minutes one question takes, by type (reading, answering, reading the explanation); reviews cost the same.
MINUTES: dict[str, float] = {"choice": 1.5, "multi": 2.0, "output": 3.0, "bug": 3.0, "open": 6.0}
EXERCISE_MINUTES = 20.0
TASK_MINUTES = 10.0  # re-doing one task of an exercise passed before, from a fresh starter (a review)
EXERCISE_SHARE = 1 / 3  # at most this share of a day goes to exercises, so questions keep moving
TARGET = 0.9  # recall on the date every card is promised a late review for: FSRS's desired retention, moved
SURE = 0.97  # with time to spare, late reviews go on up to this recall on the date
FLOOR = 0.5  # a due card is reviewed before the last days only if it would fall under this by then
RULES = ("interview", "fsrs")

# How often a topic comes up in PyTorch interviews, 1 (rarely) to 5 (nearly always). Topics asked in the
# interview torchprep grew out of (quiz/bank/interview.yaml: seed-q1 .. seed-q10 and the mistakes made in it)
# are 4 or 5; the four every interview opens with (tensors, autograd, the training loop, building a model) 5.
ASKED: dict[str, int] = {
    "tensors": 5, "autograd": 5, "training-loop": 5, "model-building": 5,
    "data-loading": 4, "optimizers": 4, "gpu": 4, "saving-loading": 4, "evaluation": 4, "behavioural": 4,
    "debugging": 3, "transformers": 3, "performance": 3,
    "deployment": 2, "distributed": 2,
}
DEFAULT_ASKED = 1  # a topic not listed (a user's own bank)


class PlanError(QuizError, ValueError):
    """An interview date or a number of hours a plan cannot be made for."""


class ExerciseLike(Protocol):
    id: str
    topic: str


@dataclass(frozen=True)
class Day:
    date: date
    new_questions: dict[str, tuple[str, ...]]  # topic -> question ids, topics in learning order
    reviews: tuple[str, ...]  # question ids, in the order to take them
    exercises: tuple[str, ...]  # exercise ids
    minutes: float  # planned work, never over the day's budget
    interview: bool = False  # the interview day itself: nothing planned
    task_reviews: tuple[tuple[str, str], ...] = ()  # (exercise id, task): tasks passed before, to re-do

    @property
    def new_count(self) -> int:
        return sum(len(ids) for ids in self.new_questions.values())


@dataclass(frozen=True)
class Plan:
    interview: date
    minutes_per_day: float
    rule: str
    days: tuple[Day, ...]
    topic_order: tuple[str, ...]  # the topics, first to learn first
    recall_at_interview: float  # mean predicted recall on the date over all the questions, the plan followed
    recall_without_plan: float  # the same with no more study
    unplanned: int  # questions still unseen on the date (no time for them)
    predicted: dict[str, float] = field(default_factory=dict)  # card id -> predicted recall on the date

    def today(self) -> Day:
        return self.days[0]

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("predicted")
        return report.jsonable({"version": 1, **data})


def minutes_for(question: Question) -> float:
    return MINUTES.get(question.type, 3.0)


def days_left(now: datetime, interview: date) -> int:
    return (interview - now.date()).days


def build(questions: Sequence[Question], cards: Mapping[str, fsrs.Card], answers: Iterable[Answer],
          now: datetime, interview: date, hours_per_day: float, exercises: Sequence[ExerciseLike] = (),
          passed: Iterable[str] = (), rule: str = "interview", engine: fsrs.Scheduler | None = None) -> Plan:
    """The plan from ``now`` to the interview. ``cards`` are the FSRS cards (question or exercise task card id
    -> card), ``passed`` the ids of exercises already passed (they are not planned again as new work). The
    tasks of the given exercises that have cards are reviewed like questions, TASK_MINUTES each."""
    if rule not in RULES:
        raise ValueError(f"unknown plan rule {rule!r}; one of {', '.join(RULES)}")
    if not (isinstance(hours_per_day, (int, float)) and math.isfinite(hours_per_day) and 0 < hours_per_day <= 24):
        raise PlanError(f"hours per day must be more than 0 and at most 24, not {hours_per_day}")
    now = now.astimezone(timezone.utc)
    count = days_left(now, interview)
    if count < 1:
        when = "today" if count == 0 else f"{-count} day{'s' if count < -1 else ''} ago"
        raise PlanError(f"the interview date {interview.isoformat()} is {when}: a plan needs a date after today")
    engine = engine or review.scheduler()
    budget = float(hours_per_day) * 60
    at = now + timedelta(days=count)
    by_id = {q.id: q for q in questions}
    order = topic_order(questions, cards, answers, now, engine)
    rank = {slug: index for index, slug in enumerate(order)}
    bank_index = {q.id: index for index, q in enumerate(questions)}
    new_queue = sorted((q for q in questions if q.id not in cards),
                       key=lambda q: (rank[q.topic], q.difficulty, bank_index[q.id]))
    done = set(passed)
    exercise_queue = sorted((e for e in exercises if e.id not in done),
                            key=lambda e: (rank.get(e.topic, len(rank)), getattr(e, "order", 0), e.id))

    exercise_ids = {e.id for e in exercises}
    task_ids = sorted(cid for cid in cards if (task := review.task_of_card(cid)) and task[0] in exercise_ids)
    for offset, card_id in enumerate(task_ids):
        bank_index[card_id] = len(questions) + offset

    def cost(card_id: str) -> float:
        return minutes_for(by_id[card_id]) if card_id in by_id else TASK_MINUTES

    start = {qid: card for qid, card in cards.items() if qid in by_id or qid in bank_index}
    state = dict(start)  # predicted cards as the plan is built, each answer assumed right
    touched = dict.fromkeys(state, -1)  # the last plan day each card is answered on (-1: before the plan)
    free = [budget] * count
    day_reviews: list[list[str]] = [[] for _ in range(count)]
    day_new: list[list[Question]] = [[] for _ in range(count)]
    day_exercises: list[list[str]] = [[] for _ in range(count)]
    late = rule == "interview"

    def recall_on_date(card: fsrs.Card) -> float:
        return float(engine.get_card_retrievability(card, at))

    def owed(qid: str) -> float:
        """Minutes of the late review this card is promised (0 when it needs none)."""
        if not late or touched[qid] == count - 1 or recall_on_date(state[qid]) >= TARGET:
            return 0.0
        return cost(qid)

    promised = {qid: owed(qid) for qid in state}
    reserve = sum(promised.values())
    last_day = now + timedelta(days=count - 1)
    next_new = next_exercise = 0

    def take_review(qid: str, day: int) -> None:
        nonlocal reserve
        state[qid], _ = engine.review_card(state[qid], fsrs.Rating.Good, now + timedelta(days=day))
        touched[qid] = day
        free[day] -= cost(qid)
        day_reviews[day].append(qid)
        reserve += (new_owed := owed(qid)) - promised[qid]
        promised[qid] = new_owed

    def learn(day: int, promise: bool) -> bool:
        """Plan the next new question on ``day`` if it fits (and, promising, if its late review still fits)."""
        nonlocal reserve, next_new
        question = new_queue[next_new]
        cost = minutes_for(question)
        if cost > free[day]:
            return False
        when = now + timedelta(days=day)
        card, _ = engine.review_card(fsrs.Card(card_id=0, due=when), fsrs.Rating.Good, when)
        will_owe = cost if promise and day < count - 1 and recall_on_date(card) < TARGET else 0.0
        if promise and free[day] - cost + budget * (count - 1 - day) < reserve + will_owe:
            return False  # the days left are spoken for by the late reviews already promised
        state[question.id], touched[question.id], promised[question.id] = card, day, will_owe
        reserve += will_owe
        free[day] -= cost
        day_new[day].append(question)
        next_new += 1
        return True

    def place_late(candidates: Iterable[str]) -> None:
        """Late reviews, worst recalled on the date first, each on the latest day with room for it."""
        waiting = sorted(candidates, key=lambda qid: (recall_on_date(state[qid]), bank_index[qid]))
        for day in range(count - 1, -1, -1):
            still = []
            for qid in waiting:
                if touched[qid] < day and cost(qid) <= free[day]:
                    take_review(qid, day)
                else:
                    still.append(qid)
            waiting = still

    for day in range(count):
        when = now + timedelta(days=day)
        due = sorted((qid for qid, card in state.items() if card.due < when + timedelta(days=1)),
                     key=lambda qid: (state[qid].due, bank_index[qid]))
        # Under the interview rule a due card waits for its late review unless it would fall under FLOOR first.
        for qid in due:
            urgent = not late or engine.get_card_retrievability(state[qid], last_day) < FLOOR
            if urgent and cost(qid) <= free[day]:
                take_review(qid, day)
        spent = 0.0
        while (next_exercise < len(exercise_queue) and spent + EXERCISE_MINUTES <= budget * EXERCISE_SHARE
               and EXERCISE_MINUTES <= free[day]
               and free[day] - EXERCISE_MINUTES + budget * (count - 1 - day) >= reserve):
            day_exercises[day].append(exercise_queue[next_exercise].id)
            next_exercise += 1
            spent += EXERCISE_MINUTES
            free[day] -= EXERCISE_MINUTES
        while next_new < len(new_queue) and learn(day, promise=late):
            pass

    if late:
        place_late(qid for qid in state if promised[qid])
        # Time the late reviews left over goes, in turn, to: new questions (no late review promised for them),
        # late reviews for every card still under SURE on the date, then FSRS's due reviews (below).
        for day in range(count):
            while next_new < len(new_queue) and learn(day, promise=False):
                pass
        place_late(qid for qid in state if touched[qid] < count - 1 and recall_on_date(state[qid]) < SURE)

    # Replay the days in order: the predicted cards, and (interview rule) the due reviews spare time allows.
    touch_days: dict[str, list[int]] = {}
    for day in range(count):
        for qid in [q.id for q in day_new[day]] + day_reviews[day]:
            touch_days.setdefault(qid, []).append(day)
    cards_now = dict(start)
    for day in range(count):
        when = now + timedelta(days=day)
        if late and free[day] > 0:
            for qid in sorted((qid for qid, card in cards_now.items() if card.due < when + timedelta(days=1)),
                              key=lambda qid: (cards_now[qid].due, bank_index[qid])):
                planned = touch_days.get(qid, [])
                # Not on a day it is answered anyway, nor the day before one.
                if day in planned or day + 1 in planned or cost(qid) > free[day]:
                    continue
                free[day] -= cost(qid)
                day_reviews[day].append(qid)
        for question in day_new[day]:
            cards_now[question.id], _ = engine.review_card(fsrs.Card(card_id=0, due=when), fsrs.Rating.Good, when)
        for qid in day_reviews[day]:
            cards_now[qid], _ = engine.review_card(cards_now[qid], fsrs.Rating.Good, when)
    state = cards_now

    days = []
    for day in range(count):
        grouped: dict[str, list[str]] = {}
        for question in day_new[day]:
            grouped.setdefault(question.topic, []).append(question.id)
        questions_due = tuple(qid for qid in day_reviews[day] if qid in by_id)
        tasks_due = tuple(task for qid in day_reviews[day] if (task := review.task_of_card(qid)))
        days.append(Day(now.date() + timedelta(days=day), {t: tuple(ids) for t, ids in grouped.items()},
                        questions_due, tuple(day_exercises[day]), round(budget - free[day], 2),
                        task_reviews=tasks_due))
    days.append(Day(interview, {}, (), (), 0.0, interview=True))
    predicted = {q.id: recall_on_date(state[q.id]) if q.id in state else 0.0 for q in questions}
    predicted.update({card_id: recall_on_date(state[card_id]) for card_id in task_ids})
    before = [float(engine.get_card_retrievability(cards[q.id], at)) if q.id in cards else 0.0 for q in questions]
    total = len(questions) or 1
    predicted_questions = [predicted[q.id] for q in questions]
    return Plan(interview=interview, minutes_per_day=budget, rule=rule, days=tuple(days), topic_order=order,
                recall_at_interview=sum(predicted_questions) / total, recall_without_plan=sum(before) / total,
                unplanned=len(new_queue) - next_new, predicted=predicted)


def topic_order(questions: Sequence[Question], cards: Mapping[str, fsrs.Card], answers: Iterable[Answer],
                now: datetime, engine: fsrs.Scheduler | None = None) -> tuple[str, ...]:
    """The topics that have questions, the weakest of the most asked first (see the module docstring)."""
    engine = engine or review.scheduler()
    recall_sum: Counter[str] = Counter()
    size: Counter[str] = Counter()
    topic_of = {}
    for question in questions:
        size[question.topic] += 1
        topic_of[question.id] = question.topic
        if question.id in cards:
            recall_sum[question.topic] += float(engine.get_card_retrievability(cards[question.id], now))
    right: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for answer in answers:
        topic = topic_of.get(answer.question_id)
        if topic is not None and answer.outcome != "skipped":
            answered[topic] += 1
            right[topic] += answer.outcome == "right"
    listed = {slug: index for index, slug in enumerate(topics.TOPIC_SLUGS)}

    def key(slug: str) -> tuple:
        weakness = 1 - recall_sum[slug] / size[slug]
        accuracy = right[slug] / answered[slug] if answered[slug] else 0.0
        return (-ASKED.get(slug, DEFAULT_ASKED) * weakness, accuracy, listed.get(slug, len(listed)), slug)

    return tuple(sorted(size, key=key))

