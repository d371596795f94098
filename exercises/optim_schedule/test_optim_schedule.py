"""Grading tests for the optim_schedule exercise. Each test observes; the judge compares with the reference's run.

sgd_step is compared with torch.optim.SGD after every step (and its momentum buffers where torch keeps them);
the tests that isolate one rule (p.grad left alone, the buffer a copy of g) come before the test that writes
each gradient into p.grad in place. warmup_cosine is observed one optimizer step at a time, each step
explained by the phase it is in (warm-up, cosine, after total_steps). train_steps: the number of scheduler
steps first, then the lr of each optimizer step, then losses and weights.
"""

import importlib
import warnings

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

# ----------------------------------------------------------------------------------------------------------
# sgd_step

SETTINGS = {
    "plain": {"lr": 0.1},
    "weight-decay": {"lr": 0.1, "weight_decay": 0.05},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "momentum-dampening": {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    "momentum-weight-decay": {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.05},
    "momentum-dampening-weight-decay": {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.05},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "nesterov-weight-decay": {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
}

SHAPES = [(3, 4), (2,), (5,), ()]
NO_GRAD = 1  # the parameter at this index never gets a gradient


def _describe(settings: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())


def _update_rule(settings: dict, step: int) -> str:
    """The contract's update for these settings at this step (1-based), in words."""
    parts = []
    if settings.get("weight_decay"):
        parts.append("g = p.grad + weight_decay * p (before the buffer)")
    else:
        parts.append("g = p.grad")
    if settings.get("momentum"):
        if step == 1:
            parts.append("first step: buf = a copy of g, with no dampening")
        else:
            parts.append("buf = momentum * buf + (1 - dampening) * g")
        parts.append("g = g + momentum * buf, with the buffer updated in this step" if settings.get("nesterov")
                     else "g = buf")
    parts.append("p = p - lr * g")
    return (f"step {step} must match torch.optim.SGD({_describe(settings)}): " + "; ".join(parts)
            + f". Parameter {NO_GRAD} has no gradient and must not move")


def _compare_with_torch_sgd(
    sgd_step, settings: dict, *, steps: int = 6, dtype=torch.float32, seed: int = 0, in_place_grads=False
) -> None:
    """Run ``sgd_step`` and torch.optim.SGD side by side on the same gradients; observe after every step."""
    generator = torch.Generator().manual_seed(seed)
    initial = [torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES]
    grads = [[torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES] for _ in range(steps)]
    expected = [p.clone().requires_grad_() for p in initial]
    optimizer = torch.optim.SGD(expected, **settings)
    params = [p.clone().requires_grad_() for p in initial]
    buffers: list = [None] * len(params)
    how = " (each new gradient written into p.grad in place)" if in_place_grads else ""
    for step in range(steps):
        for i, grad in enumerate(grads[step]):
            if i == NO_GRAD:
                continue
            expected[i].grad = grad.clone()
            if in_place_grads and params[i].grad is not None:
                params[i].grad.copy_(grad)  # as backward() after zero_grad(set_to_none=False) would
            else:
                params[i].grad = grad.clone()
        optimizer.step()
        sgd_step(params, buffers, **settings)
        observe(f"{_describe(settings)}, {dtype}{how}: the parameters after step {step + 1}, [parameter]",
                [p.detach().clone() for p in params], expect=[p.detach().clone() for p in expected],
                explain=_update_rule(settings, step + 1))
    want_buffers = [optimizer.state[want].get("momentum_buffer") for want in expected]
    observe(f"{_describe(settings)}, {dtype}{how}: momentum_buffers after {steps} steps, [parameter]",
            [b.detach().clone() if isinstance(b, torch.Tensor) else b for b in buffers],
            expect=[None if b is None else b.clone() for b in want_buffers],
            explain="momentum_buffers[i] holds torch.optim.SGD's momentum buffer of parameter i; it stays None "
                    f"when momentum == 0, and for parameter {NO_GRAD}, which never had a gradient")


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", list(SETTINGS))
def test_sgd_step_matches_torch_sgd(impl, name):
    _compare_with_torch_sgd(impl.sgd_step, SETTINGS[name])


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", ["momentum-dampening-weight-decay", "nesterov-weight-decay"])
def test_sgd_step_float64(impl, name):
    _compare_with_torch_sgd(impl.sgd_step, SETTINGS[name], dtype=torch.float64, seed=1)


@pytest.mark.task("sgd_step")
def test_sgd_step_leaves_grad_unchanged(impl):
    generator = torch.Generator().manual_seed(3)
    start = torch.randn(4, 3, generator=generator)
    grad = torch.randn(4, 3, generator=generator)

    # Weight decay alone, one step: only the weight decay touches g.
    param = start.clone().requires_grad_()
    param.grad = grad.clone()
    impl.sgd_step([param], [None], lr=0.1, weight_decay=0.1)
    observe("p.grad after one sgd_step with weight_decay=0.1 and no momentum", param.grad, expect=grad,
            explain="sgd_step must not modify p.grad: with no momentum only the weight decay touches g here, so "
                    "compute it out of place (g = g + weight_decay * p), not with an in-place add_ on p.grad")

    # Momentum alone, two steps: the buffer is updated in place on step 2.
    param = start.clone().requires_grad_()
    param.grad = grad.clone()
    buffers: list = [None]
    for _ in range(2):
        impl.sgd_step([param], buffers, lr=0.1, momentum=0.9)
    observe("p.grad after two sgd_steps with momentum=0.9 and no weight decay", param.grad, expect=grad,
            explain="sgd_step must not modify p.grad: with momentum only, the in-place update of the buffer on "
                    "step 2 changes p.grad when the buffer is p.grad itself; start it as a copy (g.clone())")

    # Both, as the original check.
    param = start.clone().requires_grad_()
    param.grad = grad.clone()
    buffers = [None]
    for _ in range(2):
        impl.sgd_step([param], buffers, lr=0.1, momentum=0.9, weight_decay=0.1)
    observe("p.grad after two sgd_steps with momentum=0.9 and weight_decay=0.1", param.grad, expect=grad,
            explain="sgd_step must not modify p.grad")


@pytest.mark.task("sgd_step")
def test_sgd_step_buffer_is_a_copy(impl):
    generator = torch.Generator().manual_seed(6)
    param = torch.randn(4, generator=generator).requires_grad_()
    param.grad = torch.randn(4, generator=generator)
    first_grad = param.grad.clone()
    buffers: list = [None]
    impl.sgd_step([param], buffers, lr=0.1, momentum=0.9)
    observe("momentum_buffers[0] after the first step (momentum=0.9, no weight decay)", buffers[0],
            expect=first_grad, explain="on the first step the buffer is a copy of g: no dampening, no scaling")
    param.grad.fill_(100.0)  # the caller writes the next gradient into p.grad in place
    observe("momentum_buffers[0] after p.grad.fill_(100.0), before the next step", buffers[0], expect=first_grad,
            explain="the buffer changed when p.grad was overwritten in place: it shares memory with p.grad; "
                    "start it as a copy (g.clone())")


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", ["momentum", "momentum-dampening", "nesterov"])
def test_sgd_step_gradients_overwritten_in_place(impl, name):
    _compare_with_torch_sgd(impl.sgd_step, SETTINGS[name], seed=2, in_place_grads=True)


@pytest.mark.task("sgd_step")
def test_sgd_step_updates_in_place_without_graph(impl):
    generator = torch.Generator().manual_seed(4)
    param = torch.randn(5, generator=generator).requires_grad_()
    param.grad = torch.randn(5, generator=generator)
    storage = param.data_ptr()
    buffers: list = [None]
    impl.sgd_step([param], buffers, lr=0.5, momentum=0.9)
    observe("is the parameter after sgd_step the same storage as before?", param.data_ptr() == storage,
            explain="update the parameter tensor itself in place (the model holds that tensor)")
    observe("the parameter after one step (lr=0.5, momentum=0.9)", param.detach().clone(),
            explain="p = p - lr * g, in place")
    observe("the parameter's is_leaf after sgd_step", param.is_leaf,
            explain="the parameter must stay a leaf: update it under torch.no_grad()")
    observe("is the parameter's grad_fn None after sgd_step?", param.grad_fn is None,
            explain="the parameter must have no grad_fn: update it under torch.no_grad()")
    observe("the parameter's requires_grad after sgd_step", param.requires_grad,
            explain="the parameter must still require grad")
    observe("momentum_buffers[0] after one step", buffers[0],
            explain="with momentum the buffer is stored in momentum_buffers[0]: a copy of g on the first step")
    observe("is momentum_buffers[0].grad_fn None?", getattr(buffers[0], "grad_fn", None) is None,
            explain="the momentum buffer is a plain tensor, outside autograd")
    observe("momentum_buffers[0].requires_grad", getattr(buffers[0], "requires_grad", None),
            explain="the momentum buffer is a plain tensor, outside autograd: requires_grad False")


class _ForbiddenCall(Exception):
    """Raised when sgd_step reaches torch.optim's SGD code."""


@pytest.mark.task("sgd_step")
def test_sgd_step_does_not_use_torch_optim(impl, monkeypatch):
    def forbidden(*args, **kwargs):
        raise _ForbiddenCall("sgd_step must write the update itself, not call torch.optim's SGD")

    # Every path through torch.optim's SGD (the class, torch.optim.sgd.sgd, torch.optim._functional.sgd)
    # ends in one of these.
    # (torch.optim deletes its submodule attributes, so reach torch.optim.sgd through importlib.)
    sgd_module = importlib.import_module("torch.optim.sgd")
    for name in ("_single_tensor_sgd", "_multi_tensor_sgd", "_fused_sgd"):
        monkeypatch.setattr(sgd_module, name, forbidden)
    monkeypatch.setattr(torch.optim.SGD, "step", forbidden)
    generator = torch.Generator().manual_seed(5)
    initial = torch.randn(3, generator=generator)
    grads = [torch.randn(3, generator=generator) for _ in range(3)]
    param, buffers = initial.clone().requires_grad_(), [None]
    for grad in grads:
        param.grad = grad.clone()
        impl.sgd_step([param], buffers, lr=0.1, momentum=0.9, weight_decay=0.01)
    observe("the parameter after 3 steps (lr=0.1, momentum=0.9, weight_decay=0.01) with torch.optim's SGD "
            "code disabled", param.detach().clone(),
            explain="the update must match torch.optim.SGD's, written with tensor operations (here torch.optim's SGD "
                    "code is disabled)")


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize(("momentum", "dampening"), [(0.0, 0.0), (0.9, 0.1)])
def test_sgd_step_rejects_invalid_nesterov(impl, momentum, dampening):
    param = torch.ones(3, requires_grad=True)
    param.grad = torch.ones(3)
    with expect_raises(f"sgd_step with nesterov=True, momentum={momentum}, dampening={dampening}", ValueError,
                       explain="Nesterov needs momentum > 0 and dampening == 0: raise ValueError otherwise"):
        impl.sgd_step([param], [None], lr=0.1, momentum=momentum, dampening=dampening, nesterov=True)
    observe("the parameter after the rejected call (it was all ones)", param.detach().clone(),
            expect=torch.ones(3), explain="check the arguments and raise before changing anything")


# ----------------------------------------------------------------------------------------------------------
# warmup_cosine


def _lr_sequence(module, warmup: int, total: int, min_ratio: float, steps: int, base_lrs=(0.1,)):
    """The lr of each param group seen by each of ``steps`` optimizer steps."""
    params = [nn.Parameter(torch.zeros(1)) for _ in base_lrs]
    optimizer = torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs, strict=True)], lr=base_lrs[0]
    )
    scheduler = module.warmup_cosine(optimizer, warmup, total, min_ratio)
    seen = []
    for _ in range(steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()  # no gradients: changes nothing, but keeps the call order right
        scheduler.step()
    return scheduler, seen


def _phase(step: int, warmup: int, total: int) -> str:
    if step < warmup:
        return f"in the warm-up (step < warmup_steps = {warmup}): factor = (step + 1) / warmup_steps"
    if step < total:
        return ("in the cosine (warmup_steps <= step < total_steps): "
                f"progress = (step - {warmup}) / ({total} - {warmup}), "
                "factor = m + (1 - m) * 0.5 * (1 + cos(pi * progress))")
    return f"past the cosine (step >= total_steps = {total}): factor = m = min_lr_ratio exactly"


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_returns_lambda_lr(impl):
    scheduler, _ = _lr_sequence(impl, 2, 10, 0.0, steps=1)
    observe("is warmup_cosine's result a torch.optim.lr_scheduler.LambdaLR?",
            isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR),
            explain="warmup_cosine returns a torch.optim.lr_scheduler.LambdaLR")


