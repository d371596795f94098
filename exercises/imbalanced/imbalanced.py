"""Class imbalance and threshold metrics, by hand.

A fraud or disease classifier sees one positive in a hundred: accuracy says nothing, a plain loss ignores the
rare class, and 0.5 is rarely the right threshold. Write the tools: class weights for a weighted loss,
per-sample weights for ``torch.utils.data.WeightedRandomSampler``, ROC AUC and average precision (PR AUC)
computed from the scores, and the F1-optimal threshold on a validation set.

Class labels are int64 tensors of shape (N,) with values in [0, num_classes). For the binary metrics,
``labels`` is an int64 or bool tensor of shape (N,) holding 0 / 1 (1 = positive) and ``scores`` a float32
or float64 tensor of the same shape (higher = more likely positive; only the order and equality of the
scores matter). Nothing here changes its inputs.
"""

from __future__ import annotations

import torch


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The "balanced" class weights, for example for ``nn.CrossEntropyLoss(weight=...)``.

    With N = len(labels) and count_c the number of labels equal to c::

        weight[c] = N / (num_classes * count_c)        when count_c > 0
        weight[c] = 0                                   when class c never occurs in labels

    ``num_classes`` in the formula is the argument, absent classes included (for a label set in which every
    class occurs this is sklearn's ``compute_class_weight("balanced")``). A class with the average frequency
    N / num_classes gets weight 1; rarer classes get more. The result never holds inf or NaN.

    Returns:
        A float32 tensor of shape (num_classes,), whatever the labels' dtype.

    Raises:
        ValueError: labels is not of shape (N,) with N >= 1, or holds a value outside [0, num_classes).
    """
    raise NotImplementedError


def sampler_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One weight per SAMPLE for ``WeightedRandomSampler(weights, num_samples, replacement=True)``.

    ``weight[i] = 1 / count_{labels[i]}``: the inverse of the size of sample i's class, not normalised.
    Each class present then has the same total weight (1), so the sampler draws every present class with
    the same probability however rare it is.

    Returns:
        A float64 tensor of shape (N,) (the dtype WeightedRandomSampler converts its weights to).

    Raises:
        ValueError: as for ``class_weights``.
    """
    raise NotImplementedError


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The area under the ROC curve, as the Mann-Whitney statistic.

    The fraction of (positive, negative) pairs in which the positive has the higher score, a tie counting
    one half::

        AUC = (#{s_pos > s_neg} + 0.5 * #{s_pos == s_neg}) / (n_pos * n_neg)

    over all pairs of one positive and one negative sample. This equals sklearn's ``roc_auc_score``: 1.0 for
    a perfect ranking, 0.0 for an inverted one, 0.5 when every score is the same.

    Returns:
        A Python float in [0, 1].

    Raises:
        ValueError: only one class is present in labels (the AUC is undefined), the shapes are not both
            (N,), or a label is not 0 / 1.
    """
    raise NotImplementedError


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Average precision (the area under the precision-recall curve), as sklearn's
    ``average_precision_score`` defines it.

    Take every DISTINCT score as a threshold t, from the highest down; predict positive where
    ``scores >= t`` (samples with equal scores are always on the same side: ties form one threshold). With
    P_k and R_k the precision and recall at the k-th threshold and R_0 = 0::

        AP = sum_k (R_k - R_{k-1}) * P_k

    a step-wise sum, with no interpolation between the points (not the trapezoidal rule). 1.0 for a
    perfect ranking; when every score is the same, the fraction of positives.

    Returns:
        A Python float in [0, 1].

    Raises:
        ValueError: labels holds no positive (recall is undefined), the shapes are not both (N,), or a label
            is not 0 / 1. Labels with no negative are fine here (precision is then 1 everywhere: AP = 1).
    """
    raise NotImplementedError


def best_threshold(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """The threshold with the highest F1 on a validation set, predictions being ``scores >= threshold``.

    The candidates are the distinct values in ``scores``. For each, with tp, fp and fn the counts of that
    prediction, ``F1 = 2 * tp / (2 * tp + fp + fn)``. When several thresholds reach the same highest F1
    (equal as fractions: compute F1 from the integer counts with this one division, and equal fractions give
    equal floats), return the HIGHEST of them: the most conservative threshold that is as good.

    Returns:
        ``(threshold, f1)``: two Python floats; ``threshold`` is exactly one of the scores
        (``float(scores[i])`` for some i) and ``f1`` the F1 it gives.

    Raises:
        ValueError: labels holds no positive, the shapes are not both (N,), or a label is not 0 / 1. Labels
            with no negative are fine here.
    """
    raise NotImplementedError
