# MUTANT: LogCosh computes log(cosh(x)) directly: cosh overflows for |x| > 89 (float32), 710 (float64)
"""Reference solution: gradients, Hessian-vector products, a custom Function, and gradient descent by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    # detach() gives a new leaf that shares x's memory but none of its autograd state, so turning on
    # requires_grad here never touches the caller's tensor, its .grad, or the graph x may belong to.
    x = x.detach().requires_grad_(True)
    # enable_grad: the caller may be inside torch.no_grad(), where no graph would be recorded.
    with torch.enable_grad():
        # autograd.grad returns the gradient instead of accumulating it into .grad.
        (grad,) = torch.autograd.grad(fn(x), x)
    return grad.detach()


def hvp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        # create_graph=True records how the gradient itself was computed, so it can be differentiated.
        (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
        # d/dx (grad . v) = H @ v (H is symmetric); grad_outputs=v computes exactly that vector-Jacobian
        # product, at the cost of one more backward pass and without ever forming H.
        (product,) = torch.autograd.grad(grad, x, grad_outputs=v)
    return product.detach()


class LogCosh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        # cosh(x) = e^|x| (1 + e^(-2|x|)) / 2, so log cosh(x) = |x| + log1p(e^(-2|x|)) - log 2:
        # e^(-2|x|) is at most 1, nothing overflows, and log1p stays accurate when it is tiny.
        return torch.log(torch.cosh(x))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        # Chain rule: the incoming gradient times the local derivative tanh(x).
        return grad_output * torch.tanh(x)


def fit_linear(
    X: torch.Tensor, y: torch.Tensor, lr: float = 0.1, steps: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    d = X.shape[1]
    w = torch.zeros(d, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    for _ in range(steps):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        # The update must not be recorded by autograd: in-place ops on leaves that require grad are only
        # allowed under no_grad, and w and b stay the same leaf tensors step after step.
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        # backward() accumulates into .grad; without zeroing, step k would use the sum of all k gradients.
        w.grad = None
        b.grad = None
    return w.detach(), b.detach()
