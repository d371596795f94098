"""Grading tests for the dataloader exercise: SlidingWindowDataset, pad_collate, class_balanced_sampler,
make_loader."""

import itertools
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, WeightedRandomSampler

from quiz.grading.scenario import expect_raises, observe

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


def _item(ds, index):
    """ds[index], or what it raised in words: the test takes the same path whatever the item does."""
    try:
        return ds[index]
    except Exception as error:  # noqa: BLE001 - what it raised is the observation
        return f"raised {type(error).__name__}: {str(error)[:100]}"


# --------------------------------------------------------------------------------- SlidingWindowDataset


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_is_a_map_style_dataset(impl):
    ds = impl.SlidingWindowDataset(_series(10), window=3)
    explain = "SlidingWindowDataset must subclass torch.utils.data.Dataset (map-style, not IterableDataset)"
    observe("SlidingWindowDataset is a torch.utils.data.Dataset", isinstance(ds, Dataset), expect=True,
            explain=explain)
    observe("SlidingWindowDataset is an IterableDataset", isinstance(ds, IterableDataset), expect=False,
            explain=explain)


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", WINDOW_CASES, ids=_describe)
def test_window_dataset_length(impl, case):
    T, window, horizon, stride = case
    ds = impl.SlidingWindowDataset(_series(T), window=window, horizon=horizon, stride=stride)
    n = _expected_len(*case)
    if n:  # worked out from the case alone, never from what the dataset returned
        last = (n - 1) * stride
        detail = (f": the last item starts at {last} and its target ends at {last + window + horizon} <= T = {T}, "
                  f"one more would end at {last + stride + window + horizon} > {T}")
    else:
        detail = f": even item 0's target would end at {window + horizon} > T = {T}"
    observe(f"len(dataset) for {_describe(case)}", len(ds), expect=n,
            explain="len counts exactly the items whose whole target fits, max(0, (T - window - horizon) // stride "
                    f"+ 1) = {n} here{detail}")


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("features", [None, 3], ids=["1-D", "2-D"])
@pytest.mark.parametrize("case", WINDOW_CASES, ids=_describe)
def test_window_dataset_items(impl, case, features):
    T, window, horizon, stride = case
    series = _series(T, features, seed=T)
    ds = impl.SlidingWindowDataset(series, window=window, horizon=horizon, stride=stride)
    kind = "1-D" if features is None else f"(T, {features})"
    for i in range(_expected_len(*case)):
        s = i * stride
        x, y = ds[i]
        observe(f"input of item {i} of a {kind} series ({_describe(case)})", x, exact=True,
                expect=series[s: s + window],
                explain=f"item i starts at s = i * stride: the input of item {i} is series[{s}:{s + window}]")
        observe(f"target of item {i} of a {kind} series ({_describe(case)})", y, exact=True,
                expect=series[s + window: s + window + horizon],
                explain=f"the target is the horizon steps right after the input: series[{s + window}:"
                        f"{s + window + horizon}]")
    observe("the series after building and indexing the dataset", series,
            explain="the dataset must not modify the series")


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_defaults_are_horizon_1_stride_1(impl):
    series = torch.arange(8)
    ds = impl.SlidingWindowDataset(series, 3)
    explain = "the defaults are horizon=1, stride=1; items keep the series' dtype"
    observe("len(SlidingWindowDataset(torch.arange(8), 3))", len(ds), expect=5, explain=explain)
    x, y = ds[4]
    observe("input of item 4 of SlidingWindowDataset(torch.arange(8), 3)", x, expect=torch.tensor([4, 5, 6]),
            explain=explain)
    observe("target of item 4 of SlidingWindowDataset(torch.arange(8), 3)", y, expect=torch.tensor([7]),
            explain=explain)


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", [(10, 3, 1, 1), (13, 4, 2, 3), (20, 5, 3, 4), (7, 6, 1, 5)], ids=_describe)
def test_window_dataset_negative_indexes(impl, case):
    T, window, horizon, stride = case
    ds = impl.SlidingWindowDataset(_series(T, 2, seed=1), window=window, horizon=horizon, stride=stride)
    n = _expected_len(*case)
    for i in range(1, n + 1):
        observe(f"dataset[-{i}] with len {n} ({_describe(case)})", _item(ds, -i), exact=True,
                explain=f"dataset[-{i}] is dataset[{n - i}], like a list's negative index")


