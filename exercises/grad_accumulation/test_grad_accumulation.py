"""Grading tests for grad_accumulation. Each test observes; the judge compares with the reference's run.

accumulate_step: the tests that isolate one rule each come first, so that a submission with one mistake is
told about that mistake before any overall comparison fails. Every one of them starts by counting the
optimizer steps, then looks at the gradient the step saw, on micro-batches built so that only one rule can
change it:

- a "quiet" micro-batch has targets equal to the model's own outputs, so its MSE gradient is exactly zero;
- with only the LAST micro-batch active, the gradient at the step shows how that micro-batch's loss was
  scaled (nothing earlier can be lost or leak in);
- with only the FIRST micro-batch active (and the scaling already seen right), it shows whether the first
  gradient survived until the step;
- with every micro-batch quiet and leftovers in .grad, the step must see zeros: anything else leaked in.

Only then come the comparisons with one step on the whole batch (SGD, Adam, momentum, cross-entropy).
"""

import copy
import math

import pytest
import torch
from torch import nn

from quiz.grading.scenario import observe


def _model(seed: int, dtype: torch.dtype, n_in: int = 4, n_out: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, 8), nn.Tanh(), nn.Linear(8, n_out)).to(dtype)


def _regression_data(seed: int, n: int, dtype: torch.dtype):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=dtype), torch.randn(n, 3, generator=g, dtype=dtype)


def _split(x: torch.Tensor, y: torch.Tensor, sizes: list[int]):
    return list(zip(x.split(sizes), y.split(sizes), strict=True))


def _micro_batches(model: nn.Module, seed: int, sizes: list[int], active, dtype=torch.float64):
    """Micro-batches of ``sizes``; those whose index is not in ``active`` are quiet (zero MSE gradient)."""
    x, y = _regression_data(seed, sum(sizes), dtype)
    batches = []
    for index, (inputs, targets) in enumerate(_split(x, y, sizes)):
        if index not in active:
            with torch.no_grad():
                targets = model(inputs).detach().clone()
        batches.append((inputs, targets))
    return batches


def _big_batch_step(model, loss_fn, optimizer, x, y) -> float:
    """What accumulate_step must be equivalent to: one ordinary step on the whole batch."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _recording(base: type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    class Recording(base):
        """An optimizer that records, at each step() call, the .grad of every parameter it updates."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.seen: list[list[torch.Tensor | None]] = []

        def step(self, closure=None):
            self.seen.append([None if p.grad is None else p.grad.detach().clone()
                              for group in self.param_groups for p in group["params"]])
            return super().step(closure)

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


RecordingSGD = _recording(torch.optim.SGD)
RecordingAdam = _recording(torch.optim.Adam)


