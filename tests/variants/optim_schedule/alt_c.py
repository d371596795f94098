"""Correct, written differently: train_steps turns the batches into a list first."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def sgd_step(
    params: list[torch.Tensor],
    momentum_buffers: list[torch.Tensor | None],
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> None:
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum needs momentum > 0 and dampening == 0")
    # The update is not part of any model computation: keep autograd out of it. (In-place changes to a
    # leaf that requires grad are an error under autograd anyway.)
    with torch.no_grad():
        for i, param in enumerate(params):
            if param.grad is None:  # a parameter that took no part in the loss is left alone
                continue
            grad = param.grad
            if weight_decay != 0:
                # L2 penalty folded into the gradient *before* momentum; out of place, so p.grad is unchanged.
                grad = grad.add(param, alpha=weight_decay)
            if momentum != 0:
                buf = momentum_buffers[i]
                if buf is None:
                    # First step: the buffer starts as the gradient itself, with no dampening. Clone it so
                    # the buffer never shares memory with p.grad, which the caller may overwrite in place.
                    buf = grad.detach().clone()
                    momentum_buffers[i] = buf
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                # Nesterov looks ahead: the gradient plus momentum times the *updated* buffer.
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            param.add_(grad, alpha=-lr)


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0
) -> LambdaLR:
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be between 0 and 1, got {min_lr_ratio}")

    def factor(step: int) -> float:
        # LambdaLR calls this with the number of scheduler.step() calls so far (0 at construction) and
        # sets each group's lr to its initial lr times the result.
        if step < warmup_steps:
            return (step + 1) / warmup_steps  # 1/W, 2/W, ..., 1: the first step already has a small lr
        progress = min((step - warmup_steps) / (total_steps - warmup_steps), 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0 as progress goes 0 -> 1
        return min_lr_ratio + (1.0 - min_lr_ratio) * cosine

    return LambdaLR(optimizer, factor)


def train_steps(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> list[float]:
    model.train()
    losses = []
    batches = list(batches)
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        # optimizer.step() uses the current lr; scheduler.step() then sets the lr for the next step.
        # The other order skips the first value of the schedule (and PyTorch warns about it).
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses
