"""Grading tests for the optim_schedule exercise."""

import importlib
import warnings

import pytest
import torch
from torch import nn

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


def _compare_with_torch_sgd(
    sgd_step, settings: dict, *, steps: int = 6, dtype=torch.float32, seed: int = 0, in_place_grads=False
) -> None:
    """Run ``sgd_step`` and torch.optim.SGD side by side on the same gradients; compare after every step."""
    generator = torch.Generator().manual_seed(seed)
    initial = [torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES]
    grads = [[torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES] for _ in range(steps)]
    expected = [p.clone().requires_grad_() for p in initial]
    optimizer = torch.optim.SGD(expected, **settings)
    params = [p.clone().requires_grad_() for p in initial]
    buffers: list = [None] * len(params)
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
        for i, (param, want) in enumerate(zip(params, expected, strict=True)):
            torch.testing.assert_close(
                param.detach(),
                want.detach(),
                msg=f"{_describe(settings)}, dtype {dtype}: parameter {i} (shape {tuple(param.shape)}) after "
                f"step {step + 1} differs from torch.optim.SGD's. Check the order: weight decay into g "
                "first, then the buffer (a copy of g on the first step, no dampening), then Nesterov with "
                "the updated buffer",
            )
    for i, want in enumerate(expected):
        want_buffer = optimizer.state[want].get("momentum_buffer")
        if want_buffer is None:
            why = "that parameter never had a gradient" if i == NO_GRAD else "no buffer when momentum == 0"
            assert buffers[i] is None, (
                f"{_describe(settings)}: momentum_buffers[{i}] should stay None ({why})"
            )
        else:
            assert isinstance(buffers[i], torch.Tensor), (
                f"{_describe(settings)}: momentum_buffers[{i}] should hold that parameter's momentum buffer, "
                f"got {buffers[i]!r}"
            )
            torch.testing.assert_close(
                buffers[i],
                want_buffer,
                msg=f"{_describe(settings)}: momentum_buffers[{i}] differs from torch.optim.SGD's buffer",
            )


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", list(SETTINGS))
def test_sgd_step_matches_torch_sgd(submission, name):
    _compare_with_torch_sgd(submission.sgd_step, SETTINGS[name])


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", ["momentum-dampening-weight-decay", "nesterov-weight-decay"])
def test_sgd_step_float64(submission, name):
    _compare_with_torch_sgd(submission.sgd_step, SETTINGS[name], dtype=torch.float64, seed=1)


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize("name", ["momentum", "momentum-dampening", "nesterov"])
def test_sgd_step_gradients_overwritten_in_place(submission, name):
    try:
        _compare_with_torch_sgd(submission.sgd_step, SETTINGS[name], seed=2, in_place_grads=True)
    except AssertionError as error:
        raise AssertionError(
            f"{error}\nHere each new gradient is written into p.grad in place: does a momentum buffer share "
            "memory with p.grad? Start it as a copy (g.clone())."
        ) from None


@pytest.mark.task("sgd_step")
def test_sgd_step_leaves_grad_unchanged(submission):
    generator = torch.Generator().manual_seed(3)
    param = torch.randn(4, 3, generator=generator).requires_grad_()
    param.grad = torch.randn(4, 3, generator=generator)
    grad_before = param.grad.clone()
    buffers: list = [None]
    for _ in range(2):
        submission.sgd_step([param], buffers, lr=0.1, momentum=0.9, weight_decay=0.1)
    torch.testing.assert_close(
        param.grad,
        grad_before,
        msg="sgd_step changed p.grad: apply weight decay out of place (g = g + weight_decay * p), not with "
        "an in-place add_ on p.grad",
    )


@pytest.mark.task("sgd_step")
def test_sgd_step_updates_in_place_without_graph(submission):
    generator = torch.Generator().manual_seed(4)
    param = torch.randn(5, generator=generator).requires_grad_()
    param.grad = torch.randn(5, generator=generator)
    before = param.detach().clone()
    storage = param.data_ptr()
    buffers: list = [None]
    submission.sgd_step([param], buffers, lr=0.5, momentum=0.9)
    assert param.data_ptr() == storage and not torch.equal(param.detach(), before), (
        "the parameter tensor itself should be updated in place (the model holds that tensor)"
    )
    assert param.is_leaf and param.grad_fn is None and param.requires_grad, (
        "after sgd_step the parameter should still be a leaf that requires grad, with no grad_fn: update it "
        "under torch.no_grad()"
    )
    assert buffers[0] is not None and buffers[0].grad_fn is None and not buffers[0].requires_grad, (
        "the momentum buffer should be a plain tensor, outside autograd"
    )


@pytest.mark.task("sgd_step")
def test_sgd_step_does_not_use_torch_optim(submission, reference, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("sgd_step must write the update itself, not call torch.optim's SGD")

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
    results = []
    for module in (submission, reference):
        param, buffers = initial.clone().requires_grad_(), [None]
        for grad in grads:
            param.grad = grad.clone()
            module.sgd_step([param], buffers, lr=0.1, momentum=0.9, weight_decay=0.01)
        results.append(param.detach())
    torch.testing.assert_close(
        results[0], results[1], msg="sgd_step gave a different result from the reference"
    )


@pytest.mark.task("sgd_step")
@pytest.mark.parametrize(("momentum", "dampening"), [(0.0, 0.0), (0.9, 0.1)])
def test_sgd_step_rejects_invalid_nesterov(submission, momentum, dampening):
    param = torch.ones(3, requires_grad=True)
    param.grad = torch.ones(3)
    with pytest.raises(ValueError):
        submission.sgd_step([param], [None], lr=0.1, momentum=momentum, dampening=dampening, nesterov=True)
    assert torch.equal(param.detach(), torch.ones(3)), (
        "sgd_step changed the parameter before raising ValueError"
    )


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


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_returns_lambda_lr(submission):
    scheduler, _ = _lr_sequence(submission, 2, 10, 0.0, steps=1)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR), (
        f"warmup_cosine should return a torch.optim.lr_scheduler.LambdaLR, got {type(scheduler).__name__}"
    )