def _grads(model: nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _observe_step_count(optimizer, what: str) -> None:
    observe(f"number of optimizer.step() calls in one accumulate_step, {what}", len(optimizer.seen),
            explain="call optimizer.step() exactly once, after the last micro-batch's backward, "
                    "not once per micro-batch")


SCALE_EXPLAIN = (
    "only the last micro-batch has a nonzero gradient here, so the step must see (its size / total size) "
    "times the gradient of its mean loss: scale each micro-batch's mean loss by size / total_size before its "
    "backward"
)
STEP_GRADIENT = "the gradient optimizer.step() saw in accumulate_step"
INDEX = ", [step][parameter]"
BIG_BATCH = (
    "one accumulate_step must equal one ordinary step on the whole batch: the gradients of the mean loss over "
    "all micro-batches together (each micro-batch's mean loss weighted by size / total size), .grad zeroed "
    "once before the first micro-batch, and one optimizer.step() after the last"
)


def _mean_loss_gradient(model: nn.Module, loss_fn, batch) -> list[torch.Tensor]:
    """The gradient of one micro-batch's mean loss, taken on a copy of ``model`` (the model itself is untouched)."""
    twin = copy.deepcopy(model)
    inputs, targets = batch
    loss_fn(twin(inputs), targets).backward()
    return [p.grad.detach().clone() for p in twin.parameters()]


def _share(seen: list[list[torch.Tensor | None]], gradient: list[torch.Tensor]) -> float:
    """How many times ``gradient`` the first step's .grad holds (its projection on ``gradient``; None as 0)."""
    first = (seen + [[None] * len(gradient)])[0]
    pairs = zip(gradient, first, strict=False)
    along = sum(float((g * (torch.zeros_like(g) if s is None else s)).sum()) for g, s in pairs)
    return along / sum(float((g * g).sum()) for g in gradient)


def _one_active(impl, sizes: list[int], seed: int, model_seed: int, active: int):
    """accumulate_step on micro-batches where only ``active`` has a nonzero gradient; returns the recording
    optimizer and how many times that micro-batch's mean-loss gradient the step saw."""
    model = _model(model_seed, torch.float64)
    micro = _micro_batches(model, seed, sizes, active={active})
    gradient = _mean_loss_gradient(model, nn.MSELoss(), micro[active])
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    impl.accumulate_step(model, nn.MSELoss(), optimizer, micro)
    return optimizer, _share(optimizer.seen, gradient)


def _only_last_active(impl, sizes: list[int], seed: int):
    return _one_active(impl, sizes, seed + 100, seed, len(sizes) - 1)


def _observe_last_share(share: float, sizes: list[int]) -> None:
    size, total = sizes[-1], sum(sizes)
    observe(f"accumulate_step: the step's gradient as a multiple of the last micro-batch's mean-loss gradient "
            f"(micro-batch sizes {sizes}, only the last one with a nonzero gradient)", share, expect=size / total,
            explain=f"scale each micro-batch's mean loss by its size / total size before its backward(): here "
                    f"{size} / {total} = {size / total:.4g} (1 would be the mean loss not scaled at all"
                    + (f", {1 / len(sizes):.4g} the loss divided by the number of micro-batches, right only when "
                       "all sizes are equal)" if size * len(sizes) != total else ")"))


# ------------------------------------------------------------------------------------------ accumulate_step


@pytest.mark.task("accumulate_step")
@pytest.mark.parametrize("sizes", [[3, 5, 2], [4, 4, 4, 1]])
def test_accumulate_steps_once(impl, sizes):
    model = _model(40, torch.float64)
    x, y = _regression_data(41, sum(sizes), torch.float64)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    impl.accumulate_step(model, nn.MSELoss(), optimizer, _split(x, y, sizes))
    _observe_step_count(optimizer, f"micro-batch sizes {sizes}")


@pytest.mark.task("accumulate_step")
def test_accumulate_scales_each_micro_batch_loss(impl):
    # Equal sizes first: 1 / number of micro-batches is right there, so only a missing or wrong scale shows.
    optimizer, share = _only_last_active(impl, [4, 4, 4], seed=42)
    _observe_step_count(optimizer, "micro-batch sizes [4, 4, 4]")
    _observe_last_share(share, [4, 4, 4])
    observe(f"{STEP_GRADIENT} (micro-batch sizes [4, 4, 4], only the last one with a nonzero gradient){INDEX}",
            optimizer.seen, explain=SCALE_EXPLAIN + " (here 4 / 12)")
    # Then different sizes: the weight is size / total size, no longer 1 / number of micro-batches.
    optimizer, share = _only_last_active(impl, [3, 5, 2], seed=43)
    _observe_step_count(optimizer, "micro-batch sizes [3, 5, 2]")
    _observe_last_share(share, [3, 5, 2])
    observe(f"{STEP_GRADIENT} (micro-batch sizes [3, 5, 2], only the last one with a nonzero gradient){INDEX}",
            optimizer.seen,
            explain="with sizes [3, 5, 2] the last micro-batch's mean loss must be weighted by its size / total "
                    "size = 2 / 10 before its backward()")


@pytest.mark.task("accumulate_step")
def test_accumulate_keeps_every_micro_batch_gradient(impl):
    optimizer, share = _only_last_active(impl, [4, 4, 4], seed=44)
    _observe_step_count(optimizer, "micro-batch sizes [4, 4, 4]")
    _observe_last_share(share, [4, 4, 4])
    observe(f"{STEP_GRADIENT} (micro-batch sizes [4, 4, 4], only the last one with a nonzero gradient){INDEX}",
            optimizer.seen, explain=SCALE_EXPLAIN + " (here 4 / 12)")
    optimizer, share = _one_active(impl, [4, 4, 4], seed=145, model_seed=45, active=0)
    _observe_step_count(optimizer, "micro-batch sizes [4, 4, 4]")
    observe("accumulate_step: the step's gradient as a multiple of the FIRST micro-batch's mean-loss gradient "
            "(micro-batch sizes [4, 4, 4], only the first one with a nonzero gradient)", share, expect=4 / 12,
            explain="the last micro-batch's gradient alone was scaled right, so the first one's must reach the "
                    "step as 4 / 12 = 0.3333 of its mean-loss gradient (0 means none of it was left in .grad when "
                    "optimizer.step() ran): call backward() for every micro-batch, and zero the gradients only "
                    "once, before the loop, since backward() adds into .grad")
    observe(f"{STEP_GRADIENT} (micro-batch sizes [4, 4, 4], only the FIRST one with a nonzero gradient){INDEX}",
            optimizer.seen,
            explain="the first micro-batch's gradient, scaled by 4 / 12, must still be in .grad when "
                    "optimizer.step() runs")


@pytest.mark.task("accumulate_step")
def test_stale_gradients_do_not_leak_in(impl):
    # Leftovers from earlier work (e.g. an evaluation pass that called backward), and only quiet micro-batches:
    # the step must see zeros, whatever the scaling.
    model = _model(5, torch.float64)
    micro = _micro_batches(model, 6, [4, 5], active=set())
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    impl.accumulate_step(model, nn.MSELoss(), optimizer, micro)
    _observe_step_count(optimizer, "micro-batch sizes [4, 5]")
    observe(f"{STEP_GRADIENT} (.grad full of 3.0 before the call, every micro-batch with a zero gradient){INDEX}",
            optimizer.seen,
            explain="the micro-batches' gradients are all zero here, so the step must see zeros: the 3.0 left in "
                    ".grad before the call leaked into the step; zero the gradients once, before the first "
                    "micro-batch")

    # The old end-to-end check: leftovers, real micro-batches, the weights after the step.
    reference_model = _model(5, torch.float64)
    model = copy.deepcopy(reference_model)
    x, y = _regression_data(6, 9, torch.float64)
    loss_fn = nn.MSELoss()
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    _big_batch_step(reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1), x, y)
    impl.accumulate_step(model, loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), _split(x, y, [4, 5]))
    observe("parameters after one accumulate_step (sizes [4, 5]) that started with .grad full of 3.0",
            _params(model), expect=_params(reference_model), explain=BIG_BATCH)