@pytest.mark.task("warmup_cosine")
@pytest.mark.parametrize(
    ("warmup", "total", "min_ratio"), [(5, 20, 0.0), (3, 10, 0.1), (0, 8, 0.0), (1, 6, 0.2), (10, 11, 0.05)]
)
def test_warmup_cosine_matches_reference(impl, warmup, total, min_ratio):
    steps = total + 4
    _, seen = _lr_sequence(impl, warmup, total, min_ratio, steps)
    for step, lrs in enumerate(seen):
        observe(f"warmup_steps={warmup}, total_steps={total}, min_lr_ratio={min_ratio}, base lr 0.1: the lr of "
                f"optimizer step {step}", lrs[0], rtol=1e-6, atol=1e-12,
                explain=f"lr = 0.1 * factor(step); step {step} is {_phase(step, warmup, total)}")


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_key_points(impl):
    warmup, total, min_ratio, base = 4, 12, 0.1, 0.2
    _, seen = _lr_sequence(impl, warmup, total, min_ratio, total + 5, base_lrs=(base,))
    lrs = [lr[0] for lr in seen]
    checks = [
        (0, base / warmup, "the first step uses lr / warmup_steps (factor (0 + 1) / W), not 0"),
        (warmup - 1, base, "warm-up ends at the full lr on step warmup_steps - 1"),
        (warmup, base, "the cosine starts at the full lr on step warmup_steps"),
        (
            8,
            base * (min_ratio + (1 - min_ratio) * 0.5),
            "halfway through the cosine the factor is m + (1 - m) / 2",
        ),
        (total, base * min_ratio, "the cosine reaches exactly lr * min_lr_ratio at step total_steps"),
        (total + 4, base * min_ratio, "after total_steps the lr stays at lr * min_lr_ratio"),
    ]
    for step, want, why in checks:
        observe(f"warmup_steps=4, total_steps=12, min_lr_ratio=0.1, base lr 0.2: the lr of optimizer step {step}",
                lrs[step], expect=want, rtol=1e-6, explain=why)


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_scales_every_param_group(impl):
    _, seen = _lr_sequence(impl, 2, 6, 0.0, steps=5, base_lrs=(0.1, 0.02))
    for step, pair in enumerate(seen):
        observe(f"warmup_steps=2, total_steps=6: the lrs of the groups with base lrs 0.1 and 0.02 at step {step}",
                pair, rtol=1e-6,
                explain="LambdaLR with one function scales every group's own base lr by the same factor, so the "
                        "first group's lr is always 5 times the second's")