@pytest.mark.task("SlidingWindowDataset")
@pytest.mark.parametrize("case", [(10, 3, 1, 1), (13, 4, 2, 3), (7, 6, 1, 5), (5, 6, 1, 1)], ids=_describe)
def test_window_dataset_out_of_range_raises_index_error(impl, case):
    T, window, horizon, stride = case
    ds = impl.SlidingWindowDataset(_series(T), window=window, horizon=horizon, stride=stride)
    n = _expected_len(*case)
    for bad in (n, n + 1, n + 7, -n - 1, -n - 5):
        with expect_raises(f"dataset[{bad}] with len {n} ({_describe(case)})", IndexError,
                           explain="an index outside [-len, len) must raise IndexError"):
            ds[bad]


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_plain_iteration_stops(impl):
    ds = impl.SlidingWindowDataset(_series(15), window=4, horizon=2, stride=3)
    # A plain for loop over a Dataset stops at the first IndexError; bound it in case it never comes.
    items = list(itertools.islice(iter(ds), 20))
    observe("the items of a for loop over the 4 windows of a 15-step series (window 4, horizon 2, stride 3; "
            "at most 20 taken)", items, exact=True,
            explain="a for loop over the dataset yields its 4 items and stops: __getitem__ raises IndexError past "
                    "the end")


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
def test_window_dataset_rejects_bad_sizes(impl, kwargs):
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    with expect_raises(f"SlidingWindowDataset(series, {arguments})", ValueError,
                       explain="window, horizon and stride must be positive ints: anything else (0, negative, "
                               "a float such as 2.0) raises ValueError in __init__"):
        impl.SlidingWindowDataset(_series(10), **kwargs)


@pytest.mark.task("SlidingWindowDataset")
def test_window_dataset_batches_through_a_dataloader(impl):
    series = _series(31, 2, seed=3)
    ds = impl.SlidingWindowDataset(series, window=5, horizon=2, stride=2)
    batches = list(itertools.islice(iter(DataLoader(ds, batch_size=4)), 10))
    shapes = [(tuple(b[0].shape), tuple(b[1].shape)) for b in batches]
    expected = [((4, 5, 2), (4, 2, 2))] * 3 + [((1, 5, 2), (1, 2, 2))]
    where = "a DataLoader with batch_size=4 over a (31, 2) series (window 5, horizon 2, stride 2)"
    observe(f"(input, target) batch shapes from {where}", shapes, expect=expected,
            explain="the 13 windows give 3 batches of 4 and one of 1")
    observe(f"the target of the last window from {where}", batches[-1][1][-1], exact=True, expect=series[29:31],
            explain="the last window's target is series[29:31]")


# ------------------------------------------------------------------------------------------ pad_collate


def _token_batch(lengths, seed, dtype=torch.int64):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(1, 100, (n,), generator=g, dtype=dtype), int(torch.randint(0, 5, (), generator=g)))
        for n in lengths
    ]


PADDED = "padded has shape (B, longest): row i is sequence i from column 0, then zeros (right padding)"


@pytest.mark.task("pad_collate")
def test_pad_collate_small_example(impl):
    batch = [(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0), (torch.tensor([1, 2, 3, 4]), 2)]
    padded, lengths, labels = impl.pad_collate(batch)
    where = "for sequences [5, 6, 7], [8], [1, 2, 3, 4] with labels 1, 0, 2"
    observe(f"padded {where}", padded, expect=torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [1, 2, 3, 4]]),
            explain=PADDED)
    observe(f"lengths {where}", lengths, expect=torch.tensor([3, 1, 4]),
            explain="lengths[i] is the original length of sequence i (int64)")
    observe(f"labels {where}", labels, expect=torch.tensor([1, 0, 2]), explain="labels[i] is label i (int64)")


@pytest.mark.task("pad_collate")
@pytest.mark.parametrize("lengths", [[1], [4], [3, 3, 3], [2, 7, 1, 5], [9, 1, 1, 4, 6, 2, 8]], ids=str)
def test_pad_collate_random_batches(impl, lengths):
    batch = _token_batch(lengths, seed=len(lengths))
    got = impl.pad_collate(batch)
    observe("pad_collate returns a tuple", isinstance(got, tuple), expect=True,
            explain="pad_collate returns the tuple (padded, lengths, labels)")
    explains = (PADDED, "lengths[i] is the original length of sequence i (int64)", "labels[i] is label i (int64)")
    for name, value, explain in zip(("padded", "lengths", "labels"), got, explains, strict=False):
        observe(f"{name} for sequence lengths {lengths}", value, exact=True, explain=explain)


