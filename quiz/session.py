"""A quiz session as pure logic: which questions, in which order, and how an answer is graded.

Nothing here prints, prompts or reads the clock on its own: the caller passes the history and the time.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from quiz import credit
from quiz.bank import Question, localize

LETTERS = "abcdefghijklmnopqrstuvwxyz"
OPEN_PASS_SHARE = 0.5  # an open answer covering at least half the key points counts as right


@dataclass(frozen=True)
class Filters:
    topics: tuple[str, ...] = ()
    difficulty: int | None = None
    types: tuple[str, ...] = ()

    def accepts(self, question: Question) -> bool:
        return ((not self.topics or question.topic in self.topics)
                and (self.difficulty is None or question.difficulty == self.difficulty)
                and (not self.types or question.type in self.types))


def select(questions: Iterable[Question], filters: Filters) -> list[Question]:
    return [question for question in questions if filters.accepts(question)]


# An order puts the candidate questions (sorted by id) in the order they should be asked. The default is
# missed_and_new_first; the learning loop passes spaced repetition's instead (review.spaced_order).
Order = Callable[[list[Question], random.Random], list[Question]]


def missed_and_new_first(last_outcomes: Mapping[str, str]) -> Order:
    """Questions missed last time, then never-seen ones, then the rest; shuffled within each group."""

    def order(candidates: list[Question], rng: random.Random) -> list[Question]:
        groups: dict[int, list[Question]] = {0: [], 1: [], 2: []}
        for question in candidates:
            outcome = last_outcomes.get(question.id)
            groups[0 if outcome == "wrong" else 1 if outcome is None else 2].append(question)
        ordered: list[Question] = []
        for rank in (0, 1, 2):
            rng.shuffle(groups[rank])
            ordered.extend(groups[rank])
        return ordered

    return order


def draw(questions: Iterable[Question], filters: Filters, count: int, *, seed: int | None = None,
         order: Order | None = None) -> list[Question]:
    """The questions of one session, without repeats.

    With a seed the draw is a pure function of the seed, the filters and the bank (history is ignored), so a
    seed reproduces the same questions in the same order for anyone.
    """
    candidates = sorted(select(questions, filters), key=lambda q: q.id)
    rng = random.Random(seed)
    if seed is not None or order is None:
        rng.shuffle(candidates)
        return candidates[:count]
    return order(candidates, rng)[:count]


def choice_order(question: Question, seed: int | None) -> tuple[int, ...]:
    """The order choices are shown in: shuffled, reproducibly for a given seed and question."""
    order = list(range(len(question.choices)))
    random.Random(f"{seed}:{question.id}" if seed is not None else None).shuffle(order)
    return tuple(order)


# ---------------------------------------------------------------------------------------------------------
# Grading one answer


class Unreadable(ValueError):
    """A response that is not an answer of the right form (the user is asked again).

    ``reason`` names what was expected (letters, one_letter, output, lines, key_points) so the UI can say it in
    the user's language; ``details`` fill in the sentence.
    """

    def __init__(self, reason: str, **details: object):
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Graded:
    outcome: str  # right | wrong | skipped
    score: float
    response: str
    chosen: tuple[int, ...] = ()  # original indexes of the chosen choices, or the chosen bug lines


def _letters(response: str, count: int) -> set[int]:
    letters = re.sub(r"[\s,;]+", "", response.lower())
    if not letters or any(letter not in LETTERS[:count] for letter in letters):
        raise Unreadable("letters", last=LETTERS[count - 1])
    return {LETTERS.index(letter) for letter in letters}


def grade_choice(question: Question, order: Sequence[int], response: str) -> Graded:
    """Letters refer to the shown order; the grade compares the chosen set with the correct set."""
    shown = _letters(response, len(order))
    if question.type == "choice" and len(shown) != 1:
        raise Unreadable("one_letter")
    chosen = {order[position] for position in shown}
    correct = {index for index, choice in enumerate(question.choices) if choice.correct}
    right = chosen == correct
    # Multi-select earns partial credit: one slip (a right choice missed or a wrong one added) is half a point,
    # still not right (quiz/credit.py; review rates it Hard).
    score = credit.multi_rating(correct, chosen).score if question.type == "multi" else float(right)
    return Graded("right" if right else "wrong", score, response, tuple(sorted(chosen)))


def normalise_output(text: str) -> str:
    """Whitespace-insensitive form of printed output: lines may be typed on one line, spaces don't count."""
    return " ".join(text.split())


