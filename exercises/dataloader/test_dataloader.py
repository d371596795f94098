"""Grading tests for the dataloader exercise: SlidingWindowDataset, pad_collate, class_balanced_sampler,
make_loader."""

import itertools
from collections import Counter

import pytest
import torch
from torch.testing import assert_close
from torch.utils.data import DataLoader, Dataset, IterableDataset, WeightedRandomSampler

# (T, window, horizon, stride): exact fits, leftovers, strides that skip the tail, too-short series.
WINDOW_CASES = [
    (10, 3, 1, 1),
    (10, 3, 2, 1),
    (10, 3, 1, 2),
    (11, 3, 1, 2),
    (12, 4, 2, 3),
    (13, 4, 2, 3),
    (20, 5, 3, 4),
    (7, 6, 1, 1),
    (7, 6, 1, 5),
    (6, 6, 1, 1),
    (5, 6, 1, 1),
    (9, 1, 1, 1),
    (9, 2, 7, 1),
]


def _expected_len(T, window, horizon, stride):
    return max(0, (T - window - horizon) // stride + 1)


def _series(T, features=None, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    shape = (T,) if features is None else (T, features)
    return torch.randn(shape, generator=g).to(dtype)


def _describe(case):
    T, window, horizon, stride = case
    return f"T={T}, window={window}, horizon={horizon}, stride={stride}"


# --------------------------------------------------------------------------------- SlidingWindowDataset


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_is_a_map_style_dataset(submission):
    ds = submission.SlidingWindowDataset(_series(10), window=3)
    assert isinstance(ds, Dataset) and not isinstance(ds, IterableDataset), (
        "SlidingWindowDataset must subclass torch.utils.data.Dataset (map-style, not IterableDataset)"
    )


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", WINDOW_CASES, ids=_describe)
def test_window_dataset_length(submission, case):
    T, window, horizon, stride = case
    ds = submission.SlidingWindowDataset(_series(T), window=window, horizon=horizon, stride=stride)
    expected = _expected_len(*case)
    assert len(ds) == expected, (
        f"len(dataset) for {_describe(case)} is {len(ds)}, expected {expected}: it must count exactly the "
        "windows whose target fits, max(0, (T - window - horizon) // stride + 1)"
    )


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("features", [None, 3])
@pytest.mark.parametrize("case", WINDOW_CASES, ids=_describe)
def test_window_dataset_items(submission, case, features):
    T, window, horizon, stride = case
    series = _series(T, features, seed=T)
    before = series.clone()
    ds = submission.SlidingWindowDataset(series, window=window, horizon=horizon, stride=stride)
    for i in range(_expected_len(*case)):
        s = i * stride
        x, y = ds[i]
        assert_close(
            x,
            series[s : s + window],
            rtol=0,
            atol=0,
            msg=lambda m, i=i, s=s: (
                f"input of item {i} ({_describe(case)}) must be series[{s}:{s + window}] "
                f"(item i starts at i * stride): {m}"
            ),
        )
        assert_close(
            y,
            series[s + window : s + window + horizon],
            rtol=0,
            atol=0,
            msg=lambda m, i=i, s=s: (
                f"target of item {i} ({_describe(case)}) must be series"
                f"[{s + window}:{s + window + horizon}]: {m}"
            ),
        )
    assert torch.equal(series, before), "building or indexing the dataset changed the series"


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_defaults_are_horizon_1_stride_1(submission):
    series = torch.arange(8)
    ds = submission.SlidingWindowDataset(series, 3)
    assert len(ds) == 5, f"with horizon=1, stride=1, 8 steps and window 3 give 5 items, got {len(ds)}"
    x, y = ds[4]
    assert x.tolist() == [4, 5, 6] and y.tolist() == [7], f"item 4 must be ([4, 5, 6], [7]), got {x}, {y}"
    assert x.dtype == series.dtype and y.dtype == series.dtype, "items must keep the series' dtype"


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", [(10, 3, 1, 1), (13, 4, 2, 3), (20, 5, 3, 4), (7, 6, 1, 5)], ids=_describe)
def test_window_dataset_negative_indexes(submission, case):
    T, window, horizon, stride = case
    ds = submission.SlidingWindowDataset(_series(T, 2, seed=1), window=window, horizon=horizon, stride=stride)
    n = _expected_len(*case)
    for i in range(1, n + 1):
        got, expected = ds[-i], ds[n - i]
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1]), (
            f"dataset[-{i}] must be dataset[{n - i}] ({_describe(case)}), like a list's negative index"
        )


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", [(10, 3, 1, 1), (13, 4, 2, 3), (7, 6, 1, 5), (5, 6, 1, 1)], ids=_describe)
def test_window_dataset_out_of_range_raises_index_error(submission, case):
    T, window, horizon, stride = case
    ds = submission.SlidingWindowDataset(_series(T), window=window, horizon=horizon, stride=stride)
    n = _expected_len(*case)
    for bad in (n, n + 1, n + 7, -n - 1, -n - 5):
        with pytest.raises(IndexError):
            ds[bad]
            pytest.fail(f"dataset[{bad}] with len {n} ({_describe(case)}) must raise IndexError")


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_plain_iteration_stops(submission):
    ds = submission.SlidingWindowDataset(_series(15), window=4, horizon=2, stride=3)
    # A plain for loop over a Dataset stops at the first IndexError; bound it in case it never comes.
    items = list(itertools.islice(iter(ds), 20))
    assert len(items) == 4, (
        f"iterating the dataset with a for loop gave {len(items)} items, expected 4: "
        "__getitem__ must raise IndexError past the end"
    )


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"window": -2},
        {"window": 2.0},
        {"window": 1.5},
        {"window": 3, "horizon": 0},
        {"window": 3, "horizon": -1},
        {"window": 3, "horizon": 1.0},
        {"window": 3, "stride": 0},
        {"window": 3, "stride": -3},
        {"window": 3, "stride": 0.5},
    ],
    ids=str,
)
def test_window_dataset_rejects_bad_sizes(submission, kwargs):
    with pytest.raises(ValueError):
        submission.SlidingWindowDataset(_series(10), **kwargs)
        pytest.fail(
            f"SlidingWindowDataset(series, **{kwargs}) must raise ValueError: sizes are positive ints"
        )


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_batches_through_a_dataloader(submission):
    series = _series(31, 2, seed=3)
    ds = submission.SlidingWindowDataset(series, window=5, horizon=2, stride=2)
    batches = list(itertools.islice(iter(DataLoader(ds, batch_size=4)), 10))
    shapes = [(tuple(b[0].shape), tuple(b[1].shape)) for b in batches]
    expected = [((4, 5, 2), (4, 2, 2))] * 3 + [((1, 5, 2), (1, 2, 2))]
    assert shapes == expected, (
        f"a DataLoader with batch_size=4 over the 13 windows of a (31, 2) series (window 5, horizon 2, "
        f"stride 2) must give (input, target) batch shapes {expected}, got {shapes}"
    )
    assert_close(batches[-1][1][0], series[29:31], msg="the target of the last window must be series[29:31]")


