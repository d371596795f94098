"""Grading tests for grad_accumulation: compare against one step on the whole batch and against PyTorch."""

import copy
import math

import pytest
import torch
from torch import nn


def _model(seed: int, dtype: torch.dtype, n_in: int = 4, n_out: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, 8), nn.Tanh(), nn.Linear(8, n_out)).to(dtype)


def _regression_data(seed: int, n: int, dtype: torch.dtype):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=dtype), torch.randn(n, 3, generator=g, dtype=dtype)


def _split(x: torch.Tensor, y: torch.Tensor, sizes: list[int]):
    assert sum(sizes) == x.shape[0]
    return list(zip(x.split(sizes), y.split(sizes), strict=True))


def _big_batch_step(model, loss_fn, optimizer, x, y) -> float:
    """What accumulate_step must be equivalent to: one ordinary step on the whole batch."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


class CountingSGD(torch.optim.SGD):
    """SGD that counts its steps, to tell a learner how many times step() ran."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def _assert_same_params(got: nn.Module, want: nn.Module, what: str) -> None:
    for (name, p), q in zip(got.named_parameters(), want.parameters(), strict=True):
        torch.testing.assert_close(
            p.detach(), q.detach(), msg=lambda m, name=name: f"{what}: parameter {name!r} differs.\n{m}"
        )


def _assert_same_grads(got: nn.Module, want: nn.Module, what: str) -> None:
    for (name, p), q in zip(got.named_parameters(), want.parameters(), strict=True):
        assert p.grad is not None, f"{what}: parameter {name!r} has no .grad after the call"
        torch.testing.assert_close(
            p.grad, q.grad, msg=lambda m, name=name: f"{what}: the .grad of {name!r} differs.\n{m}"
        )


# ------------------------------------------------------------------------------------------ accumulate_step

ACCUMULATION_HINT = (
    "scale each micro-batch's mean loss by its size / total size (not by 1 / number of micro-batches), "
    "zero the gradients once before the loop, and step once after it"
)


@pytest.mark.task("accumulate_step")
@pytest.mark.parametrize("sizes", [[3, 5, 2], [4, 4, 4, 1], [1, 6]])
def test_sgd_step_equals_big_batch(submission, sizes):
    for dtype in (torch.float64, torch.float32):
        reference_model = _model(0, dtype)
        model = copy.deepcopy(reference_model)
        x, y = _regression_data(1, sum(sizes), dtype)
        loss_fn = nn.MSELoss()
        want_loss = _big_batch_step(
            reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1), x, y
        )
        optimizer = CountingSGD(model.parameters(), lr=0.1)
        got_loss = submission.accumulate_step(model, loss_fn, optimizer, _split(x, y, sizes))
        assert optimizer.steps == 1, f"optimizer.step() ran {optimizer.steps} times; expected exactly once"
        what = f"SGD, micro-batch sizes {sizes}, {dtype}"
        _assert_same_grads(
            model,
            reference_model,
            f"{what}: the accumulated gradients should equal the "
            f"gradients of the mean loss over the whole batch ({ACCUMULATION_HINT})",
        )
        _assert_same_params(
            model,
            reference_model,
            f"{what}: the parameters after the step differ from "
            f"one step on the whole batch ({ACCUMULATION_HINT})",
        )
        assert isinstance(got_loss, float), (
            f"accumulate_step must return a Python float, got {type(got_loss)}"
        )
        assert got_loss == pytest.approx(want_loss, rel=1e-5), (
            f"{what}: returned loss {got_loss}, expected the mean loss over the whole batch {want_loss}"
        )


@pytest.mark.task("accumulate_step")
def test_adam_steps_equal_big_batch_steps(submission):
    reference_model = _model(2, torch.float64)
    model = copy.deepcopy(reference_model)
    loss_fn = nn.MSELoss()
    reference_optimizer = torch.optim.Adam(reference_model.parameters(), lr=0.01)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step, sizes in enumerate([[5, 3, 1], [2, 7], [4, 4, 4]]):
        x, y = _regression_data(10 + step, sum(sizes), torch.float64)
        _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
        submission.accumulate_step(model, loss_fn, optimizer, _split(x, y, sizes))
        _assert_same_params(
            model,
            reference_model,
            f"Adam, after step {step + 1} (micro-batch sizes {sizes}): "
            f"the parameters differ from big-batch steps ({ACCUMULATION_HINT})",
        )


