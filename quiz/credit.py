"""Partial credit for multi-select questions, as a score and an FSRS rating.

All the right choices and nothing else is a full answer; one slip (exactly one right choice missed, or exactly
one wrong choice added) is half an answer, rated Hard: the learner knew most of it, and FSRS should bring the
question back sooner than after a clean answer but not start it over. Two slips or more, or no choice at all,
is a wrong answer (Again). A full answer is Good, or Easy when it came quickly with no hint, by the same rule
as review.rating_for.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from quiz.lazy import lazy_import

fsrs = lazy_import("fsrs")  # loaded at the first review, after the first question shows

# Kept equal to review.QUICK_S["multi"]; not imported from there, so that this stays a leaf module.
QUICK_MULTI_S = 30.0
ONE_SLIP_SCORE = 0.5


class Credit(NamedTuple):
    score: float  # 1.0 all right, 0.5 one slip, 0.0 otherwise
    rating: fsrs.Rating


def multi_rating(correct: Collection[int | str], chosen: Collection[int | str], duration_s: float | None = None,
                 hints_used: int = 0) -> Credit:
    """The score and rating of one multi-select answer (choices named by index or label, as long as both agree)."""
    correct, chosen = set(correct), set(chosen)
    if not correct:
        raise ValueError("a multi-select question needs at least one correct choice")
    slips = len(correct - chosen) + len(chosen - correct)
    if not chosen or slips > 1:
        return Credit(0.0, fsrs.Rating.Again)
    if slips == 1:
        return Credit(ONE_SLIP_SCORE, fsrs.Rating.Hard)
    quick = duration_s is not None and duration_s <= QUICK_MULTI_S and hints_used == 0
    return Credit(1.0, fsrs.Rating.Easy if quick else fsrs.Rating.Good)
