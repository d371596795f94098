"""Correct, written differently: the running loss is a 0-dim tensor on `device` (no .item() per batch, so no
host-device sync per step), detached, converted to a float once at the end; set_to_none=False zeroing."""

from __future__ import annotations

import torch


def train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    running = torch.zeros((), device=device)
    count = 0
    for inputs, targets in loader:
        inputs = inputs.to(device)
        targets = targets.to(device)
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        running += loss.detach() * len(inputs)
        count += len(inputs)
    return {"loss": float(running / count)}


@torch.inference_mode()
def evaluate(model, loader, loss_fn, device):
    model.eval()
    running = torch.zeros((), device=device)
    right = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        running += loss_fn(outputs, targets) * len(inputs)
        right += (outputs.argmax(1) == targets).sum()
        count += len(inputs)
    return {"loss": float(running / count), "accuracy": int(right) / count}
