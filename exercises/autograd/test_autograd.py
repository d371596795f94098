"""Grading tests for the autograd exercise: gradient, hvp, LogCosh, fit_linear."""

import math

import pytest
import torch
from torch.testing import assert_close

# Scalar test functions with dense, non-trivial gradients and Hessians, built from elementwise ops and
# reductions only (no d x d matrix anywhere, so the "no full Hessian" test can watch tensor sizes).
FUNCTIONS = {
    "sum of squares": lambda x: (x**2).sum(),
    "sin times cube": lambda x: (torch.sin(x) * x**3).sum(),
    "logsumexp": lambda x: torch.logsumexp(1.5 * x.flatten(), dim=0),
    "squared norm of tanh": lambda x: torch.tanh(x).pow(2).sum().pow(2),
    "softplus mixed with mean": lambda x: torch.nn.functional.softplus(x).sum() * x.mean() + x.exp().sum(),
}
SHAPES = [(1,), (5,), (3, 4), (2, 3, 5)]


def _make(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


# ----------------------------------------------------------------------------------------------- gradient


@pytest.mark.task("gradient")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_gradient_matches_reference(submission, reference, name, dtype):
    fn = FUNCTIONS[name]
    for seed, shape in enumerate(SHAPES):
        x = _make(shape, dtype, seed)
        got = submission.gradient(fn, x)
        assert_close(
            got,
            reference.gradient(fn, x),
            msg=lambda m, shape=shape: f"gradient of '{name}' at a {dtype} x of shape {shape} is wrong: {m}",
        )


@pytest.mark.task("gradient")
def test_gradient_of_sum_of_squares_is_2x(submission):
    x = _make((4, 3), torch.float64, 1)
    assert_close(submission.gradient(lambda t: (t**2).sum(), x), 2 * x, msg="the gradient of sum(x**2) is 2x")


@pytest.mark.task("gradient")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_result_is_detached_with_x_shape_and_dtype(submission, dtype):
    for requires_grad in (False, True):
        x = _make((2, 3), dtype, 2).requires_grad_(requires_grad)
        got = submission.gradient(FUNCTIONS["sin times cube"], x)
        assert isinstance(got, torch.Tensor), "gradient must return a tensor"
        assert got.shape == x.shape, (
            f"the gradient has shape {tuple(got.shape)}, expected x's {tuple(x.shape)}"
        )
        assert got.dtype == x.dtype, f"the gradient has dtype {got.dtype}, expected x's {x.dtype}"
        assert not got.requires_grad, "the returned gradient still requires grad: detach it"


@pytest.mark.task("gradient")
def test_gradient_leaves_a_plain_tensor_alone(submission):
    x = _make((6,), torch.float32, 3)
    before = x.clone()
    submission.gradient(FUNCTIONS["logsumexp"], x)
    assert not x.requires_grad, (
        "gradient turned on requires_grad on the caller's tensor: work on x.detach().requires_grad_() instead"
    )
    assert x.grad is None, "gradient left a .grad on the caller's tensor: use torch.autograd.grad on a copy"
    assert torch.equal(x, before), "gradient changed the values of x"


@pytest.mark.task("gradient")
def test_gradient_leaves_a_leaf_that_requires_grad_alone(submission):
    x = _make((6,), torch.float64, 4).requires_grad_()
    submission.gradient(FUNCTIONS["sin times cube"], x)
    assert x.requires_grad, "gradient turned off requires_grad on the caller's tensor"
    assert x.grad is None, (
        "after gradient(fn, x), x.grad is set: .backward() accumulates into x.grad; "
        "torch.autograd.grad returns the gradient without touching it"
    )


@pytest.mark.task("gradient")
def test_gradient_does_not_accumulate_into_an_existing_grad(submission):
    x = _make((5,), torch.float64, 5).requires_grad_()
    old = torch.full_like(x, 7.0)
    x.grad = old.clone()
    got = submission.gradient(lambda t: (t**2).sum(), x)
    assert_close(
        got, 2 * x.detach(), msg="with x.grad already set, the result must still be the plain gradient"
    )
    assert_close(x.grad, old, msg="gradient changed the caller's existing x.grad (was it accumulated into?)")


@pytest.mark.task("gradient")
def test_gradient_of_a_non_leaf_tensor(submission):
    a = _make((4,), torch.float64, 6).requires_grad_()
    x = a * 3.0  # x is part of a graph that leads back to a
    got = submission.gradient(lambda t: (t**3).sum(), x)
    assert_close(got, 3 * x.detach() ** 2, msg="the gradient with respect to a non-leaf x must be d fn / d x")
    assert a.grad is None, "gradient back-propagated into the tensors x was computed from: detach x first"


# -------------------------------------------------------------------------------------------------- hvp


@pytest.mark.task("hvp")
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_hvp_matches_reference_float64(submission, reference, name):
    fn = FUNCTIONS[name]
    for seed, shape in enumerate(SHAPES):
        x = _make(shape, torch.float64, seed)
        v = _make(shape, torch.float64, seed + 100)
        assert_close(
            submission.hvp(fn, x, v),
            reference.hvp(fn, x, v),
            msg=lambda m, shape=shape: f"H @ v of '{name}' at a float64 x of shape {shape} is wrong: {m}",
        )


@pytest.mark.task("hvp")
def test_hvp_of_a_quadratic_is_exact(submission):
    # f(x) = 0.5 * sum(c * x**2) + (a . x)**2 has Hessian diag(c) + 2 a a^T, so H v = c*v + 2 a (a . v).
    c = _make((7,), torch.float64, 7).abs() + 0.5
    a = _make((7,), torch.float64, 8)
    x = _make((7,), torch.float64, 9)
    v = _make((7,), torch.float64, 10)
    got = submission.hvp(lambda t: 0.5 * (c * t**2).sum() + (a @ t) ** 2, x, v)
    assert_close(got, c * v + 2 * a * (a @ v), msg="H @ v of a quadratic differs from the exact product")


@pytest.mark.task("hvp")
@pytest.mark.parametrize("name", ["sin times cube", "softplus mixed with mean"])
def test_hvp_is_exact_in_float32(submission, reference, name):
    # Finite differences lose about half the digits of float32; the exact double backward does not.
    fn = FUNCTIONS[name]
    x = _make((3, 4), torch.float32, 11)
    v = _make((3, 4), torch.float32, 12)
    got = submission.hvp(fn, x, v)
    expected = reference.hvp(fn, x.double(), v.double()).float()
    assert got.dtype == torch.float32, f"hvp of float32 inputs returned {got.dtype}"
    assert_close(
        got,
        expected,
        msg=lambda m: f"float32 H @ v is not accurate to float32 precision (finite differences?): {m}",
    )


@pytest.mark.task("hvp")
def test_hvp_evaluates_fn_only_at_x(submission):
    x = _make((6,), torch.float64, 13)
    v = _make((6,), torch.float64, 14)
    points = []

    def fn(t):
        points.append(t.detach().clone())
        return FUNCTIONS["sin times cube"](t)

    submission.hvp(fn, x, v)
    assert points, "hvp never called fn"
    for p in points:
        assert torch.equal(p, x), (
            "hvp evaluated fn at a point other than x (finite differences?): differentiate the gradient "
            "a second time instead (torch.autograd.grad with create_graph=True)"
        )


def _is_batched(grad):
    # A vmapped backward (torch.func.hessian, jacrev, autograd.functional.hessian(vectorize=True)) hands
    # hooks a BatchedTensor: one gradient per row of the Hessian at once.
    functorch = getattr(torch._C, "_functorch", None)
    if functorch is not None:
        if functorch.is_batchedtensor(grad):
            return True
        if functorch.is_functorch_wrapped_tensor(grad):
            return False
    try:
        grad.untyped_storage()  # the legacy vmap's BatchedTensorImpl has no storage
    except (NotImplementedError, RuntimeError):
        return True
    return False


@pytest.mark.task("hvp")
def test_hvp_never_builds_the_full_hessian(submission):
    d = 30
    x = _make((d,), torch.float64, 15)
    v = _make((d,), torch.float64, 16)
    passes = []

    def fn(t):
        inner = 1.5 * t
        if inner.requires_grad:
            # Fires once per backward pass that reaches `inner`, and sees what flows through it.
            inner.register_hook(lambda grad: passes.append(_is_batched(grad)))
        return torch.logsumexp(inner, dim=0) + (torch.sin(inner) * inner**3).sum()

    got = submission.hvp(fn, x, v)
    assert got.shape == (d,), f"H @ v must have x's shape ({d},), got {tuple(got.shape)}"
    assert len(passes) <= 3 and not any(passes), (
        f"hvp ran {len(passes)} backward passes{' batched with vmap' if any(passes) else ''} for a "
        f"{d}-element x: it built the full Hessian. Differentiate (gradient . v) once more instead: "
        "two backward passes in all."
    )


@pytest.mark.task("hvp")
def test_hvp_result_is_detached_and_inputs_untouched(submission):
    x = _make((2, 3), torch.float64, 17).requires_grad_()
    v = _make((2, 3), torch.float64, 18)
    x_before, v_before = x.detach().clone(), v.clone()
    got = submission.hvp(FUNCTIONS["squared norm of tanh"], x, v)
    assert not got.requires_grad, "the returned H @ v still requires grad: detach it"
    assert got.shape == x.shape and got.dtype == x.dtype, "H @ v must have x's shape and dtype"
    assert x.grad is None and v.grad is None, "hvp left a .grad on the caller's tensors"
    assert x.requires_grad and not v.requires_grad, "hvp changed requires_grad on the caller's tensors"
    assert torch.equal(x.detach(), x_before) and torch.equal(v, v_before), "hvp changed the values of x or v"


# ---------------------------------------------------------------------------------------------- LogCosh


@pytest.mark.task("LogCosh")
def test_logcosh_is_a_custom_autograd_function(submission):
    assert isinstance(submission.LogCosh, type) and issubclass(submission.LogCosh, torch.autograd.Function), (
        "LogCosh must be a subclass of torch.autograd.Function"
    )
    x = _make((3,), torch.float64, 19).requires_grad_()
    y = submission.LogCosh.apply(x)
    assert y.grad_fn is not None and "LogCosh" in type(y.grad_fn).__name__, (
        "the output of LogCosh.apply(x) is not attached to LogCosh's own backward"
    )


@pytest.mark.task("LogCosh")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logcosh_forward_matches_reference(submission, reference, dtype):
    for seed, shape in enumerate([(1,), (7,), (4, 5), (2, 3, 4)]):
        x = 4.0 * _make(shape, dtype, 20 + seed)
        got = submission.LogCosh.apply(x)
        assert_close(
            got,
            reference.LogCosh.apply(x),
            msg=lambda m, shape=shape: f"log(cosh(x)) of a {dtype} x of shape {shape} is wrong: {m}",
        )


@pytest.mark.task("LogCosh")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logcosh_is_finite_and_accurate_for_large_inputs(submission, dtype):
    x = torch.tensor([-1e4, -3e3, -800.0, -100.0, -30.0, 30.0, 100.0, 800.0, 3e3, 1e4], dtype=dtype)
    got = submission.LogCosh.apply(x)
    assert torch.isfinite(got).all(), (
        f"log(cosh(x)) is not finite for large |x| in {dtype}: cosh overflows; rewrite log(cosh(x)) so "
        "that nothing is exponentiated with a large positive argument"
    )
    # For |x| >= 30, log(cosh(x)) = |x| - log 2 to within e^-60.
    assert_close(
        got, x.abs() - math.log(2.0), msg=lambda m: f"log(cosh(x)) for large |x| must be |x| - log 2: {m}"
    )


@pytest.mark.task("LogCosh")
def test_logcosh_of_1e4_is_1e4_minus_log2(submission):
    for dtype in (torch.float32, torch.float64):
        got = submission.LogCosh.apply(torch.tensor([1e4, -1e4], dtype=dtype))
        assert got.dtype == dtype, f"LogCosh of a {dtype} tensor returned {got.dtype}"
        assert_close(
            got, torch.full((2,), 1e4 - math.log(2.0), dtype=dtype), msg="log(cosh(±1e4)) = 1e4 - log 2"
        )


@pytest.mark.task("LogCosh")
def test_logcosh_passes_gradcheck(submission):
    for seed, shape in enumerate([(5,), (3, 4)]):
        x = (3.0 * _make(shape, torch.float64, 30 + seed)).requires_grad_()
        assert torch.autograd.gradcheck(submission.LogCosh.apply, (x,), raise_exception=False), (
            f"torch.autograd.gradcheck fails for LogCosh on a float64 input of shape {shape}: the backward "
            "must return grad_output * tanh(x)"
        )


@pytest.mark.task("LogCosh")
def test_logcosh_backward_multiplies_the_incoming_gradient(submission):
    x = (3.0 * _make((4, 3), torch.float64, 40)).requires_grad_()
    upstream = _make((4, 3), torch.float64, 41)
    submission.LogCosh.apply(x).backward(upstream)
    assert x.grad is not None, "no gradient reached x through LogCosh"
    assert_close(
        x.grad,
        upstream * torch.tanh(x.detach()),
        msg="the gradient must be grad_output * tanh(x): is grad_output forgotten in backward?",
    )


@pytest.mark.task("LogCosh")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logcosh_backward_is_finite_for_large_inputs(submission, dtype):
    x = torch.tensor([-1e4, -900.0, -0.5, 0.0, 0.5, 900.0, 1e4], dtype=dtype, requires_grad=True)
    submission.LogCosh.apply(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all(), (
        "the gradient of LogCosh is not finite for large |x|: use tanh(x), not sinh(x) / cosh(x)"
    )
    assert_close(x.grad, torch.tanh(x.detach()), msg="the gradient of log(cosh(x)) is tanh(x)")


# ------------------------------------------------------------------------------------------- fit_linear


def _regression(n, d, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w + 0.7 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)


@pytest.mark.task("fit_linear")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("n", "d", "lr", "steps"),
    [(1, 1, 0.1, 3), (9, 3, 0.1, 1), (9, 3, 0.05, 2), (20, 4, 0.1, 7), (33, 5, 0.2, 100), (16, 2, 0.1, 0)],
)
def test_fit_linear_matches_reference(submission, reference, dtype, n, d, lr, steps):
    X, y = _regression(n, d, dtype, seed=n * 10 + d)
    got = submission.fit_linear(X, y, lr=lr, steps=steps)
    expected = reference.fit_linear(X, y, lr=lr, steps=steps)
    assert isinstance(got, tuple) and len(got) == 2, "fit_linear must return a tuple (w, b)"
    assert_close(
        got[0],
        expected[0],
        msg=lambda m: (
            f"w after {steps} steps (n={n}, d={d}, lr={lr}, {dtype}) differs from the reference: "
            f"are the gradients zeroed each step, and the loss the mean squared error? {m}"
        ),
    )
    assert_close(
        got[1],
        expected[1],
        msg=lambda m: (
            f"b after {steps} steps (n={n}, d={d}, lr={lr}, {dtype}) differs from the reference "
            f"(b must be a 0-dim tensor): {m}"
        ),
    )


@pytest.mark.task("fit_linear")
def test_fit_linear_uses_the_default_lr_and_steps(submission, reference):
    X, y = _regression(12, 3, torch.float64, seed=50)
    assert_close(
        submission.fit_linear(X, y),
        reference.fit_linear(X, y),
        msg="with the defaults (lr=0.1, steps=100) the result differs from the reference",
    )


@pytest.mark.task("fit_linear")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fit_linear_returns_detached_w_and_scalar_b(submission, dtype):
    X, y = _regression(10, 3, dtype, seed=51)
    w, b = submission.fit_linear(X, y, lr=0.1, steps=5)
    assert w.shape == (3,), f"w must have shape (d,) = (3,), got {tuple(w.shape)}"
    assert b.shape == (), f"b must be a 0-dim tensor (torch.zeros(())), got shape {tuple(b.shape)}"
    assert w.dtype == dtype and b.dtype == dtype, (
        f"w and b must have X's dtype {dtype}, got {w.dtype}, {b.dtype}"
    )
    assert not w.requires_grad and not b.requires_grad, "return w.detach() and b.detach()"


@pytest.mark.task("fit_linear")
def test_fit_linear_does_not_use_torch_optim(submission, monkeypatch):
    def forbidden(self, *args, **kwargs):
        raise AssertionError("fit_linear must not use torch.optim: update p -= lr * p.grad by hand")

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", forbidden)
    X, y = _regression(8, 2, torch.float64, seed=52)
    w, b = submission.fit_linear(X, y, lr=0.1, steps=3)
    assert w.shape == (2,) and b.shape == ()


@pytest.mark.task("fit_linear")
def test_fit_linear_leaves_inputs_alone_and_fits(submission):
    X, y = _regression(40, 3, torch.float64, seed=53)
    X_before, y_before = X.clone(), y.clone()
    w, b = submission.fit_linear(X, y, lr=0.1, steps=400)
    assert torch.equal(X, X_before) and torch.equal(y, y_before), "fit_linear changed X or y"
    assert not X.requires_grad and X.grad is None, "fit_linear turned on requires_grad on X"
    # After 400 steps gradient descent has reached the least-squares solution.
    ones = torch.ones(40, 1, dtype=torch.float64)
    solution = torch.linalg.lstsq(torch.cat([X, ones], dim=1), y.unsqueeze(1)).solution.squeeze(1)
    assert_close(w, solution[:3], atol=1e-6, rtol=1e-6, msg="after 400 steps w should be the least-squares w")
    assert_close(b, solution[3], atol=1e-6, rtol=1e-6, msg="after 400 steps b should be the least-squares b")
