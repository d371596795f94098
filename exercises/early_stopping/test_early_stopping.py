"""Grading tests for the early_stopping exercise. Decisions are checked step by step on hand-picked values
(dyadic numbers, so that best - min_delta is exact in floating point); the best state is checked by training
the model after the best epoch; the checkpoint by a torch.save / torch.load(weights_only=True) round trip and
a resumed run that must decide exactly like the uninterrupted one."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)).to(f64)


def _snapshot(model: nn.Module) -> dict:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def _train(model: nn.Module, seed: int, steps: int = 3) -> None:
    """A few SGD steps in train mode: the weights and the BatchNorm running statistics all change in place."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(16, 3, generator=gen, dtype=f64), torch.randn(16, 1, generator=gen, dtype=f64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def _run(stopper, values, model) -> list:
    return [stopper.step(v, model) for v in values]


# --- decisions ----------------------------------------------------------------------------------------------

@pytest.mark.task("EarlyStopping")
def test_first_value(impl) -> None:
    model = _model(1)
    stopper = impl.EarlyStopping(patience=2)
    observe("attributes of a new EarlyStopping(patience=2)",
            {"best": stopper.best, "best_epoch": stopper.best_epoch, "num_bad_epochs": stopper.num_bad_epochs,
             "epoch": stopper.epoch, "best_state": stopper.best_state, "should_stop": stopper.should_stop,
             "patience": stopper.patience, "min_delta": stopper.min_delta, "mode": stopper.mode},
            expect={"best": None, "best_epoch": None, "num_bad_epochs": 0, "epoch": 0, "best_state": None,
                    "should_stop": False, "patience": 2, "min_delta": 0.0, "mode": "min"},
            explain="nothing seen yet: no best, no best state, no bad epochs; min_delta defaults to 0.0, mode to "
                    "'min'")
    improved = stopper.step(3.0, model)
    observe("step(3.0) on a new stopper returns", improved, expect=True,
            explain="the first value is always an improvement")
    observe("best, best_epoch, num_bad_epochs and epoch after the first step",
            (stopper.best, stopper.best_epoch, stopper.num_bad_epochs, stopper.epoch), expect=(3.0, 0, 0, 1),
            explain="best is the value, at epoch 0 (epochs count step calls from 0); epoch counts the calls")


@pytest.mark.task("EarlyStopping")
def test_min_mode_and_min_delta(impl) -> None:
    model = _model(2)

    def second_step(value: float) -> bool:
        stopper = impl.EarlyStopping(patience=5, min_delta=0.25)
        stopper.step(1.0, model)
        return stopper.step(value, model)

    observe("mode 'min', min_delta 0.25, best 1.0: step(1.125) returns", second_step(1.125), expect=False,
            explain="an improvement is value < best - min_delta: a worse value is never one (min_delta is "
                    "subtracted from best, not added)")
    observe("mode 'min', min_delta 0.25, best 1.0: step(0.875) returns", second_step(0.875), expect=False,
            explain="better than best by less than min_delta (0.125 < 0.25) is not an improvement: value < best - "
                    "min_delta")
    observe("mode 'min', min_delta 0.25, best 1.0: step(0.75) returns", second_step(0.75), expect=False,
            explain="better by exactly min_delta is not enough: the test is strict, value < best - min_delta")
    observe("mode 'min', min_delta 0.25, best 1.0: step(0.625) returns", second_step(0.625), expect=True,
            explain="0.625 < 1.0 - 0.25: an improvement")


@pytest.mark.task("EarlyStopping")
def test_max_mode_and_min_delta(impl) -> None:
    model = _model(3)

    def second_step(value: float) -> bool:
        stopper = impl.EarlyStopping(patience=5, min_delta=0.25, mode="max")
        stopper.step(0.5, model)
        return stopper.step(value, model)

    observe("mode 'max', min_delta 0.25, best 0.5: step(0.375) returns", second_step(0.375), expect=False,
            explain="for mode 'max' an improvement is value > best + min_delta: a lower value is never one")
    observe("mode 'max', min_delta 0.25, best 0.5: step(0.625) returns", second_step(0.625), expect=False,
            explain="higher than best by less than min_delta is not an improvement: value > best + min_delta")
    observe("mode 'max', min_delta 0.25, best 0.5: step(0.75) returns", second_step(0.75), expect=False,
            explain="higher by exactly min_delta is not enough: the test is strict, value > best + min_delta")
    observe("mode 'max', min_delta 0.25, best 0.5: step(1.0) returns", second_step(1.0), expect=True,
            explain="mode 'max' means higher is better (an accuracy): 1.0 > 0.5 + 0.25 is an improvement")


