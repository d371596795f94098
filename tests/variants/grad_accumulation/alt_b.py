"""Correct, written differently: one backward of the summed weighted losses instead of one per micro-batch."""

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
    total_size = sum(inputs.shape[0] for inputs, _ in micro_batches)
    # Zero once, before accumulating: .grad may hold gradients from whatever ran before us.
    optimizer.zero_grad()
    total_loss = 0.0
    for inputs, targets in micro_batches:
        loss = loss_fn(model(inputs), targets)
        # The big-batch mean is sum_i (n_i / n) * mean_i; weighting each micro-batch by its share of the
        # samples makes the summed gradients exactly those of the big batch, even for a short last batch.
        scaled = loss * (inputs.shape[0] / total_size)
        total_loss = total_loss + scaled
    total_loss.backward()
    optimizer.step()
    total_loss = total_loss.item()
    return total_loss


def clip_grad_norm(
    parameters: torch.Tensor | Iterable[torch.Tensor],
    max_norm: float,
    norm_type: float = 2.0,
) -> torch.Tensor:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    # Materialise once: a generator such as model.parameters() would be empty on a second pass.
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    # The p-norm of all elements equals the p-norm of the per-tensor p-norms (for p = inf too: the max of
    # the maxes), so there is no need to concatenate every gradient into one big vector.
    per_tensor = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total = torch.linalg.vector_norm(per_tensor, norm_type)
    # Clamp to 1: clipping only ever scales down. The 1e-6 keeps the division finite for zero gradients.
    clip_coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(clip_coef.to(g.dtype))
    return total
