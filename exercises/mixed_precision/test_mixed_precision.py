"""Grading tests for mixed_precision: autocast dtypes, float32 loss, GradScaler skips and scale, clipping."""

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

INIT_SCALE = 2.0**16

LOSS = "loss_value is the unscaled float32 loss as a Python float (loss.item())"
SKIPPED = ("skipped is a Python bool, True exactly when scaler.step skipped the optimizer step (the scale is lower "
           "after update() than before step)")


def _model(seed: int, device: str = "cpu") -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).to(device)


def _batch(seed: int, n: int = 8, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g).to(device), torch.randint(0, 4, (n,), generator=g).to(device)


def _scaler(device: str = "cpu", **kwargs) -> torch.amp.GradScaler:
    kwargs.setdefault("init_scale", INIT_SCALE)
    return torch.amp.GradScaler(device, **kwargs)


class RecordingSGD(torch.optim.SGD):
    """SGD that records, each time its step() really runs, the 2-norm of all gradients it steps with."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_norms: list[float] = []

    def step(self, closure=None):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.grad_norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return super().step(closure)


def _run(impl, model, batch, optimizer, scaler, max_norm=None, loss_fn=None, device="cpu"):
    """train_step's (loss_value, skipped); anything else it returns comes back as (it, None)."""
    result = impl.train_step(
        model, batch, loss_fn or nn.functional.cross_entropy, optimizer, scaler, device, max_norm=max_norm
    )
    if isinstance(result, tuple) and len(result) == 2:
        return result
    return result, None


def _observe_step(what: str, result, skipped: bool | None = None, skipped_explain: str = SKIPPED) -> None:
    loss, got_skipped = result
    observe(f"loss_value returned by {what}", loss, rtol=1e-4, explain=LOSS)
    observe(f"skipped returned by {what}", got_skipped, expect=skipped, explain=skipped_explain)


def _params(model: nn.Module) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# -------------------------------------------------------------------------------------------- autocast_dtype


@pytest.mark.task("autocast_dtype")
def test_autocast_dtype(impl):
    observe('autocast_dtype("cpu")', impl.autocast_dtype("cpu"), expect=torch.bfloat16,
            explain="autocast on CPU uses torch.bfloat16")
    observe('autocast_dtype("cuda")', impl.autocast_dtype("cuda"), expect=torch.float16,
            explain="autocast on CUDA uses torch.float16")
    with expect_raises('autocast_dtype("tpu")', ValueError, explain="any other device type raises ValueError"):
        impl.autocast_dtype("tpu")


# ------------------------------------------------------------------------------------------------ train_step


class _SpyScaler(torch.amp.GradScaler):
    """A real CPU GradScaler that records the calls train_step makes on it."""

    def __init__(self, events: list[str]) -> None:
        super().__init__("cpu", init_scale=INIT_SCALE)
        self.events = events
        self.stepping = False

    def scale(self, outputs):
        self.events.append("scaler.scale")
        return super().scale(outputs)

    def unscale_(self, optimizer):
        if not self.stepping:  # scaler.step() calls unscale_ itself; only the caller's own calls are recorded
            self.events.append("scaler.unscale_")
        return super().unscale_(optimizer)

    def step(self, optimizer, *args, **kwargs):
        self.events.append("scaler.step")
        self.stepping = True
        try:
            return super().step(optimizer, *args, **kwargs)
        finally:
            self.stepping = False

    def update(self, new_scale=None):
        self.events.append("scaler.update")
        # A real update() with no scaler.step() before it raises; the spy only records the call, so that the
        # order of the calls can still be reported.
        if "scaler.step" in self.events:
            super().update(new_scale)


class _SpySGD(torch.optim.SGD):
    def __init__(self, params, scaler: _SpyScaler, events: list[str]) -> None:
        super().__init__(params, lr=0.1)
        self.scaler, self.events = scaler, events

    def step(self, closure=None):
        self.events.append("optimizer.step (inside scaler.step)" if self.scaler.stepping
                           else "optimizer.step (called directly)")
        return super().step(closure)


