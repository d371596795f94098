"""Grading tests for the stable_softmax exercise: logsumexp, log_softmax and softmax by hand.

Values and gradients (x.grad of a weighted sum of the result) are compared with torch's own functions in
float32 and float64, over every dim (negative ones too), for logits up to |x| = 1e4, with -inf entries and
with slices that are all -inf. One test per function makes torch's versions unavailable."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from quiz.grading.scenario import expect_raises, observe

NEG_INF = float("-inf")
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
# torch's own functions, taken before any test can make them unavailable: the target of every comparison.
TORCH = {"logsumexp": torch.logsumexp, "log_softmax": torch.log_softmax, "softmax": torch.softmax}
WHAT = {
    "logsumexp": "log(sum(exp(x))) along dim, computed as m + log(sum(exp(x - m))) with m the slice's max",
    "log_softmax": "x - logsumexp(x, dim, keepdim=True), computed in log space",
    "softmax": "exp(x - m) / sum(exp(x - m)) along dim, with m the slice's max: each slice sums to 1",
}
LARGE_WHY = {
    "logsumexp": "finite and accurate up to |x| = 1e4: exp(1e4) overflows to inf, so exponentiate x - m (m the "
                 "slice's max, every exponent <= 0), never x itself",
    "log_softmax": "finite and accurate up to |x| = 1e4: exponentiate only x - m (m the slice's max), and stay in "
                   "log space: log(softmax(x)) is log(0) = -inf where a probability underflows (log_softmax of "
                   "-1e4 next to 1e4 is -2e4, not -inf)",
    "softmax": "finite and accurate up to |x| = 1e4: exp(1e4) overflows to inf and inf / inf is nan, so "
               "exponentiate x - m (m the slice's max, every exponent <= 0), never x itself",
}
# (shape, dim) pairs: every dim of a 3-d tensor, positive and negative, a 1-d and a size-1 slice.
CASES = [((2, 3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), -2), ((2, 3, 4), -3),
         ((5,), 0), ((4, 1), -1)]
# Logits near 1e4 (every row's max is 1e4, so only the size of the numbers matters here).
LARGE = [[1e4, 9999.0, 9990.0, -1e4], [-5.0, 1e4, 0.0, 1e4], [1e4, 1e4, 1e4, 1e4]]
# Rows of very different scale in one tensor: each slice needs its own max.
FAR_APART = [[1e4, 9999.0, 9997.0], [-1e4, -9999.0, -9998.5], [3.0, 1.0, -2.0]]
# -inf entries (masked logits) in some slices, never a whole slice.
PARTIAL = [[NEG_INF, 0.0, 1.0, 2.0], [5.0, NEG_INF, NEG_INF, NEG_INF], [0.5, -1.0, NEG_INF, 3.0]]
ALL_NEG_INF = [[NEG_INF, NEG_INF, NEG_INF], [1.0, 2.0, 3.0], [NEG_INF, 0.0, NEG_INF]]


def _randn(seed: int, shape, dtype, scale: float = 3.0) -> torch.Tensor:
    return (scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)).to(dtype)


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _call(fn, name: str, x: torch.Tensor, dim: int, keepdim: bool | None = None):
    if name == "logsumexp":
        return fn(x, dim) if keepdim is None else fn(x, dim, keepdim)
    return fn(x, dim)


def _ours(impl, name: str):
    return getattr(impl, name)


def _grad(fn, name: str, x: torch.Tensor, dim: int, seed: int, keepdim: bool | None = None) -> torch.Tensor:
    """x.grad of sum(w * fn(x, dim)) for random weights w of the result's shape."""
    leaf = x.detach().clone().requires_grad_()
    out = _call(fn, name, leaf, dim, keepdim)
    weights = _randn(seed, out.shape, x.dtype, scale=1.0)
    (out * weights).sum().backward()
    return leaf.grad


def _keepdims(name: str):
    return [False, True] if name == "logsumexp" else [None]


def _where(name: str, dim: int, keepdim, shape, dtype) -> str:
    extra = f", keepdim={keepdim}" if keepdim is not None else ""
    return f"{name}(x, dim={dim}{extra}) of a {_name(dtype)} x of shape {tuple(shape)}"


