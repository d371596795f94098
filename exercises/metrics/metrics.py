"""Classification metrics on tensors: confusion matrix, precision / recall / F1, top-k accuracy.

Single-label classification with ``num_classes`` classes numbered 0 .. num_classes - 1. Predictions and
targets are int64 tensors of class indices with shape (N,). Nothing here needs a Python loop over the
samples: think in counts (``torch.bincount``) and vectorised arithmetic. None of the functions changes its
inputs.
"""

from __future__ import annotations

import torch


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Count how often each true class was predicted as each class.

    Args:
        preds: int64 tensor of shape (N,), predicted class indices. N may be 0.
        targets: int64 tensor of shape (N,), true class indices.
        num_classes: K >= 1.

    Returns:
        An int64 tensor ``cm`` of shape (K, K) where ``cm[t, p]`` is the number of samples whose true
        class is ``t`` and whose predicted class is ``p``: rows are true classes, columns are predicted
        classes (the convention of sklearn.metrics.confusion_matrix). Classes that never occur have rows
        and columns of zeros; the shape is always (K, K).

    Raises:
        ValueError: ``preds`` and ``targets`` do not both have shape (N,), or a value lies outside
            [0, num_classes).
    """
    raise NotImplementedError


def precision_recall_f1(
    preds: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    average: str | None = None,
    zero_division: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall and F1, per class or averaged.

    Args:
        preds, targets, num_classes: as for ``confusion_matrix``; N >= 1.
        average: None, "macro", "micro" or "weighted".
        zero_division: a number in [0, 1] used wherever a ratio would be 0 / 0.

    Per class c, with ``tp = cm[c, c]``, ``predicted = cm[:, c].sum()`` (samples predicted as c) and
    ``support = cm[c, :].sum()`` (samples whose true class is c)::

        precision[c] = tp / predicted          or zero_division when predicted == 0
        recall[c]    = tp / support            or zero_division when support == 0
        f1[c]        = 2 * precision[c] * recall[c] / (precision[c] + recall[c])
                                               or 0.0 when precision[c] + recall[c] == 0

    (This F1 equals sklearn's 2 tp / (2 tp + fp + fn), with zero_division when that is 0 / 0.)
    The result never contains NaN.

    Averaging, applied separately to each of the three per-class vectors:
        None: no averaging; return the per-class vectors.
        "macro": the plain mean over all ``num_classes`` classes, including classes that are absent from
            ``targets`` (they contribute their zero_division values). Macro F1 is the mean of the
            per-class F1 values, not the F1 of macro precision and macro recall.
        "weighted": the mean over classes weighted by ``support`` (absent classes weigh 0).
        "micro": pool the counts of all classes first: with single-label data the total tp is the number
            of correct predictions and total fp = total fn = N - tp, so micro precision, recall and F1 are
            all equal to the accuracy.

    Returns:
        ``(precision, recall, f1)``: three float32 tensors, each of shape (num_classes,) when average is
        None and 0-dim otherwise.

    Raises:
        ValueError: ``average`` is not one of None, "macro", "micro", "weighted" (and as for
            ``confusion_matrix``).
    """
    raise NotImplementedError


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """The fraction of samples whose true class is among the k highest-scoring classes.

    Args:
        logits: float tensor of shape (N, C), N >= 1: scores (logits or probabilities; only the order
            within each row matters).
        targets: int64 tensor of shape (N,), class indices in [0, C).
        k: 1 <= k <= C. k = 1 is ordinary accuracy; k = C always gives 1.0.

    Ties: when several classes share the k-th highest score, which of them count as "in the top k" is
    unspecified (whatever ``torch.topk`` picks); the grader never uses inputs with such ties.

    Returns:
        A 0-dim float32 tensor in [0, 1].

    Raises:
        ValueError: k < 1 or k > C.
    """
    raise NotImplementedError