@pytest.mark.task("EarlyStopping")
def test_should_stop_after_exactly_patience_bad_epochs(impl) -> None:
    model = _model(4)
    stopper = impl.EarlyStopping(patience=3)
    trace = []
    for value in (1.0, 2.0, 2.0, 2.0, 2.0):
        stopper.step(value, model)
        trace.append((stopper.num_bad_epochs, stopper.should_stop))
    observe("(num_bad_epochs, should_stop) after each of the values 1, 2, 2, 2, 2 with patience 3", trace,
            expect=[(0, False), (1, False), (2, False), (3, True), (4, True)],
            explain="should_stop is num_bad_epochs >= patience: True right after the 3rd bad epoch in a row, not "
                    "one epoch later")


@pytest.mark.task("EarlyStopping")
def test_an_improvement_resets_the_count(impl) -> None:
    model = _model(5)
    stopper = impl.EarlyStopping(patience=2)
    trace = []
    for value in (1.0, 2.0, 0.5, 2.0, 2.0):
        stopper.step(value, model)
        trace.append((stopper.num_bad_epochs, stopper.should_stop))
    observe("(num_bad_epochs, should_stop) after each of the values 1, 2, 0.5, 2, 2 with patience 2", trace,
            expect=[(0, False), (1, False), (0, False), (1, False), (2, True)],
            explain="an improvement sets num_bad_epochs back to 0: the patience counts consecutive bad epochs")


@pytest.mark.task("EarlyStopping")
def test_best_changes_only_on_an_improvement(impl) -> None:
    model = _model(6)
    stopper = impl.EarlyStopping(patience=10, min_delta=0.25)
    trace = []
    for value in (1.0, 0.875, 0.8125, 0.7):
        stopper.step(value, model)
        trace.append((stopper.best, stopper.best_epoch))
    observe("(best, best_epoch) after each of the values 1, 0.875, 0.8125, 0.7 with min_delta 0.25", trace,
            expect=[(1.0, 0), (1.0, 0), (1.0, 0), (0.7, 3)],
            explain="small gains (less than min_delta) are not improvements and leave best alone, so 0.7 is compared "
                    "with 1.0 - 0.25, not with 0.8125 - 0.25")


@pytest.mark.task("EarlyStopping")
def test_worked_sequence(impl) -> None:
    model = _model(7)
    stopper = impl.EarlyStopping(patience=3, min_delta=0.25)
    trace = []
    for value in (2.0, 1.5, 1.25, 1.375, 1.0, 0.875, 0.8125, 1.5):
        improved = stopper.step(value, model)
        trace.append((improved, stopper.best, stopper.num_bad_epochs, stopper.should_stop))
    observe("(improved, best, num_bad_epochs, should_stop) after each step, patience 3, min_delta 0.25", trace,
            expect=[(True, 2.0, 0, False), (True, 1.5, 0, False), (False, 1.5, 1, False), (False, 1.5, 2, False),
                    (True, 1.0, 0, False), (False, 1.0, 1, False), (False, 1.0, 2, False), (False, 1.0, 3, True)],
            explain="improvement: value < best - min_delta; otherwise one more bad epoch; stop at patience bad "
                    "epochs in a row")


@pytest.mark.task("EarlyStopping")
def test_tensor_values(impl) -> None:
    model = _model(9)
    stopper = impl.EarlyStopping(patience=3, mode="max")
    stopper.step(torch.tensor(0.5, dtype=f64), model)
    improved = stopper.step(torch.tensor(0.75), model)
    observe("type of best after tensor values", type(stopper.best).__name__, expect="float",
            explain="best is kept as a Python float (float(value)), not as a tensor")
    observe("step(torch.tensor(0.5)), then step(torch.tensor(0.75)) in mode 'max': second returns", improved,
            expect=True, explain="a 0-dim tensor is a value like a float; step returns a Python bool")
    observe("best after tensor values", stopper.best, expect=0.75, explain="the best value, as a float")


