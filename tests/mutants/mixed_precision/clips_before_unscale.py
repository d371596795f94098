# MISTAKE: clips the gradients while they are still scaled, then unscales.
"""Known-wrong submission (see the first line): a mixed-precision step with autocast and GradScaler."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

_AUTOCAST_DTYPES = {"cpu": torch.bfloat16, "cuda": torch.float16}


def autocast_dtype(device_type: str) -> torch.dtype:
    # CPU autocast is built around bfloat16 (fast kernels on modern CPUs); CUDA's classic AMP is float16.
    # bfloat16 has float32's exponent range, so it rarely needs loss scaling; float16 does.
    try:
        return _AUTOCAST_DTYPES[device_type]
    except KeyError:
        raise ValueError(f"no autocast dtype for device type {device_type!r}; use 'cpu' or 'cuda'") from None


def train_step(
    model: nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device_type: str,
    max_norm: float | None = None,
) -> tuple[float, bool]:
    inputs, targets = batch
    optimizer.zero_grad()

    # Only the forward pass runs under autocast; backward ops automatically use the dtypes of their
    # forward counterparts, so the backward pass needs no autocast of its own.
    with torch.autocast(device_type, dtype=autocast_dtype(device_type)):
        outputs = model(inputs)
    # A reduction in low precision loses digits (and float16 overflows): compute the loss in float32.
    loss = loss_fn(outputs.float(), targets)

    # Scaling the loss scales every gradient by the same factor, lifting small float16 gradients out of
    # the underflow range.
    scaler.scale(loss).backward()

    if max_norm is not None:
        # Clipping must see true gradients: unscale first, or max_norm would be compared with gradients
        # that are still multiplied by the scale (65536 by default). step() then knows not to unscale again.
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        scaler.unscale_(optimizer)

    scale_before = scaler.get_scale()
    scaler.step(optimizer)  # unscales if needed; skips optimizer.step() when any gradient is inf/NaN
    scaler.update()  # backs the scale off after a skipped step, grows it after enough good steps
    skipped = scaler.get_scale() < scale_before
    return loss.item(), skipped