@pytest.mark.task("pad_collate")
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32], ids=str)
def test_pad_collate_dtypes(impl, dtype):
    padded, lengths, labels = impl.pad_collate(_token_batch([3, 5, 2], seed=4, dtype=dtype))
    where = f"for {str(dtype).removeprefix('torch.')} sequences of lengths [3, 5, 2]"
    observe(f"padded {where}", padded, exact=True, explain="padded keeps the sequences' dtype")
    observe(f"lengths {where}", lengths, exact=True, explain="lengths is an int64 tensor of shape (B,)")
    observe(f"labels {where}", labels, exact=True, explain="labels is an int64 tensor of shape (B,)")


@pytest.mark.task("pad_collate")
def test_pad_collate_leaves_sequences_alone(impl):
    batch = _token_batch([4, 2, 6], seed=5)
    impl.pad_collate(batch)
    observe("the batch after pad_collate", batch, exact=True, explain="pad_collate must not modify its input")


@pytest.mark.task("pad_collate")
def test_pad_collate_as_collate_fn(impl):
    items = _token_batch([3, 1, 4, 1, 5, 9, 2], seed=6)
    batches = list(DataLoader(items, batch_size=3, collate_fn=impl.pad_collate))
    where = "a DataLoader(batch_size=3, collate_fn=pad_collate) over sequences of lengths [3, 1, 4, 1, 5, 9, 2]"
    observe(f"padded batch shapes from {where}", [tuple(b[0].shape) for b in batches],
            expect=[(3, 4), (3, 9), (1, 2)], explain=PADDED)
    observe(f"the lengths of the second batch from {where}", batches[1][1], expect=torch.tensor([1, 5, 9]),
            explain="lengths[i] is the original length of sequence i (int64)")


# ------------------------------------------------------------------------------- class_balanced_sampler


@pytest.mark.task("class_balanced_sampler")
@pytest.mark.parametrize("as_tensor", [False, True], ids=["list", "tensor"])
def test_sampler_weights_are_one_over_class_count(impl, as_tensor):
    labels = [0, 0, 0, 1, 2, 2, 0, 2, 0, 0, 1, 2, 7, 7, 7, 7, 7, 0]
    counts = Counter(labels)
    expected = torch.tensor([1.0 / counts[c] for c in labels], dtype=torch.float64)
    sampler = impl.class_balanced_sampler(torch.tensor(labels) if as_tensor else labels)
    observe("class_balanced_sampler returns a WeightedRandomSampler", isinstance(sampler, WeightedRandomSampler),
            expect=True, explain="return a torch.utils.data.WeightedRandomSampler")
    observe(f"sampler.weights for labels {labels} (as a {'tensor' if as_tensor else 'list'})",
            torch.as_tensor(sampler.weights).double(), rtol=1e-6, atol=0, expect=expected,
            explain="the weight of sample i is 1 / (number of samples whose label is labels[i]), in sample order")


@pytest.mark.task("class_balanced_sampler")
def test_sampler_draws_with_replacement_and_default_count(impl):
    labels = [1, 1, 1, 1, 1, 1, 1, 1, 3, 3]
    sampler = impl.class_balanced_sampler(labels)
    observe("sampler.replacement", sampler.replacement, expect=True,
            explain="the sampler draws with replacement (replacement=True)")
    observe("sampler.num_samples for 10 labels and no num_samples", sampler.num_samples, expect=10,
            explain="by default the sampler draws len(labels) indexes")
    observe("len(sampler) for 10 labels and no num_samples", len(sampler), expect=10,
            explain="by default the sampler draws len(labels) indexes")
    sampler = impl.class_balanced_sampler(labels, num_samples=37)
    observe("len(sampler) with num_samples=37", len(sampler), expect=37,
            explain="with num_samples=37 the sampler yields 37 indexes")
    observe("the number of indexes one pass of the sampler yields with num_samples=37", len(list(sampler)),
            expect=37, explain="with num_samples=37 the sampler yields 37 indexes")