@pytest.mark.task("accumulate_step")
def test_classification_with_momentum(submission):
    torch.manual_seed(3)
    reference_model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4))
    model = copy.deepcopy(reference_model)
    loss_fn = nn.CrossEntropyLoss()
    reference_optimizer = torch.optim.SGD(reference_model.parameters(), lr=0.05, momentum=0.9)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(4)
    for step in range(3):
        x, y = torch.randn(11, 5, generator=g), torch.randint(0, 4, (11,), generator=g)
        _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
        submission.accumulate_step(model, loss_fn, optimizer, _split(x, y, [4, 4, 3]))
        _assert_same_params(
            model,
            reference_model,
            f"SGD with momentum and cross-entropy, after step {step + 1}: "
            f"the parameters differ from big-batch steps ({ACCUMULATION_HINT})",
        )


@pytest.mark.task("accumulate_step")
def test_stale_gradients_do_not_leak_in(submission):
    reference_model = _model(5, torch.float64)
    model = copy.deepcopy(reference_model)
    x, y = _regression_data(6, 9, torch.float64)
    loss_fn = nn.MSELoss()
    # Leftovers from earlier work, e.g. an evaluation pass that called backward.
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    _big_batch_step(reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1), x, y)
    submission.accumulate_step(
        model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), _split(x, y, [4, 5])
    )
    _assert_same_params(
        model,
        reference_model,
        "gradients already in .grad before the call leaked into the "
        "step: zero the gradients once, before the first micro-batch",
    )


@pytest.mark.task("accumulate_step")
def test_two_calls_in_a_row(submission):
    reference_model = _model(7, torch.float64)
    model = copy.deepcopy(reference_model)
    loss_fn = nn.MSELoss()
    reference_optimizer = torch.optim.SGD(reference_model.parameters(), lr=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for call, sizes in enumerate([[3, 2], [1, 1, 4]]):
        x, y = _regression_data(20 + call, sum(sizes), torch.float64)
        _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
        submission.accumulate_step(model, loss_fn, optimizer, _split(x, y, sizes))
        _assert_same_grads(
            model,
            reference_model,
            f"call {call + 1}: on return .grad must hold this batch's "
            "accumulated gradient, and nothing from the previous call",
        )
        _assert_same_params(
            model,
            reference_model,
            f"after call {call + 1}: the parameters differ from "
            "big-batch steps; do gradients from the previous call leak in?",
        )


@pytest.mark.task("accumulate_step")
def test_single_micro_batch_is_a_plain_step(submission):
    reference_model = _model(8, torch.float32)
    model = copy.deepcopy(reference_model)
    x, y = _regression_data(9, 6, torch.float32)
    loss_fn = nn.MSELoss()
    want = _big_batch_step(
        reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1), x, y
    )
    got = submission.accumulate_step(model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), [(x, y)])
    _assert_same_params(
        model, reference_model, "with a single micro-batch, accumulate_step is an ordinary step"
    )
    assert got == pytest.approx(want, rel=1e-5), f"returned loss {got}, expected {want}"


@pytest.mark.task("accumulate_step")
def test_leaves_model_mode_alone(submission):
    for training in (False, True):
        model = _model(11, torch.float32)
        model.train(training)
        x, y = _regression_data(12, 4, torch.float32)
        submission.accumulate_step(
            model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), _split(x, y, [2, 2])
        )
        assert model.training is training, (
            f"the model was in {'train' if training else 'eval'} mode and accumulate_step changed it; "
            "leave the mode to the caller"
        )


# ------------------------------------------------------------------------------------------- clip_grad_norm

NORM_TYPES = [1.0, 2.0, 3.0, math.inf]


def _params_with_grads(seed: int, shapes, dtype: torch.dtype, scale: float):
    g = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True)
        p.grad = torch.randn(shape, generator=g, dtype=dtype) * scale
        params.append(p)
    return params


def _clones(params):
    copies = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        q.grad = None if p.grad is None else p.grad.clone()
        copies.append(q)
    return copies


SHAPES = [[(3, 4), (4,), (2, 2, 3)], [(1,)], [(17,), (5, 1), ()]]


