"""Recall on the interview date: quiz.plan's interview rule against plain FSRS due dates, on a simulated learner.

The learner's true memory follows the FSRS forgetting curve with stabilities of its own: its scheduler has
other parameters than the default one torchprep predicts with (it forgets new material faster), and every
question is easier or harder for it by a random factor on its stability. It answers a question right with
its true recall at that moment (a new one with NEW_RIGHT), and torchprep sees only the right/wrong answers.
Every study day the plan is rebuilt from those answers and the learner does that day's part (what
``torchprep today`` would give), with the same minutes per day under both rules. On the interview date we
measure recall over the whole bank (unseen questions count 0): predicted by torchprep's cards, and the
learner's true (simulated) recall. Seeded; run with ``python benchmarks/plan_simulation.py``.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fsrs  # noqa: E402

from quiz import plan as planning  # noqa: E402
from quiz import review  # noqa: E402
from quiz.bank import Question  # noqa: E402
from quiz.store import Answer  # noqa: E402

START = datetime(2026, 3, 2, 19, 0, tzinfo=timezone.utc)
NEW_RIGHT = 0.6  # chance of answering a never-seen question right (what the learner already knows)
TYPES = ("choice", "choice", "multi", "output", "bug", "open")  # about the built-in bank's mix
TOPICS = ("tensors", "autograd", "training-loop", "data-loading", "gpu", "debugging", "transformers",
          "distributed")


def fake_bank(size: int, seed: int) -> list[Question]:
    rng = random.Random(seed)
    return [Question(id=f"q{n:03d}", type=rng.choice(TYPES), topic=TOPICS[n % len(TOPICS)],
                     difficulty=1 + n % 3, prompt={"en": f"question {n}"}, explanation={"en": "because"})
            for n in range(size)]


def learner_scheduler() -> fsrs.Scheduler:
    weights = list(fsrs.Scheduler().parameters)
    weights[0:4] = [w * 0.6 for w in weights[0:4]]  # new memories last 40% less than FSRS's default assumes
    weights[8] *= 0.9  # and grow a little slower on each review
    return fsrs.Scheduler(parameters=weights, enable_fuzzing=False)


@dataclass
class Learner:
    """What the learner really remembers: one true card per question, and a per-question stability factor."""

    engine: fsrs.Scheduler
    rng: random.Random
    cards: dict
    factor: dict

    def recall(self, qid: str, when: datetime) -> float:
        card = self.cards.get(qid)
        if card is None or card.last_review is None:
            return 0.0
        elapsed = max(0, (when - card.last_review).days)
        decay = -self.engine.parameters[20]  # FSRS-6's forgetting curve, as Scheduler.get_card_retrievability
        factor = 0.9 ** (1 / decay) - 1
        return (1 + factor * elapsed / (card.stability * self.factor[qid])) ** decay

    def answer(self, question: Question, when: datetime) -> bool:
        seen = question.id in self.cards
        right = self.rng.random() < (self.recall(question.id, when) if seen else NEW_RIGHT)
        self.factor.setdefault(question.id, math.exp(self.rng.gauss(0.0, 0.4)))
        card = self.cards.get(question.id) or fsrs.Card(card_id=0, due=when)
        self.cards[question.id], _ = self.engine.review_card(
            card, fsrs.Rating.Good if right else fsrs.Rating.Again, when)
        return right


@dataclass
class Outcome:
    predicted: float  # mean predicted recall on the date over the bank (unseen 0)
    simulated: float  # the learner's mean true recall on the date over the bank
    seen: int  # questions answered at least once by the date
    reviews: int  # review answers during the plan


def simulate(days_ahead: int, rule: str, seed: int, bank_size: int = 160, history: int = 60,
             hours_per_day: float = 0.75) -> Outcome:
    """One learner, ``history`` questions studied in the month before, then ``days_ahead`` days of plan."""
    rng = random.Random(seed)
    questions = fake_bank(bank_size, seed)
    engine = review.scheduler()
    learner = Learner(learner_scheduler(), random.Random(seed + 1), {}, {})
    cards: dict[str, fsrs.Card] = {}
    answers: list[Answer] = []

    def answer(question: Question, when: datetime) -> None:
        right = learner.answer(question, when)
        rating = fsrs.Rating.Good if right else fsrs.Rating.Again
        cards[question.id], _ = engine.review_card(cards.get(question.id) or fsrs.Card(card_id=0, due=when),
                                                   rating, when)
        answers.append(Answer(question.id, question.topic, question.type, "right" if right else "wrong",
                              1.0 if right else 0.0, when))

    # The month before: each of `history` questions learned on a random day, then reviewed when FSRS says.
    past = START - timedelta(days=30)
    learned = {q.id: rng.randrange(30) for q in rng.sample(questions, history)}
    for offset in range(30):
        when = past + timedelta(days=offset)
        for question in questions:
            if learned.get(question.id) == offset or (question.id in cards and cards[question.id].due <= when):
                answer(question, when)

    interview = START.date() + timedelta(days=days_ahead)
    by_id = {q.id: q for q in questions}
    reviews = 0
    for offset in range(days_ahead):
        when = START + timedelta(days=offset)
        today = planning.build(questions, cards, answers, when, interview, hours_per_day, rule=rule).today()
        reviews += len(today.reviews)
        for qid in list(today.reviews) + [qid for ids in today.new_questions.values() for qid in ids]:
            answer(by_id[qid], when)
    at = START + timedelta(days=days_ahead)
    predicted = sum(float(engine.get_card_retrievability(cards[q.id], at)) for q in questions if q.id in cards)
    simulated = sum(learner.recall(q.id, at) for q in questions)
    return Outcome(predicted / bank_size, simulated / bank_size, len(cards), reviews)


def compare(days_ahead: int, seeds: range, **options) -> dict[str, Outcome]:
    """Both rules over the same learners (same seeds), averaged."""
    result = {}
    for rule in ("interview", "fsrs"):
        runs = [simulate(days_ahead, rule, seed, **options) for seed in seeds]
        result[rule] = Outcome(sum(r.predicted for r in runs) / len(runs), sum(r.simulated for r in runs) / len(runs),
                               round(sum(r.seen for r in runs) / len(runs)),
                               round(sum(r.reviews for r in runs) / len(runs)))
    return result


SCENARIOS = (("a 160-question bank, more than the time allows", {"bank_size": 160, "history": 60}),
             ("a 60-question bank, which the time covers", {"bank_size": 60, "history": 30}))


def main() -> None:
    seeds = range(8)
    print("Recall on the interview date, mean over the bank (unseen questions count 0), 45 minutes a day, "
          f"{len(seeds)} seeded learners per row.")
    for title, options in SCENARIOS:
        print(f"\n{title} ({options['history']} of them studied in the month before):")
        print(f"{'days':>4}  {'rule':<9}  {'predicted':>9}  {'simulated':>9}  {'seen':>4}  {'reviews':>7}")
        for days_ahead in (3, 7, 14):
            for rule, outcome in compare(days_ahead, seeds, **options).items():
                print(f"{days_ahead:>4}  {rule:<9}  {outcome.predicted:>9.1%}  {outcome.simulated:>9.1%}  "
                      f"{outcome.seen:>4}  {outcome.reviews:>7}")


if __name__ == "__main__":
    main()