@pytest.mark.task("accumulate_step")
def test_two_calls_in_a_row(impl):
    reference_model = _model(7, torch.float64)
    model = copy.deepcopy(reference_model)
    loss_fn = nn.MSELoss()
    reference_optimizer = torch.optim.SGD(reference_model.parameters(), lr=0.1)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)

    # Call 1: an ordinary batch.
    x, y = _regression_data(20, 5, torch.float64)
    _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
    impl.accumulate_step(model, loss_fn, optimizer, _split(x, y, [3, 2]))
    _observe_step_count(optimizer, "call 1, micro-batch sizes [3, 2]")
    observe(f"call 1: {STEP_GRADIENT}{INDEX}", optimizer.seen, expect=[_grads(reference_model)], explain=BIG_BATCH)
    observe("call 1: .grad when accumulate_step returns, [parameter]", _grads(model), expect=_grads(reference_model),
            explain="the step saw the right gradient; on return each .grad must still hold it (do not zero "
                    "the gradients after the step)")

    # Call 2: every micro-batch quiet (targets are the model's own outputs, taken from wherever call 1 left
    # it): its step must see zeros, so nothing from call 1 may still be in .grad.
    micro = _micro_batches(model, 21, [2, 3], active=set())
    optimizer.seen = []
    impl.accumulate_step(model, loss_fn, optimizer, micro)
    _observe_step_count(optimizer, "call 2, micro-batch sizes [2, 3]")
    observe(f"call 2: {STEP_GRADIENT} (every micro-batch with a zero gradient){INDEX}", optimizer.seen,
            explain="call 2's micro-batches all have a zero gradient, so its step must see zeros: the gradient "
                    "call 1 left in .grad leaked in; zero the gradients at the start of every call")

    # Call 3: an ordinary batch again (call 2's step changed nothing: plain SGD, zero gradients).
    x, y = _regression_data(22, 6, torch.float64)
    _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
    optimizer.seen = []
    impl.accumulate_step(model, loss_fn, optimizer, _split(x, y, [1, 1, 4]))
    _observe_step_count(optimizer, "call 3, micro-batch sizes [1, 1, 4]")
    observe(f"call 3: {STEP_GRADIENT}{INDEX}", optimizer.seen, expect=[_grads(reference_model)], explain=BIG_BATCH)
    observe("call 3: .grad when accumulate_step returns, [parameter]", _grads(model), expect=_grads(reference_model),
            explain="on return each .grad must still hold the gradient of this call's batch")
    observe("parameters after the 3 calls", _params(model), expect=_params(reference_model), explain=BIG_BATCH)


