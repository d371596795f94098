"""Your own scheduler parameters, and how well the scheduler's predictions match your answers.

FSRS predicts, before every review, the probability that you will recall the card. torchprep grades every
answer itself, so each review is a test of that prediction: recalled (any rating but Again) or not.

What is scored. Like the FSRS optimizer, only reviews at least a day after the card's previous one count:
a card's first review has no prediction, and a review minutes after the last one predicts nearly 100% and says
nothing about memory. On those reviews:

- log loss (binary cross-entropy, the optimizer's own objective): the mean of -log p when recalled and
  -log(1 - p) when not. A confident wrong prediction costs a lot, so it cannot be gamed by predicting the base
  rate; lower is better.
- RMSE: the root mean square of (p - outcome). Easy to read, easy to game (predicting the base rate scores
  well), which is why the report quotes it beside the log loss, never alone.
- calibration: the reviews in bins of predicted recall, each bin's mean prediction against the share actually
  recalled.

Fitting. `torchprep fit` hands the review log to the `fsrs` package's optimizer (``fsrs.optimizer.Optimizer``,
which needs torch) in a child process, never in torchprep's own. MIN_REVIEWS is 512 because that optimizer
returns FSRS's defaults unchanged below one mini-batch of 512 scored reviews: a fit with fewer would be a fit
in name only. The fitted parameters are used only when their log loss on the user's reviews is lower than the
defaults'; the result is kept in the settings either way, so the report can show it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import fsrs

from quiz import review
from quiz.errors import QuizError
from quiz.store import Store

MIN_REVIEWS = 512
MIN_ELAPSED_DAYS = 1.0
FIT_SETTING = "fsrs_fit"  # the settings key of the last fit's figures (JSON)
FIT_TIMEOUT_S = 600.0
CALIBRATION_EDGES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
_EPSILON = 1e-6  # predictions are clipped to [eps, 1 - eps] for the log loss, as BCELoss clamps its log


class FitError(QuizError, RuntimeError):
    """The optimizer could not run or gave nothing usable."""


@dataclass(frozen=True)
class Quality:
    reviews: int  # scored reviews (a day or more after the card's previous review)
    log_loss: float | None  # None without scored reviews
    rmse: float | None


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    reviews: int
    predicted: float  # mean predicted recall of the bin's reviews
    recalled: float  # share of them actually recalled


@dataclass(frozen=True)
class FitResult:
    at: datetime
    reviews: int
    default: Quality
    fitted: Quality
    parameters: tuple[float, ...]
    adopted: bool  # the fitted parameters are in use (their log loss is lower)

    def to_json(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["parameters"] = list(self.parameters)
        return data


def scored(reviews: Iterable[review.Review]) -> list[review.Review]:
    return [r for r in reviews if r.predicted is not None and r.elapsed_days is not None
            and r.elapsed_days >= MIN_ELAPSED_DAYS]


def quality(reviews: Iterable[review.Review]) -> Quality:
    counted = scored(reviews)
    if not counted:
        return Quality(0, None, None)
    losses, squares = [], []
    for r in counted:
        p = min(max(float(r.predicted), _EPSILON), 1 - _EPSILON)
        y = 1.0 if r.recalled else 0.0
        losses.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
        squares.append((float(r.predicted) - y) ** 2)
    return Quality(len(counted), sum(losses) / len(losses), math.sqrt(sum(squares) / len(squares)))


def calibration(reviews: Iterable[review.Review], edges: Sequence[float] = CALIBRATION_EDGES) -> tuple[Bin, ...]:
    """The scored reviews in bins of predicted recall [low, high) (the last bin includes 1.0); empty bins left
    out."""
    counted = scored(reviews)
    bins = []
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = index == len(edges) - 2
        inside = [r for r in counted if low <= r.predicted < high or (last and r.predicted == high)]
        if inside:
            bins.append(Bin(low, high, len(inside), sum(r.predicted for r in inside) / len(inside),
                            sum(r.recalled for r in inside) / len(inside)))
    return tuple(bins)


def review_log(reviews: Iterable[review.Review]) -> list[tuple[str, int, str]]:
    """(card id, rating, ISO time) of each review: what a replay with other parameters, or the optimizer, takes."""
    return [(r.card_id, int(r.rating), r.at.isoformat()) for r in reviews]


def predictions(log: Iterable[tuple[str, int, str]], engine: fsrs.Scheduler) -> list[review.Review]:
    """The same reviews replayed with another scheduler: what it would have predicted before each."""
    cards: dict[str, fsrs.Card] = {}
    out = []
    for card_id, rating, at_text in log:
        at = datetime.fromisoformat(at_text)
        card = cards.get(card_id)
        predicted = elapsed = None
        if card is not None and card.last_review is not None:
            predicted = float(engine.get_card_retrievability(card, at))
            elapsed = (at - card.last_review).total_seconds() / 86400
        cards[card_id], _ = engine.review_card(card or review.new_card(card_id, at), fsrs.Rating(rating), at)
        out.append(review.Review(card_id, fsrs.Rating(rating), at, predicted, elapsed))
    return out


def run_optimizer(log: Sequence[tuple[str, int, str]], timeout: float = FIT_TIMEOUT_S) -> tuple[float, ...]:
    """FSRS's optimizer on this review log, in a child process (it imports torch). Card ids become numbers."""
    numbers: dict[str, int] = {}
    rows = [(numbers.setdefault(card_id, len(numbers) + 1), rating, at) for card_id, rating, at in log]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run([sys.executable, "-m", "quiz.fit_worker"], input=json.dumps(rows), text=True,
                              capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise FitError(f"the optimizer did not finish within {timeout:.0f} s; nothing was changed") from None
    except OSError as error:
        raise FitError(f"the optimizer could not start: {error}") from None
    try:
        answer = json.loads(done.stdout or "{}")
    except ValueError:
        answer = {}
    if done.returncode != 0 or "parameters" not in answer:
        reason = answer.get("error") or (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FitError(f"the optimizer failed: {reason}")
    parameters = tuple(float(value) for value in answer["parameters"])
    try:
        fsrs.Scheduler(parameters=parameters)
    except (ValueError, TypeError) as error:
        raise FitError(f"the optimizer gave parameters FSRS refuses: {error}") from None
    return parameters


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def not_enough(count: int) -> FitError:
    return FitError(f"{count} of your reviews count for a fit (those a day or more after the card's previous "
                    f"review); fitting needs {MIN_REVIEWS}, below which FSRS's optimizer keeps its defaults. "
                    "Until then the defaults are used.")


def count_scored(store: Store, exercises: Iterable | None = None) -> int:
    """How many of this store's reviews a fit (and the figures) would count."""
    _, reviews = review.store_history(store, exercises)
    return len(scored(reviews))


def fit(store: Store, now: datetime, exercises: Iterable | None = None,
        optimizer: Callable[[Sequence[tuple[str, int, str]]], Sequence[float]] = run_optimizer) -> FitResult:
    """Fit the parameters to this store's reviews, keep the figures, use the parameters when they predict
    better (lower log loss) than the defaults, and rebuild the cards with the parameters in use."""
    _, reviews = review.store_history(store, exercises)
    log = review_log(reviews)
    default = quality(predictions(log, fsrs.Scheduler(enable_fuzzing=False)))
    if default.reviews < MIN_REVIEWS:
        raise not_enough(default.reviews)
    parameters = tuple(float(value) for value in optimizer(log))
    fitted = quality(predictions(log, fsrs.Scheduler(parameters=parameters, enable_fuzzing=False)))
    adopted = fitted.log_loss is not None and default.log_loss is not None and fitted.log_loss < default.log_loss
    result = FitResult(now, default.reviews, default, fitted, parameters, adopted)
    store.set_settings({review.FSRS_PARAMETERS: json.dumps(list(parameters)) if adopted else None,
                        FIT_SETTING: json.dumps(result.to_json())})
    review.rebuild(store, exercises)
    return result


def use_defaults(store: Store, exercises: Iterable | None = None) -> None:
    """Back to FSRS's default parameters (the last fit's figures are kept)."""
    store.set_settings({review.FSRS_PARAMETERS: None})
    review.rebuild(store, exercises)


def last_fit(store: Store) -> dict | None:
    """The last fit's figures as kept in the settings (None when there was none, or they do not parse)."""
    text = store.setting(FIT_SETTING)
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("default"), dict) else None
