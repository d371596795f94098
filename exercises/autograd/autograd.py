"""Autograd: gradients, Hessian-vector products, a custom Function, and gradient descent by hand.

Implement the four tasks below. Use `torch.autograd` (``torch.autograd.grad``, ``.backward()``,
``torch.autograd.Function``); do not use ``torch.optim`` anywhere in this file.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Return the gradient of the scalar ``fn(x)`` with respect to ``x``.

    Args:
        fn: a function of one tensor that returns a 0-dim (scalar) tensor, differentiable in its input.
        x: any floating-point tensor (float32 or float64, any shape), with or without ``requires_grad``,
            leaf or not.

    Returns:
        d fn(x) / dx: a tensor of ``x``'s shape and dtype that does not require grad (detached).

    Side effects: none. ``x`` is not modified: its values, its ``requires_grad`` flag and its ``.grad`` all
    stay as they were (a ``.grad`` that was ``None`` stays ``None``; one that was already set is neither
    changed nor accumulated into).
    """
    raise NotImplementedError


def hvp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Return the Hessian-vector product H(x) @ v of the scalar ``fn`` at ``x``.

    Compute it exactly by double backward: differentiate ``fn`` once keeping the graph of the gradient,
    then differentiate (gradient . v) a second time. No finite differences: ``fn`` is evaluated at ``x``
    only. No full Hessian: never build a tensor with ``x.numel() ** 2`` elements.

    Args:
        fn: a function of one tensor that returns a 0-dim tensor, twice differentiable.
        x: the point, a floating-point tensor of any shape (float32 or float64).
        v: the direction, same shape and dtype as ``x``.

    Returns:
        a detached tensor of ``x``'s shape and dtype. ``x`` and ``v`` are not modified (as in ``gradient``).
    """
    raise NotImplementedError


class LogCosh(torch.autograd.Function):
    """log(cosh(x)) elementwise, as a custom autograd Function; use it as ``LogCosh.apply(x)``.

    forward(ctx, x): returns a tensor of ``x``'s shape and dtype. It must be finite and accurate for
        every |x| up to 1e4 in float32 and float64 (log(cosh(1e4)) = 1e4 - log 2, while cosh(1e4)
        itself overflows), and accurate for small |x| too.
    backward(ctx, grad_output): written by hand, not by autograd: d/dx log(cosh(x)) = tanh(x), times the
        incoming gradient. Save what you need in ``ctx``. It must pass ``torch.autograd.gradcheck`` in
        float64.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def fit_linear(
    X: torch.Tensor, y: torch.Tensor, lr: float = 0.1, steps: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit y ~ X @ w + b by plain gradient descent, with autograd and without ``torch.optim``.

    Args:
        X: the inputs, shape (n, d), floating point (float32 or float64).
        y: the targets, shape (n,), same dtype as ``X``.
        lr: the learning rate.
        steps: the number of gradient-descent steps (0 returns the starting point).

    The algorithm, exactly (the grader compares your numbers with it step by step):
        w starts as zeros of shape (d,) and b as a 0-dim zero, both of ``X``'s dtype (and device).
        The loss is ``mean((X @ w + b - y) ** 2)``. Each step: call backward on the loss, then, under
        ``torch.no_grad()``, update both parameters with ``p -= lr * p.grad``, then zero both gradients.

    Returns:
        ``(w, b)``, detached: w of shape (d,), b of shape () (0-dim), both of ``X``'s dtype.
        ``X`` and ``y`` are not modified.
    """
    raise NotImplementedError
