"""Loss functions from logits, written by hand.

Implement three losses that work straight from raw scores (logits), the way PyTorch's own losses do:

* ``cross_entropy``: multi-class, with class weights and label smoothing, equal to ``F.cross_entropy``;
* ``bce_with_logits``: binary / multi-label, with ``pos_weight``, equal to
  ``F.binary_cross_entropy_with_logits``;
* ``focal_loss``: the binary focal loss of Lin et al. 2017 ("Focal Loss for Dense Object Detection").

All three must be numerically stable: logits as large as 1e4 in absolute value (float32) give finite
losses and finite gradients. Every result must be differentiable with autograd (the grader compares
gradients with respect to ``logits``), keep the dtype of ``logits`` (float32 or float64), and leave the
input tensors unchanged (no in-place edits).

You may use any torch function you like; the point is to know what the built-in losses compute.
"""

from __future__ import annotations

import torch


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy from logits, equal to ``F.cross_entropy`` with the same arguments.

    Args:
        logits: float tensor of shape (N, C), N >= 1, C >= 2: unnormalised class scores.
        targets: int64 tensor of shape (N,), class indices in [0, C).
        weight: None, or a float tensor of shape (C,) with one positive weight per class.
        label_smoothing: eps in [0, 1].
        reduction: "mean", "sum" or "none".

    Definition. Let ``logp = log_softmax(logits, dim=1)`` (compute it stably), ``w[c] = weight[c]`` (or 1
    for every class when ``weight`` is None) and ``y = targets``. For each sample i::

        nll[i]    = -w[y[i]] * logp[i, y[i]]
        smooth[i] = -sum_c w[c] * logp[i, c]            # note: weighted by every class's weight
        loss[i]   = (1 - eps) * nll[i] + (eps / C) * smooth[i]

    (With eps = 0 this is plain weighted cross-entropy; the smoothing spreads eps over all C classes,
    the target class included, exactly as PyTorch does.)

    Returns:
        reduction="none": the tensor ``loss`` of shape (N,).
        reduction="sum":  ``loss.sum()``, a 0-dim tensor.
        reduction="mean": ``loss.sum() / sum_i w[y[i]]``, a 0-dim tensor: the weighted mean divides by
        the total weight of the targets, not by N (without ``weight`` this is N).
        The dtype is that of ``logits``.

    Raises:
        ValueError: ``reduction`` is not one of "mean", "sum", "none".
    """
    raise NotImplementedError


def bce_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary cross-entropy from logits, equal to ``F.binary_cross_entropy_with_logits``.

    Args:
        logits: float tensor of any shape: one score per binary decision.
        targets: float tensor of the same shape and dtype, values in [0, 1] (soft labels allowed).
        pos_weight: None, or a float tensor broadcastable to ``logits`` along the last dimension
            (typically shape (C,) for logits of shape (N, C)): the weight of the positive term.
        reduction: "mean", "sum" or "none".

    Definition, elementwise, with ``s = sigmoid(logits)``, ``pw = pos_weight`` (1 when None)::

        loss = -(pw * targets * log(s) + (1 - targets) * log(1 - s))

    but computed so that it never evaluates log(0): ``log(s)`` and ``log(1 - s)`` must come from the
    logits directly (hint: ``log(sigmoid(x)) = -softplus(-x)``), not from a sigmoid that has already
    rounded to 0 or 1.

    Returns:
        "none": ``loss`` (same shape as ``logits``); "sum": ``loss.sum()``; "mean": ``loss.mean()``.
        The dtype is that of ``logits``.

    Raises:
        ValueError: ``reduction`` is not one of "mean", "sum", "none".
    """
    raise NotImplementedError


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary focal loss from logits (Lin et al. 2017, arXiv:1708.02002).

    Args:
        logits: float tensor of any shape.
        targets: float tensor of the same shape and dtype with values exactly 0.0 or 1.0.
        gamma: focusing parameter, >= 0. With gamma = 0 and alpha = None the loss equals
            ``bce_with_logits(logits, targets, reduction=reduction)``.
        alpha: None, or the weight in [0, 1] of the positive class; negatives get ``1 - alpha``.
        reduction: "mean", "sum" or "none".

    Definition, elementwise, with ``p = sigmoid(logits)``::

        p_t     = p        where targets == 1,   1 - p      where targets == 0
        alpha_t = alpha    where targets == 1,   1 - alpha  where targets == 0   (1 everywhere if None)
        loss    = -alpha_t * (1 - p_t) ** gamma * log(p_t)

    ``log(p_t)`` must be computed stably from the logits (it is minus the binary cross-entropy), so
    that confident wrong predictions (|logit| of 100 or more) give large finite losses, not inf or NaN.
    The gradient must stay finite too, for every gamma >= 0 (0.5 included) and every logit up to 1e4 in
    size: mathematically it is, but ``(1 - p_t) ** gamma`` with ``0 < gamma < 1`` has an infinite slope
    where ``1 - p_t`` rounds to 0, and autograd then multiplies inf by 0.

    Returns:
        "none": ``loss`` (same shape as ``logits``); "sum": ``loss.sum()``; "mean": ``loss.mean()``.
        The dtype is that of ``logits``.

    Raises:
        ValueError: ``reduction`` is not one of "mean", "sum", "none".
    """
    raise NotImplementedError
