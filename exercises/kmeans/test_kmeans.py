"""Grading tests for the kmeans exercise. Random choices are compared with the reference's for the same
torch.Generator (the sampling is part of the contract) and checked statistically over many seeds; Lloyd's
iterations on hand-worked examples (ties, an empty cluster, convergence); vectorisation by counting calls
to torch.cdist."""

from __future__ import annotations

import pytest
import torch

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _blobs(seed: int, n: int, dtype: torch.dtype = f64, spread: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """3 well-separated blobs of n points each in 2-D, in blob order, and their true centres."""
    centres = torch.tensor([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]], dtype=dtype)
    noise = torch.randn(3, n, 2, generator=_gen(seed), dtype=dtype) * spread
    return (centres[:, None, :] + noise).reshape(3 * n, 2), centres


class _CdistSpy:
    def __init__(self) -> None:
        self.calls = 0
        self.original = torch.cdist

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.original(*args, **kwargs)


# --- kmeans_plus_plus ---------------------------------------------------------------------------------------

@pytest.mark.task("kmeans_plus_plus")
def test_kpp_leaves_the_global_generator_alone(impl) -> None:
    x, _ = _blobs(5, 6)
    state = torch.get_rng_state()
    impl.kmeans_plus_plus(x, 3, _gen(6))
    observe("global torch RNG state unchanged by kmeans_plus_plus(x, 3, generator)",
            torch.equal(state, torch.get_rng_state()), expect=True,
            explain="every random draw uses the given generator (generator=generator in randint and multinomial)")


@pytest.mark.task("kmeans_plus_plus")
def test_kpp_centres_are_rows_of_x(impl) -> None:
    x, _ = _blobs(3, 10)
    centres = impl.kmeans_plus_plus(x, 5, _gen(4))
    hits = (centres[:, None, :] == x[None, :, :]).all(dim=-1)  # (k, N): centre j is row i
    observe("for each of the 5 centres, how many rows of x it equals", hits.sum(dim=1),
            expect=torch.ones(5, dtype=torch.long), explain="every centre is one of the points, chosen once")
    observe("number of distinct rows chosen", int(hits.any(dim=0).sum()), expect=5,
            explain="a chosen point has d2 = 0 and can never be drawn again")


@pytest.mark.task("kmeans_plus_plus")
def test_kpp_first_centre_is_uniform(impl) -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=f64)
    counts = torch.zeros(4, dtype=f64)
    for seed in range(500):
        first = impl.kmeans_plus_plus(x, 1, _gen(seed))
        counts += (first[0, 0] == x[:, 0]).to(f64)
    observe("frequency of each point as the only centre (k=1) over 500 seeds", counts / 500,
            expect=torch.full((4,), 0.25, dtype=f64), atol=0.06,
            explain="the first centre is drawn uniformly: torch.randint(0, N, (1,), generator=generator)")


@pytest.mark.task("kmeans_plus_plus")
def test_kpp_d2_weighting(impl) -> None:
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=f64)
    drawn = torch.stack([impl.kmeans_plus_plus(x, 2, _gen(seed))[:, 0] for seed in range(500)])  # (500, 2)
    index = (drawn[:, :, None] == x[:, 0]).to(torch.long).argmax(dim=-1)  # which point each centre is
    joint = torch.zeros(3, 3, dtype=f64).index_put_((index[:, 0], index[:, 1]), torch.ones(500, dtype=f64),
                                                     accumulate=True)
    expected = torch.tensor([[0.0, 0.1, 0.9], [0.2, 0.0, 0.8], [9 / 13, 4 / 13, 0.0]], dtype=f64)
    observe("frequency of the second centre given the first, over 500 seeds, points 0, 1, 3 (rows: first)",
            joint / joint.sum(dim=1, keepdim=True).clamp(min=1), expect=expected, atol=0.06,
            explain="the second centre is drawn with probability proportional to the SQUARED distance to the "
                    "first: after 0, the points 1 and 3 have d2 = 1 and 9, so 0.1 and 0.9 (not 0.25 and 0.75)")


