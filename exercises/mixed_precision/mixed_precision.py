"""A mixed-precision training step with torch.autocast and torch.amp.GradScaler.

Under ``torch.autocast`` matmuls and convolutions run in a low-precision dtype (bfloat16 on CPU, float16 on
CUDA) while the parameters stay float32. float16 has a narrow range, so small gradients underflow to 0;
``GradScaler`` multiplies the loss by a large factor before backward, divides the gradients by it again
before the optimizer step, skips any step whose gradients came out inf or NaN, and adapts the factor:
it halves it after a skipped step ("backoff") and doubles it after ``growth_interval`` good steps in a row.

``torch.amp.GradScaler("cpu")`` works on CPU too, so the whole recipe can be tested without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def autocast_dtype(device_type: str) -> torch.dtype:
    """The low-precision dtype to use with ``torch.autocast`` on a device type.

    Returns:
        ``torch.bfloat16`` for "cpu", ``torch.float16`` for "cuda".

    Raises:
        ValueError: any other device type.
    """
    raise NotImplementedError


def train_step(
    model: nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device_type: str,
    max_norm: float | None = None,
) -> tuple[float, bool]:
    """One mixed-precision training step.

    Args:
        model: a float32 model, already on ``device_type``; its train/eval mode is left as it is.
        batch: ``(inputs, targets)``, already on the device.
        loss_fn: ``loss_fn(outputs, targets)`` returns a 0-dim loss.
        optimizer: the optimizer over the model's parameters.
        scaler: a ``torch.amp.GradScaler`` for ``device_type`` (it may be disabled).
        device_type: "cpu" or "cuda".
        max_norm: None (no clipping), or the largest allowed 2-norm of all gradients together.

    Do exactly this, in this order:
        1. Zero the gradients (``optimizer.zero_grad()``): nothing left in ``.grad`` may leak in.
        2. Run the forward pass ``outputs = model(inputs)`` inside
           ``torch.autocast(device_type, dtype=autocast_dtype(device_type))``, and only the forward pass.
        3. After leaving the autocast block, compute the loss in float32:
           ``loss = loss_fn(outputs.float(), targets)``.
        4. Backward on the SCALED loss: ``scaler.scale(loss).backward()``.
        5. If ``max_norm`` is not None: ``scaler.unscale_(optimizer)`` first, so the gradients are back in
           true units, then ``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)``.
        6. ``scaler.step(optimizer)`` (never ``optimizer.step()`` directly: the scaler unscales the
           gradients if that has not happened yet and skips the step if they contain inf or NaN), then
           ``scaler.update()``.

    Returns:
        ``(loss_value, skipped)``: ``loss_value`` is the unscaled float32 loss as a Python float;
        ``skipped`` is a Python bool, True exactly when the scaler skipped the optimizer step because the
        gradients held inf or NaN. A skipped step shows after ``update()`` as a lower scale: compare
        ``scaler.get_scale()`` before ``step`` and after ``update``.
    """
    raise NotImplementedError
