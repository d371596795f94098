"""Grading tests for the tensor_ops exercise: values against the reference and PyTorch, no input mutation,
dtypes, gradients, errors and edge cases. Each test observes; the judge compares with the reference's run."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

ERRORS = (ValueError, IndexError, RuntimeError)
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(gen: torch.Generator, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=dtype)


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# --- gather_rows ----------------------------------------------------------------------------------

@pytest.mark.task("gather_rows")
def test_gather_rows_picks_per_row(impl) -> None:
    x = torch.tensor([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0], [30.0, 31.0, 32.0]])
    got = impl.gather_rows(x, torch.tensor([2, 0, 1]))
    observe("gather_rows([[10, 11, 12], [20, 21, 22], [30, 31, 32]], [2, 0, 1])", got,
            expect=torch.tensor([12.0, 20.0, 31.0]),
            explain="row i gives x[i, index[i]]: row 0 takes column 2, row 1 column 0, row 2 column 1")


@pytest.mark.task("gather_rows")
@pytest.mark.parametrize("n,c", [(1, 1), (5, 3), (4, 4), (3, 7)], ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=_name)
def test_gather_rows_values(impl, n: int, c: int, dtype: torch.dtype) -> None:
    for seed in range(3):
        gen = _gen(seed)
        x = (_randn(gen, n, c, dtype=torch.float64) * 10).to(dtype)
        index = torch.randint(0, c, (n,), generator=gen)
        observe(f"gather_rows on a {n}x{c} {_name(dtype)} tensor (seed {seed})", impl.gather_rows(x, index),
                explain=f"x[i, index[i]] for each row i: shape ({n},), x's dtype")


@pytest.mark.task("gather_rows")
def test_gather_rows_gradient_and_no_mutation(impl) -> None:
    gen = _gen(1)
    x = _randn(gen, 6, 5, dtype=torch.float64)
    index = torch.randint(0, 5, (6,), generator=gen)
    weights = _randn(gen, 6, dtype=torch.float64)
    x.requires_grad_()
    (impl.gather_rows(x, index) * weights).sum().backward()
    observe("x after the call", x, explain="gather_rows must not modify x")
    observe("index after the call", index, explain="gather_rows must not modify index")
    observe("gradient with respect to x of sum(gather_rows(x, index) * w)", x.grad,
            explain="the picked entry of row i gets w[i], every other entry of x gets 0")


# --- segment_sum ----------------------------------------------------------------------------------

@pytest.mark.task("segment_sum")
def test_segment_sum_accumulates_and_keeps_empty_groups(impl) -> None:
    values = torch.tensor([1.0, 2.0, 4.0, 8.0])
    got = impl.segment_sum(values, torch.tensor([2, 2, 0, 2]), 4)
    observe("segment_sum([1, 2, 4, 8], ids [2, 2, 0, 2], 4 groups)", got,
            expect=torch.tensor([4.0, 0.0, 11.0, 0.0]),
            explain="rows of the same group add up (group 2: 1 + 2 + 8 = 11); groups 1 and 3 have no members "
                    "and sum to 0")


@pytest.mark.task("segment_sum")
@pytest.mark.parametrize("bad_id", [3, 5, -1])
def test_segment_sum_rejects_bad_group_ids(impl, bad_id: int) -> None:
    # 1-D values: nothing but the bad id can make the call raise.
    values, group_ids = torch.ones(3), torch.tensor([0, bad_id, 1])
    with expect_raises(f"segment_sum with group id {bad_id} and 3 groups", *ERRORS,
                       explain="a group id outside [0, num_groups) must raise IndexError, RuntimeError or "
                               "ValueError"):
        impl.segment_sum(values, group_ids, 3)


@pytest.mark.task("segment_sum")
@pytest.mark.parametrize("feature_shape", [(), (3,), (2, 4)], ids=["F=()", "F=(3,)", "F=(2,4)"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=_name)
def test_segment_sum_values(impl, feature_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    for seed, (n, groups) in enumerate([(1, 1), (7, 3), (12, 6), (5, 9)]):
        gen = _gen(seed)
        values = (_randn(gen, n, *feature_shape, dtype=torch.float64) * 10).to(dtype)
        group_ids = torch.randint(0, groups, (n,), generator=gen)
        shape = ", ".join(map(str, (groups, *feature_shape)))
        observe(f"segment_sum of {n} {_name(dtype)} rows of shape {feature_shape} into {groups} groups",
                impl.segment_sum(values, group_ids, groups),
                explain=f"the per-group sums: shape ({shape}), the values' dtype")


@pytest.mark.task("segment_sum")
def test_segment_sum_no_rows(impl) -> None:
    got = impl.segment_sum(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), 2)
    observe("segment_sum of 0 rows of shape (3,) into 2 groups", got, expect=torch.zeros(2, 3),
            explain="with no rows at all every group sums to zero: a 2x3 tensor of zeros")


@pytest.mark.task("segment_sum")
def test_segment_sum_gradient_and_no_mutation(impl) -> None:
    gen = _gen(2)
    values = _randn(gen, 9, 3, dtype=torch.float64)
    group_ids = torch.randint(0, 4, (9,), generator=gen)
    weights = _randn(gen, 4, 3, dtype=torch.float64)
    values.requires_grad_()
    (impl.segment_sum(values, group_ids, 4) * weights).sum().backward()
    observe("values after the call", values, explain="segment_sum must not modify values")
    observe("group_ids after the call", group_ids, explain="segment_sum must not modify group_ids")
    observe("gradient with respect to values of sum(segment_sum(values, ids, 4) * w)", values.grad,
            explain="row i gets w[group_ids[i]]")


# --- mask_below -----------------------------------------------------------------------------------

@pytest.mark.task("mask_below")
def test_mask_below_does_not_modify_input(impl) -> None:
    x = torch.tensor([[-2.0, 0.5], [3.0, -0.1]])
    got = impl.mask_below(x, 0.0, 0.0)
    observe("x after mask_below(x, 0.0, 0.0)", x, expect=torch.tensor([[-2.0, 0.5], [3.0, -0.1]]),
            explain="mask_below must leave x unchanged: masked_fill (no underscore) returns a new tensor; "
                    "masked_fill_ and x[mask] = value overwrite the caller's tensor")
    observe("mask_below([[-2, 0.5], [3, -0.1]], 0.0, 0.0)", got, expect=torch.tensor([[0.0, 0.5], [3.0, 0.0]]),
            explain="entries below 0 become 0, the others are kept")


@pytest.mark.task("mask_below")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_mask_below_values(impl, dtype: torch.dtype) -> None:
    for seed, shape in enumerate([(1,), (4, 5), (2, 3, 4)]):
        # Whole numbers, so some entries equal the threshold exactly: those must be kept.
        x = torch.randint(-3, 4, shape, generator=_gen(seed)).to(dtype)
        observe(f"mask_below(x, 0.0, -9.5) on whole numbers in [-3, 3], {_name(dtype)}, shape {shape}",
                impl.mask_below(x, 0.0, -9.5),
                explain="entries strictly below 0 become -9.5; entries equal to 0 are kept, as is the dtype")
        observe(f"x (shape {shape}) after mask_below", x, explain="mask_below must leave x unchanged")


@pytest.mark.task("mask_below")
def test_mask_below_gradient(impl) -> None:
    x = torch.tensor([-1.0, 2.0, 0.5, -3.0], requires_grad=True)
    impl.mask_below(x, 0.0, 7.0).sum().backward()
    observe("gradient of mask_below([-1, 2, 0.5, -3], 0.0, 7.0).sum() with respect to x", x.grad,
            expect=torch.tensor([0.0, 1.0, 1.0, 0.0]),
            explain="replaced entries get gradient 0, kept entries gradient 1")


# --- one_hot --------------------------------------------------------------------------------------

@pytest.mark.task("one_hot")
def test_one_hot_dtype_and_width(impl) -> None:
    got = impl.one_hot(torch.tensor([0, 1]), 5)
    observe("one_hot([0, 1], 5)", got, expect=torch.tensor([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]),
            explain="an int64 tensor (like F.one_hot) with num_classes = 5 columns, even though the largest "
                    "label is 1")


@pytest.mark.task("one_hot")
@pytest.mark.parametrize("shape,num_classes", [((5,), 3), ((2, 3), 4), ((1,), 1), ((0,), 4), ((3, 1, 2), 10)],
                         ids=["5-C3", "2x3-C4", "1-C1", "empty-C4", "3x1x2-C10"])
def test_one_hot_values(impl, shape: tuple[int, ...], num_classes: int) -> None:
    labels = torch.randint(0, num_classes, shape, generator=_gen(num_classes))
    out_shape = ", ".join(map(str, (*shape, num_classes)))
    observe(f"one_hot(labels of shape {shape}, {num_classes})", impl.one_hot(labels, num_classes),
            explain=f"an int64 tensor of shape ({out_shape}) with a single 1 per label, at the label's column")


@pytest.mark.task("one_hot")
@pytest.mark.parametrize("bad", [3, 7, -1])
def test_one_hot_rejects_out_of_range(impl, bad: int) -> None:
    labels = torch.tensor([0, bad, 1])
    note = " (indexing such as eye[labels] silently wraps -1 around to the last class)" if bad < 0 else ""
    with expect_raises(f"one_hot([0, {bad}, 1], 3)", *ERRORS,
                       explain="a label outside [0, num_classes) must raise ValueError, IndexError or "
                               f"RuntimeError{note}"):
        impl.one_hot(labels, 3)


@pytest.mark.task("one_hot")
def test_one_hot_does_not_modify_labels(impl) -> None:
    labels = torch.tensor([[2, 0], [1, 1]])
    impl.one_hot(labels, 3)
    observe("labels after one_hot(labels, 3)", labels, expect=torch.tensor([[2, 0], [1, 1]]),
            explain="one_hot must not modify labels")


# --- pairwise_distances ---------------------------------------------------------------------------

def _exact_cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # The direct (no matrix-multiply trick) path of cdist, in float64: our ground truth.
    return torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist")


@pytest.mark.task("pairwise_distances")
@pytest.mark.parametrize("n,m,d", [(1, 1, 1), (5, 7, 3), (30, 4, 8), (2, 40, 16)], ids=lambda v: str(v))
def test_pairwise_distances_float64(impl, n: int, m: int, d: int) -> None:
    gen = _gen(n * m + d)
    a, b = _randn(gen, n, d, dtype=torch.float64), _randn(gen, m, d, dtype=torch.float64)
    observe(f"pairwise_distances of ({n}, {d}) and ({m}, {d}) float64 tensors", impl.pairwise_distances(a, b),
            expect=_exact_cdist(a, b), rtol=1e-7, atol=1e-5,
            explain="out[i, j] = ||a[i] - b[j]||, the Euclidean (not squared) distance, as torch.cdist(a, b): "
                    "shape (N, M)")


@pytest.mark.task("pairwise_distances")
def test_pairwise_distances_float32(impl) -> None:
    gen = _gen(3)
    a, b = _randn(gen, 9, 6), _randn(gen, 11, 6)
    observe("pairwise_distances of (9, 6) and (11, 6) float32 tensors", impl.pairwise_distances(a, b),
            expect=_exact_cdist(a, b).float(), rtol=1e-5, atol=1e-3,
            explain="float32 inputs give a float32 (N, M) tensor of the distances torch.cdist(a, b) gives")


@pytest.mark.task("pairwise_distances")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_pairwise_distances_self_is_finite_with_zero_diagonal(impl, dtype: torch.dtype) -> None:
    for seed in range(3):
        a = _randn(_gen(seed), 40, 32, dtype=dtype)
        got = impl.pairwise_distances(a, a)
        observe(f"diagonal of pairwise_distances(a, a), a of shape (40, 32) {_name(dtype)} (seed {seed})",
                got.diagonal(), expect=torch.zeros(40, dtype=dtype), rtol=0, atol=2e-2,
                explain="each row's distance to itself is 0 up to rounding, never NaN: ||a||^2 + ||a||^2 - "
                        "2 a.a can round to a tiny negative number, whose square root is NaN")
        observe(f"number of negative entries of pairwise_distances(a, a) (seed {seed})", int((got < 0).sum()),
                expect=0, explain="distances are >= 0")
        observe(f"pairwise_distances(a, a), a of shape (40, 32) {_name(dtype)} (seed {seed})", got,
                expect=_exact_cdist(a, a).to(dtype), rtol=1e-5, atol=2e-2,
                explain="the Euclidean distances torch.cdist(a, a) gives, every entry finite")


@pytest.mark.task("pairwise_distances")
def test_pairwise_distances_does_not_modify_inputs(impl) -> None:
    gen = _gen(4)
    a, b = _randn(gen, 3, 2), _randn(gen, 5, 2)
    impl.pairwise_distances(a, b)
    observe("a and b after the call", (a, b), explain="pairwise_distances must not modify a or b")


# --- batched_bilinear -----------------------------------------------------------------------------

@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
def test_batched_bilinear_pairs_x_with_rows_of_A(impl, batched_a: bool) -> None:
    # Only A[0, 1] is nonzero, so the form is x[0] * y[1] = 14; pairing x with A's columns would give 15.
    x, y = torch.tensor([[2.0, 3.0]]), torch.tensor([[5.0, 7.0]])
    A = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    A = A.unsqueeze(0) if batched_a else A
    shown = "[[[0, 1], [0, 0]]]" if batched_a else "[[0, 1], [0, 0]]"
    observe(f"batched_bilinear(x=[[2, 3]], A={shown}, y=[[5, 7]])", impl.batched_bilinear(x, A, y),
            expect=torch.tensor([14.0]),
            explain="out[b] = sum over n, m of x[b, n] * A[n, m] * y[b, m]: A's row index goes with x and its "
                    "column index with y, so only x[0] * A[0, 1] * y[1] = 2 * 7 = 14 is left (x[1] * y[0] = 15 "
                    "is what A transposed gives)")


@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
def test_batched_bilinear_keeps_samples_apart(impl, batched_a: bool) -> None:
    x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[1.0], [0.0], [0.0]])
    A = torch.ones(3, 1, 1) if batched_a else torch.ones(1, 1)
    shown = "[[[1]], [[1]], [[1]]]" if batched_a else "[[1]]"
    observe(f"batched_bilinear(x=[[1], [2], [3]], A={shown}, y=[[1], [0], [0]])", impl.batched_bilinear(x, A, y),
            expect=torch.tensor([1.0, 0.0, 0.0]),
            explain="out[b] uses only sample b's x and y: samples 1 and 2 have y[b] = 0, so out[1] and out[2] "
                    "are 0, and out[0] = 1 * 1 * 1; shape (B,), one number per sample")


@pytest.mark.task("batched_bilinear")
def test_batched_bilinear_uses_each_samples_A(impl) -> None:
    x, y = torch.ones(3, 1), torch.ones(3, 1)
    A = torch.tensor([[[2.0]], [[3.0]], [[5.0]]])
    observe("batched_bilinear(x=[[1], [1], [1]], A=[[[2]], [[3]], [[5]]] (one A per sample), y=[[1], [1], [1]])",
            impl.batched_bilinear(x, A, y), expect=torch.tensor([2.0, 3.0, 5.0]),
            explain="a 3-D A of shape (B, N, M) holds one matrix per sample: out[b] = x[b] @ A[b] @ y[b], so "
                    "sample 1 uses A[1] = [[3]] and sample 2 uses A[2] = [[5]]")


@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
@pytest.mark.parametrize("b,n,m", [(1, 1, 1), (4, 3, 3), (5, 2, 6), (3, 7, 4)], ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_batched_bilinear_values(impl, batched_a: bool, b: int, n: int, m: int, dtype: torch.dtype) -> None:
    gen = _gen(b * 100 + n * 10 + m)
    x, y = _randn(gen, b, n, dtype=dtype), _randn(gen, b, m, dtype=dtype)
    A = _randn(gen, *((b, n, m) if batched_a else (n, m)), dtype=dtype)
    kind = "one A per sample" if batched_a else "one A shared by the batch"
    observe(f"batched_bilinear with x {tuple(x.shape)}, A {tuple(A.shape)} ({kind}), y {tuple(y.shape)}, "
            f"{_name(dtype)}", impl.batched_bilinear(x, A, y),
            explain=f"out[b] = x[b] @ A[b] @ y[b] for each sample b (A[b] read as A when A is 2-D): shape ({b},)")


@pytest.mark.task("batched_bilinear")
@pytest.mark.parametrize("batched_a", [False, True], ids=["shared_A", "per_sample_A"])
def test_batched_bilinear_gradients_and_no_mutation(impl, batched_a: bool) -> None:
    gen = _gen(5)
    x, y = _randn(gen, 4, 3, dtype=torch.float64), _randn(gen, 4, 2, dtype=torch.float64)
    A = _randn(gen, *((4, 3, 2) if batched_a else (3, 2)), dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (x, A, y)]
    out = impl.batched_bilinear(*inputs)
    (out * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
    observe("x, A and y after the call", inputs, explain="batched_bilinear must not modify its inputs")
    for name, tensor in zip(("x", "A", "y"), inputs, strict=True):
        observe(f"gradient with respect to {name} of sum(batched_bilinear(x, A, y) * [1, 2, 3, 4])", tensor.grad,
                explain=f"the result must stay connected to {name}, with the gradient of sum over b of "
                        "w[b] * x[b] @ A[b] @ y[b]")