# ------------------------------------------------------------------------------------------ pad_collate


def _token_batch(lengths, seed, dtype=torch.int64):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(1, 100, (n,), generator=g, dtype=dtype), int(torch.randint(0, 5, (), generator=g)))
        for n in lengths
    ]


@pytest.mark.task("pad_collate")
def test_pad_collate_small_example(submission):
    batch = [(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0), (torch.tensor([1, 2, 3, 4]), 2)]
    padded, lengths, labels = submission.pad_collate(batch)
    expected = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [1, 2, 3, 4]])
    assert padded.shape == (3, 4), f"padded must have shape (B, longest) = (3, 4), got {tuple(padded.shape)}"
    assert torch.equal(padded, expected), (
        "padded must be right-padded with 0 (each sequence starts at column 0):\n"
        f"expected\n{expected}\ngot\n{padded}"
    )
    assert torch.equal(lengths, torch.tensor([3, 1, 4])), f"lengths must be [3, 1, 4], got {lengths}"
    assert torch.equal(labels, torch.tensor([1, 0, 2])), f"labels must be [1, 0, 2], got {labels}"


@pytest.mark.task("pad_collate")
@pytest.mark.parametrize("lengths", [[1], [4], [3, 3, 3], [2, 7, 1, 5], [9, 1, 1, 4, 6, 2, 8]], ids=str)
def test_pad_collate_matches_reference(submission, reference, lengths):
    batch = _token_batch(lengths, seed=len(lengths))
    got = submission.pad_collate(batch)
    expected = reference.pad_collate(batch)
    assert isinstance(got, tuple) and len(got) == 3, (
        "pad_collate must return a tuple (padded, lengths, labels)"
    )
    for name, g, e in zip(("padded", "lengths", "labels"), got, expected, strict=True):
        assert isinstance(g, torch.Tensor), f"{name} must be a tensor, got {type(g).__name__}"
        assert_close(
            g, e, rtol=0, atol=0, msg=lambda m, name=name: f"{name} for lengths {lengths} is wrong: {m}"
        )