@pytest.mark.task("kmeans_plus_plus")
def test_kpp_nearest_centre_distance(impl) -> None:
    x = torch.tensor([[0.0], [0.5], [10.0], [10.5], [20.0]], dtype=f64)
    drawn = torch.stack([impl.kmeans_plus_plus(x, 3, _gen(seed))[:, 0] for seed in range(800)])  # (800, 3)
    kept = drawn[(drawn[:, 0] == 0.0) & (drawn[:, 1] == 20.0)]
    runs = kept.size(0)
    thirds = (kept[:, 2:3] == x[:, 0]).to(f64).sum(dim=0)
    d2 = torch.tensor([0.0, 0.25, 100.0, 110.25, 0.0], dtype=f64)
    observe("frequency of each point as the third centre, when the first two are 0 and 20",
            thirds / max(runs, 1), expect=d2 / d2.sum(), atol=0.1,
            explain="d2 is the squared distance to the NEAREST centre chosen so far (min over all of them), not to "
                    "the last one: 0.5 is 0.25 from its nearest centre, 10 and 10.5 are 100 and 110.25")


@pytest.mark.task("kmeans_plus_plus")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_kpp_sampling_with_a_generator(impl, dtype: torch.dtype) -> None:
    x, _ = _blobs(1, 8, dtype)
    gen = _gen(2)
    centres = impl.kmeans_plus_plus(x, 4, gen)
    observe(f"kmeans_plus_plus(x, 4, generator) on 24 {dtype} points", centres,
            explain="first centre x[torch.randint(0, N, (1,), generator)], then each next one "
                    "x[torch.multinomial(d2, 1, generator)] with d2 the squared distance to the nearest centre "
                    "chosen so far: the same generator gives the reference's centres")
    observe("the generator's next number after kmeans_plus_plus", torch.rand(1, generator=gen),
            explain="one randint and k - 1 multinomial draws from the given generator, nothing more")


@pytest.mark.task("kmeans_plus_plus")
def test_kpp_is_vectorised(impl, monkeypatch) -> None:
    x, _ = _blobs(7, 300)
    spy = _CdistSpy()
    monkeypatch.setattr(torch, "cdist", spy)
    impl.kmeans_plus_plus(x, 4, _gen(8))
    observe("number of torch.cdist calls in kmeans_plus_plus on 900 points, k=4, is between 1 and 4",
            1 <= spy.calls <= 4, expect=True,
            explain="one torch.cdist(x, centres) per new centre gives every point's distances at once: no loop "
                    "over the points")


@pytest.mark.task("kmeans_plus_plus")
@pytest.mark.parametrize("case", ["k-0", "k-above-N", "x-1d", "too-few-distinct"])
def test_kpp_rejects(impl, case: str) -> None:
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [2.0, 0.0]], dtype=f64)
    args = {"k-0": (x, 0), "k-above-N": (x, 5), "x-1d": (x[:, 0], 2), "too-few-distinct": (x, 3)}[case]
    with expect_raises(f"kmeans_plus_plus with {case}", ValueError,
                       explain="ValueError for k < 1 or k > N, an x that is not (N, D), or fewer than k distinct "
                               "rows (every d2 is 0)"):
        impl.kmeans_plus_plus(*args, _gen(9))


# --- kmeans -------------------------------------------------------------------------------------------------

@pytest.mark.task("kmeans")
def test_kmeans_worked_example(impl) -> None:
    x = torch.tensor([[0.0], [1.0], [10.0], [11.0]], dtype=f64)
    init = torch.tensor([[0.0], [1.0]], dtype=f64)
    centres, labels, n_iter = impl.kmeans(x, 2, init=init)
    observe("centres from kmeans on 0, 1, 10, 11 starting at 0 and 1", centres,
            expect=torch.tensor([[0.5], [10.5]], dtype=f64),
            explain="assign each point to its nearest centre, move each centre to the mean of its points, repeat: "
                    "(0, 22/3), then (0.5, 10.5), then no move")
    observe("labels from that kmeans", labels, expect=torch.tensor([0, 0, 1, 1]), exact=True,
            explain="each point's nearest returned centre, int64")
    observe("n_iter from that kmeans", n_iter, expect=3,
            explain="3 updates: the third moves nothing (shift 0 < tol), so it stops there")


