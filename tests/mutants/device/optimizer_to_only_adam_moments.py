# MUTANT: optimizer_to moves only Adam's exp_avg and exp_avg_sq, not every state tensor
"""Reference solution: choosing a device, moving nested batches and optimizer state, device inference."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError) as error:
        # torch.device raises RuntimeError for a bad string: our callers expect a ValueError.
        raise ValueError(f"{prefer!r} is not a device") from error
    # torch.device("cuda") succeeds even without a GPU: the failure would only come later, at the first
    # tensor moved there. Fail now, with a message that says why.
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{prefer!r} was asked for, but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{prefer!r} was asked for, but MPS is not available")
    return device


def to_device(obj: Any, device: str | torch.device, non_blocking: bool = False) -> Any:
    if isinstance(obj, torch.Tensor):
        # Tensor.to returns the tensor itself when it is already there with the right dtype.
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        # A shallow copy keeps the exact type (OrderedDict, defaultdict and its default_factory, a dict
        # subclass) and the key order; only the copy's values are replaced, never the caller's.
        moved = copy.copy(obj)
        for key, value in obj.items():
            moved[key] = to_device(value, device, non_blocking)
        return moved
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        # A namedtuple's constructor takes its fields as separate arguments, not one iterable.
        return type(obj)(*(to_device(value, device, non_blocking) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device, non_blocking) for value in obj)
    return obj


def optimizer_to(optimizer: torch.optim.Optimizer, device: str | torch.device) -> None:
    for state in optimizer.state.values():
        for key, value in state.items():
            # "step" stays put, as Optimizer.load_state_dict leaves it for non-capturable optimizers: a
            # CPU scalar is read on the host each step without a device sync.
            if key in ("exp_avg", "exp_avg_sq"):
                state[key] = value.to(device)


def batched_inference(
    model: nn.Module, batches: Iterable[torch.Tensor], device: str | torch.device
) -> torch.Tensor:
    model.to(device)
    # eval(): dropout off, batch norm uses its running statistics (and does not update them).
    model.eval()
    outputs = []
    # no_grad: no graph is recorded, so activations are freed at once and outputs do not require grad.
    with torch.no_grad():
        for batch in batches:
            # non_blocking=True lets a copy from pinned memory overlap with the GPU's work; it is safe here
            # because the model then runs on the same CUDA stream as the copy.
            batch = to_device(batch, device, non_blocking=True)
            # .cpu() per batch frees the device memory as we go (and waits for the result).
            outputs.append(model(batch).cpu())
    return torch.cat(outputs, dim=0)