@pytest.mark.task("accumulate_step")
@pytest.mark.parametrize("sizes", [[3, 5, 2], [4, 4, 4, 1], [1, 6]])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_sgd_step_equals_big_batch(impl, sizes, dtype):
    reference_model = _model(0, dtype)
    model = copy.deepcopy(reference_model)
    x, y = _regression_data(1, sum(sizes), dtype)
    loss_fn = nn.MSELoss()
    want_loss = _big_batch_step(reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1),
                                x, y)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    got_loss = impl.accumulate_step(model, loss_fn, optimizer, _split(x, y, sizes))
    what = f"SGD, micro-batch sizes {sizes}, {dtype}"
    _observe_step_count(optimizer, what)
    observe(f"{what}: {STEP_GRADIENT}{INDEX}", optimizer.seen, expect=[_grads(reference_model)], explain=BIG_BATCH)
    observe(f"{what}: .grad when accumulate_step returns, [parameter]", _grads(model), expect=_grads(reference_model),
            explain="on return each .grad must still hold the accumulated gradient used for the step")
    observe(f"{what}: parameters after the step", _params(model), expect=_params(reference_model),
            explain=BIG_BATCH)
    observe(f"{what}: the loss accumulate_step returned", got_loss, expect=want_loss, rtol=1e-5,
            explain="return the mean loss over the whole batch (the size-weighted mean of the micro-batch mean "
                    "losses, before the step) as a Python float")


@pytest.mark.task("accumulate_step")
def test_adam_steps_equal_big_batch_steps(impl):
    reference_model = _model(2, torch.float64)
    model = copy.deepcopy(reference_model)
    loss_fn = nn.MSELoss()
    reference_optimizer = torch.optim.Adam(reference_model.parameters(), lr=0.01)
    optimizer = RecordingAdam(model.parameters(), lr=0.01)
    for step, sizes in enumerate([[5, 3, 1], [2, 7], [4, 4, 4]]):
        x, y = _regression_data(10 + step, sum(sizes), torch.float64)
        _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
        optimizer.seen = []
        impl.accumulate_step(model, loss_fn, optimizer, _split(x, y, sizes))
        what = f"Adam, call {step + 1} (micro-batch sizes {sizes})"
        _observe_step_count(optimizer, what)
        observe(f"{what}: {STEP_GRADIENT}{INDEX}", optimizer.seen, expect=[_grads(reference_model)], explain=BIG_BATCH)
        observe(f"{what}: parameters after the step", _params(model), expect=_params(reference_model),
                explain=BIG_BATCH)


