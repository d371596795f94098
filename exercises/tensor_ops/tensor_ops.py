"""Tensor indexing and reductions: the warm-up questions of almost every PyTorch interview.

Write each function with whole-tensor operations (``gather``, ``scatter_add``/``index_add``,
``masked_fill``, broadcasting, ``einsum``/``bmm``): no Python loop over the elements.

Rules that hold for every function below:
- Inputs are never modified in place: the caller's tensors hold the same values afterwards.
- The result is a new tensor on the same device as the inputs.
- Where a result depends on floating-point values, its dtype is the dtype of those values (float32 stays
  float32, float64 stays float64).
"""

from __future__ import annotations

import torch


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick one value from each row of ``x``.

    Args:
        x: a tensor of shape (N, C), any dtype.
        index: an int64 tensor of shape (N,), each value in [0, C).

    Returns:
        A tensor of shape (N,) and ``x``'s dtype with ``out[i] == x[i, index[i]]``. Gradients flow back into
        ``x`` (the picked entries get the incoming gradient, every other entry gets 0).

    Example: the log-probability of the correct class for each sample,
    ``gather_rows(log_probs, targets)``. Values of ``index`` outside [0, C) are a caller error: what happens
    then is not specified.
    """
    raise NotImplementedError


def segment_sum(values: torch.Tensor, group_ids: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Sum the rows of ``values`` that belong to the same group.

    Args:
        values: a tensor of shape (N, *F) (F may be empty, so (N,) is allowed), float or integer dtype.
        group_ids: an int64 tensor of shape (N,): ``group_ids[i]`` is the group of row ``values[i]``.
        num_groups: the number of groups G (G >= 1).

    Returns:
        A tensor of shape (G, *F) and ``values``' dtype: ``out[g]`` is the sum of every ``values[i]`` with
        ``group_ids[i] == g``. A group with no members sums to zeros. N may be 0 (all groups are then zero).
        Gradients flow back into ``values``.

    Raises:
        IndexError, RuntimeError or ValueError (any of them) when a group id is negative or >= G. PyTorch's
        ``index_add``/``scatter_add`` already raise one of these; ``torch.bincount`` does not for ids >= G.
    """
    raise NotImplementedError


def mask_below(x: torch.Tensor, threshold: float, value: float) -> torch.Tensor:
    """Replace every entry strictly below ``threshold`` by ``value``, without touching ``x``.

    Args:
        x: a floating-point tensor of any shape.
        threshold: entries with ``x < threshold`` are replaced; entries equal to it are kept.
        value: the replacement.

    Returns:
        A new tensor with ``x``'s shape and dtype. ``x`` itself is unchanged. Gradients flow back into ``x``
        for the kept entries; replaced entries get gradient 0.
    """
    raise NotImplementedError


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot encode integer class labels.

    Args:
        labels: an int64 tensor of any shape S (it may be empty), each value in [0, num_classes).
        num_classes: the number of classes C (C >= 1). The output always has C columns, even when the
            largest label is smaller than C - 1.

    Returns:
        An int64 tensor of shape (*S, C) with a 1 at ``[..., labels[...]]`` and 0 elsewhere. (Any method is
        allowed, ``torch.nn.functional.one_hot`` included.)

    Raises:
        ValueError, IndexError or RuntimeError (any of them) when a label is negative or >= C. Careful:
        indexing such as ``eye[labels]`` silently wraps a label of -1 around to the last class.
    """
    raise NotImplementedError


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between every row of ``a`` and every row of ``b``.

    Args:
        a: a float tensor of shape (N, D).
        b: a float tensor of shape (M, D), same dtype as ``a``.

    Returns:
        A tensor of shape (N, M) and the inputs' dtype with ``out[i, j] == ||a[i] - b[j]||_2``, the same
        values as ``torch.cdist(a, b)`` up to floating-point rounding. Every entry is finite and >= 0
        (no NaN), and ``pairwise_distances(a, a)`` has a diagonal of zeros up to rounding.

    Both the broadcasting form ``a[:, None] - b[None]`` and the faster expansion
    ``||a||^2 + ||b||^2 - 2 a b^T`` are fine. The expansion can come out slightly negative through rounding,
    so take care before the square root.
    """
    raise NotImplementedError


def batched_bilinear(x: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The bilinear form ``x[b]^T A[b] y[b]`` for every sample b of a batch.

    Args:
        x: a float tensor of shape (B, N).
        A: a float tensor of shape (N, M), shared by every sample, or (B, N, M), one matrix per sample.
        y: a float tensor of shape (B, M).
        All three have the same dtype.

    Returns:
        A tensor of shape (B,) and the inputs' dtype:
        ``out[b] == sum over i, j of x[b, i] * A[b, i, j] * y[b, j]`` (with ``A[b]`` read as ``A`` when ``A``
        is 2-D). Gradients flow back into ``x``, ``A`` and ``y``.
    """
    raise NotImplementedError