# --- shared scenarios --------------------------------------------------------------------------------------

def _values(impl, name: str, dtype) -> None:
    for seed, (shape, dim) in enumerate(CASES):
        for keepdim in _keepdims(name):
            x = _randn(seed, shape, dtype)
            before = x.clone()
            got = _call(_ours(impl, name), name, x, dim, keepdim)
            observe(_where(name, dim, keepdim, shape, dtype), got, expect=_call(TORCH[name], name, x, dim, keepdim),
                    explain=f"{WHAT[name]}; the same shape and dtype as torch.{name}'s result")
            observe(f"x after {name}(x, dim={dim})", x, expect=before, exact=True,
                    explain=f"{name} must not modify its input")
    x = _randn(20, (4, 3), dtype).t()  # not contiguous
    observe(f"{name}(x, dim=1) of a transposed (not contiguous) {_name(dtype)} x of shape (3, 4)",
            _call(_ours(impl, name), name, x, 1), expect=_call(TORCH[name], name, x, 1),
            explain=f"{WHAT[name]}, for any strides")


def _gradients(impl, name: str, dtype) -> None:
    for seed, (shape, dim) in enumerate(CASES):
        for keepdim in _keepdims(name):
            x = _randn(seed + 30, shape, dtype)
            observe(f"x.grad of sum(w * {_where(name, dim, keepdim, shape, dtype)}) for random w",
                    _grad(_ours(impl, name), name, x, dim, seed + 60, keepdim),
                    expect=_grad(TORCH[name], name, x, dim, seed + 60, keepdim),
                    explain=f"the gradient of {name} equals torch.{name}'s: build the result from differentiable "
                            "tensor operations")


def _extreme(impl, name: str, dtype, rows, what: str, explain: str) -> None:
    """Values and gradients on hand-picked logits, along dim -1 and (transposed) dim 0. The target is torch's
    result computed in float64 (exact here) and rounded to dtype: in float32 a slice near 1e4 carries an
    absolute rounding error of about 1e-3 (the spacing of float32 numbers near 1e4), hence atol."""
    atol = 2e-3 if dtype == torch.float32 else None
    base = torch.tensor(rows, dtype=dtype)
    for dim, x in ((-1, base), (0, base.t().contiguous())):
        exact = x.double()
        observe(f"{name}(x, dim={dim}) of {what}, {_name(dtype)}", _call(_ours(impl, name), name, x, dim),
                expect=_call(TORCH[name], name, exact, dim).to(dtype), atol=atol, explain=explain)
        observe(f"x.grad of sum(w * {name}(x, dim={dim})) for {what}, {_name(dtype)}",
                _grad(_ours(impl, name), name, x, dim, 90),
                expect=_grad(TORCH[name], name, exact, dim, 90).to(dtype), atol=atol,
                explain=f"finite gradients equal to torch.{name}'s, for the same logits")


def _large(impl, name: str, dtype) -> None:
    _extreme(impl, name, dtype, LARGE, "logits near 1e4 (such as [1e4, 9999, 9990, -1e4])", LARGE_WHY[name])


def _far_apart(impl, name: str, dtype) -> None:
    _extreme(impl, name, dtype, FAR_APART, "slices near 1e4, near -1e4 and near 0 in one tensor",
             "shift each slice by its own max (amax over dim with keepdim=True): one max for the whole tensor "
             "makes exp(x - m) underflow to 0 in the slices far below it")


def _partial_neg_inf(impl, name: str, dtype) -> None:
    rows = torch.tensor(PARTIAL, dtype=dtype)
    for dim, x in ((-1, rows), (0, rows.t().contiguous())):
        observe(f"{name}(x, dim={dim}) with -inf entries (masked logits), {_name(dtype)}",
                _call(_ours(impl, name), name, x, dim), expect=_call(TORCH[name], name, x, dim),
                explain="a -inf entry takes no probability (exp(-inf) = 0): softmax 0 and log_softmax -inf there, "
                        "the other entries as if it were absent")
        observe(f"x.grad of sum(w * {name}(x, dim={dim})) with -inf entries, {_name(dtype)}",
                _grad(_ours(impl, name), name, x, dim, 91), expect=_grad(TORCH[name], name, x, dim, 91),
                explain=f"finite gradients equal to torch.{name}'s, -inf entries included")