@pytest.mark.task("accumulate_step")
def test_classification_with_momentum(impl):
    torch.manual_seed(3)
    reference_model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4))
    model = copy.deepcopy(reference_model)
    loss_fn = nn.CrossEntropyLoss()
    reference_optimizer = torch.optim.SGD(reference_model.parameters(), lr=0.05, momentum=0.9)
    optimizer = RecordingSGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(4)
    for step in range(3):
        x, y = torch.randn(11, 5, generator=g), torch.randint(0, 4, (11,), generator=g)
        _big_batch_step(reference_model, loss_fn, reference_optimizer, x, y)
        optimizer.seen = []
        impl.accumulate_step(model, loss_fn, optimizer, _split(x, y, [4, 4, 3]))
        what = f"SGD with momentum and cross-entropy, call {step + 1} (micro-batch sizes [4, 4, 3])"
        _observe_step_count(optimizer, what)
        observe(f"{what}: {STEP_GRADIENT}{INDEX}", optimizer.seen, expect=[_grads(reference_model)], explain=BIG_BATCH)
        observe(f"{what}: parameters after the step", _params(model), expect=_params(reference_model),
                explain=BIG_BATCH)


@pytest.mark.task("accumulate_step")
def test_single_micro_batch_is_a_plain_step(impl):
    reference_model = _model(8, torch.float32)
    model = copy.deepcopy(reference_model)
    x, y = _regression_data(9, 6, torch.float32)
    loss_fn = nn.MSELoss()
    want = _big_batch_step(reference_model, loss_fn, torch.optim.SGD(reference_model.parameters(), lr=0.1), x, y)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    got = impl.accumulate_step(model, loss_fn, optimizer, [(x, y)])
    _observe_step_count(optimizer, "a single micro-batch")
    observe("parameters after accumulate_step with a single micro-batch", _params(model),
            expect=_params(reference_model), explain="with a single micro-batch, accumulate_step is an ordinary step")
    observe("the loss accumulate_step returned with a single micro-batch", got, expect=want, rtol=1e-5,
            explain="return the mean loss of the batch, before the step, as a Python float")


@pytest.mark.task("accumulate_step")
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_leaves_model_mode_alone(impl, training):
    model = _model(11, torch.float32)
    model.train(training)
    x, y = _regression_data(12, 4, torch.float32)
    impl.accumulate_step(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), _split(x, y, [2, 2]))
    observe(f"model.training after accumulate_step on a model in {'train' if training else 'eval'} mode",
            model.training, explain="leave the train/eval mode to the caller: do not call model.train() or eval()")


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


def _param_grads(params) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in params]


SHAPES = [[(3, 4), (4,), (2, 2, 3)], [(1,)], [(17,), (5, 1), ()]]
TOTAL_EXPLAIN = (
    "return total, the norm_type-norm over all elements of all gradients together (for inf, the largest "
    "absolute value), computed before clipping, as a 0-dim tensor of the gradients' dtype"
)
CLIPPED_EXPLAIN = (
    "every gradient is multiplied in place by the same clip_coef = min(max_norm / (total + 1e-6), 1.0), where "
    "total is the norm of all gradients together (as torch.nn.utils.clip_grad_norm_ does)"
)


@pytest.mark.task("clip_grad_norm")
def test_clip_never_scales_up(impl):
    params = _params_with_grads(30, [(4, 3), (3,)], torch.float64, scale=0.01)
    before = _param_grads(params)
    impl.clip_grad_norm(params, max_norm=100.0)
    observe("gradients after clip_grad_norm(max_norm=100) when their total 2-norm is about 0.03",
            _param_grads(params), expect=before,
            explain="the total norm is far below max_norm, so the gradients must stay as they are: the "
                    "coefficient min(max_norm / (total + 1e-6), 1.0) is clamped to at most 1")


