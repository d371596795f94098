"""Grading tests for the tensor_ops exercise: values against the reference and PyTorch, no input mutation,
dtypes, gradients, errors and edge cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.testing import assert_close

ERRORS = (ValueError, IndexError, RuntimeError)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(gen: torch.Generator, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=dtype)


def _explain(text: str) -> Callable[[str], str]:
    # assert_close calls a callable msg with its own report (which elements differ, by how much): keep both.
    return lambda report: f"{text}\n{report}"


def _not_unimplemented(raised: pytest.ExceptionInfo) -> None:
    # NotImplementedError is a RuntimeError: the untouched starter must not pass the error tests.
    assert not isinstance(raised.value, NotImplementedError), "this function is not implemented yet"


# --- gather_rows ----------------------------------------------------------------------------------

@pytest.mark.task("gather_rows")
@pytest.mark.parametrize("n,c", [(1, 1), (5, 3), (4, 4), (3, 7)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=str)
def test_gather_rows_values(submission, reference, n: int, c: int, dtype: torch.dtype) -> None:
    for seed in range(3):
        gen = _gen(seed)
        x = (_randn(gen, n, c, dtype=torch.float64) * 10).to(dtype)
        index = torch.randint(0, c, (n,), generator=gen)
        got = submission.gather_rows(x, index)
        assert_close(got, reference.gather_rows(x, index), msg=_explain(
            f"gather_rows({n}x{c}, seed {seed}) should return x[i, index[i]] for each row i (shape ({n},)): "
            f"is gather taken along dim 1 with an (N, 1) index?"))


@pytest.mark.task("gather_rows")
def test_gather_rows_picks_per_row(submission) -> None:
    x = torch.tensor([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]])
    got = submission.gather_rows(x, torch.tensor([2, 0]))
    assert_close(got, torch.tensor([12.0, 20.0]),
                 msg="gather_rows([[10, 11, 12], [20, 21, 22]], [2, 0]) should be [12, 20]: row 0 takes "
                     "column 2, row 1 takes column 0")


@pytest.mark.task("gather_rows")
def test_gather_rows_gradient_and_no_mutation(submission, reference) -> None:
    gen = _gen(1)
    x = _randn(gen, 6, 5, dtype=torch.float64)
    index = torch.randint(0, 5, (6,), generator=gen)
    x_before, index_before = x.clone(), index.clone()
    weights = _randn(gen, 6, dtype=torch.float64)
    x_sub = x.clone().requires_grad_()
    (submission.gather_rows(x_sub, index) * weights).sum().backward()
    assert_close(x, x_before, msg="gather_rows must not modify x")
    assert_close(index, index_before, msg="gather_rows must not modify index")
    x_ref = x.clone().requires_grad_()
    (reference.gather_rows(x_ref, index) * weights).sum().backward()
    assert x_sub.grad is not None, "no gradient reached x: the result must stay connected to x"
    assert_close(x_sub.grad, x_ref.grad, msg=_explain(
        "the gradient with respect to x differs: only the picked entries should receive a gradient."))


# --- segment_sum ----------------------------------------------------------------------------------

@pytest.mark.task("segment_sum")
@pytest.mark.parametrize("feature_shape", [(), (3,), (2, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=str)
def test_segment_sum_values(submission, reference, feature_shape: tuple[int, ...],
                            dtype: torch.dtype) -> None:
    for seed, (n, groups) in enumerate([(1, 1), (7, 3), (12, 6), (5, 9)]):
        gen = _gen(seed)
        values = (_randn(gen, n, *feature_shape, dtype=torch.float64) * 10).to(dtype)
        group_ids = torch.randint(0, groups, (n,), generator=gen)
        got = submission.segment_sum(values, group_ids, groups)
        assert_close(got, reference.segment_sum(values, group_ids, groups), msg=_explain(
            f"segment_sum of {n} rows into {groups} groups (feature shape {feature_shape}, {dtype}) differs "
            f"from the expected per-group sums, of shape ({groups}, *F) and the values' dtype."))


@pytest.mark.task("segment_sum")
def test_segment_sum_accumulates_and_keeps_empty_groups(submission) -> None:
    values = torch.tensor([1.0, 2.0, 4.0, 8.0])
    got = submission.segment_sum(values, torch.tensor([2, 2, 0, 2]), 4)
    assert_close(got, torch.tensor([4.0, 0.0, 11.0, 0.0]), msg=_explain(
        "segment_sum([1, 2, 4, 8], ids [2, 2, 0, 2], 4 groups) should be [4, 0, 11, 0]: rows of the same "
        "group must be added (scatter_ without _add keeps only one of them), and groups 1 and 3 with no "
        "members must be 0."))


@pytest.mark.task("segment_sum")
def test_segment_sum_no_rows(submission) -> None:
    got = submission.segment_sum(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), 2)
    assert_close(got, torch.zeros(2, 3),
                 msg="with no rows at all every group sums to zero: expected 2x3 zeros")


@pytest.mark.task("segment_sum")
@pytest.mark.parametrize("bad_id", [3, 5, -1])
def test_segment_sum_rejects_bad_group_ids(submission, bad_id: int) -> None:
    with pytest.raises(ERRORS) as raised:
        submission.segment_sum(torch.ones(3, 2), torch.tensor([0, bad_id, 1]), 3)
    _not_unimplemented(raised)


@pytest.mark.task("segment_sum")
def test_segment_sum_gradient_and_no_mutation(submission, reference) -> None:
    gen = _gen(2)
    values = _randn(gen, 9, 3, dtype=torch.float64)
    group_ids = torch.randint(0, 4, (9,), generator=gen)
    before = values.clone(), group_ids.clone()
    weights = _randn(gen, 4, 3, dtype=torch.float64)
    v_sub = values.clone().requires_grad_()
    (submission.segment_sum(v_sub, group_ids, 4) * weights).sum().backward()
    assert_close((values, group_ids), before, msg="segment_sum must not modify its inputs")
    v_ref = values.clone().requires_grad_()
    (reference.segment_sum(v_ref, group_ids, 4) * weights).sum().backward()
    assert v_sub.grad is not None, "no gradient reached values: the sums must stay connected to them"
    assert_close(v_sub.grad, v_ref.grad, msg="the gradient with respect to values differs from the reference")


# --- mask_below -----------------------------------------------------------------------------------

@pytest.mark.task("mask_below")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_mask_below_values(submission, reference, dtype: torch.dtype) -> None:
    for seed, shape in enumerate([(1,), (4, 5), (2, 3, 4)]):
        # Whole numbers, so some entries equal the threshold exactly: those must be kept.
        x = torch.randint(-3, 4, shape, generator=_gen(seed)).to(dtype)
        got = submission.mask_below(x, 0.0, -9.5)
        assert_close(got, reference.mask_below(x, 0.0, -9.5), msg=_explain(
            f"mask_below(x, 0.0, -9.5) on a {dtype} tensor of shape {shape}: entries < 0 should become -9.5, "
            f"entries equal to 0 stay 0 (strictly below, not <=), dtype kept."))


@pytest.mark.task("mask_below")
def test_mask_below_does_not_modify_input(submission) -> None:
    x = torch.tensor([[-2.0, 0.5], [3.0, -0.1]])
    before = x.clone()
    got = submission.mask_below(x, 0.0, 0.0)
    assert_close(x, before, msg="mask_below changed its input x: use masked_fill (no underscore) or clone "
                                "first, never masked_fill_ or x[mask] = value on the caller's tensor")
    assert_close(got, torch.tensor([[0.0, 0.5], [3.0, 0.0]]), msg="expected [[0, 0.5], [3, 0]]")


@pytest.mark.task("mask_below")
def test_mask_below_gradient(submission) -> None:
    x = torch.tensor([-1.0, 2.0, 0.5, -3.0], requires_grad=True)
    submission.mask_below(x, 0.0, 7.0).sum().backward()
    assert x.grad is not None, "no gradient reached x: the result must stay connected to x"
    assert_close(x.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]),
                 msg="replaced entries get gradient 0 and kept entries gradient 1 (for a plain sum)")


# --- one_hot --------------------------------------------------------------------------------------

@pytest.mark.task("one_hot")
@pytest.mark.parametrize("shape,num_classes", [((5,), 3), ((2, 3), 4), ((1,), 1), ((0,), 4), ((3, 1, 2), 10)])
def test_one_hot_values(submission, reference, shape: tuple[int, ...], num_classes: int) -> None:
    labels = torch.randint(0, num_classes, shape, generator=_gen(num_classes))
    got = submission.one_hot(labels, num_classes)
    assert_close(got, reference.one_hot(labels, num_classes), msg=_explain(
        f"one_hot(labels of shape {shape}, {num_classes}) should be an int64 tensor of shape "
        f"({', '.join(map(str, shape))}, {num_classes}) with a single 1 per label."))


@pytest.mark.task("one_hot")
def test_one_hot_dtype_and_width(submission) -> None:
    got = submission.one_hot(torch.tensor([0, 1]), 5)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.int64, (
        f"one_hot must return int64 (like F.one_hot), got {getattr(got, 'dtype', type(got))}: torch.eye and "
        "torch.zeros give float32 unless you ask for dtype=torch.int64")
    assert got.shape == (2, 5), (
        f"one_hot(.., 5) must have 5 columns even when the largest label is 1, got shape {tuple(got.shape)}")


@pytest.mark.task("one_hot")
@pytest.mark.parametrize("bad", [3, 7, -1])
def test_one_hot_rejects_out_of_range(submission, bad: int) -> None:
    with pytest.raises(ERRORS) as raised:
        submission.one_hot(torch.tensor([0, bad, 1]), 3)
    _not_unimplemented(raised)


@pytest.mark.task("one_hot")
def test_one_hot_does_not_modify_labels(submission) -> None:
    labels = torch.tensor([[2, 0], [1, 1]])
    submission.one_hot(labels, 3)
    assert_close(labels, torch.tensor([[2, 0], [1, 1]]), msg="one_hot must not modify labels")


# --- pairwise_distances ---------------------------------------------------------------------------

def _exact_cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # The direct (no matrix-multiply trick) path of cdist, in float64: our ground truth.
    return torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist")


@pytest.mark.task("pairwise_distances")
@pytest.mark.parametrize("n,m,d", [(1, 1, 1), (5, 7, 3), (30, 4, 8), (2, 40, 16)])
def test_pairwise_distances_float64(submission, n: int, m: int, d: int) -> None:
    gen = _gen(n * m + d)
    a, b = _randn(gen, n, d, dtype=torch.float64), _randn(gen, m, d, dtype=torch.float64)
    got = submission.pairwise_distances(a, b)
    assert_close(got, _exact_cdist(a, b), rtol=1e-7, atol=1e-5, msg=_explain(
        f"pairwise_distances of ({n}, {d}) and ({m}, {d}) float64 tensors should equal torch.cdist: an "
        f"(N, M) tensor of Euclidean (not squared) distances."))


@pytest.mark.task("pairwise_distances")
def test_pairwise_distances_float32(submission) -> None:
    gen = _gen(3)
    a, b = _randn(gen, 9, 6), _randn(gen, 11, 6)
    got = submission.pairwise_distances(a, b)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32, (
        "float32 inputs give a float32 result")
    assert_close(got.double(), _exact_cdist(a, b), rtol=1e-5, atol=1e-3,
                 msg=_explain("float32 distances differ from torch.cdist."))


@pytest.mark.task("pairwise_distances")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_pairwise_distances_self_is_finite_with_zero_diagonal(submission, dtype: torch.dtype) -> None:
    for seed in range(3):
        a = _randn(_gen(seed), 40, 32, dtype=dtype)
        got = submission.pairwise_distances(a, a)
        assert not torch.isnan(got).any(), (
            "pairwise_distances(a, a) contains NaN: ||a||^2 + ||a||^2 - 2 a.a can round to a tiny negative "
            "number, and sqrt of a negative is NaN: clamp at 0 before the square root")
        assert (got >= 0).all(), "distances must be >= 0"
        assert_close(got.diagonal(), torch.zeros(40, dtype=dtype), rtol=0, atol=2e-2,
                     msg=_explain("the distance of each row to itself should be 0 (up to rounding)."))


@pytest.mark.task("pairwise_distances")
def test_pairwise_distances_does_not_modify_inputs(submission) -> None:
    gen = _gen(4)
    a, b = _randn(gen, 3, 2), _randn(gen, 5, 2)
    before = a.clone(), b.clone()
    submission.pairwise_distances(a, b)
    assert_close((a, b), before, msg="pairwise_distances must not modify a or b")


# --- batched_bilinear -----------------------------------------------------------------------------

@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
@pytest.mark.parametrize("b,n,m", [(1, 1, 1), (4, 3, 3), (5, 2, 6), (3, 7, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_batched_bilinear_values(submission, reference, batched_a: bool, b: int, n: int, m: int,
                                 dtype: torch.dtype) -> None:
    gen = _gen(b * 100 + n * 10 + m)
    x, y = _randn(gen, b, n, dtype=dtype), _randn(gen, b, m, dtype=dtype)
    A = _randn(gen, *((b, n, m) if batched_a else (n, m)), dtype=dtype)
    got = submission.batched_bilinear(x, A, y)
    kind = "one A per sample" if batched_a else "one A shared by the batch"
    assert_close(got, reference.batched_bilinear(x, A, y), msg=_explain(
        f"batched_bilinear with x {tuple(x.shape)}, A {tuple(A.shape)} ({kind}), y {tuple(y.shape)} should "
        f"be the ({b},) tensor x[b] @ A[b] @ y[b]: check which index of A pairs with x and which with y, "
        f"and that samples are not mixed."))


@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
def test_batched_bilinear_gradients_and_no_mutation(submission, reference, batched_a: bool) -> None:
    gen = _gen(5)
    x, y = _randn(gen, 4, 3, dtype=torch.float64), _randn(gen, 4, 2, dtype=torch.float64)
    A = _randn(gen, *((4, 3, 2) if batched_a else (3, 2)), dtype=torch.float64)
    before = x.clone(), A.clone(), y.clone()
    grads = []
    for module in (submission, reference):
        inputs = [t.clone().requires_grad_() for t in (x, A, y)]
        out = module.batched_bilinear(*inputs)
        (out * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
        grads.append([t.grad for t in inputs])
    assert_close((x, A, y), before, msg="batched_bilinear must not modify its inputs")
    assert all(g is not None for g in grads[0]), "the result must stay connected to x, A and y for autograd"
    assert_close(grads[0], grads[1], msg="the gradients with respect to x, A and y differ from the reference")
