# MISTAKE: macro F1 computed as the harmonic mean of macro precision and macro recall.
"""Known-wrong submission (see the first line): classification metrics on tensors."""

from __future__ import annotations

import torch

_AVERAGES = (None, "macro", "micro", "weighted")


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    if preds.dim() != 1 or preds.shape != targets.shape:
        raise ValueError(
            f"preds and targets must both have shape (N,), got {tuple(preds.shape)} "
            f"and {tuple(targets.shape)}"
        )
    for name, labels in (("preds", preds), ("targets", targets)):
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} holds a class outside [0, {num_classes})")
    # Each (true, predicted) pair gets its own bin t * K + p; one bincount counts them all at once.
    # minlength keeps the shape (K, K) even when the highest classes never occur.
    pairs = targets.long() * num_classes + preds.long()
    counts = torch.bincount(pairs, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _safe_ratio(numerator: torch.Tensor, denominator: torch.Tensor, zero_division: float) -> torch.Tensor:
    # torch.where evaluates both branches, so divide by a denominator with its zeros replaced by ones: no
    # 0 / 0 is ever formed, and those entries are then overwritten with zero_division.
    defined = denominator > 0
    ratio = numerator / torch.where(defined, denominator, torch.ones_like(denominator))
    return torch.where(defined, ratio, torch.full_like(ratio, zero_division))


def precision_recall_f1(
    preds: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    average: str | None = None,
    zero_division: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    cm = confusion_matrix(preds, targets, num_classes).to(torch.float32)
    tp = cm.diagonal()
    predicted = cm.sum(dim=0)  # column sums: how often each class was predicted
    support = cm.sum(dim=1)  # row sums: how often each class is the truth

    if average == "micro":
        # Pooled over classes, every wrong prediction is one fp (for the predicted class) and one fn (for
        # the true class), so micro precision = micro recall = micro F1 = accuracy.
        accuracy = tp.sum() / support.sum()
        return accuracy, accuracy.clone(), accuracy.clone()

    precision = _safe_ratio(tp, predicted, zero_division)
    recall = _safe_ratio(tp, support, zero_division)
    f1 = _safe_ratio(2 * precision * recall, precision + recall, 0.0)

    if average is None:
        return precision, recall, f1
    if average == "macro":
        # Every class counts once, present in the targets or not.
        p, r = precision.mean(), recall.mean()
        return p, r, 2 * p * r / (p + r)
    weights = support / support.sum()
    return (precision * weights).sum(), (recall * weights).sum(), (f1 * weights).sum()


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    num_classes = logits.shape[1]
    if not 1 <= k <= num_classes:
        raise ValueError(f"k must be in [1, {num_classes}], got {k}")
    top = logits.topk(k, dim=1).indices  # (N, k)
    hit = (top == targets.unsqueeze(1)).any(dim=1)
    return hit.to(torch.float32).mean()
