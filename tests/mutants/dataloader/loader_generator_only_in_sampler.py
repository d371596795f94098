# MUTANT: make_loader seeds only a RandomSampler; the DataLoader draws its base seed from the global RNG
"""Reference solution: a windowed time-series Dataset, a padding collate function, a class-balanced sampler,
and a reproducible DataLoader."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler


class SlidingWindowDataset(Dataset):
    def __init__(self, series: torch.Tensor, window: int, horizon: int = 1, stride: int = 1) -> None:
        for name, value in (("window", window), ("horizon", horizon), ("stride", stride)):
            # bool is a subclass of int, but True is not a meaningful length.
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.series = series
        self.window = window
        self.horizon = horizon
        self.stride = stride

    def __len__(self) -> int:
        # The last item starts at s and needs s + window + horizon <= T, so s <= T - window - horizon:
        # starts 0, stride, 2*stride, ... up to that bound. Python's // floors, so a too-short series gives a
        # negative count, hence the max.
        span = self.window + self.horizon
        return max(0, (len(self.series) - span) // self.stride + 1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        if index < 0:
            index += n
        # Without this check, an index past the end would silently return short or empty slices, and
        # `for item in dataset` (which stops at IndexError) would never end.
        if not 0 <= index < n:
            raise IndexError(f"index out of range for a dataset of {n} windows")
        start = index * self.stride
        end = start + self.window
        # Slices are views: no data is copied until the DataLoader collates the batch.
        return self.series[start:end], self.series[end : end + self.horizon]


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    sequences = [sequence for sequence, _ in batch]
    lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.int64)
    # batch_first=True gives (B, longest); the default (False) would give the time-major (longest, B).
    padded = pad_sequence(sequences, batch_first=True, padding_value=0)
    labels = torch.tensor([label for _, label in batch], dtype=torch.int64)
    return padded, lengths, labels


def class_balanced_sampler(
    labels: Sequence[int] | torch.Tensor,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> WeightedRandomSampler:
    labels = torch.as_tensor(labels)
    # inverse[i] is the position of labels[i] among the distinct classes; counts[k] is that class's size.
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    # Each class gets total weight count * (1 / count) = 1, so every class is drawn equally often.
    weights = 1.0 / counts[inverse].double()
    if num_samples is None:
        num_samples = len(labels)
    # With replacement: the few samples of a rare class must be drawn again and again.
    return WeightedRandomSampler(weights, num_samples=num_samples, replacement=True, generator=generator)


def make_loader(dataset: Dataset, batch_size: int, seed: int, shuffle: bool = True) -> DataLoader:
    # A private generator, seeded here: the DataLoader hands it to its RandomSampler for the shuffle order
    # and also draws each iterator's base seed from it. Without `generator=`, both come from the global RNG,
    # which other code (dropout, weight init, augmentation) keeps advancing.
    generator = torch.Generator()
    generator.manual_seed(seed)
    if shuffle:
        sampler = torch.utils.data.RandomSampler(dataset, generator=generator)
    else:
        sampler = torch.utils.data.SequentialSampler(dataset)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
