"""Data loading: a windowed time-series Dataset, a padding collate function, a class-balanced sampler, and a
reproducible DataLoader.

Implement the four tasks below with ``torch.utils.data`` (Dataset, DataLoader, samplers).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler


class SlidingWindowDataset(Dataset):
    """A map-style Dataset of (input window, target) pairs cut from one time series.

    Args:
        series: a tensor of shape (T,) or (T, F) (T time steps, F features), any dtype.
        window: the number of time steps in each input.
        horizon: the number of time steps in each target, right after the input (default 1).
        stride: the number of time steps between the starts of consecutive items (default 1).

    ``window``, ``horizon`` and ``stride`` must be positive ``int``s: anything else (0, a negative number, a
    float such as 2.0 or 1.5) raises ValueError in ``__init__``.

    Item ``i`` starts at ``s = i * stride`` and is the pair
    ``(series[s : s + window], series[s + window : s + window + horizon])``: shapes (window,) and (horizon,)
    for a 1-D series, (window, F) and (horizon, F) for a 2-D one, with the series' dtype.

    ``len(dataset)`` counts exactly the items whose whole target fits in the series:
    ``max(0, (T - window - horizon) // stride + 1)`` (0 when the series is too short).

    Indexing works like a list's: ``dataset[-1]`` is the last item, ``dataset[-len(dataset)]`` the first,
    and an index outside ``[-len, len)`` raises IndexError (which also ends a plain ``for`` loop over it).
    """

    def __init__(self, series: torch.Tensor, window: int, horizon: int = 1, stride: int = 1) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Collate variable-length sequences into one right-padded batch (a DataLoader ``collate_fn``).

    Args:
        batch: a non-empty list of ``(sequence, label)`` pairs: each sequence a 1-D integer tensor (token
            ids, lengths may differ, at least 1), each label a Python int.

    Returns:
        ``(padded, lengths, labels)``:
        - padded: shape (B, longest length), the sequences in batch order, each one starting at column 0
          and followed by zeros (right padding with 0); same dtype as the sequences.
        - lengths: int64 tensor of shape (B,), the original length of each sequence.
        - labels: int64 tensor of shape (B,).
        The input sequences are not modified.
    """
    raise NotImplementedError


def class_balanced_sampler(
    labels: Sequence[int] | torch.Tensor,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> WeightedRandomSampler:
    """Return a sampler that draws every class equally often on average, however imbalanced the labels are.

    Args:
        labels: the class of each sample of the dataset: a list of ints or a 1-D integer tensor (class ids
            need not be contiguous, e.g. [3, 3, 7]).
        num_samples: how many indexes one pass of the sampler yields (default: ``len(labels)``).
        generator: the ``torch.Generator`` the sampler draws with (``None``: the global RNG).

    Returns:
        a ``torch.utils.data.WeightedRandomSampler`` whose weight for sample i is exactly
        ``1 / (number of samples whose label is labels[i])`` (so ``sampler.weights`` holds those values, in
        sample order), drawing ``num_samples`` indexes with replacement, using ``generator``.
    """
    raise NotImplementedError


def make_loader(dataset: Dataset, batch_size: int, seed: int, shuffle: bool = True) -> DataLoader:
    """Return a ``DataLoader`` over ``dataset`` whose order depends on ``seed`` and nothing else.

    Args:
        dataset: a map-style Dataset.
        batch_size: the batch size (the last, smaller batch is kept).
        seed: the seed of the shuffle order.
        shuffle: True: a random order fixed by ``seed`` (every item once per epoch); False: the dataset's
            own order.

    Behaviour:
        - Two loaders made with the same seed yield the same batches (first epoch), whatever the global
          torch RNG state when they are made or iterated; different seeds give different orders.
        - Making it and iterating it neither read nor change the global torch RNG
          (``torch.get_rng_state()`` is the same before and after).
        - Single process (``num_workers=0``), default collate.
    """
    raise NotImplementedError