@pytest.mark.task("train_step")
def test_scaler_calls_in_order(impl):
    events: list[str] = []
    model = _model(14)
    scaler = _SpyScaler(events)
    _run(impl, model, _batch(34), _SpySGD(model.parameters(), scaler, events), scaler)
    observe("number of scaler.update() calls in one train_step", events.count("scaler.update"), expect=1,
            explain="call scaler.update() once per train_step, after scaler.step(optimizer): it backs the scale off "
                    "after a skipped step and grows it after enough good ones")
    observe("the GradScaler and optimizer calls of one train_step without max_norm, in order", " -> ".join(events),
            expect="scaler.scale -> scaler.step -> optimizer.step (inside scaler.step) -> scaler.update",
            explain="scaler.scale(loss).backward(), then scaler.step(optimizer), which unscales the gradients and "
                    "calls optimizer.step() itself (or skips it when a gradient is inf or NaN), then scaler.update() "
                    "once; never call optimizer.step() yourself")


@pytest.mark.task("train_step")
def test_forward_runs_under_autocast(impl):
    model = _model(0)
    seen = []
    model[0].register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _run(impl, model, _batch(1), optimizer, _scaler())
    observe("dtype of the first nn.Linear's output in each forward pass of one CPU train_step", seen,
            expect=[torch.bfloat16],
            explain="one forward pass, run inside torch.autocast('cpu', dtype=torch.bfloat16), where nn.Linear "
                    "produces bfloat16")
    observe("parameter dtypes after the step", [p.dtype for p in model.parameters()], expect=[torch.float32] * 4,
            explain="the parameters stay float32 (autocast casts on the fly; never call model.half() or "
                    ".bfloat16())")


@pytest.mark.task("train_step")
def test_loss_is_computed_in_float32_outside_autocast(impl):
    calls = []

    def loss_fn(outputs, targets):
        calls.append((outputs.dtype, torch.is_autocast_enabled("cpu")))
        return nn.functional.cross_entropy(outputs, targets)

    model = _model(2)
    _run(impl, model, _batch(3), torch.optim.SGD(model.parameters(), lr=0.1), _scaler(), loss_fn=loss_fn)
    observe("number of loss_fn calls in one train_step", len(calls), expect=1,
            explain="loss_fn is called once per step")
    observe("dtype of the outputs loss_fn received", [dtype for dtype, _ in calls], expect=[torch.float32],
            explain="cast the outputs with outputs.float() so the loss is computed in float32")
    observe("autocast enabled while loss_fn ran", [on for _, on in calls], expect=[False],
            explain="only the forward pass runs under autocast: compute the loss after leaving the block")


@pytest.mark.task("train_step")
def test_stale_gradients_do_not_leak_in(impl):
    class LeftoverSGD(torch.optim.SGD):
        """Records, each time its step() runs, .grad minus the gradient this step's backward sent to each
        parameter (seen by a tensor hook before it is added into .grad)."""

        def __init__(self, params) -> None:
            params = list(params)
            super().__init__(params, lr=0.1)
            self.latest: dict[int, torch.Tensor] = {}
            for i, parameter in enumerate(params):
                parameter.register_hook(lambda grad, i=i: self.latest.__setitem__(i, grad.detach().clone()))
            self.leftover: list[list[torch.Tensor | None]] = []

        def step(self, closure=None):
            params = self.param_groups[0]["params"]
            self.leftover.append([None if p.grad is None or i not in self.latest else p.grad - self.latest[i]
                                  for i, p in enumerate(params)])
            return super().step(closure)

    model = _model(11)
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)  # left over from some earlier backward
    # Scale 1, so that leftovers are not hidden by being divided by a large scale along with the gradients,
    # and the gradient the backward pass computes is the very one the step should see.
    optimizer = LeftoverSGD(model.parameters())
    _run(impl, model, _batch(31), optimizer, _scaler(init_scale=1.0))
    observe("at optimizer.step() (scale 1, .grad held leftover 5.0s before train_step): .grad minus the gradient "
            "this step's backward computed, [step][parameter]", optimizer.leftover,
            explain="the difference must be 0: at the step .grad holds only this step's gradient, so the 5.0s left "
                    "in .grad before the call must be cleared with optimizer.zero_grad() before the backward pass")
    observe("parameters after one SGD step (scale 1) of a model whose .grad held leftover 5.0s", _params(model),
            explain="one step with this batch's gradient only")


