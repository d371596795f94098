"""Custom autograd Functions: a straight-through rounding estimator and a clamp with its own backward.

A ``torch.autograd.Function`` subclass defines ``forward(ctx, ...)`` and ``backward(ctx, grad_output)`` as
static methods and is called as ``Fn.apply(...)``. ``backward`` receives the gradient of the loss with respect
to forward's output and returns one gradient per forward input (``None`` for inputs that are not tensors).
Tensors that backward needs are saved with ``ctx.save_for_backward(...)`` and read back from
``ctx.saved_tensors``; plain numbers can be kept as ``ctx`` attributes.

The grader compares values and gradients with torch's own ops in float32 and float64, builds Jacobians from
your forward (finite differences) and from your backward, runs ``torch.autograd.gradcheck`` and
``gradgradcheck`` in float64, and differentiates your backward a second time.
"""

from __future__ import annotations

import torch


class RoundSTE(torch.autograd.Function):
    """Round to the nearest integer in forward, pass the gradient straight through in backward.

    ``RoundSTE.apply(x)`` for a float32 or float64 tensor ``x`` of any shape:

    forward: ``torch.round(x)`` -- halves round to the nearest even integer (``round(2.5) = 2``,
        ``round(-0.5) = -0``), x's shape and dtype, a new tensor (``x`` is not modified).
    backward: the straight-through estimator: round's true derivative is 0 almost everywhere, which would
        stop all learning, so backward pretends forward was the identity and returns ``grad_output``
        unchanged (every entry, however large |x| is: no clipping to [-1, 1]). Nothing needs saving.
        Because of that, ``torch.autograd.gradcheck`` fails on RoundSTE by design: its numerical derivative
        is the true one, 0.
    double backward: supported. backward is built from ``grad_output`` by differentiable operations (no
        ``@once_differentiable``), so with ``create_graph=True`` the gradient can be differentiated again;
        e.g. for ``y = RoundSTE.apply(x)``, ``d/dx sum(d/dx sum(y ** 2))`` is ``2`` everywhere (each RoundSTE
        counts as the identity).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Clamp(torch.autograd.Function):
    """``torch.clamp(x, lo, hi)`` with a hand-written backward.

    ``Clamp.apply(x, lo, hi)`` for a float32 or float64 tensor ``x`` of any shape and Python numbers
    ``lo <= hi``:

    forward: ``min(max(x, lo), hi)`` elementwise, x's shape and dtype, a new tensor (``x`` is not modified).
        Raises ``ValueError`` if ``lo > hi``.
    backward: ``grad_output`` where ``lo <= x <= hi`` and 0 where ``x < lo`` or ``x > hi``. The boundary
        rule exactly: at ``x == lo`` and at ``x == hi`` the gradient passes (both ends included, the rule
        torch.clamp's own backward uses), so the result equals torch.clamp's gradient everywhere. Returns
        ``None`` for ``lo`` and ``hi`` (numbers, not differentiated). The mask is computed from the input x,
        saved in forward with ``ctx.save_for_backward(x)`` (x only; keep lo and hi as ctx attributes):
        autograd then raises a RuntimeError in backward if x was modified in place after forward, instead
        of silently using the new values. ``grad_output`` is not modified in place (it can be a tensor
        the caller passed to ``backward``): build a new tensor.
    gradcheck: passes ``torch.autograd.gradcheck`` in float64 at points away from lo and hi (where clamp is
        differentiable).
    double backward: supported, as for RoundSTE: the gradient returned is ``grad_output`` times a constant
        0/1 mask, built by differentiable operations, so ``gradgradcheck`` passes and the second derivative
        equals torch.clamp's.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        raise NotImplementedError
