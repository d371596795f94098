"""Grading tests for the dropout exercise. A mask is random, and correct solutions may draw it differently,
so the training-mode checks are about properties: every entry is 0 or x / (1 - p), the fraction kept and the
mean match their expected values on large tensors (within a few standard deviations), and a generator
seeded alike reproduces the same output without touching the global RNG."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
N = 200_000  # entries in the statistical checks: the kept fraction's standard deviation is at most 0.0012


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(seed: int, *shape: int, dtype=torch.float32) -> torch.Tensor:
    """Random entries away from 0, so that a dropped entry (0) is never mistaken for a kept one."""
    x = torch.randn(*shape, generator=_gen(seed), dtype=torch.float64)
    return (x.sign() * (x.abs() + 0.5)).to(dtype)


def _not_zero_or_scaled(out: torch.Tensor, x: torch.Tensor, p: float) -> int:
    scaled = torch.isclose(out, x / (1 - p), rtol=1e-6, atol=0.0)
    return int((~((out == 0) | scaled)).sum())


# --- dropout ----------------------------------------------------------------------------------------------

@pytest.mark.task("dropout")
def test_dropout_eval_is_the_identity(impl) -> None:
    x = _x(1, 50, 20)
    observe("dropout(x, p=0.5, training=False)", impl.dropout(x, 0.5, training=False), expect=x, exact=True,
            explain="with training=False dropout returns x's values unchanged")


@pytest.mark.task("dropout")
def test_dropout_p_zero_and_p_one(impl) -> None:
    x = _x(2, 40, 10)
    observe("dropout(x, p=0.0) in training", impl.dropout(x, 0.0, generator=_gen(3)), expect=x, exact=True,
            explain="p = 0 drops nothing and scales by 1 / (1 - 0) = 1: x itself")
    leaf = x.clone().requires_grad_()
    out = impl.dropout(leaf, 1.0, generator=_gen(4))
    observe("dropout(x, p=1.0) in training", out, expect=torch.zeros(40, 10), exact=True,
            explain="p = 1 drops everything: zeros, not nan (x * 0 / (1 - 1) is 0 / 0)")
    out.sum().backward()
    observe("x.grad of sum(dropout(x, p=1.0))", leaf.grad, expect=torch.zeros(40, 10), exact=True,
            explain="no entry survives, so no gradient reaches x (zeros, not nan)")


@pytest.mark.task("dropout")
def test_dropout_rejects_p_outside_0_1(impl) -> None:
    for p in (-0.1, 1.5):
        with expect_raises(f"dropout(x, p={p})", ValueError, explain="p must be in [0, 1]: ValueError otherwise"):
            impl.dropout(torch.ones(3), p)


@pytest.mark.task("dropout")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_dropout_entries_are_zero_or_scaled(impl, dtype, p) -> None:
    x = _x(5, 400, 50, dtype=dtype)
    before = x.clone()
    out = impl.dropout(x, p, generator=_gen(6))
    observe(f"dtype and shape of dropout(x, p={p}) for a {str(dtype)[6:]} x of shape (400, 50)",
            [str(out.dtype), tuple(out.shape)], expect=[str(dtype), (400, 50)],
            explain="the output has x's dtype and shape")
    observe(f"x after dropout(x, p={p})", x, expect=before, exact=True,
            explain="dropout returns a new tensor and leaves x alone (no in-place mul_)")
    observe(f"entries of dropout(x, p={p}) that are neither 0 nor x / (1 - p)", _not_zero_or_scaled(out, before, p),
            expect=0, explain="inverted dropout: each entry is either dropped (0) or kept and scaled by 1 / (1 - p)")


@pytest.mark.task("dropout")
def test_dropout_independent_entries(impl) -> None:
    out = impl.dropout(torch.ones(2000, 64), 0.5, generator=_gen(9))
    distinct = len({tuple(row) for row in (out != 0).int().tolist()})
    observe("distinct keep patterns among the 2000 rows of dropout(ones(2000, 64), p=0.5)", distinct, expect=2000,
            explain="one independent draw per entry: a mask drawn once and shared across the batch repeats")
    observe("fraction kept in column 0 of dropout(ones(2000, 64), p=0.5)", float((out[:, 0] != 0).double().mean()),
            expect=0.5, atol=0.05, explain="every entry, in every column, is kept with probability 1 - p")


@pytest.mark.task("dropout")
@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_dropout_keep_rate(impl, p) -> None:
    out = impl.dropout(torch.ones(N), p, generator=_gen(7))
    observe(f"fraction of entries kept by dropout(x, p={p}) over {N} entries", float((out != 0).double().mean()),
            expect=1 - p, atol=0.006,
            explain="each entry is kept with probability 1 - p (dropped with probability p)")


@pytest.mark.task("dropout")
@pytest.mark.parametrize("p", [0.2, 0.5, 0.7])
def test_dropout_preserves_the_mean(impl, p) -> None:
    out = impl.dropout(torch.full((N,), 3.0, dtype=torch.float64), p, generator=_gen(8))
    observe(f"mean of dropout(x, p={p}) for x = 3 everywhere ({N} entries)", float(out.mean()), expect=3.0,
            atol=0.05, explain="E[out] = (1 - p) * x / (1 - p) = x: the survivors' scale 1 / (1 - p) keeps the mean")


@pytest.mark.task("dropout")
def test_dropout_generator_reproduces(impl) -> None:
    x = _x(10, 300, 30)
    first = impl.dropout(x, 0.4, generator=_gen(11))
    again = impl.dropout(x, 0.4, generator=_gen(11))
    other = impl.dropout(x, 0.4, generator=_gen(12))
    observe("dropout(x, p=0.4) with a generator seeded 11, minus the same call again", first - again,
            expect=torch.zeros(300, 30), exact=True,
            explain="every random draw comes from the generator: seeded alike, it gives the same output")
    observe("fraction of entries where generators seeded 11 and 12 give different masks",
            float(((first != 0) != (other != 0)).double().mean()), expect=2 * 0.4 * 0.6, atol=0.02,
            explain="two independent masks disagree at a fraction 2 p (1 - p) = 0.48 of the entries")


@pytest.mark.task("dropout")
def test_dropout_leaves_the_global_rng_alone(impl) -> None:
    impl.dropout(_x(13, 100, 10), 0.5, generator=_gen(14))
    observe("torch.rand(5) right after dropout(x, p=0.5, generator=g) (global seed 0 before the test)",
            torch.rand(5), exact=True,
            explain="with a generator given, dropout draws from it only: the global RNG is not advanced")


@pytest.mark.task("dropout")
def test_dropout_gradient(impl) -> None:
    x = _x(15, 200, 20, dtype=torch.float64).requires_grad_()
    w = torch.randn(200, 20, generator=_gen(16), dtype=torch.float64)
    out = impl.dropout(x, 0.25, generator=_gen(17))
    (out * w).sum().backward()
    kept = (out.detach() != 0).double()
    observe("x.grad of sum(w * dropout(x, p=0.25)) minus w * mask / (1 - p)", x.grad - w * kept / 0.75,
            expect=torch.zeros(200, 20, dtype=torch.float64), atol=1e-12,
            explain="d out / d x is mask / (1 - p): the gradient reaches the kept entries, scaled by 1 / (1 - p), "
                    "and is 0 at the dropped ones")


# --- Dropout ----------------------------------------------------------------------------------------------

@pytest.mark.task("Dropout")
def test_dropout_module_attributes(impl) -> None:
    g = _gen(20)
    module = impl.Dropout(0.3, generator=g)
    observe("Dropout(0.3, generator=g): p, generator is g, training, state_dict",
            [module.p, module.generator is g, module.training, module.state_dict()], expect=[0.3, True, True, {}],
            explain="keeps p and the generator, starts in train mode, and has no parameters or buffers")
    observe("Dropout().p", impl.Dropout().p, expect=0.5, explain="p defaults to 0.5")
    with expect_raises("Dropout(1.5)", ValueError, explain="p outside [0, 1] raises ValueError"):
        impl.Dropout(1.5)


@pytest.mark.task("Dropout")
def test_dropout_module_train_mode(impl) -> None:
    x = _x(21, 300, 40)
    out = impl.Dropout(0.6, generator=_gen(22))(x)
    observe("Dropout(0.6)(x) minus dropout(x, 0.6) with generators seeded alike", out - impl.dropout(x, 0.6,
            generator=_gen(22)), expect=torch.zeros(300, 40), exact=True,
            explain="in train mode forward is dropout(x, self.p, True, self.generator)")
    observe("entries of Dropout(0.6)(x) in train mode that are neither 0 nor x / 0.4", _not_zero_or_scaled(out, x, 0.6),
            expect=0, explain="a new module is in train mode: it drops and scales")
    observe("fraction kept by Dropout(0.6)(x) in train mode", float((out != 0).double().mean()), expect=0.4,
            atol=0.02, explain="each entry is kept with probability 1 - p = 0.4")


@pytest.mark.task("Dropout")
def test_dropout_module_eval_mode(impl) -> None:
    x = _x(23, 100, 10)
    module = impl.Dropout(0.5, generator=_gen(24))
    module.eval()
    observe("Dropout(0.5)(x) after .eval()", module(x), expect=x, exact=True,
            explain="after model.eval() dropout is the identity: forward passes self.training on")
    module.train()
    observe("entries of Dropout(0.5)(x) after .eval() then .train() that are neither 0 nor 2x",
            _not_zero_or_scaled(module(x), x, 0.5), expect=0, explain=".train() turns dropping back on")
    observe("fraction kept by Dropout(0.5)(x) after .train()", float((module(x) != 0).double().mean()), expect=0.5,
            atol=0.04, explain="in train mode each entry is kept with probability 1 - p")