@pytest.mark.task("pad_collate")
def test_pad_collate_dtypes(submission):
    for dtype in (torch.int64, torch.int32):
        padded, lengths, labels = submission.pad_collate(_token_batch([3, 5, 2], seed=4, dtype=dtype))
        assert padded.dtype == dtype, f"padded must keep the sequences' dtype {dtype}, got {padded.dtype}"
        assert lengths.dtype == torch.int64, f"lengths must be int64, got {lengths.dtype}"
        assert labels.dtype == torch.int64, f"labels must be int64, got {labels.dtype}"
        assert lengths.shape == (3,) and labels.shape == (3,), "lengths and labels must have shape (B,)"


@pytest.mark.task("pad_collate")
def test_pad_collate_leaves_sequences_alone(submission):
    batch = _token_batch([4, 2, 6], seed=5)
    before = [(s.clone(), label) for s, label in batch]
    submission.pad_collate(batch)
    for (s, label), (s0, label0) in zip(batch, before, strict=True):
        assert torch.equal(s, s0) and label == label0, "pad_collate modified the input sequences"


@pytest.mark.task("pad_collate")
def test_pad_collate_as_collate_fn(submission):
    items = _token_batch([3, 1, 4, 1, 5, 9, 2], seed=6)
    batches = list(DataLoader(items, batch_size=3, collate_fn=submission.pad_collate))
    shapes = [tuple(b[0].shape) for b in batches]
    assert shapes == [(3, 4), (3, 9), (1, 2)], (
        f"padded batch shapes must be [(3, 4), (3, 9), (1, 2)], got {shapes}"
    )
    assert batches[1][1].tolist() == [1, 5, 9], "the lengths of the second batch must be [1, 5, 9]"


# ------------------------------------------------------------------------------- class_balanced_sampler


@pytest.mark.task("class_balanced_sampler")
@pytest.mark.parametrize("as_tensor", [False, True], ids=["list", "tensor"])
def test_sampler_weights_are_one_over_class_count(submission, as_tensor):
    labels = [0, 0, 0, 1, 2, 2, 0, 2, 0, 0, 1, 2, 7, 7, 7, 7, 7, 0]
    counts = Counter(labels)
    expected = torch.tensor([1.0 / counts[c] for c in labels], dtype=torch.float64)
    sampler = submission.class_balanced_sampler(torch.tensor(labels) if as_tensor else labels)
    assert isinstance(sampler, WeightedRandomSampler), (
        f"class_balanced_sampler must return a WeightedRandomSampler, got {type(sampler).__name__}"
    )
    assert_close(
        sampler.weights.double(),
        expected,
        rtol=1e-6,
        atol=0,
        msg=lambda m: f"the weight of each sample must be 1 / (size of its class), in sample order: {m}",
    )


@pytest.mark.task("class_balanced_sampler")
def test_sampler_draws_with_replacement_and_default_count(submission):
    labels = [1, 1, 1, 1, 1, 1, 1, 1, 3, 3]
    sampler = submission.class_balanced_sampler(labels)
    assert sampler.replacement, "the sampler must draw with replacement (replacement=True)"
    assert sampler.num_samples == len(labels) and len(sampler) == len(labels), (
        f"by default the sampler must draw len(labels) = {len(labels)} indexes, got {len(sampler)}"
    )
    sampler = submission.class_balanced_sampler(labels, num_samples=37)
    assert len(sampler) == 37 and len(list(sampler)) == 37, (
        "with num_samples=37 the sampler must yield 37 indexes"
    )


