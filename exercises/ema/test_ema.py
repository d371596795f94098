"""Grading tests for the ema exercise. Small models with a BatchNorm layer are trained with SGD; the average is
observed after every update, against hand-worked values, against
torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) (given one extra first
update, since AveragedModel's first update only copies), and after copy_to and a state_dict round trip."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64


def _model(seed: int, dtype=f64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2)).to(dtype)


def _batches(seed: int, n: int, dtype=f64) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(6, 3, generator=generator, dtype=dtype), torch.randn(6, 2, generator=generator, dtype=dtype))
            for _ in range(n)]


def _train_step(model: nn.Module, optimizer, batch) -> None:
    x, y = batch
    optimizer.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    optimizer.step()


def _params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: b.detach().clone() for name, b in module.named_buffers()}


def _scalar_model(value: float) -> nn.Module:
    model = nn.Linear(1, 1, bias=False).to(f64)
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def _set(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        model.weight.fill_(value)


# --- construction -----------------------------------------------------------------------------------------

@pytest.mark.task("EMA")
def test_ema_starts_as_a_frozen_copy(impl) -> None:
    model = _model(1)
    start = _params(model)
    ema = impl.EMA(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    observe("ema.module[0].weight minus the model's starting weight, after adding 1 to the model's weight",
            ema.module[0].weight - start["0.weight"], expect=torch.zeros(4, 3, dtype=f64), exact=True,
            explain="ema.module is a deep copy with its own tensors: changing the model does not move the "
                    "average (only update() does)")
    observe("ema.module's parameters right after EMA(model)", _params(ema.module), expect=start,
            explain="the average starts from the model's weights at construction")
    observe("requires_grad of ema.module's parameters", [p.requires_grad for p in ema.module.parameters()],
            expect=[False] * 6, explain="the averaged copy is frozen: it is never trained, and gets no gradients")
    observe("requires_grad of the model's own parameters after EMA(model)",
            [p.requires_grad for p in model.parameters()], expect=[True] * 6,
            explain="EMA leaves the model it averages as it is")
    observe("num_updates right after EMA(model)", ema.num_updates, expect=0, explain="no update yet")


@pytest.mark.task("EMA")
@pytest.mark.parametrize("decay", [-0.1, 1.5], ids=["-0.1", "1.5"])
def test_ema_rejects_bad_decay(impl, decay: float) -> None:
    with expect_raises(f"EMA(model, decay={decay})", ValueError, explain="decay must be in [0, 1]"):
        impl.EMA(_scalar_model(1.0), decay=decay)


# --- update -----------------------------------------------------------------------------------------------

@pytest.mark.task("EMA")
def test_ema_update_worked_example(impl) -> None:
    model = _scalar_model(1.0)
    ema = impl.EMA(model, decay=0.9)
    _set(model, 3.0)
    ema.update(model)
    observe("the average after one update(decay=0.9): started at 1, model now 3", ema.module.weight,
            expect=torch.tensor([[0.9 * 1.0 + 0.1 * 3.0]], dtype=f64),
            explain="ema = decay * ema + (1 - decay) * weight = 0.9 * 1 + 0.1 * 3 = 1.2; the first update averages "
                    "with the starting weights too (it does not just copy)")
    _set(model, -1.0)
    ema.update(model)
    observe("the average after a second update with the model at -1", ema.module.weight,
            expect=torch.tensor([[0.9 * 1.2 + 0.1 * -1.0]], dtype=f64),
            explain="0.9 * 1.2 + 0.1 * (-1) = 0.98: the decay weighs the average, 1 - decay the new weights")
    observe("num_updates after two updates", ema.num_updates, expect=2, explain="one per update() call")
    observe("the model's weight after the updates", model.weight, expect=torch.tensor([[-1.0]], dtype=f64),
            explain="update() reads the model, never writes it")


@pytest.mark.task("EMA")
@pytest.mark.parametrize("decay", [0.0, 1.0], ids=["0", "1"])
def test_ema_extreme_decays(impl, decay: float) -> None:
    model = _scalar_model(2.0)
    ema = impl.EMA(model, decay=decay)
    values = []
    for value in (5.0, -3.0):
        _set(model, value)
        ema.update(model)
        values.append(float(ema.module.weight))
    observe(f"the average after updates with the model at 5 then -3, decay={decay}", values,
            expect=[5.0, -3.0] if decay == 0.0 else [2.0, 2.0],
            explain="decay 0 follows the model exactly; decay 1 never moves from the starting weights")


@pytest.mark.task("EMA")
def test_ema_update_records_no_graph(impl) -> None:
    model = _model(2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = impl.EMA(model, decay=0.9)
    for batch in _batches(3, 2):
        _train_step(model, optimizer, batch)
        ema.update(model)
    observe("requires_grad and grad_fn of ema.module's parameters after two updates",
            [(p.requires_grad, p.grad_fn is None) for p in ema.module.parameters()], expect=[(False, True)] * 6,
            explain="update() runs under torch.no_grad(): the average never joins the model's graph (otherwise "
                    "each update would extend a graph through every past update)")


@pytest.mark.task("EMA")
@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=str)
def test_ema_matches_averaged_model(impl, dtype) -> None:
    decay = 0.8
    model = _model(4, dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    ema = impl.EMA(model, decay=decay)
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    averaged.update_parameters(model)  # AveragedModel's first update only copies: the starting weights
    for step, batch in enumerate(_batches(5, 6, dtype), 1):
        _train_step(model, optimizer, batch)
        ema.update(model)
        averaged.update_parameters(model)
        observe(f"ema.module's parameters after training step and update {step} (decay={decay}, {dtype})",
                _params(ema.module), expect=_params(averaged.module),
                explain="ema = decay * ema + (1 - decay) * weights for every parameter, starting from the weights "
                        "at construction: what AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) "
                        "holds when its first (copying) update is given the starting weights")
    observe(f"ema.module's buffers after 6 updates ({dtype})", _buffers(ema.module), expect=_buffers(averaged.module),
            explain="buffers are copied from the model at every update, as AveragedModel does by default")


@pytest.mark.task("EMA")
def test_ema_copies_buffers(impl) -> None:
    model = _model(6)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = impl.EMA(model, decay=0.9)
    for batch in _batches(7, 3):
        _train_step(model, optimizer, batch)
        ema.update(model)
    observe("ema.module's BatchNorm buffers after 3 updates minus the model's",
            {name: (b - model.get_buffer(name)).double() for name, b in ema.module.named_buffers()},
            expect={name: torch.zeros_like(b, dtype=f64) for name, b in model.named_buffers()},
            explain="buffers (running_mean, running_var, num_batches_tracked) are copied from the model at every "
                    "update, not averaged, as AveragedModel does by default (use_buffers=False)")
    observe("ema.module[1].num_batches_tracked after 3 updates", ema.module[1].num_batches_tracked,
            expect=torch.tensor(3), explain="the model's counter, copied as it is (an int64 tensor)")


@pytest.mark.task("EMA")
def test_ema_update_does_not_alias_the_model(impl) -> None:
    model = _model(8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = impl.EMA(model, decay=0.5)
    batches = _batches(9, 3)
    _train_step(model, optimizer, batches[0])
    ema.update(model)
    after_update = _params(ema.module)
    for batch in batches[1:]:
        _train_step(model, optimizer, batch)
    observe("how far ema.module's parameters moved during 2 training steps without update()",
            {name: p - after_update[name] for name, p in _params(ema.module).items()},
            expect={name: torch.zeros_like(p) for name, p in after_update.items()}, exact=True,
            explain="the average has its own tensors and changes only in update(): training the model between "
                    "updates must not move it")


# --- warm-up ----------------------------------------------------------------------------------------------

@pytest.mark.task("EMA")
def test_ema_warmup_decays(impl) -> None:
    model = _scalar_model(0.0)
    ema = impl.EMA(model, decay=0.5, warmup=True)
    decays = []
    for _ in range(11):
        decays.append(ema.get_decay())
        ema.update(model)
    observe("get_decay() before each of 11 updates, decay=0.5, warmup=True", decays,
            expect=[min(0.5, (1 + n) / (10 + n)) for n in range(11)],
            explain="with warm-up the n-th update (n = num_updates before it: 0, 1, 2, ...) uses "
                    "min(decay, (1 + n) / (10 + n)): 0.1, 2/11, 3/12, ... until (1 + n) / (10 + n) reaches 0.5 "
                    "at n = 8")
    observe("get_decay() without warm-up", impl.EMA(model, decay=0.5).get_decay(), expect=0.5,
            explain="without warm-up every update uses decay itself")


@pytest.mark.task("EMA")
def test_ema_warmup_weights(impl) -> None:
    model = _scalar_model(10.0)
    ema = impl.EMA(model, decay=0.99, warmup=True)
    want, got = 10.0, []
    expected = []
    for n, value in enumerate([0.0, 4.0, -2.0, 8.0]):
        _set(model, value)
        ema.update(model)
        d = min(0.99, (1 + n) / (10 + n))
        want = d * want + (1 - d) * value
        expected.append(want)
        got.append(float(ema.module.weight))
    observe("the average after 4 warm-up updates from 10 with the model at 0, 4, -2, 8 (decay=0.99)", got,
            expect=expected,
            explain="update n uses d = min(decay, (1 + n) / (10 + n)) with n = 0, 1, 2, 3: the first update keeps "
                    "only 10% of the starting 10 (0.1 * 10 + 0.9 * 0 = 1), so the random start is forgotten quickly")


# --- copy_to ----------------------------------------------------------------------------------------------

@pytest.mark.task("EMA")
def test_ema_copy_to(impl) -> None:
    model = _model(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = impl.EMA(model, decay=0.7)
    for batch in _batches(11, 3):
        _train_step(model, optimizer, batch)
        ema.update(model)
    average, buffers = _params(ema.module), _buffers(ema.module)
    objects = list(model.parameters())
    target = _model(12)
    target_objects = list(target.parameters())
    ema.copy_to(target)
    observe("the target model's parameters after copy_to", _params(target), expect=average,
            explain="copy_to writes the averaged parameters into the model")
    observe("the target model's buffers after copy_to", _buffers(target), expect=buffers,
            explain="and the buffers (BatchNorm running statistics) that go with them")
    observe("whether the target model kept its own Parameter objects", [a is b for a, b in zip(
            target.parameters(), target_objects, strict=True)], expect=[True] * 6,
            explain="copy_to copies in place (Parameter.copy_ under no_grad): an optimizer that holds the "
                    "model's parameters must still hold them")
    ema.copy_to(model)
    observe("whether the trained model kept its own Parameter objects after copy_to", [a is b for a, b in zip(
            model.parameters(), objects, strict=True)], expect=[True] * 6,
            explain="copy_to copies in place: the optimizer still updates the model's parameters")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    observe("how far the average moved when the model was changed after copy_to",
            {name: p - average[name] for name, p in _params(ema.module).items()},
            expect={name: torch.zeros_like(p) for name, p in average.items()}, exact=True,
            explain="after copy_to the model and the average still have separate tensors")


# --- state_dict -------------------------------------------------------------------------------------------

@pytest.mark.task("EMA")
def test_ema_state_dict_round_trip(impl) -> None:
    model = _model(13)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ema = impl.EMA(model, decay=0.95, warmup=True)
    batches = _batches(14, 6)
    for batch in batches[:3]:
        _train_step(model, optimizer, batch)
        ema.update(model)
    state = ema.state_dict()
    observe("the non-tensor entries of state_dict() after 3 updates",
            {key: state[key] for key in ("decay", "warmup", "num_updates")},
            expect={"decay": 0.95, "warmup": True, "num_updates": 3},
            explain="state_dict() holds decay, warmup and num_updates (the warm-up position) next to the weights")
    observe("the keys of state_dict()['module']", sorted(state["module"]), expect=sorted(model.state_dict()),
            explain="state_dict()['module'] is ema.module.state_dict(): parameters and buffers")
    saved = {"module": {key: value.clone() for key, value in state["module"].items()},
             **{key: state[key] for key in ("decay", "warmup", "num_updates")}}
    resumed = impl.EMA(_model(15), decay=0.5)
    resumed.load_state_dict(saved)
    for step, batch in enumerate(batches[3:], 4):
        _train_step(model, optimizer, batch)
        ema.update(model)
        resumed.update(model)
        observe(f"a resumed EMA's parameters after update {step}, minus the uninterrupted EMA's",
                {name: p - ema.module.get_parameter(name) for name, p in _params(resumed.module).items()},
                expect={name: torch.zeros_like(p) for name, p in _params(model).items()},
                explain="load_state_dict restores the averaged weights, buffers, decay, warmup and num_updates, so "
                        "the next updates use the same warm-up decays as an EMA that was never interrupted")