@pytest.mark.task("train_step")
def test_no_clipping_without_max_norm(impl):
    model = _model(9)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    _run(impl, model, _batch(30), optimizer, _scaler())
    observe("2-norm of the gradients each optimizer.step() ran with (one step, no max_norm, scale 65536)",
            optimizer.grad_norms, rtol=1e-4,
            explain="optimizer.step() runs once, with the true (unscaled) gradients: backward on "
                    "scaler.scale(loss), then scaler.step(optimizer), which unscales them (never optimizer.step())")
    observe("parameters after one step without clipping", _params(model),
            explain="one mixed-precision SGD step with the true gradients")


@pytest.mark.task("train_step")
def test_clipping_sees_unscaled_gradients(impl):
    max_norm = 0.05  # well below the gradient norm of this model, so clipping is active
    model = _model(8)
    optimizer = RecordingSGD(model.parameters(), lr=0.1)
    scaler = _scaler()
    for step in range(3):
        _run(impl, model, _batch(20 + step), optimizer, scaler, max_norm=max_norm)
        observe(f"number of optimizer.step() runs after {step + 1} good steps", len(optimizer.grad_norms),
                expect=step + 1, explain="every step with finite gradients runs optimizer.step() once")
        observe(f"2-norm of the gradients optimizer.step() ran with at step {step + 1} (max_norm={max_norm})",
                optimizer.grad_norms[-1] if optimizer.grad_norms else None, expect=max_norm, rtol=1e-3,
                explain="clipping works on the true gradients, so the optimizer steps with norm max_norm: unscale "
                        "them exactly once, with scaler.unscale_(optimizer) BEFORE clip_grad_norm_ (scaler.step "
                        "then does not unscale again)")
        observe(f"parameters after step {step + 1} with max_norm={max_norm}", _params(model),
                explain="unscale, clip to max_norm, then scaler.step(optimizer)")


