"""Your own scheduler parameters (quiz/fit.py): the prediction figures against a hand-computed case, the fit
kept only when it predicts better, the real FSRS optimizer in a child process, and `torchprep fit`."""

from __future__ import annotations

import importlib.util
import json
import math
import random
from datetime import datetime, timedelta, timezone

import fsrs
import pytest

from quiz import fit, review
from quiz.store import Answer, Store

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
Rating = fsrs.Rating


def r(predicted, recalled, elapsed=2.0, card="q") -> review.Review:
    return review.Review(card, Rating.Good if recalled else Rating.Again, T0, predicted, elapsed)


def test_log_loss_and_rmse_of_a_hand_computed_case():
    reviews = [r(0.9, True), r(0.9, False), r(0.6, True), r(None, True, None), r(0.99, False, 0.2)]
    figures = fit.quality(reviews)
    assert figures.reviews == 3, "a first review (no prediction) and one 5 hours after the last are not scored"
    assert figures.log_loss == pytest.approx((-math.log(0.9) - math.log(0.1) - math.log(0.6)) / 3)
    assert figures.rmse == pytest.approx(math.sqrt((0.01 + 0.81 + 0.16) / 3))
    assert fit.quality([]) == fit.Quality(0, None, None)


def test_calibration_bins_compare_mean_prediction_with_the_share_recalled():
    reviews = [r(0.92, True), r(0.94, False), r(0.96, True), r(1.0, True), r(0.55, False), r(0.65, True)]
    bins = fit.calibration(reviews)
    assert [(b.low, b.high, b.reviews) for b in bins] == [(0.5, 0.7, 2), (0.9, 0.95, 2), (0.95, 1.0, 2)]
    assert bins[0].predicted == pytest.approx(0.6) and bins[0].recalled == pytest.approx(0.5)
    assert bins[1].predicted == pytest.approx(0.93) and bins[1].recalled == pytest.approx(0.5)
    assert bins[2].predicted == pytest.approx(0.98) and bins[2].recalled == 1.0, "1.0 falls in the last bin"


def test_a_prediction_of_exactly_zero_or_one_that_is_wrong_costs_a_finite_loss():
    figures = fit.quality([r(1.0, False), r(0.0, True)])
    assert math.isfinite(figures.log_loss) and figures.log_loss > 10


def simulated_learner(store: Store, cards: int = 200, reviews_each: int = 6, seed: int = 0) -> None:
    """A learner whose memory decays faster than FSRS's defaults assume: answers right with a probability
    below the defaults' prediction, reviewing when cards fall due."""
    rng = random.Random(seed)
    engine = fsrs.Scheduler(enable_fuzzing=False)
    for number in range(cards):
        question = f"q{number}"
        card = review.new_card(question, T0)
        at = T0 + timedelta(hours=rng.random() * 48)
        for _ in range(reviews_each):
            p = 0.85 * engine.get_card_retrievability(card, at) if card.last_review else 0.6
            right = rng.random() < p
            store.record_answer(Answer(question, "tensors", "choice", "right" if right else "wrong",
                                       1.0 if right else 0.0, at, "a", 0, 25.0))
            card, _ = engine.review_card(card, Rating.Good if right else Rating.Again, at)
            at = max(at, card.due) + timedelta(hours=rng.random() * 30)


def test_below_the_minimum_nothing_is_fitted_and_the_message_says_why(tmp_path, fixture_catalog):
    with Store.open(tmp_path / "home") as store:
        simulated_learner(store, cards=10)
        count = fit.count_scored(store)
        assert 0 < count < fit.MIN_REVIEWS
        with pytest.raises(fit.FitError, match=f"{count} of your reviews count for a fit.*needs 512"):
            fit.fit(store, T0, optimizer=lambda log: pytest.fail("the optimizer must not run"))
        assert store.settings() == {}


def test_a_fit_is_used_only_when_it_predicts_better_and_the_cards_follow_it(tmp_path, fixture_catalog):
    with Store.open(tmp_path / "home") as store:
        simulated_learner(store)
        worse = list(fsrs.scheduler.DEFAULT_PARAMETERS)
        worse[0] = worse[0] * 40  # initial stability for Again: far too long
        worse[2] = worse[2] * 40
        kept = fit.fit(store, T0, optimizer=lambda log: worse)
        assert not kept.adopted and kept.fitted.log_loss > kept.default.log_loss
        assert review.FSRS_PARAMETERS not in store.settings()
        assert fit.last_fit(store)["default"]["log_loss"] == pytest.approx(kept.default.log_loss)

        better = list(fsrs.scheduler.DEFAULT_PARAMETERS)
        better[20] = 0.5  # a steeper forgetting curve, as this learner forgets faster than the defaults say
        used = fit.fit(store, T0, optimizer=lambda log: better)
        assert used.adopted and used.fitted.log_loss < used.default.log_loss
        assert json.loads(store.setting(review.FSRS_PARAMETERS)) == better
        review.load_cards(store)
        assert review.scheduler().parameters == tuple(better), "cards read from this store use its parameters"
        fit.use_defaults(store)
        review.load_cards(store)
        assert review.scheduler().parameters == tuple(fsrs.scheduler.DEFAULT_PARAMETERS)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None,
                    reason="FSRS's optimizer extra is not installed (pip install 'fsrs[optimizer]')")
def test_the_real_optimizer_runs_in_a_child_process_and_fits_a_learner_who_forgets_faster(tmp_path, fixture_catalog):
    with Store.open(tmp_path / "home") as store:
        simulated_learner(store)
        assert fit.count_scored(store) >= fit.MIN_REVIEWS
        result = fit.fit(store, T0)
    assert result.parameters != tuple(fsrs.scheduler.DEFAULT_PARAMETERS)
    assert result.fitted.log_loss < result.default.log_loss, "fitted on this history, it predicts it better"
    assert result.adopted


def test_a_failing_optimizer_changes_nothing_and_says_what_failed(tmp_path, fixture_catalog, monkeypatch):
    with Store.open(tmp_path / "home") as store:
        simulated_learner(store)
        monkeypatch.setattr(fit.sys, "executable", str(tmp_path / "no-such-python"))
        with pytest.raises(fit.FitError, match="the optimizer could not start"):
            fit.fit(store, T0)
        assert store.settings() == {}


def test_fit_command_says_how_many_reviews_it_needs(cli, isolated, fixture_catalog):
    with Store.open(isolated) as store:
        simulated_learner(store, cards=5)
    out = cli("fit", expect=2).output
    assert "fitting needs 512" in " ".join(out.split())
    assert "FSRS" in cli("fit", "--defaults").output
