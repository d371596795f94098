"""Reference solution: class imbalance and threshold metrics by hand."""

from __future__ import annotations

import torch


def _check_labels(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    if labels.dim() != 1 or labels.numel() == 0:
        raise ValueError(f"labels must have shape (N,) with N >= 1, got {tuple(labels.shape)}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes})")
    # minlength keeps one count per class even when the highest classes never occur.
    return torch.bincount(labels.long(), minlength=num_classes)


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    counts = _check_labels(labels, num_classes).to(torch.float64)
    present = counts > 0
    # "balanced": n_samples / (num_classes * count_c). Absent classes get 0, and no 1 / 0 is ever formed.
    weights = labels.numel() / (num_classes * torch.where(present, counts, torch.ones_like(counts)))
    return torch.where(present, weights, torch.zeros_like(weights)).to(torch.float32)


def sampler_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    counts = _check_labels(labels, num_classes).to(torch.float64)
    # One weight per SAMPLE: every class then carries the same total weight (count_c * 1 / count_c = 1).
    return 1.0 / counts[labels.long()]


def _binary(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct scores in DESCENDING order and, for each, how many positives and negatives have that score."""
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    # Equal scores share one group (one threshold); torch.unique sorts ascending, so flip to descending.
    distinct, group = torch.unique(scores, return_inverse=True)
    positive = labels.to(torch.float64)
    pos = torch.zeros(len(distinct), dtype=torch.float64).index_add_(0, group, positive)
    neg = torch.zeros(len(distinct), dtype=torch.float64).index_add_(0, group, 1.0 - positive)
    return distinct.flip(0), pos.flip(0), neg.flip(0)


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    distinct, pos, neg = _binary(scores, labels)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc needs both classes in labels")
    # Mann-Whitney: each positive wins against every negative with a LOWER score and gets 1/2 for each tie.
    # Groups are in descending order, so the negatives below a group are those of all later groups.
    below = n_neg - neg.cumsum(0)
    wins = (pos * (below + 0.5 * neg)).sum()
    return float(wins / (n_pos * n_neg))


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    _, pos, neg = _binary(scores, labels)
    n_pos = pos.sum()
    if n_pos == 0:
        raise ValueError("average_precision needs at least one positive label")
    # One point per distinct threshold (ties grouped), from the highest threshold down.
    tp, fp = pos.cumsum(0), neg.cumsum(0)
    precision = tp / (tp + fp)
    recall = tp / n_pos
    # Step-wise sum: sum_k (R_k - R_{k-1}) * P_k with R_0 = 0; no interpolation between the points.
    step = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((step * precision).sum())


def best_threshold(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    distinct, pos, neg = _binary(scores, labels)
    n_pos = pos.sum()
    if n_pos == 0:
        raise ValueError("best_threshold needs at least one positive label")
    # Predicting scores >= distinct[k] flags groups 0..k as positive.
    tp, fp = pos.cumsum(0), neg.cumsum(0)
    fn = n_pos - tp
    # One division of integer counts: equal fractions give bit-equal floats, so ties are real ties.
    f1 = 2 * tp / (2 * tp + fp + fn)
    best = f1.max()
    # distinct is descending: the first index reaching the maximum is the HIGHEST such threshold.
    k = int((f1 == best).nonzero()[0])
    return float(distinct[k]), float(best)