@pytest.mark.task("warmup_cosine")
@pytest.mark.parametrize(
    ("warmup", "total", "min_ratio"), [(5, 20, 0.0), (3, 10, 0.1), (0, 8, 0.0), (1, 6, 0.2), (10, 11, 0.05)]
)
def test_warmup_cosine_matches_reference(submission, reference, warmup, total, min_ratio):
    steps = total + 4
    _, seen = _lr_sequence(submission, warmup, total, min_ratio, steps)
    _, expected = _lr_sequence(reference, warmup, total, min_ratio, steps)
    for step, (lr, want) in enumerate(zip(seen, expected, strict=True)):
        assert lr[0] == pytest.approx(want[0], rel=1e-6, abs=1e-12), (
            f"warmup_steps={warmup}, total_steps={total}, min_lr_ratio={min_ratio}, base lr 0.1: optimizer "
            f"step {step} should use lr {want[0]:.8f}, got {lr[0]:.8f}. Expected lrs for steps "
            f"0-{steps - 1}: "
            f"{[round(w[0], 6) for w in expected]}"
        )


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_key_points(submission):
    warmup, total, min_ratio, base = 4, 12, 0.1, 0.2
    _, seen = _lr_sequence(submission, warmup, total, min_ratio, total + 5, base_lrs=(base,))
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
        assert lrs[step] == pytest.approx(want, rel=1e-6), (
            f"warmup_steps=4, total_steps=12, min_lr_ratio=0.1, base lr 0.2: step {step} should use lr "
            f"{want:.6f}, got {lrs[step]:.6f}: {why}"
        )


@pytest.mark.task("warmup_cosine")
def test_warmup_cosine_scales_every_param_group(submission):
    _, seen = _lr_sequence(submission, 2, 6, 0.0, steps=5, base_lrs=(0.1, 0.02))
    for step, (first, second) in enumerate(seen):
        assert first == pytest.approx(second * 5, rel=1e-6), (
            f"step {step}: the groups with base lrs 0.1 and 0.02 got {first} and {second}: LambdaLR with one "
            "function scales every group's own base lr by the same factor"
        )


@pytest.mark.task("warmup_cosine")
@pytest.mark.parametrize(
    ("warmup", "total", "min_ratio"), [(-1, 10, 0.0), (10, 10, 0.0), (2, 10, -0.1), (2, 10, 1.5)]
)
def test_warmup_cosine_rejects_invalid_arguments(submission, warmup, total, min_ratio):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError):
        submission.warmup_cosine(optimizer, warmup, total, min_ratio)


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
def test_train_steps_uses_each_lr_of_the_schedule(submission):
    _, _, optimizer, scheduler, _ = _train(submission)
    expected = [0.5 / (step + 1) for step in range(5)]
    assert len(optimizer.lrs) == 5, f"5 batches should give 5 optimizer steps, got {len(optimizer.lrs)}"
    assert optimizer.lrs == pytest.approx(expected), (
        f"the optimizer steps used lrs {optimizer.lrs}, expected {expected}: call optimizer.step() before "
        "scheduler.step(), so the first step uses the schedule's first lr"
    )
    assert scheduler.last_epoch == 5, (
        f"scheduler.step() should be called once per batch (5 times); last_epoch is {scheduler.last_epoch}"
    )


@pytest.mark.task("train_steps")
def test_train_steps_no_scheduler_warning(submission):
    *_, caught = _train(submission)
    messages = [str(w.message) for w in caught if "lr_scheduler.step()" in str(w.message)]
    assert not messages, f"PyTorch warned: {messages[0]}"


@pytest.mark.task("train_steps")
def test_train_steps_matches_reference(submission, reference):
    model, losses, *_ = _train(submission)
    expected_model, expected_losses, *_ = _train(reference)
    assert isinstance(losses, list) and all(isinstance(loss, float) for loss in losses), (
        "train_steps should return a list of Python floats (loss.item() of each batch)"
    )
    assert losses == pytest.approx(expected_losses, rel=1e-5), (
        f"the losses {losses} differ from the reference's {expected_losses}: record each batch's loss from "
        "its forward pass, before the optimizer step"
    )
    for (name, param), want in zip(model.named_parameters(), expected_model.parameters(), strict=True):
        torch.testing.assert_close(
            param.detach(),
            want.detach(),
            msg=f"{name} after 5 steps differs from the reference: zero_grad, forward, backward, "
            "optimizer.step(), scheduler.step() for each batch",
        )


@pytest.mark.task("train_steps")
def test_train_steps_sets_training_mode(submission):
    model, *_ = _train(submission, start_in_eval=True)
    assert model.training, "train_steps should call model.train() first"