@pytest.mark.task("clip_grad_norm")
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=["l1", "l2", "l3", "inf"])
def test_clip_matches_pytorch(submission, norm_type):
    for seed, shapes in enumerate(SHAPES):
        for dtype in (torch.float32, torch.float64):
            # max_norm far below the norm (clips), around it, and far above it (leaves the gradients alone).
            for max_norm in (0.05, 1.0, 1e4):
                params = _params_with_grads(seed, shapes, dtype, scale=0.7)
                expected = _clones(params)
                want_total = torch.nn.utils.clip_grad_norm_(expected, max_norm, norm_type)
                got_total = submission.clip_grad_norm(params, max_norm, norm_type)
                what = (
                    f"clip_grad_norm(max_norm={max_norm}, norm_type={norm_type}) on {dtype} shapes {shapes}"
                )
                assert isinstance(got_total, torch.Tensor), f"{what}: return the total norm as a tensor"
                torch.testing.assert_close(
                    got_total,
                    want_total,
                    msg=lambda m, what=what: (
                        f"{what}: the returned total norm (before clipping) differs.\n{m}"
                    ),
                )
                for i, (p, q) in enumerate(zip(params, expected, strict=True)):
                    torch.testing.assert_close(
                        p.grad,
                        q.grad,
                        msg=lambda m, what=what, i=i: (
                            f"{what}: gradient {i} after clipping differs; the "
                            f"coefficient is min(max_norm / (total + 1e-6), 1).\n{m}"
                        ),
                    )


@pytest.mark.task("clip_grad_norm")
def test_clip_never_scales_up(submission):
    params = _params_with_grads(30, [(4, 3), (3,)], torch.float64, scale=0.01)
    before = [p.grad.clone() for p in params]
    submission.clip_grad_norm(params, max_norm=100.0)
    for p, old in zip(params, before, strict=True):
        torch.testing.assert_close(
            p.grad,
            old,
            msg=lambda m: (
                "the total norm is far below max_norm, so the gradients must stay as they "
                f"are: clamp the coefficient to at most 1.\n{m}"
            ),
        )


@pytest.mark.task("clip_grad_norm")
def test_clip_accepts_a_generator(submission):
    model = _model(31, torch.float32)
    x, y = _regression_data(32, 8, torch.float32)
    nn.MSELoss()(model(x), y).backward()
    expected = _clones(list(model.parameters()))
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.01)
    got_total = submission.clip_grad_norm(model.parameters(), 0.01)  # a generator: it can be read only once
    torch.testing.assert_close(
        got_total, want_total, msg=lambda m: f"total norm from model.parameters().\n{m}"
    )
    for (name, p), q in zip(model.named_parameters(), expected, strict=True):
        torch.testing.assert_close(
            p.grad,
            q.grad,
            msg=lambda m, name=name: (
                f"{name!r} was not clipped when parameters came as the generator model.parameters(): "
                f"did the code iterate it twice (the second pass is empty)?\n{m}"
            ),
        )


@pytest.mark.task("clip_grad_norm")
def test_clip_accepts_a_single_tensor(submission):
    (param,) = _params_with_grads(33, [(6, 2)], torch.float32, scale=2.0)
    (expected,) = _clones([param])
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.5)
    got_total = submission.clip_grad_norm(param, 0.5)
    torch.testing.assert_close(got_total, want_total, msg=lambda m: f"total norm of a single tensor.\n{m}")
    torch.testing.assert_close(param.grad, expected.grad, msg=lambda m: f"clipping a single tensor.\n{m}")


@pytest.mark.task("clip_grad_norm")
def test_clip_skips_parameters_without_grad(submission):
    params = _params_with_grads(34, [(3, 3), (5,), (2,)], torch.float32, scale=1.0)
    params[1].grad = None  # e.g. a frozen or unused parameter
    expected = _clones(params)
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.3)
    got_total = submission.clip_grad_norm(params, 0.3)
    torch.testing.assert_close(got_total, want_total, msg=lambda m: f"total norm with one .grad None.\n{m}")
    assert params[1].grad is None, "a parameter whose .grad was None must keep .grad None"
    for i in (0, 2):
        torch.testing.assert_close(params[i].grad, expected[i].grad, msg=lambda m: f"clipped gradient.\n{m}")


@pytest.mark.task("clip_grad_norm")
def test_clip_without_any_grad(submission):
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    total = submission.clip_grad_norm(params, 1.0)
    assert isinstance(total, torch.Tensor) and float(total) == 0.0, (
        f"with no gradients at all, return torch.tensor(0.0); got {total!r}"
    )
    assert all(p.grad is None for p in params), "no parameter had a gradient; none should get one"
