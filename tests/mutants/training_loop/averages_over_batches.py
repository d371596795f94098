# MUTANT: train_one_epoch averages the batch losses, wrong when the last batch is smaller
"""Reference solution: one training epoch and one evaluation pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
) -> dict[str, float]:
    # Dropout and BatchNorm behave differently in training: switch the mode explicitly, because the
    # model may still be in eval mode from the last call to evaluate().
    model.train()
    total_loss = 0.0
    total_samples = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        # Gradients accumulate in .grad: clear them before each backward pass.
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        # .item() gives a Python float, so the running sum keeps no autograd graph alive.
        total_loss += loss.item()
        total_samples += 1
    return {"loss": total_loss / total_samples}


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: torch.device | str,
) -> dict[str, float]:
    # Eval mode: dropout off, BatchNorm uses (and does not update) its running statistics.
    model.eval()
    total_loss = 0.0
    correct = 0
    total_samples = 0
    # No autograd graph is needed to evaluate: no_grad saves memory and time.
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            batch_size = inputs.size(0)
            total_loss += loss_fn(outputs, targets).item() * batch_size
            correct += (outputs.argmax(dim=1) == targets).sum().item()
            total_samples += batch_size
    return {"loss": total_loss / total_samples, "accuracy": correct / total_samples}