@pytest.mark.task("EarlyStopping")
@pytest.mark.parametrize("kwargs", [{"patience": 0}, {"min_delta": -0.1}, {"mode": "maximum"}],
                         ids=["patience-0", "min_delta-negative", "mode-maximum"])
def test_rejects_bad_arguments(impl, kwargs: dict) -> None:
    with expect_raises(f"EarlyStopping(**{kwargs})", ValueError,
                       explain="patience must be >= 1, min_delta >= 0 and mode 'min' or 'max': ValueError"):
        impl.EarlyStopping(**kwargs)


# --- the best state ---------------------------------------------------------------------------------------

@pytest.mark.task("EarlyStopping")
def test_best_state_is_a_copy(impl) -> None:
    model = _model(10)
    _train(model, 11, steps=1)
    stopper = impl.EarlyStopping(patience=3)
    stopper.step(1.0, model)
    best = _snapshot(model)
    observe("names in best_state", sorted(stopper.best_state or {}), expect=sorted(best),
            explain="best_state is model.state_dict() copied: every parameter and every buffer (BatchNorm's "
                    "running_mean, running_var, num_batches_tracked)")
    _train(model, 12, steps=3)
    observe("best_state after 3 more training steps (no step call in between)", stopper.best_state, expect=best,
            exact=True, explain="best_state is a copy (tensor.clone()), not model.state_dict() itself, whose tensors "
                                "share memory with the model: training after the best epoch must not change it")
    stopper.step(2.0, model)
    observe("best_state after a worse epoch's step", stopper.best_state, expect=best, exact=True,
            explain="best_state is taken only on an improvement: a worse epoch leaves the best epoch's copy")
    observe("best_state tensors require grad", any(t.requires_grad for t in (stopper.best_state or {}).values()),
            expect=False, explain="the copy is detached: it is a snapshot of values, not part of any graph")


@pytest.mark.task("EarlyStopping")
def test_restore(impl) -> None:
    model = _model(13)
    _train(model, 14, steps=1)
    stopper = impl.EarlyStopping(patience=2)
    stopper.step(0.5, model)
    best = _snapshot(model)
    _train(model, 15, steps=4)
    stopper.step(0.75, model)
    stopper.restore(model)
    observe("model.state_dict() after restore(model)", _snapshot(model), expect=best, exact=True,
            explain="restore puts the best epoch's weights and buffers back into the model")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    observe("best_state after changing the restored model's weights in place", stopper.best_state, expect=best,
            exact=True, explain="restore copies the values into the model (load_state_dict); the stopper's copy "
                                "must stay its own, not become the model's parameters")
    stopper.restore(model)
    observe("model.state_dict() after a second restore(model)", _snapshot(model), expect=best, exact=True,
            explain="restore can be called again and still gives the best weights")


@pytest.mark.task("EarlyStopping")
def test_restore_before_any_improvement(impl) -> None:
    model = _model(16)
    stopper = impl.EarlyStopping()
    with expect_raises("restore(model) before any step", RuntimeError,
                       explain="there is no best state to restore yet: RuntimeError"):
        stopper.restore(model)


@pytest.mark.task("EarlyStopping")
def test_nan_is_never_an_improvement(impl) -> None:
    model = _model(8)
    stopper = impl.EarlyStopping(patience=3)
    first = stopper.step(math.nan, model)
    observe("step(nan) on a new stopper: (returned, best, best_state is None, num_bad_epochs)",
            (first, stopper.best, stopper.best_state is None, stopper.num_bad_epochs), expect=(False, None, True, 1),
            explain="a NaN value is never an improvement, not even the first one: it counts as a bad epoch")
    observe("then step(1.0) and step(nan) return", [stopper.step(1.0, model), stopper.step(math.nan, model)],
            expect=[True, False], explain="1.0 is the first real value (an improvement); NaN never is")


# --- checkpoints --------------------------------------------------------------------------------------------