@pytest.mark.task("class_balanced_sampler")
def test_sampler_uses_the_generator(submission, reference):
    # Class sizes 8, 4, 2, 1: every weight is exact in any float format, so draws compare exactly.
    labels = [0] * 8 + [1] * 4 + [2] * 2 + [3]
    draws = []
    for module, global_seed in ((submission, 1), (submission, 2), (reference, 3)):
        torch.manual_seed(global_seed)
        g = torch.Generator().manual_seed(1234)
        sampler = module.class_balanced_sampler(labels, num_samples=40, generator=g)
        if module is submission:
            assert sampler.generator is g, "the sampler must use the generator it was given (generator=...)"
        torch.manual_seed(global_seed + 10)
        draws.append(list(sampler))
    assert draws[0] == draws[1], (
        "two samplers with equally seeded generators drew different indexes: "
        "the draws depend on the global RNG"
    )
    assert draws[0] == draws[2], "with the same seeded generator, the draws differ from the reference's"


@pytest.mark.task("class_balanced_sampler")
def test_sampler_balances_classes(submission):
    labels = torch.tensor([0] * 90 + [5] * 10)
    g = torch.Generator().manual_seed(0)
    sampler = submission.class_balanced_sampler(labels, num_samples=4000, generator=g)
    drawn = labels[torch.tensor(list(sampler))]
    rare = (drawn == 5).float().mean().item()
    # Balanced draws: the rare class is about half of them (one standard deviation is 0.008).
    assert 0.45 < rare < 0.55, (
        f"the class with 10 of 100 samples was {rare:.1%} of the draws, expected about 50%: are the weights "
        "1 / class count?"
    )


# ---------------------------------------------------------------------------------------- make_loader


class _Items(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if not 0 <= index < self.n:
            raise IndexError(index)
        return index


def _epoch(loader, limit=100):
    return [batch.tolist() for batch in itertools.islice(iter(loader), limit)]


@pytest.mark.task("make_loader")
def test_make_loader_returns_a_dataloader_over_every_item(submission):
    loader = submission.make_loader(_Items(10), batch_size=3, seed=0)
    assert isinstance(loader, DataLoader), (
        f"make_loader must return a DataLoader, got {type(loader).__name__}"
    )
    batches = _epoch(loader)
    assert [len(b) for b in batches] == [3, 3, 3, 1], (
        "10 items in batches of 3 must give sizes [3, 3, 3, 1] (last batch kept), "
        f"got {[len(b) for b in batches]}"
    )
    assert sorted(sum(batches, [])) == list(range(10)), "one epoch must yield every item exactly once"


@pytest.mark.task("make_loader")
@pytest.mark.parametrize("shuffle", [True, False])
def test_make_loader_same_seed_same_batches_whatever_the_global_rng(submission, shuffle):
    epochs = []
    for global_seed in (1, 2, 3):
        torch.manual_seed(global_seed)
        loader = submission.make_loader(_Items(20), batch_size=4, seed=7, shuffle=shuffle)
        torch.manual_seed(global_seed * 100)  # the global RNG moves on before the loader is iterated
        torch.rand(global_seed)
        epochs.append(_epoch(loader))
    assert epochs[0] == epochs[1] == epochs[2], (
        "two loaders with the same seed gave different batches when the global RNG was in another state: "
        "shuffle with a torch.Generator seeded with `seed` and pass it to the DataLoader"
    )


@pytest.mark.task("make_loader")
@pytest.mark.parametrize("shuffle", [True, False])
def test_make_loader_leaves_the_global_rng_alone(submission, shuffle):
    torch.manual_seed(99)
    state = torch.get_rng_state()
    loader = submission.make_loader(_Items(12), batch_size=5, seed=3, shuffle=shuffle)
    _epoch(loader)
    _epoch(loader)
    assert torch.equal(torch.get_rng_state(), state), (
        f"making and iterating the loader (shuffle={shuffle}) changed the global torch RNG: do not call "
        "torch.manual_seed, and give the DataLoader its own generator (it also draws a base seed per epoch)"
    )


@pytest.mark.task("make_loader")
def test_make_loader_order_depends_on_the_seed(submission):
    orders = {tuple(sum(_epoch(submission.make_loader(_Items(20), 20, seed=seed)), [])) for seed in range(5)}
    assert len(orders) == 5, (
        f"seeds 0..4 gave only {len(orders)} different orders: the order must follow `seed`"
    )
    assert tuple(range(20)) not in orders, "with shuffle=True the items must be shuffled"


@pytest.mark.task("make_loader")
def test_make_loader_without_shuffle_keeps_the_dataset_order(submission):
    batches = _epoch(submission.make_loader(_Items(11), batch_size=4, seed=5, shuffle=False))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]], (
        f"with shuffle=False the batches must follow the dataset's order, got {batches}"
    )
