"""Grading tests for the autograd_function exercise: RoundSTE and Clamp as custom torch.autograd.Functions.

Values and gradients are compared with torch.round / torch.clamp (and with hand-worked numbers) in float32
and float64. Jacobians are observed raw: one built from the forward by central differences, one from the
backward; gradcheck and gradgradcheck run in float64; second derivatives come from a second backward."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
HALVES = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]


def _randn(seed: int, shape, dtype=f64, scale: float = 1.0) -> torch.Tensor:
    return (scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=f64)).to(dtype)


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _grad_of_weighted_sum(fn, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_()
    (fn(leaf) * weights).sum().backward()
    return leaf.grad


def _numerical_jacobian(fn, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """d fn(x) / dx by central differences, from the forward alone: shape (fn(x).numel(), x.numel())."""
    flat = x.detach().reshape(-1)
    columns = []
    for i in range(flat.numel()):
        step = torch.zeros_like(flat)
        step[i] = eps
        columns.append(((fn((flat + step).reshape(x.shape)) - fn((flat - step).reshape(x.shape))) / (2 * eps))
                       .reshape(-1))
    return torch.stack(columns, dim=1)


def _analytical_jacobian(fn, x: torch.Tensor) -> torch.Tensor:
    """d fn(x) / dx from the backward, one vector-Jacobian product per output entry."""
    leaf = x.detach().clone().requires_grad_()
    out = fn(leaf).reshape(-1)
    rows = [torch.autograd.grad(out[i], leaf, retain_graph=True)[0].reshape(-1) for i in range(out.numel())]
    return torch.stack(rows)


def _second_backward(fn, x: torch.Tensor, c: torch.Tensor, v: torch.Tensor):
    """(g, g.requires_grad, h): g = d/dx sum(c * fn(x) ** 2) with create_graph=True, h = d/dx sum(v * g).

    The term 0 * sum(x) keeps the second derivative defined (0) even when g has no graph, so a detached
    backward shows up as a wrong h rather than as an error."""
    leaf = x.detach().clone().requires_grad_()
    (g,) = torch.autograd.grad((c * fn(leaf) ** 2).sum(), leaf, create_graph=True)
    (h,) = torch.autograd.grad((v * g).sum() + 0.0 * leaf.sum(), leaf)
    return g, g.requires_grad, h


# --- RoundSTE ---------------------------------------------------------------------------------------------

@pytest.mark.task("RoundSTE")
def test_round_ste_is_a_custom_function(impl) -> None:
    observe("RoundSTE is a subclass of torch.autograd.Function",
            isinstance(impl.RoundSTE, type) and issubclass(impl.RoundSTE, torch.autograd.Function), expect=True,
            explain="RoundSTE must be a subclass of torch.autograd.Function, used as RoundSTE.apply(x)")
    y = impl.RoundSTE.apply(_randn(1, (3,)).requires_grad_())
    observe("the type of RoundSTE.apply(x).grad_fn", type(y.grad_fn).__name__, expect="RoundSTEBackward",
            explain="the output of RoundSTE.apply(x) is attached to RoundSTE's own backward")


@pytest.mark.task("RoundSTE")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_round_ste_forward(impl, dtype) -> None:
    for seed, shape in enumerate([(7,), (3, 4), (2, 3, 2)]):
        x = _randn(seed + 2, shape, dtype, scale=4.0)
        before = x.clone()
        observe(f"RoundSTE.apply(x) of a {_name(dtype)} x of shape {shape}", impl.RoundSTE.apply(x),
                expect=torch.round(x), exact=True, explain="torch.round(x): x's shape and dtype")
        observe("x after RoundSTE.apply(x)", x, expect=before, exact=True,
                explain="forward returns a new tensor and leaves x alone (torch.round, not x.round_())")


@pytest.mark.task("RoundSTE")
def test_round_ste_rounds_halves_to_even(impl) -> None:
    x = torch.tensor(HALVES, dtype=f64)
    observe(f"RoundSTE.apply({HALVES})", impl.RoundSTE.apply(x),
            expect=torch.tensor([-2.0, -2.0, -0.0, 0.0, 2.0, 2.0, 4.0], dtype=f64),
            explain="halves round to the nearest even integer, as torch.round does: floor(x + 0.5) rounds them "
                    "up instead (2.5 -> 3, -0.5 -> 0)")


@pytest.mark.task("RoundSTE")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_round_ste_gradient_is_grad_output(impl, dtype) -> None:
    x = _randn(5, (4, 5), dtype, scale=6.0)  # many entries with |x| > 1
    w = _randn(6, (4, 5), dtype)
    observe(f"x.grad of sum(w * RoundSTE.apply(x)) for random w, {_name(dtype)}, |x| up to about 15",
            _grad_of_weighted_sum(impl.RoundSTE.apply, x, w), expect=w,
            explain="straight through: backward returns grad_output unchanged, here w, for every entry however "
                    "large |x| is (not round's true derivative 0, not clipped to |x| <= 1)")


@pytest.mark.task("RoundSTE")
def test_round_ste_inside_a_chain(impl) -> None:
    x = _randn(7, (6,), scale=2.0)
    c = _randn(8, (6,))
    got = _grad_of_weighted_sum(lambda t: impl.RoundSTE.apply(3.0 * t) ** 2, x, c)
    observe("x.grad of sum(c * RoundSTE.apply(3 x) ** 2)", got, expect=6.0 * c * torch.round(3.0 * x),
            explain="the chain rule passes through RoundSTE as through the identity: 2 * round(3x) * 3 * c")


@pytest.mark.task("RoundSTE")
def test_round_ste_jacobian(impl) -> None:
    x = _randn(9, (2, 3), scale=3.0)
    observe("the Jacobian of RoundSTE.apply at a (2, 3) float64 x, built from its backward",
            _analytical_jacobian(impl.RoundSTE.apply, x), expect=torch.eye(6, dtype=f64),
            explain="backward is the identity, so the Jacobian it implies is the 6 x 6 identity matrix (the "
                    "finite-difference Jacobian of round is 0: gradcheck fails on an STE by design)")


@pytest.mark.task("RoundSTE")
def test_round_ste_double_backward(impl) -> None:
    x, c, v = _randn(10, (5,), scale=3.0), _randn(11, (5,)), _randn(12, (5,))
    g, attached, h = _second_backward(impl.RoundSTE.apply, x, c, v)
    observe("g = d/dx sum(c * RoundSTE.apply(x) ** 2), with create_graph=True", g, expect=2.0 * c * torch.round(x),
            explain="2 * c * round(x): RoundSTE counts as the identity")
    observe("g.requires_grad for g = torch.autograd.grad(..., create_graph=True) through RoundSTE", attached,
            expect=True, explain="with create_graph=True the gradient keeps a graph: backward must return "
                                 "grad_output itself or tensors computed from it (no detach, no .data)")
    observe("d/dx sum(v * g), differentiating RoundSTE's backward a second time", h, expect=2.0 * c * v,
            explain="double backward is supported: backward returns grad_output through differentiable "
                    "operations (no @once_differentiable), so d/dx sum(v * 2 c round(x)) = 2 c v")


# --- Clamp ------------------------------------------------------------------------------------------------

BOUNDS = [(-1.0, 1.0), (0.0, 0.5), (-2.0, -1.0), (0.25, 0.25)]


def _clamp(impl, lo: float, hi: float):
    return lambda t: impl.Clamp.apply(t, lo, hi)


def _with_boundaries(seed: int, dtype, lo: float, hi: float) -> torch.Tensor:
    """Random entries around [lo, hi], two of them exactly lo and exactly hi."""
    x = _randn(seed, (3, 5), dtype, scale=2.0)
    x[0, 1], x[2, 3] = lo, hi
    return x


@pytest.mark.task("Clamp")
def test_clamp_is_a_custom_function(impl) -> None:
    observe("Clamp is a subclass of torch.autograd.Function",
            isinstance(impl.Clamp, type) and issubclass(impl.Clamp, torch.autograd.Function), expect=True,
            explain="Clamp must be a subclass of torch.autograd.Function, used as Clamp.apply(x, lo, hi)")
    y = impl.Clamp.apply(_randn(20, (3,)).requires_grad_(), -0.5, 0.5)
    observe("the type of Clamp.apply(x, lo, hi).grad_fn", type(y.grad_fn).__name__, expect="ClampBackward",
            explain="the output of Clamp.apply(x, lo, hi) is attached to Clamp's own backward")


@pytest.mark.task("Clamp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_clamp_forward(impl, dtype) -> None:
    for seed, (lo, hi) in enumerate(BOUNDS):
        x = _with_boundaries(21 + seed, dtype, lo, hi)
        before = x.clone()
        observe(f"Clamp.apply(x, {lo}, {hi}) of a {_name(dtype)} x of shape (3, 5)", impl.Clamp.apply(x, lo, hi),
                expect=torch.clamp(x, lo, hi), exact=True, explain="torch.clamp(x, lo, hi): x's shape and dtype")
        observe(f"x after Clamp.apply(x, {lo}, {hi})", x, expect=before, exact=True,
                explain="forward returns a new tensor and leaves x alone")


@pytest.mark.task("Clamp")
def test_clamp_rejects_lo_above_hi(impl) -> None:
    with expect_raises("Clamp.apply(x, 1.0, -1.0)", ValueError, explain="lo > hi raises ValueError"):
        impl.Clamp.apply(torch.zeros(3), 1.0, -1.0)


@pytest.mark.task("Clamp")
def test_clamp_boundary_rule(impl) -> None:
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=f64)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=f64)
    observe("x.grad of sum(w * Clamp.apply(x, -1, 1)) for x = [-2, -1, 0, 1, 2], w = [1, 2, 3, 4, 5]",
            _grad_of_weighted_sum(_clamp(impl, -1.0, 1.0), x, w),
            expect=torch.tensor([0.0, 2.0, 3.0, 4.0, 0.0], dtype=f64),
            explain="grad_output where lo <= x <= hi (both ends included, as torch.clamp's backward) and 0 where "
                    "x < lo or x > hi: [0, 2, 3, 4, 0]")


@pytest.mark.task("Clamp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_clamp_gradients(impl, dtype) -> None:
    for seed, (lo, hi) in enumerate(BOUNDS):
        x = _with_boundaries(31 + seed, dtype, lo, hi)
        w = _randn(41 + seed, (3, 5), dtype)
        observe(f"x.grad of sum(w * Clamp.apply(x, {lo}, {hi})) for random w, {_name(dtype)}, x hitting lo and hi",
                _grad_of_weighted_sum(_clamp(impl, lo, hi), x, w),
                expect=_grad_of_weighted_sum(lambda t, lo=lo, hi=hi: torch.clamp(t, lo, hi), x, w),
                explain="torch.clamp's gradient: w where lo <= x <= hi, 0 elsewhere")


@pytest.mark.task("Clamp")
def test_clamp_saves_x_for_backward(impl) -> None:
    x = _randn(50, (4,)).requires_grad_()
    packed: list[torch.Tensor] = []

    def pack(tensor):
        packed.append(tensor.detach().clone())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        impl.Clamp.apply(x, -0.5, 0.5)
    observe("tensors Clamp.apply(x, -0.5, 0.5) saved with ctx.save_for_backward", packed, expect=[x],
            explain="forward saves the input x, and only x, with ctx.save_for_backward(x) (lo and hi are numbers: "
                    "ctx attributes); a tensor kept as ctx.x bypasses autograd's checks")


@pytest.mark.task("Clamp")
def test_clamp_detects_x_modified_in_place(impl) -> None:
    leaf = _randn(51, (4,)).requires_grad_()
    x = leaf * 1.0
    y = impl.Clamp.apply(x, -0.5, 0.5)
    with torch.no_grad():
        x.add_(10.0)  # after forward: the values backward would read are now wrong
    with expect_raises("backward of Clamp after its input x was modified in place", RuntimeError,
                       explain="with ctx.save_for_backward(x) (x itself, not a copy), autograd sees x's version "
                               "change and raises RuntimeError instead of computing the mask from the new values"):
        y.sum().backward()


@pytest.mark.task("Clamp")
def test_clamp_leaves_grad_output_alone(impl) -> None:
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=f64, requires_grad=True)
    w = _randn(52, (5,))
    before = w.clone()
    impl.Clamp.apply(x, -1.0, 1.0).backward(w)
    observe("the gradient w passed to Clamp.apply(x, -1, 1).backward(w), after the call", w, expect=before,
            exact=True, explain="backward must not modify grad_output in place (here it is the caller's w): return "
                                "grad_output * mask, a new tensor")
    observe("x.grad after Clamp.apply(x, -1, 1).backward(w)", x.grad,
            expect=before * torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0], dtype=f64),
            explain="w where -1 <= x <= 1, 0 elsewhere")


@pytest.mark.task("Clamp")
def test_clamp_gradcheck(impl) -> None:
    x = torch.linspace(-2.9, 2.9, 12, dtype=f64).reshape(3, 4)  # no entry within 0.01 of lo or hi
    fn = _clamp(impl, -1.0, 1.3)
    observe("the Jacobian of Clamp.apply(x, -1, 1.3) by central differences of its forward (float64, 3 x 4 x)",
            _numerical_jacobian(fn, x), atol=1e-6,
            explain="the 12 x 12 diagonal matrix with 1 where -1 < x < 1.3 and 0 elsewhere (forward is clamp)")
    observe("the Jacobian of Clamp.apply(x, -1, 1.3) built from its backward (float64, 3 x 4 x)",
            _analytical_jacobian(fn, x),
            expect=torch.diag(((x >= -1.0) & (x <= 1.3)).to(f64).reshape(-1)),
            explain="what gradcheck compares with the finite differences: the same diagonal 0/1 matrix")
    observe("torch.autograd.gradcheck(Clamp.apply, (x, -1, 1.3)) in float64 away from lo and hi",
            torch.autograd.gradcheck(fn, (x.clone().requires_grad_(),), raise_exception=False), expect=True,
            explain="the hand-written backward agrees with the numerical derivative of forward")


@pytest.mark.task("Clamp")
def test_clamp_double_backward(impl) -> None:
    x = torch.linspace(-2.9, 2.9, 12, dtype=f64)
    c, v = _randn(53, (12,)), _randn(54, (12,))
    g, attached, h = _second_backward(_clamp(impl, -1.0, 1.3), x, c, v)
    g_torch, _, h_torch = _second_backward(lambda t: torch.clamp(t, -1.0, 1.3), x, c, v)
    observe("g = d/dx sum(c * Clamp.apply(x, -1, 1.3) ** 2), with create_graph=True", g, expect=g_torch,
            explain="2 * c * clamp(x) where -1 <= x <= 1.3, 0 elsewhere, as torch.clamp gives")
    observe("g.requires_grad for g = torch.autograd.grad(..., create_graph=True) through Clamp", attached,
            expect=True, explain="with create_graph=True the gradient keeps a graph: backward must compute its "
                                 "result from grad_output by differentiable operations (no detach, no .data)")
    observe("d/dx sum(v * g), differentiating Clamp's backward a second time", h, expect=h_torch,
            explain="double backward is supported: backward returns grad_output * mask through differentiable "
                    "operations (no @once_differentiable, no detach), so the second derivative equals torch.clamp's: "
                    "2 c v where -1 <= x <= 1.3")
    observe("torch.autograd.gradgradcheck(Clamp.apply, (x, -1, 1.3)) in float64 away from lo and hi",
            torch.autograd.gradgradcheck(_clamp(impl, -1.0, 1.3), (x.clone().requires_grad_(),),
                                         raise_exception=False), expect=True,
            explain="the gradient of Clamp's backward agrees with finite differences of that backward")