@pytest.mark.task("warmup_cosine")
@pytest.mark.parametrize(
    ("warmup", "total", "min_ratio"), [(-1, 10, 0.0), (10, 10, 0.0), (2, 10, -0.1), (2, 10, 1.5)]
)
def test_warmup_cosine_rejects_invalid_arguments(impl, warmup, total, min_ratio):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with expect_raises(f"warmup_cosine(optimizer, warmup_steps={warmup}, total_steps={total}, "
                       f"min_lr_ratio={min_ratio})", ValueError,
                       explain="raise ValueError unless 0 <= warmup_steps < total_steps and "
                               "0 <= min_lr_ratio <= 1"):
        impl.warmup_cosine(optimizer, warmup, total, min_ratio)


# ----------------------------------------------------------------------------------------------------------
# train_steps


class _RecordingSGD(torch.optim.SGD):
    """SGD that records the lr each of its steps used."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lrs: list[float] = []

    def step(self, closure=None):
        self.lrs.append(self.param_groups[0]["lr"])
        return super().step(closure)


def _train(module, *, start_in_eval: bool = False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    if start_in_eval:
        model.eval()
    generator = torch.Generator().manual_seed(1)
    batches = [
        (torch.randn(5, 4, generator=generator), torch.randn(5, 2, generator=generator)) for _ in range(5)
    ]
    optimizer = _RecordingSGD(model.parameters(), lr=0.5, momentum=0.9)
    # A schedule that changes a lot from step to step, so using the wrong step's lr shows.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = module.train_steps(model, batches, nn.MSELoss(), optimizer, scheduler)
    return model, losses, optimizer, scheduler, caught


@pytest.mark.task("train_steps")
def test_train_steps_uses_each_lr_of_the_schedule(impl):
    _, _, optimizer, scheduler, _ = _train(impl)
    observe("scheduler.last_epoch after train_steps on 5 batches (the number of scheduler.step() calls)",
            scheduler.last_epoch, expect=5, explain="call scheduler.step() once per batch, after optimizer.step()")
    observe("number of optimizer.step() calls for 5 batches", len(optimizer.lrs), expect=5,
            explain="call optimizer.step() once per batch")
    for step in range(5):
        lr = optimizer.lrs[step] if step < len(optimizer.lrs) else None
        observe(f"the lr optimizer step {step} trained with (schedule 0.5 / (step + 1))", lr,
                expect=0.5 / (step + 1),
                explain="the first step trains with the schedule's first lr (0.5): call optimizer.step() and only "
                        "then scheduler.step()" if step == 0 else
                        f"step {step} trains with the schedule's value for step {step}")


@pytest.mark.task("train_steps")
def test_train_steps_no_scheduler_warning(impl):
    *_, caught = _train(impl)
    messages = [str(w.message) for w in caught if "lr_scheduler.step()" in str(w.message)]
    observe("PyTorch's warnings about lr_scheduler.step() during train_steps", messages, expect=[],
            explain="PyTorch warns when lr_scheduler.step() is called before optimizer.step(): step the "
                    "optimizer first")


@pytest.mark.task("train_steps")
def test_train_steps_matches_reference(impl):
    model, losses, optimizer, _, _ = _train(impl)
    observe("the type of train_steps' result", type(losses).__name__,
            explain="return a list with loss.item() of each batch")
    observe("the types of its items", [type(loss).__name__ for loss in losses],
            explain="each loss is a Python float (loss.item()), one per batch")
    observe("the loss returned for batch 0 (before any optimizer step)", list(losses)[:1], rtol=1e-5,
            explain="each loss is that batch's loss_fn(model(inputs), targets).item(), taken from its forward "
                    "pass before its optimizer step")
    observe("the lrs the 5 optimizer steps trained with", optimizer.lrs,
            explain="step k trains with the schedule's value for step k")
    observe("the losses of the 5 batches", losses, rtol=1e-5,
            explain="each batch: zero_grad, forward, loss, backward, optimizer.step(), scheduler.step(); the "
                    "loss recorded before the step")
    observe("the parameters after 5 steps", {name: p.detach().clone() for name, p in model.named_parameters()},
            explain="each batch: zero_grad, forward, loss, backward, optimizer.step(), scheduler.step()")


@pytest.mark.task("train_steps")
def test_train_steps_sets_training_mode(impl):
    model, *_ = _train(impl, start_in_eval=True)
    observe("model.training after train_steps on a model in eval mode", model.training,
            explain="train_steps calls model.train() first")