@pytest.mark.task("train_step")
def test_steps_match_reference(impl):
    # growth_interval=2 doubles the scale after every two good steps: the scaler must be updated each step.
    model = _model(4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = _scaler(growth_interval=2)
    for step in range(5):
        result = _run(impl, model, _batch(10 + step), optimizer, scaler)
        _observe_step(f"step {step + 1} (finite gradients)", result, skipped=False,
                      skipped_explain="a step with finite gradients is not skipped: " + SKIPPED)
        observe(f"parameters after step {step + 1} of SGD with momentum", _params(model),
                explain="each step: zero_grad, forward under autocast, float32 loss, scaler.scale(loss).backward(), "
                        "scaler.step(optimizer), scaler.update()")
        observe(f"scaler.get_scale() after step {step + 1} (growth_interval=2)", scaler.get_scale(),
                explain="call scaler.update() once after every scaler.step(optimizer): with growth_interval=2 the "
                        "scale doubles after every two good steps")


def _poison_gradient(model: nn.Module, value: float):
    # Turns the first layer's weight gradient non-finite during backward, as a float16 overflow would.
    return model[0].weight.register_hook(lambda grad: torch.full_like(grad, value))


@pytest.mark.task("train_step")
@pytest.mark.parametrize("bad", [float("inf"), float("nan")], ids=["inf", "nan"])
@pytest.mark.parametrize("max_norm", [None, 1.0], ids=["no-clip", "clip"])
def test_non_finite_gradient_skips_the_step(impl, bad, max_norm):
    model = _model(5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scaler = _scaler()
    handle = _poison_gradient(model, bad)
    result = _run(impl, model, _batch(6), optimizer, scaler, max_norm=max_norm)
    handle.remove()
    observe(f"parameters after a step whose gradient was {bad} (max_norm={max_norm})", _params(model),
            expect=_params(_model(5)),
            explain="a step with a non-finite gradient is skipped and leaves the parameters unchanged: "
                    "scaler.step(optimizer) does that, optimizer.step() does not")
    _observe_step(f"a step whose gradient was {bad} (the loss itself was finite)", result, skipped=True,
                  skipped_explain="the scaler skipped this step, so skipped is True; the loss was finite, so look "
                                  "at the scale (lower after update() than before step), not at the loss")
    observe(f"scaler.get_scale() after the step whose gradient was {bad}", scaler.get_scale(),
            expect=INIT_SCALE * 0.5,
            explain=f"after a skipped step scaler.update() backs the scale off from {INIT_SCALE:g} to "
                    f"{INIT_SCALE * 0.5:g}: call it after scaler.step(optimizer)")
    # The next, healthy step goes through.
    result = _run(impl, model, _batch(7), optimizer, scaler, max_norm=max_norm)
    _observe_step("the healthy step right after a skipped one", result, skipped=False,
                  skipped_explain="a step with finite gradients right after a skipped one is not skipped")
    observe("parameters after the healthy step right after a skipped one", _params(model),
            explain="the step after a skipped one had finite gradients and goes through")


@pytest.mark.task("train_step")
def test_disabled_scaler_is_a_plain_autocast_step(impl):
    model = _model(12)
    result = _run(impl, model, _batch(32), torch.optim.SGD(model.parameters(), lr=0.1),
                  torch.amp.GradScaler("cpu", enabled=False), max_norm=0.5)
    _observe_step("a step with a disabled GradScaler and max_norm=0.5", result, skipped=False,
                  skipped_explain="with a disabled GradScaler no step is ever skipped")
    observe("parameters after a step with a disabled GradScaler and max_norm=0.5", _params(model),
            explain="a disabled scaler leaves a plain autocast step, clipped to max_norm")


@pytest.mark.task("train_step")
@pytest.mark.cuda
def test_cuda_float16_step(impl):
    model = _model(13, "cuda")
    seen = []
    model[0].register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    batch = _batch(33, device="cuda")
    scaler = _scaler("cuda")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    result = _run(impl, model, batch, optimizer, scaler, max_norm=1.0, device="cuda")
    observe("dtype of the first nn.Linear's output in each forward pass on CUDA", seen, expect=[torch.float16],
            explain="on CUDA the forward pass runs under torch.autocast('cuda', dtype=torch.float16)")
    _observe_step("a CUDA float16 step with max_norm=1.0", result, skipped=False)
    observe("parameters after a CUDA float16 step with max_norm=1.0", _params(model), rtol=1e-4, atol=1e-5,
            explain="one mixed-precision step on CUDA: unscale, clip, scaler.step(optimizer), scaler.update()")
    # A forced overflow on CUDA: skipped, unchanged, scale halved.
    before = _params(model)
    handle = _poison_gradient(model, float("inf"))
    result = _run(impl, model, batch, optimizer, scaler, device="cuda")
    handle.remove()
    _observe_step("a CUDA step whose gradient was inf", result, skipped=True)
    observe("parameters after a CUDA step whose gradient was inf", _params(model), expect=before, exact=True,
            explain="a skipped CUDA step leaves the parameters unchanged")
    observe("scaler.get_scale() after the skipped CUDA step", scaler.get_scale(), expect=INIT_SCALE * 0.5,
            explain="the scale backs off after a skipped step: scaler.update() after scaler.step(optimizer)")