@pytest.mark.task("clip_grad_norm")
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=["l1", "l2", "l3", "inf"])
def test_clip_matches_pytorch(impl, norm_type):
    for seed, shapes in enumerate(SHAPES):
        for dtype in (torch.float32, torch.float64):
            # max_norm far above the norm (leaves the gradients alone), around it, and far below it (clips).
            for max_norm in (1e4, 1.0, 0.05):
                params = _params_with_grads(seed, shapes, dtype, scale=0.7)
                expected = _clones(params)
                want_total = torch.nn.utils.clip_grad_norm_(expected, max_norm, norm_type)
                got_total = impl.clip_grad_norm(params, max_norm, norm_type)
                what = f"clip_grad_norm(max_norm={max_norm}, norm_type={norm_type}) on {dtype} shapes {shapes}"
                observe(f"{what}: the returned total norm", got_total, expect=want_total, explain=TOTAL_EXPLAIN)
                observe(f"{what}: the gradients after clipping", _param_grads(params),
                        expect=_param_grads(expected), explain=CLIPPED_EXPLAIN)


@pytest.mark.task("clip_grad_norm")
def test_clip_accepts_a_generator(impl):
    # First the same gradients given as a list, then as the generator model.parameters().
    listed = _model(31, torch.float32)
    model = _model(31, torch.float32)
    x, y = _regression_data(32, 8, torch.float32)
    nn.MSELoss()(listed(x), y).backward()
    nn.MSELoss()(model(x), y).backward()
    expected = _clones(list(model.parameters()))
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.01)
    got_total = impl.clip_grad_norm(list(listed.parameters()), 0.01)
    observe("total norm from list(model.parameters())", got_total, expect=want_total, explain=TOTAL_EXPLAIN)
    observe("gradients after clip_grad_norm(list(model.parameters()), 0.01)", _param_grads(listed.parameters()),
            expect=_param_grads(expected), explain=CLIPPED_EXPLAIN)
    got_total = impl.clip_grad_norm(model.parameters(), 0.01)  # a generator: it can be read only once
    observe("total norm from the generator model.parameters()", got_total, expect=want_total,
            explain="the same gradients as a list gave the right total; a generator must give it too")
    observe("gradients after clip_grad_norm(model.parameters(), 0.01)", _param_grads(model.parameters()),
            expect=_param_grads(expected),
            explain="the same gradients given as a list were clipped right, but not when they came as the "
                    "generator model.parameters(), which can be read only once: collect the parameters into a "
                    "list first instead of iterating the argument twice")


@pytest.mark.task("clip_grad_norm")
def test_clip_accepts_a_single_tensor(impl):
    (param,) = _params_with_grads(33, [(6, 2)], torch.float32, scale=2.0)
    (expected,) = _clones([param])
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.5)
    got_total = impl.clip_grad_norm(param, 0.5)
    observe("total norm of a single tensor (not in a list)", got_total, expect=want_total,
            explain="parameters may be a single tensor: treat it as a list of one")
    observe("its gradient after clip_grad_norm(tensor, 0.5)", param.grad, expect=expected.grad,
            explain=CLIPPED_EXPLAIN)


@pytest.mark.task("clip_grad_norm")
def test_clip_skips_parameters_without_grad(impl):
    params = _params_with_grads(34, [(3, 3), (5,), (2,)], torch.float32, scale=1.0)
    params[1].grad = None  # e.g. a frozen or unused parameter
    expected = _clones(params)
    want_total = torch.nn.utils.clip_grad_norm_(expected, 0.3)
    got_total = impl.clip_grad_norm(params, 0.3)
    observe("total norm when the second parameter's .grad is None", got_total, expect=want_total,
            explain="parameters whose .grad is None are skipped: " + TOTAL_EXPLAIN)
    observe("the gradients after clipping, [parameter] (the second one had .grad None)", _param_grads(params),
            expect=_param_grads(expected),
            explain="a parameter whose .grad was None keeps .grad None; the others are clipped: " + CLIPPED_EXPLAIN)


@pytest.mark.task("clip_grad_norm")
def test_clip_without_any_grad(impl):
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    total = impl.clip_grad_norm(params, 1.0)
    observe("clip_grad_norm's result when no parameter has a gradient", total, expect=torch.tensor(0.0),
            explain="with no gradients at all, return torch.tensor(0.0)")
    observe("the .grad of each parameter afterwards", _param_grads(params), expect=[None, None],
            explain="no parameter had a gradient; none should get one")