def _all_neg_inf(impl, name: str, dtype) -> None:
    rows = torch.tensor(ALL_NEG_INF, dtype=dtype)
    expected = {"logsumexp": "-inf", "log_softmax": "nan", "softmax": "nan"}[name]
    for dim, x in ((-1, rows), (0, rows.t().contiguous())):
        observe(f"{name}(x, dim={dim}) where one slice is all -inf, {_name(dtype)}",
                _call(_ours(impl, name), name, x, dim), expect=_call(TORCH[name], name, x, dim),
                explain=f"a slice of all -inf gives what torch.{name} gives there ({expected}), the other slices "
                        "their usual values: shift an all -inf slice by 0, not by its max -inf (-inf - -inf is nan)")


class CalledTorchsOwn(Exception):
    pass


def _by_hand(impl, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    x = _randn(95, (3, 5), torch.float64)
    expected = _call(TORCH[name], name, x, 0)
    calls: list[str] = []
    places = [(torch, "softmax"), (torch, "log_softmax"), (torch, "logsumexp"), (torch, "_softmax"),
              (torch, "_log_softmax"), (torch.special, "softmax"), (torch.special, "log_softmax"),
              (torch.special, "logsumexp"), (F, "softmax"), (F, "log_softmax"), (F, "softmin"),
              (torch.Tensor, "softmax"), (torch.Tensor, "log_softmax"), (torch.Tensor, "logsumexp")]
    originals = {id(getattr(owner, attribute)) for owner, attribute in places}

    def forbid(label: str):
        def forbidden(*args, **kwargs):
            calls.append(label)
            raise CalledTorchsOwn(f"{label} was called: {name} must be written by hand, without torch's softmax, "
                                  "log_softmax or logsumexp")
        return forbidden

    for owner, attribute in places:
        label = f"{getattr(owner, '__name__', 'torch.Tensor')}.{attribute}"
        monkeypatch.setattr(owner, attribute, forbid(label))
    for attribute, value in list(vars(impl).items()):
        if id(value) in originals:  # `from torch import softmax` and the like
            monkeypatch.setattr(impl, attribute, forbid(f"{attribute} (imported from torch)"))
    got = _call(_ours(impl, name), name, x, 0)
    observe(f"torch softmax functions called by {name}", calls, expect=[],
            explain=f"{name} is written by hand, with exp, amax, sum, log: it does not call torch.softmax, "
                    "torch.log_softmax, torch.logsumexp or their F / torch.special / Tensor versions")
    observe(f"{name}(x, dim=0) with torch's softmax functions unavailable", got, expect=expected,
            explain=WHAT[name])


def _bad_dim(impl, name: str) -> None:
    x = torch.zeros(2, 3)
    for dim in (2, -3):
        with expect_raises(f"{name}(x, dim={dim}) for a 2-d x", IndexError,
                           explain="a dim outside [-x.dim(), x.dim()) raises IndexError, as torch's reductions do"):
            _call(_ours(impl, name), name, x, dim)


# --- logsumexp --------------------------------------------------------------------------------------------

@pytest.mark.task("logsumexp")
def test_logsumexp_worked_example(impl) -> None:
    x = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    observe("logsumexp([0, log 3], dim=0)", impl.logsumexp(x, 0),
            expect=torch.tensor(math.log(4.0), dtype=torch.float64),
            explain="log(exp(0) + exp(log 3)) = log(1 + 3) = log 4, a 0-dim tensor (dim 0 is removed)")
    x = torch.tensor([1e4, 1e4], dtype=torch.float64)
    observe("logsumexp([1e4, 1e4], dim=0)", impl.logsumexp(x, 0),
            expect=torch.tensor(1e4 + math.log(2.0), dtype=torch.float64),
            explain="1e4 + log 2: exp(1e4) itself overflows to inf, so subtract the max first: "
                    "m + log(sum(exp(x - m)))")


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_values(impl, dtype) -> None:
    _values(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_gradients(impl, dtype) -> None:
    _gradients(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_large_logits(impl, dtype) -> None:
    _large(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_slices_far_apart(impl, dtype) -> None:
    _far_apart(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_neg_inf_entries(impl, dtype) -> None:
    _partial_neg_inf(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logsumexp_all_neg_inf_slice(impl, dtype) -> None:
    _all_neg_inf(impl, "logsumexp", dtype)


@pytest.mark.task("logsumexp")
def test_logsumexp_written_by_hand(impl, monkeypatch) -> None:
    _by_hand(impl, "logsumexp", monkeypatch)


@pytest.mark.task("logsumexp")
def test_logsumexp_rejects_out_of_range_dim(impl) -> None:
    _bad_dim(impl, "logsumexp")


# --- log_softmax ------------------------------------------------------------------------------------------

@pytest.mark.task("log_softmax")
def test_log_softmax_worked_example(impl) -> None:
    x = torch.tensor([[0.0, math.log(3.0)], [0.0, -1e4]], dtype=torch.float64)
    observe("log_softmax([[0, log 3], [0, -1e4]], dim=1)", impl.log_softmax(x, 1),
            expect=torch.tensor([[-math.log(4.0), math.log(0.75)], [0.0, -1e4]], dtype=torch.float64),
            explain="x - logsumexp(x): [log 1/4, log 3/4] for the first row; [0, -1e4] for the second, where the "
                    "probability exp(-1e4) underflows to 0 but its log is still -1e4")


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_values(impl, dtype) -> None:
    _values(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_gradients(impl, dtype) -> None:
    _gradients(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_large_logits(impl, dtype) -> None:
    _large(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_slices_far_apart(impl, dtype) -> None:
    _far_apart(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_neg_inf_entries(impl, dtype) -> None:
    _partial_neg_inf(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_log_softmax_all_neg_inf_slice(impl, dtype) -> None:
    _all_neg_inf(impl, "log_softmax", dtype)


@pytest.mark.task("log_softmax")
def test_log_softmax_written_by_hand(impl, monkeypatch) -> None:
    _by_hand(impl, "log_softmax", monkeypatch)


@pytest.mark.task("log_softmax")
def test_log_softmax_rejects_out_of_range_dim(impl) -> None:
    _bad_dim(impl, "log_softmax")


# --- softmax ----------------------------------------------------------------------------------------------

@pytest.mark.task("softmax")
def test_softmax_worked_example(impl) -> None:
    x = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    observe("softmax([0, log 3], dim=0)", impl.softmax(x, 0), expect=torch.tensor([0.25, 0.75], dtype=torch.float64),
            explain="exp(x) / sum(exp(x)) = [1, 3] / 4")
    x = torch.tensor([1e4, 1e4], dtype=torch.float64)
    observe("softmax([1e4, 1e4], dim=0)", impl.softmax(x, 0), expect=torch.tensor([0.5, 0.5], dtype=torch.float64),
            explain="[1/2, 1/2]: exp(1e4) overflows to inf (inf / inf is nan), so subtract the max first: "
                    "exp(x - m) / sum(exp(x - m))")


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_values(impl, dtype) -> None:
    _values(impl, "softmax", dtype)


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_gradients(impl, dtype) -> None:
    _gradients(impl, "softmax", dtype)


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_large_logits(impl, dtype) -> None:
    _large(impl, "softmax", dtype)


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_slices_far_apart(impl, dtype) -> None:
    _far_apart(impl, "softmax", dtype)


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_neg_inf_entries(impl, dtype) -> None:
    _partial_neg_inf(impl, "softmax", dtype)


@pytest.mark.task("softmax")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_all_neg_inf_slice(impl, dtype) -> None:
    _all_neg_inf(impl, "softmax", dtype)


@pytest.mark.task("softmax")
def test_softmax_written_by_hand(impl, monkeypatch) -> None:
    _by_hand(impl, "softmax", monkeypatch)


@pytest.mark.task("softmax")
def test_softmax_rejects_out_of_range_dim(impl) -> None:
    _bad_dim(impl, "softmax")