def _checkpoint(stopper) -> dict:
    buffer = io.BytesIO()
    torch.save(stopper.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.task("EarlyStopping")
def test_state_dict_contents(impl) -> None:
    model = _model(17)
    stopper = impl.EarlyStopping(patience=3, min_delta=0.25)
    _run(stopper, (2.0, 1.5, 1.25, 1.375), model)
    state = stopper.state_dict()
    observe("keys of state_dict()", sorted(state),
            expect=sorted(["patience", "min_delta", "mode", "best", "best_epoch", "num_bad_epochs", "epoch",
                           "best_state"]),
            explain="the keys the contract lists, no more and no fewer: without the counters (num_bad_epochs, "
                    "epoch) a resumed run would start counting again")
    observe("state_dict() without best_state, after the values 2, 1.5, 1.25, 1.375",
            {key: value for key, value in state.items() if key != "best_state"},
            expect={"patience": 3, "min_delta": 0.25, "mode": "min", "best": 1.5, "best_epoch": 1, "num_bad_epochs": 2,
                    "epoch": 4}, explain="every field of the stopper: its arguments and where it stands")


@pytest.mark.task("EarlyStopping")
def test_resume_from_a_checkpoint(impl) -> None:
    model = _model(18)
    first, rest = (2.0, 1.5, 1.25, 1.375), (1.0, 0.875, 0.8125, 1.5)
    stopper = impl.EarlyStopping(patience=3, min_delta=0.25)
    _run(stopper, first, model)
    best = _snapshot(model)  # the model has not changed: best_state equals it
    resumed = impl.EarlyStopping()  # built with the defaults: load_state_dict brings the saved arguments back
    resumed.load_state_dict(_checkpoint(stopper))
    observe("fields of a stopper loaded from a checkpoint (torch.save, torch.load(weights_only=True))",
            {"patience": resumed.patience, "min_delta": resumed.min_delta, "mode": resumed.mode,
             "best": resumed.best, "best_epoch": resumed.best_epoch, "num_bad_epochs": resumed.num_bad_epochs,
             "epoch": resumed.epoch},
            expect={"patience": 3, "min_delta": 0.25, "mode": "min", "best": 1.5, "best_epoch": 1, "num_bad_epochs": 2,
                    "epoch": 4}, explain="load_state_dict restores every field, the counters and best included")
    observe("best_state of the loaded stopper", resumed.best_state, expect=best, exact=True,
            explain="the best state comes back with the checkpoint")
    trace = []
    for value in rest:
        improved = resumed.step(value, model)
        trace.append((improved, resumed.num_bad_epochs, resumed.should_stop))
    observe("(improved, num_bad_epochs, should_stop) of the resumed stopper for the values 1, 0.875, 0.8125, 1.5",
            trace, expect=[(True, 0, False), (False, 1, False), (False, 2, False), (False, 3, True)],
            explain="the resumed run decides exactly as the uninterrupted run would have")
    observe("best_epoch of the resumed stopper", resumed.best_epoch, expect=4,
            explain="epochs keep counting across the restart: the improvement at the 5th step is epoch 4")


@pytest.mark.task("EarlyStopping")
def test_fresh_state_dict_round_trip(impl) -> None:
    stopper = impl.EarlyStopping(patience=4, mode="max")
    resumed = impl.EarlyStopping()
    resumed.load_state_dict(_checkpoint(stopper))
    observe("(patience, mode, best, best_state) after loading a new stopper's checkpoint",
            (resumed.patience, resumed.mode, resumed.best, resumed.best_state), expect=(4, "max", None, None),
            explain="a checkpoint taken before any step holds None for best and best_state and loads back as such")


# --- a training loop ----------------------------------------------------------------------------------------

@pytest.mark.task("EarlyStopping")
def test_in_a_training_loop(impl) -> None:
    gen = torch.Generator().manual_seed(19)
    x = torch.randn(24, 3, generator=gen, dtype=f64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=f64) + 0.5 * torch.randn(24, 1, generator=gen, dtype=f64)
    x_val = torch.randn(12, 3, generator=gen, dtype=f64)
    y_val = x_val @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=f64)
    model = _model(20)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    stopper = impl.EarlyStopping(patience=3, min_delta=1e-3)
    stopped_at, history = None, []
    for epoch in range(60):
        model.train()
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val = nn.functional.mse_loss(model(x_val), y_val)
        history.append(val.item())
        stopper.step(val, model)
        if stopper.should_stop:
            stopped_at = epoch
            break
    stopper.restore(model)
    observe("epoch at which the loop stopped, and best_epoch", (stopped_at, stopper.best_epoch),
            explain="the loop breaks when should_stop; best_epoch is the last improvement by more than min_delta")
    observe("validation losses until the stop", history,
            explain="the same model, data and optimizer as the reference: the same losses until it stops")
    observe("model weights after restore", model.state_dict(), explain="the weights of the best epoch")