@pytest.mark.task("kmeans")
def test_kmeans_leaves_inputs_alone(impl) -> None:
    x, _ = _blobs(16, 5)
    x_copy = x.clone()
    init = x[[0, 5, 10]].clone()
    init_copy = init.clone()
    impl.kmeans(x, 3, init=init)
    observe("init after kmeans", init, expect=init_copy, exact=True,
            explain="init is copied: the centres are updated in a tensor of your own")
    observe("x after kmeans", x, expect=x_copy, exact=True, explain="kmeans does not change x")


@pytest.mark.task("kmeans")
def test_kmeans_empty_cluster_keeps_its_centre(impl) -> None:
    x, _ = _blobs(10, 4)
    x = x[:4]  # 4 points of the blob around (0, 0)
    init = torch.tensor([[0.5, 0.5], [100.0, 100.0]], dtype=f64)
    centres, labels, _ = impl.kmeans(x, 2, init=init)
    observe("centre 1, which no point is ever assigned to", centres[1], expect=torch.tensor([100.0, 100.0], dtype=f64),
            exact=True, explain="an empty cluster keeps its previous centre: no NaN (0 / 0), not moved to the origin, "
                                "not re-seeded")
    observe("centre 0", centres[0], expect=x.mean(0), explain="the mean of all 4 points")
    observe("labels", labels, expect=torch.zeros(4, dtype=torch.long), exact=True, explain="all in cluster 0")


@pytest.mark.task("kmeans")
def test_kmeans_labels_belong_to_the_returned_centres(impl) -> None:
    x = torch.tensor([[0.0], [1.0], [10.0], [11.0]], dtype=f64)
    centres, labels, n_iter = impl.kmeans(x, 2, max_iter=1, init=torch.tensor([[0.0], [1.0]], dtype=f64))
    observe("centres after kmeans with max_iter=1", centres, expect=torch.tensor([[0.0], [22 / 3]], dtype=f64),
            explain="one update: 0 alone in cluster 0; 1, 10 and 11 in cluster 1, mean 22/3")
    observe("labels after kmeans with max_iter=1", labels, expect=torch.tensor([0, 0, 1, 1]), exact=True,
            explain="the labels are assigned to the centres returned (one more assignment after the last update): "
                    "1 is nearer to 0 than to 22/3")
    observe("n_iter after kmeans with max_iter=1", n_iter, expect=1, explain="stopped by max_iter after 1 update")


@pytest.mark.task("kmeans")
def test_kmeans_ties_go_to_the_lowest_index(impl) -> None:
    x = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 0.0]], dtype=f64)
    centres, _, _ = impl.kmeans(x, 2, max_iter=1, init=torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=f64))
    observe("centres after one update when (0, 0) is equally far from both starting centres", centres,
            expect=torch.tensor([[-1.5, 0.0], [3.0, 0.0]], dtype=f64),
            explain="a tie goes to the lowest index, as argmin does: (0, 0) joins cluster 0, whose mean is -1.5")
    same = torch.zeros(2, 2, dtype=f64)
    _, labels, _ = impl.kmeans(x, 2, max_iter=1, init=same)
    observe("labels when both starting centres are (0, 0)", labels, expect=torch.zeros(3, dtype=torch.long),
            exact=True, explain="every point is equally far from both: all go to centre 0")


@pytest.mark.task("kmeans")
def test_kmeans_convergence_test(impl) -> None:
    x, _ = _blobs(11, 20)
    init = x[[0, 1, 2]].clone()  # three points of the first blob: a slow start
    runs = {}
    for tol in (1e9, 0.0):
        _, _, n_iter = impl.kmeans(x, 3, max_iter=12, tol=tol, init=init)
        runs[tol] = n_iter
    observe("n_iter with tol=1e9 (any shift is below it)", runs[1e9], expect=1,
            explain="the test runs after each update: stop as soon as the largest centre shift is below tol")
    observe("n_iter with tol=0 and max_iter=12", runs[0.0], expect=12,
            explain="the test is strict, shift < tol: with tol=0 no shift is below it, so all max_iter iterations run")
    observe("type of n_iter", type(runs[0.0]).__name__, expect="int", explain="n_iter is a Python int")
    pairs = torch.tensor([[0.0], [1.0], [10.0], [11.0]], dtype=f64)
    _, _, n_iter = impl.kmeans(pairs, 2, tol=0.75, init=torch.tensor([[0.0], [11.0]], dtype=f64))
    observe("n_iter with tol=0.75 on 0, 1, 10, 11 from centres 0 and 11 (both move by 0.5 in the first update)",
            n_iter, expect=1, explain="shift is the largest distance any ONE centre moved, 0.5 < 0.75, not the sum "
                                      "over centres (1.0)")
    n_iters = [impl.kmeans(x, 3, max_iter=50, tol=tol, init=init)[2] for tol in (1.0, 0.1, 1e-3)]
    observe("n_iter with tol 1.0, 0.1 and 1e-3", n_iters,
            explain="shift is the largest Euclidean distance any one centre moved in the update, "
                    "(new - old).norm(dim=1).max(); stop when shift < tol")


