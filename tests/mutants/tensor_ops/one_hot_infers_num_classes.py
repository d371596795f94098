# MUTANT: takes the width from labels.max() + 1 instead of num_classes
"""Reference solution: tensor indexing and reductions."""

from __future__ import annotations

import torch


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    # gather along dim 1 needs an index with the same number of dims as x: (N,) -> (N, 1), then back.
    return x.gather(1, index.unsqueeze(1)).squeeze(1)


def segment_sum(values: torch.Tensor, group_ids: torch.Tensor, num_groups: int) -> torch.Tensor:
    out = values.new_zeros((num_groups, *values.shape[1:]))
    # index_add (not index_add_) returns a new tensor and accumulates repeated ids instead of overwriting;
    # it also raises for ids outside [0, num_groups). scatter_add with an index expanded to values' shape
    # is the equivalent spelling.
    return out.index_add(0, group_ids, values)


def mask_below(x: torch.Tensor, threshold: float, value: float) -> torch.Tensor:
    # The out-of-place masked_fill copies x; masked_fill_ (trailing underscore) would overwrite the caller's
    # tensor, and so would ``x[x < threshold] = value``.
    return x.masked_fill(x < threshold, value)


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    # Check the range ourselves: it gives a clear message, and catches negative labels that plain
    # indexing would wrap around.
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in "
                         f"[{labels.min().item()}, {labels.max().item()}]")
    width = int(labels.max()) + 1 if labels.numel() else num_classes
    out = torch.zeros((*labels.shape, width), dtype=torch.int64, device=labels.device)
    # Write a 1 at each label's position along the new last dim.
    return out.scatter(-1, labels.unsqueeze(-1), 1)


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b : one matrix multiply instead of an (N, M, D) intermediate.
    squared = (a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2 * a @ b.T
    # Rounding can make the expansion slightly negative for (nearly) equal rows; sqrt would turn that into
    # NaN, so clamp at zero first.
    return squared.clamp_min(0).sqrt()


def batched_bilinear(x: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # einsum names every index, so the sums (over n and m) and the kept batch index b are explicit;
    # torch.bmm(x.unsqueeze(1), A).squeeze(1) followed by (.. * y).sum(-1) is the same for a 3-D A.
    if A.dim() == 2:
        return torch.einsum("bn,nm,bm->b", x, A, y)
    return torch.einsum("bn,bnm,bm->b", x, A, y)