def grade_output(question: Question, response: str) -> Graded:
    if not response.strip():
        raise Unreadable("output")
    right = normalise_output(response) == normalise_output(question.output or "")
    return Graded("right" if right else "wrong", 1.0 if right else 0.0, response)


def parse_line_numbers(response: str) -> set[int]:
    parts = [part for part in re.split(r"[\s,;]+", response.strip()) if part]
    if not parts or not all(part.isdecimal() for part in parts):
        raise Unreadable("lines")
    return {int(part) for part in parts}


def grade_bug(question: Question, response: str) -> Graded:
    lines = parse_line_numbers(response)
    right = lines == set(question.bug_lines)
    return Graded("right" if right else "wrong", 1.0 if right else 0.0, response, tuple(sorted(lines)))


def parse_covered(response: str, count: int) -> set[int]:
    """Which key points (1-based on screen, 0-based here) the user says they covered."""
    text = response.strip().lower()
    if text in ("all", "a"):
        return set(range(count))
    if text in ("none", "n", "0", "-", ""):
        return set()
    parts = [part for part in re.split(r"[\s,;]+", text) if part]
    if not all(part.isdecimal() and 1 <= int(part) <= count for part in parts):
        raise Unreadable("key_points", count=count)
    return {int(part) - 1 for part in parts}


def grade_open(question: Question, response: str, covered: set[int]) -> Graded:
    total = len(question.key_points)
    score = len(covered) / total if total else 0.0
    outcome = "right" if score >= OPEN_PASS_SHARE else "wrong"
    return Graded(outcome, round(score, 4), response, tuple(sorted(covered)))


def skipped(response: str = "") -> Graded:
    return Graded("skipped", 0.0, response)


def expected_answer(question: Question, order: Sequence[int], lang: str) -> str:
    """The correct answer as the user would have typed it."""
    if question.type in ("choice", "multi"):
        return ", ".join(f"{LETTERS[pos]}) {localize(question.choices[index].text, lang)}"
                         for pos, index in enumerate(order) if question.choices[index].correct)
    if question.type == "output":
        return question.output or ""
    if question.type == "bug":
        return ", ".join(map(str, question.bug_lines))
    return ""


# ---------------------------------------------------------------------------------------------------------
# The end of a session


@dataclass(frozen=True)
class Result:
    question: Question
    graded: Graded


@dataclass(frozen=True)
class Summary:
    results: tuple[Result, ...]
    started_at: datetime
    ended_at: datetime
    quit_early: bool = False
    by_topic: dict[str, tuple[float, int]] = field(default_factory=dict)  # topic -> (score, answered)

    @property
    def answered(self) -> int:
        return sum(r.graded.outcome != "skipped" for r in self.results)

    @property
    def score(self) -> float:
        return sum(r.graded.score for r in self.results if r.graded.outcome != "skipped")

    @property
    def missed(self) -> list[str]:
        return [r.question.id for r in self.results if r.graded.outcome == "wrong"]

    @property
    def skipped_ids(self) -> list[str]:
        return [r.question.id for r in self.results if r.graded.outcome == "skipped"]

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def summarize(results: Sequence[Result], started_at: datetime, ended_at: datetime,
              quit_early: bool = False) -> Summary:
    by_topic: dict[str, tuple[float, int]] = {}
    for result in results:
        if result.graded.outcome == "skipped":
            continue
        score, answered = by_topic.get(result.question.topic, (0.0, 0))
        by_topic[result.question.topic] = (score + result.graded.score, answered + 1)
    return Summary(tuple(results), started_at, ended_at, quit_early, by_topic)
