"""Gradient accumulation and gradient clipping, by hand.

When a batch does not fit in memory you split it into micro-batches, run backward on each, let the
gradients add up in ``.grad``, and take one optimizer step. Done right, the step is the same as one step
on the whole batch. Then write gradient-norm clipping yourself, matching ``torch.nn.utils.clip_grad_norm_``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn


def accumulate_step(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> float:
    """One optimizer step on a large batch given as micro-batches, equal to a step on the whole batch.

    Args:
        model: the model; its parameters are the ones ``optimizer`` updates.
        loss_fn: ``loss_fn(outputs, targets)`` returns the MEAN loss over the samples it is given
            (like ``nn.MSELoss()`` or ``nn.CrossEntropyLoss()`` with their default reduction).
        optimizer: any torch optimizer (SGD, Adam, ...) over the model's parameters.
        micro_batches: a non-empty sequence of ``(inputs, targets)`` pairs. The size of a micro-batch is
            ``inputs.shape[0]``; sizes may differ (e.g. the last one is smaller).

    Contract:
        * The gradients that ``optimizer`` steps with must be exactly the gradients of the mean loss over
          the concatenation of all micro-batches: scale each micro-batch's mean loss by
          ``size / total_size`` before its backward (dividing by the number of micro-batches is only
          right when all sizes are equal).
        * Whatever is in ``.grad`` when the function is called (left over from earlier work) must not
          leak into the step: zero the gradients once, before the first micro-batch.
        * Exactly one ``optimizer.step()``, after the last micro-batch's backward.
        * On return, each parameter's ``.grad`` still holds the accumulated gradient that was used for the
          step (do not zero it afterwards). The model's train/eval mode is left as it is.

    Returns:
        The mean loss over the whole batch as a Python float (the value before the step), i.e. the
        size-weighted mean of the micro-batch losses.
    """
    raise NotImplementedError


def clip_grad_norm(
    parameters: torch.Tensor | Iterable[torch.Tensor],
    max_norm: float,
    norm_type: float = 2.0,
) -> torch.Tensor:
    """Scale gradients in place so that their total norm is at most ``max_norm``; written by hand.

    Must behave like ``torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)`` (do not call it,
    nor ``torch.nn.utils.clip_grads_with_norm_``/``get_total_norm``).

    Args:
        parameters: a single tensor or an iterable of tensors (possibly a generator such as
            ``model.parameters()``, which can be iterated only once). Tensors whose ``.grad`` is None are
            skipped.
        max_norm: the largest allowed total norm, > 0.
        norm_type: p >= 1 of the p-norm, or ``math.inf`` for the max-norm.

    Definition:
        ``total = ||(g_1, g_2, ...)||_p`` over all elements of all gradients together (for p = inf, the
        largest absolute value of any gradient element). Then every gradient is multiplied in place by
        ``clip_coef = min(max_norm / (total + 1e-6), 1.0)``: gradients are only ever scaled down, and are
        left as they are (coefficient 1) when ``total + 1e-6 <= max_norm``.

    Returns:
        ``total``, the norm BEFORE clipping, as a 0-dim tensor with the gradients' dtype. When no
        parameter has a gradient, returns ``torch.tensor(0.0)`` and changes nothing.
    """
    raise NotImplementedError
