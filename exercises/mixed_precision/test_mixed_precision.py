"""Grading tests for mixed_precision: autocast dtypes, float32 loss, GradScaler skips and scale, clipping."""

import pytest
import torch
from torch import nn

INIT_SCALE = 2.0**16


def _model(seed: int, device: str = "cpu") -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).to(device)


def _batch(seed: int, n: int = 8, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g).to(device), torch.randint(0, 4, (n,), generator=g).to(device)


def _scaler(device: str = "cpu", **kwargs) -> torch.amp.GradScaler:
    kwargs.setdefault("init_scale", INIT_SCALE)
    return torch.amp.GradScaler(device, **kwargs)


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


class RecordingSGD(torch.optim.SGD):
    """SGD that records, each time its step() really runs, the 2-norm of all gradients it steps with."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_norms: list[float] = []

    def step(self, closure=None):
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.grad_norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        return super().step(closure)


def _run(module, model, batch, optimizer, scaler, max_norm=None, loss_fn=None):
    result = module.train_step(
        model, batch, loss_fn or nn.functional.cross_entropy, optimizer, scaler, "cpu", max_norm=max_norm
    )
    assert isinstance(result, tuple) and len(result) == 2, "train_step must return (loss_value, skipped)"
    loss_value, skipped = result
    assert isinstance(loss_value, float), (
        f"loss_value must be a Python float, got {type(loss_value).__name__}"
    )
    assert isinstance(skipped, bool), f"skipped must be a Python bool, got {type(skipped).__name__}"
    return loss_value, skipped


def _assert_params(got, want, what: str) -> None:
    for i, (p, q) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(p, q, msg=lambda m, i=i: f"{what} (parameter {i}).\n{m}")


# -------------------------------------------------------------------------------------------- autocast_dtype


@pytest.mark.task("autocast_dtype")
def test_autocast_dtype(submission):
    assert submission.autocast_dtype("cpu") is torch.bfloat16, "autocast on CPU should use torch.bfloat16"
    assert submission.autocast_dtype("cuda") is torch.float16, "autocast on CUDA should use torch.float16"
    with pytest.raises(ValueError):
        submission.autocast_dtype("tpu")


# ------------------------------------------------------------------------------------------------ train_step


@pytest.mark.task("train_step")
def test_forward_runs_under_autocast(submission):
    model = _model(0)
    seen = []
    model[0].register_forward_hook(lambda module, args, output: seen.append((args[0].dtype, output.dtype)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _run(submission, model, _batch(1), optimizer, _scaler())
    assert seen, "the model's forward pass never ran"
    assert seen[-1][1] == torch.bfloat16, (
        f"the first nn.Linear produced {seen[-1][1]}; under torch.autocast('cpu', dtype=torch.bfloat16) it "
        "produces bfloat16: run the forward pass inside autocast"
    )
    assert all(p.dtype == torch.float32 for p in model.parameters()), (
        "the parameters must stay float32 (autocast casts on the fly; never call model.half() or .bfloat16())"
    )


@pytest.mark.task("train_step")
def test_loss_is_computed_in_float32_outside_autocast(submission):
    calls = []

    def loss_fn(outputs, targets):
        calls.append((outputs.dtype, torch.is_autocast_enabled("cpu")))
        return nn.functional.cross_entropy(outputs, targets)

    model = _model(2)
    _run(
        submission, model, _batch(3), torch.optim.SGD(model.parameters(), lr=0.1), _scaler(), loss_fn=loss_fn
    )
    assert len(calls) == 1, f"loss_fn should be called once per step, it was called {len(calls)} times"
    dtype, autocast_on = calls[0]
    assert dtype == torch.float32, (
        f"loss_fn received {dtype} outputs; cast them with outputs.float() so the loss is computed in float32"
    )
    assert not autocast_on, "loss_fn ran inside the autocast block; compute the loss after leaving it"


@pytest.mark.task("train_step")
def test_steps_match_reference(submission, reference):
    # growth_interval=2 doubles the scale after every two good steps: the scaler must be updated each step.
    sub_model, ref_model = _model(4), _model(4)
    sub_opt = torch.optim.SGD(sub_model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=0.9)
    sub_scaler, ref_scaler = _scaler(growth_interval=2), _scaler(growth_interval=2)
    for step in range(5):
        batch = _batch(10 + step)
        before = _params(sub_model)
        loss, skipped = _run(submission, sub_model, batch, sub_opt, sub_scaler)
        want_loss, _ = _run(reference, ref_model, batch, ref_opt, ref_scaler)
        assert not skipped, f"step {step + 1} had finite gradients but was reported as skipped"
        assert any(not torch.equal(p, q) for p, q in zip(before, _params(sub_model), strict=True)), (
            f"step {step + 1}: the parameters did not change although the gradients were finite"
        )
        assert loss == pytest.approx(want_loss, rel=1e-4), (
            f"step {step + 1}: returned loss {loss}, expected the unscaled float32 loss {want_loss}"
        )
        _assert_params(
            _params(sub_model),
            _params(ref_model),
            f"step {step + 1}: the parameters differ from the expected mixed-precision step; was the loss "
            "scaled before backward, and did scaler.step(optimizer) (not optimizer.step()) take the step?",
        )
        assert sub_scaler.get_scale() == ref_scaler.get_scale(), (
            f"after step {step + 1} the scale is {sub_scaler.get_scale()}, expected "
            f"{ref_scaler.get_scale()}: call scaler.update() once after every scaler.step(optimizer)"
        )


def _poison_gradient(model: nn.Module, value: float):
    # Turns the first layer's weight gradient non-finite during backward, as a float16 overflow would.
    return model[0].weight.register_hook(lambda grad: torch.full_like(grad, value))


@pytest.mark.task("train_step")
@pytest.mark.parametrize("bad", [float("inf"), float("nan")], ids=["inf", "nan"])
@pytest.mark.parametrize("max_norm", [None, 1.0], ids=["no-clip", "clip"])
def test_non_finite_gradient_skips_the_step(submission, bad, max_norm):
    model = _model(5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scaler = _scaler()
    before = _params(model)
    handle = _poison_gradient(model, bad)
    loss, skipped = _run(submission, model, _batch(6), optimizer, scaler, max_norm=max_norm)
    handle.remove()
    _assert_params(
        _params(model),
        before,
        f"a gradient was {bad}: the optimizer step must be skipped and the parameters left unchanged; use "
        "scaler.step(optimizer), never optimizer.step()",
    )
    assert skipped is True, (
        f"a gradient was {bad} and the step was skipped, but train_step returned skipped={skipped}; note the "
        "loss itself was finite, so look at the scale (it drops after a skipped step), not at the loss"
    )
    assert loss == loss and abs(loss) != float("inf"), f"the loss itself was finite, got {loss}"
    assert scaler.get_scale() == INIT_SCALE * 0.5, (
        f"after a skipped step the scale should back off from {INIT_SCALE} to {INIT_SCALE * 0.5}, got "
        f"{scaler.get_scale()}: call scaler.update() after scaler.step(optimizer)"
    )
    # The next, healthy step goes through.
    before = _params(model)
    loss, skipped = _run(submission, model, _batch(7), optimizer, scaler, max_norm=max_norm)
    assert skipped is False, "a step with finite gradients right after a skipped one was reported as skipped"
    assert any(not torch.equal(p, q) for p, q in zip(before, _params(model), strict=True)), (
        "the step after a skipped one had finite gradients, yet the parameters did not change"
    )


@pytest.mark.task("train_step")
def test_clipping_sees_unscaled_gradients(submission, reference):
    max_norm = 0.05  # well below the gradient norm of this model, so clipping is active
    sub_model, ref_model = _model(8), _model(8)
    sub_opt = RecordingSGD(sub_model.parameters(), lr=0.1)
    ref_opt = RecordingSGD(ref_model.parameters(), lr=0.1)
    sub_scaler, ref_scaler = _scaler(), _scaler()
    for step in range(3):
        batch = _batch(20 + step)
        _run(submission, sub_model, batch, sub_opt, sub_scaler, max_norm=max_norm)
        _run(reference, ref_model, batch, ref_opt, ref_scaler, max_norm=max_norm)
        assert len(sub_opt.grad_norms) == step + 1, (
            "optimizer.step() did not run exactly once for a good step"
        )
        norm = sub_opt.grad_norms[-1]
        assert norm == pytest.approx(max_norm, rel=1e-3), (
            f"the gradients the optimizer stepped with have norm {norm:.3g}, expected max_norm={max_norm}: "
            "call scaler.unscale_(optimizer) BEFORE clip_grad_norm_, so the clipping sees true gradients"
        )
        _assert_params(_params(sub_model), _params(ref_model), f"step {step + 1} with max_norm={max_norm}")


@pytest.mark.task("train_step")
def test_no_clipping_without_max_norm(submission, reference):
    sub_model, ref_model = _model(9), _model(9)
    sub_opt = RecordingSGD(sub_model.parameters(), lr=0.1)
    ref_opt = RecordingSGD(ref_model.parameters(), lr=0.1)
    batch = _batch(30)
    _run(submission, sub_model, batch, sub_opt, _scaler())
    _run(reference, ref_model, batch, ref_opt, _scaler())
    assert sub_opt.grad_norms, "optimizer.step() never ran although the gradients were finite"
    assert sub_opt.grad_norms[-1] == pytest.approx(ref_opt.grad_norms[-1], rel=1e-4), (
        f"the optimizer stepped with gradients of norm {sub_opt.grad_norms[-1]:.4g}, expected the true "
        f"(unscaled) gradient norm {ref_opt.grad_norms[-1]:.4g}: backward on scaler.scale(loss), step with "
        "scaler.step()"
    )
    _assert_params(_params(sub_model), _params(ref_model), "one step without clipping")


@pytest.mark.task("train_step")
def test_stale_gradients_do_not_leak_in(submission, reference):
    sub_model, ref_model = _model(11), _model(11)
    for p in sub_model.parameters():
        p.grad = torch.full_like(p, 5.0)  # left over from some earlier backward
    batch = _batch(31)
    # Scale 1, so that leftovers are not hidden by being divided by a large scale along with the gradients.
    _run(
        submission, sub_model, batch, torch.optim.SGD(sub_model.parameters(), lr=0.1), _scaler(init_scale=1.0)
    )
    _run(
        reference, ref_model, batch, torch.optim.SGD(ref_model.parameters(), lr=0.1), _scaler(init_scale=1.0)
    )
    _assert_params(
        _params(sub_model),
        _params(ref_model),
        "gradients already in .grad leaked into the step: call optimizer.zero_grad() first",
    )


@pytest.mark.task("train_step")
def test_disabled_scaler_is_a_plain_autocast_step(submission, reference):
    sub_model, ref_model = _model(12), _model(12)
    batch = _batch(32)
    sub_scaler = torch.amp.GradScaler("cpu", enabled=False)
    _, skipped = _run(
        submission,
        sub_model,
        batch,
        torch.optim.SGD(sub_model.parameters(), lr=0.1),
        sub_scaler,
        max_norm=0.5,
    )
    _run(
        reference,
        ref_model,
        batch,
        torch.optim.SGD(ref_model.parameters(), lr=0.1),
        torch.amp.GradScaler("cpu", enabled=False),
        max_norm=0.5,
    )
    assert skipped is False, "with a disabled GradScaler no step is ever skipped"
    _assert_params(_params(sub_model), _params(ref_model), "a step with a disabled GradScaler")


@pytest.mark.task("train_step")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_float16_step(submission, reference):
    sub_model, ref_model = _model(13, "cuda"), _model(13, "cuda")
    seen = []
    sub_model[0].register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    batch = _batch(33, device="cuda")
    sub_scaler, ref_scaler = _scaler("cuda"), _scaler("cuda")
    sub_opt = torch.optim.SGD(sub_model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=0.1)
    loss, skipped = submission.train_step(
        sub_model, batch, nn.functional.cross_entropy, sub_opt, sub_scaler, "cuda", max_norm=1.0
    )
    reference.train_step(
        ref_model, batch, nn.functional.cross_entropy, ref_opt, ref_scaler, "cuda", max_norm=1.0
    )
    assert seen and seen[-1] == torch.float16, (
        f"on CUDA the first nn.Linear should produce float16, got {seen}"
    )
    assert isinstance(loss, float) and skipped is False, f"expected (float, False), got {(loss, skipped)}"
    _assert_params(_params(sub_model), _params(ref_model), "a CUDA float16 step")
    # A forced overflow on CUDA: skipped, unchanged, scale halved.
    before = _params(sub_model)
    handle = _poison_gradient(sub_model, float("inf"))
    _, skipped = submission.train_step(
        sub_model, batch, nn.functional.cross_entropy, sub_opt, sub_scaler, "cuda"
    )
    handle.remove()
    assert skipped is True, "an inf gradient on CUDA must skip the step"
    _assert_params(_params(sub_model), before, "a skipped CUDA step must leave the parameters unchanged")
    assert sub_scaler.get_scale() == INIT_SCALE * 0.5, "the scale must back off after a skipped CUDA step"