@pytest.mark.task("kmeans")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_kmeans_with_a_generator(impl, dtype: torch.dtype) -> None:
    x, _ = _blobs(12, 15, dtype)
    centres, labels, n_iter = impl.kmeans(x, 4, generator=_gen(13))
    observe(f"centres from kmeans(x, 4, generator) on 45 {dtype} points", centres,
            explain="seeded with kmeans_plus_plus(x, k, generator), then Lloyd's iterations: the reference's centres")
    observe(f"labels and n_iter from kmeans(x, 4, generator) ({dtype})", (labels, n_iter),
            explain="labels int64 of shape (N,), each point's nearest returned centre")


@pytest.mark.task("kmeans")
def test_kmeans_recovers_the_blobs(impl) -> None:
    x, true = _blobs(14, 50)
    centres, labels, _ = impl.kmeans(x, 3, generator=_gen(15))
    order = centres[:, 0].argsort()
    observe("centres found on 3 well-separated blobs, sorted by x coordinate", centres[order],
            expect=true[true[:, 0].argsort()], atol=0.15, explain="each centre ends near one blob's true centre")
    observe("number of distinct labels within each blob", [int(labels[i * 50:(i + 1) * 50].unique().numel())
                                                         for i in range(3)],
            expect=[1, 1, 1], explain="every blob is one cluster")


@pytest.mark.task("kmeans")
def test_kmeans_is_vectorised(impl, monkeypatch) -> None:
    x, _ = _blobs(17, 400)
    init = x[[0, 400, 800, 1]].clone()
    spy = _CdistSpy()
    monkeypatch.setattr(torch, "cdist", spy)
    _, _, n_iter = impl.kmeans(x, 4, init=init)
    observe("torch.cdist calls in kmeans on 1200 points with init, between n_iter and 2 * n_iter + 2",
            n_iter <= spy.calls <= 2 * n_iter + 2, expect=True,
            explain="each assignment is one torch.cdist(x, centres) of shape (N, k) for all points at once: no "
                    "Python loop over the points")


@pytest.mark.task("kmeans")
def test_kmeans_many_points(impl) -> None:
    x = torch.randn(20000, 4, generator=_gen(18), dtype=f64) + torch.randint(0, 5, (20000, 1), generator=_gen(19)) * 4
    centres, labels, n_iter = impl.kmeans(x, 5, max_iter=20, generator=_gen(20))
    observe("centres and n_iter from kmeans on 20,000 points, k=5", (centres, n_iter),
            explain="the same seeding and iterations as the reference, on a large N (vectorised code is fast here)")
    observe("cluster sizes", torch.bincount(labels, minlength=5), explain="the reference's assignment")


@pytest.mark.task("kmeans")
@pytest.mark.parametrize("case", ["max_iter-0", "init-shape", "k-above-N"])
def test_kmeans_rejects(impl, case: str) -> None:
    x, _ = _blobs(21, 2)
    kwargs = {"max_iter-0": {"k": 2, "max_iter": 0}, "init-shape": {"k": 2, "init": torch.zeros(3, 2, dtype=f64)},
              "k-above-N": {"k": 7}}[case]
    with expect_raises(f"kmeans with {case}", ValueError,
                       explain="ValueError for max_iter < 1, init not of shape (k, D), or k > N"):
        impl.kmeans(x, generator=_gen(22), **kwargs)