@pytest.mark.task("class_balanced_sampler")
def test_sampler_uses_the_generator(impl):
    # Class sizes 8, 4, 2, 1: every weight is exact in any float format, so draws compare exactly.
    labels = [0] * 8 + [1] * 4 + [2] * 2 + [3]
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        g = torch.Generator().manual_seed(1234)
        sampler = impl.class_balanced_sampler(labels, num_samples=40, generator=g)
        observe(f"sampler.generator is the generator passed in (global seed {global_seed})", sampler.generator is g,
                expect=True, explain="the sampler draws with the generator it was given (generator=...)")
        torch.manual_seed(global_seed + 10)
        observe(f"40 draws with a generator seeded 1234 (global RNG seeded {global_seed + 10})", list(sampler),
                explain="with a seeded generator the draws depend on that generator only, never on the global RNG")


@pytest.mark.task("class_balanced_sampler")
def test_sampler_balances_classes(impl):
    labels = torch.tensor([0] * 90 + [5] * 10)
    g = torch.Generator().manual_seed(0)
    sampler = impl.class_balanced_sampler(labels, num_samples=4000, generator=g)
    drawn = labels[torch.tensor(list(sampler))]
    # Balanced draws: the rare class is about half of them (one standard deviation is 0.008).
    observe("the share of the class with 10 of 100 samples in 4000 draws", (drawn == 5).float().mean().item(),
            expect=0.5, atol=0.05, explain="every class is drawn equally often on average: about 50% each here")


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
def test_make_loader_returns_a_dataloader_over_every_item(impl):
    loader = impl.make_loader(_Items(10), batch_size=3, seed=0)
    observe("make_loader returns a DataLoader", isinstance(loader, DataLoader), expect=True,
            explain="return a torch.utils.data.DataLoader")
    batches = _epoch(loader)
    observe("batch sizes of one epoch over 10 items with batch_size=3", [len(b) for b in batches],
            expect=[3, 3, 3, 1], explain="batches of batch_size, the last smaller batch kept")
    observe("the items of one epoch over 10 items, sorted", sorted(sum(batches, [])), expect=list(range(10)),
            explain="one epoch yields every item exactly once")


@pytest.mark.task("make_loader")
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle=True", "shuffle=False"])
def test_make_loader_same_seed_same_batches_whatever_the_global_rng(impl, shuffle):
    epochs = []
    for global_seed in (1, 2, 3):
        torch.manual_seed(global_seed)
        loader = impl.make_loader(_Items(20), batch_size=4, seed=7, shuffle=shuffle)
        torch.manual_seed(global_seed * 100)  # the global RNG moves on before the loader is iterated
        torch.rand(global_seed)
        epochs.append(_epoch(loader))
    # The order itself may differ between correct solutions (any shuffle fixed by the seed): compare runs.
    for other in (2, 3):
        observe(f"loader {other} gives the same batches as loader 1 (seed=7, shuffle={shuffle}, the global RNG in "
                "another state each time)", epochs[other - 1] == epochs[0], expect=True,
                explain="the order depends on seed only, whatever the global torch RNG's state when the loader is "
                        "made or iterated")


@pytest.mark.task("make_loader")
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle=True", "shuffle=False"])
def test_make_loader_leaves_the_global_rng_alone(impl, shuffle):
    torch.manual_seed(99)
    state = torch.get_rng_state()
    loader = impl.make_loader(_Items(12), batch_size=5, seed=3, shuffle=shuffle)
    _epoch(loader)
    _epoch(loader)
    observe(f"the global torch RNG state after making a loader (shuffle={shuffle}) and iterating it twice",
            torch.get_rng_state(), exact=True, expect=state,
            explain="making and iterating the loader must not change the global torch RNG: no torch.manual_seed, "
                    "and the DataLoader needs a generator of its own (it draws a base seed from it every epoch)")


@pytest.mark.task("make_loader")
def test_make_loader_order_depends_on_the_seed(impl):
    orders = [tuple(sum(_epoch(impl.make_loader(_Items(20), 20, seed=seed)), [])) for seed in range(5)]
    observe("the number of different orders of 20 items with seeds 0, 1, 2, 3, 4", len(set(orders)), expect=5,
            explain="different seeds give different orders: the shuffle order follows `seed`")
    observe("some order of seeds 0..4 is the dataset's own order 0, 1, ..., 19", tuple(range(20)) in orders,
            expect=False, explain="with shuffle=True the items are shuffled")


@pytest.mark.task("make_loader")
def test_make_loader_without_shuffle_keeps_the_dataset_order(impl):
    batches = _epoch(impl.make_loader(_Items(11), batch_size=4, seed=5, shuffle=False))
    observe("the batches of make_loader(11 items, batch_size=4, seed=5, shuffle=False)", batches,
            expect=[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]],
            explain="with shuffle=False the batches follow the dataset's order")
