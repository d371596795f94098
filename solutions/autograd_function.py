"""Reference solution: a straight-through rounding estimator and a clamp with a hand-written backward, both
custom torch.autograd.Functions whose backward is itself differentiable (double backward works)."""

from __future__ import annotations

import torch


class RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)  # a new tensor: half to even, as torch.round

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        # Straight through: treat round as the identity. Returning grad_output itself keeps its graph, so a
        # second backward (create_graph=True) differentiates through it.
        return grad_output


class Clamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        if lo > hi:
            raise ValueError(f"Clamp needs lo <= hi, got lo={lo}, hi={hi}")
        ctx.save_for_backward(x)  # autograd checks x's version counter when backward reads it
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        inside = (x >= ctx.lo) & (x <= ctx.hi)  # both ends included, like torch.clamp's backward
        # A new tensor, differentiable in grad_output (the mask is a constant): never write into grad_output.
        return grad_output * inside.to(grad_output.dtype), None, None
