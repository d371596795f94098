"""Numerically stable softmax, log-softmax and logsumexp, written by hand.

``exp(1e4)`` is ``inf`` in float32 and float64 alike, so ``exp(x) / exp(x).sum()`` gives ``inf / inf = nan``
for large logits and ``log(exp(x).sum())`` gives ``inf``. The fix is one identity: for any constant m,
``logsumexp(x) = m + log(sum(exp(x - m)))``; with m the largest entry of the slice, every exponent is <= 0.

Write the three functions with elementwise tensor operations and reductions (``amax``, ``exp``, ``sum``,
``log``, ``where``...). Do not call ``torch.softmax``, ``torch.log_softmax``, ``torch.logsumexp``, their
``torch.nn.functional`` / ``torch.special`` / ``Tensor`` method versions or ``nn.Softmax``: the grader makes
them unavailable in one test. The grader compares your results and gradients with torch's own functions.

Contract shared by the three functions:
    x: a float32 or float64 tensor with at least one dimension; its entries are finite or ``-inf``
        (``-inf`` is how a masked logit is written). Not modified.
    dim: the dimension to reduce over, an int in ``[-x.dim(), x.dim())``; negative values count from the
        end, as everywhere in torch. An out-of-range dim raises ``IndexError`` (what torch's reductions
        raise).
    Results have ``x``'s dtype, and are finite and accurate for entries up to ``|x| = 1e4`` (e.g. ``[1e4,
    1e4]`` or ``[0, -1e4]``), whatever the other slices of ``x`` hold (slices near ``1e4`` and near
    ``-1e4`` in the same tensor).
    Gradients flow through the result (built from differentiable operations) and equal torch's.
    ``-inf`` entries behave as in torch: they take no probability (softmax 0, log_softmax ``-inf``) and
    get the gradient torch gives them. A slice whose entries are all ``-inf`` gives what torch gives:
    logsumexp ``-inf``, softmax and log_softmax ``nan`` in that slice.
"""

from __future__ import annotations

import torch


def logsumexp(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """``log(sum(exp(x), dim))`` without overflow, as ``torch.logsumexp(x, dim, keepdim)``.

    Returns a tensor of ``x``'s shape with ``dim`` removed, or kept with size 1 when ``keepdim=True``.
    """
    raise NotImplementedError


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x - logsumexp(x, dim, keepdim=True)``, as ``torch.log_softmax(x, dim)``: ``x``'s shape.

    Accurate where the probability underflows: ``log_softmax([0, -1e4])`` is ``[0, -1e4]``, not
    ``log(0) = -inf``.
    """
    raise NotImplementedError


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``exp(x) / sum(exp(x), dim)`` without overflow, as ``torch.softmax(x, dim)``: ``x``'s shape, each
    slice along ``dim`` sums to 1."""
    raise NotImplementedError
