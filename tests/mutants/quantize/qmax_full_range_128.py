"""Mutant: qmax is 2^(b-1) = 128, the full int8 range, instead of the restricted 127."""

from __future__ import annotations

import torch


def _qmax(num_bits: int) -> int:
    if not 2 <= num_bits <= 8:
        raise ValueError(f"num_bits must be between 2 and 8 (the values are stored as int8), got {num_bits}")
    return 2 ** (num_bits - 1)  # the restricted range [-qmax, qmax]: symmetric, -2^(b-1) left unused


def _scale(abs_max: torch.Tensor, qmax: int) -> torch.Tensor:
    # An all-zero tensor (or slice) would give scale 0 and 0 / 0 = nan: use 1.0, which quantises it to 0.
    return torch.where(abs_max > 0, abs_max / qmax, torch.ones_like(abs_max))


def _round_and_clamp(x: torch.Tensor, scale: torch.Tensor | float, qmax: int) -> torch.Tensor:
    # torch.round rounds half to even, as torch.quantize_per_tensor does; the clamp keeps the restricted range.
    return torch.clamp(torch.round(x / scale), -qmax, qmax)


def quantize_per_tensor(x: torch.Tensor, num_bits: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    qmax = _qmax(num_bits)
    scale = _scale(x.detach().abs().amax(), qmax)
    return _round_and_clamp(x.detach(), scale, qmax).to(torch.int8), scale


def dequantize(q: torch.Tensor, scale: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    if axis is not None:  # one scale per slice along axis: put the scales on that axis so they broadcast
        shape = [1] * q.dim()
        shape[axis] = -1
        scale = scale.reshape(shape)
    return q.to(scale.dtype) * scale


def quantize_per_channel(x: torch.Tensor, axis: int, num_bits: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    qmax = _qmax(num_bits)
    if not -x.dim() <= axis < x.dim():
        raise IndexError(f"axis {axis} is out of range for a tensor of {x.dim()} dimensions")
    axis %= x.dim()
    others = [d for d in range(x.dim()) if d != axis]
    abs_max = x.detach().abs().amax(dim=others) if others else x.detach().abs()  # (x.shape[axis],)
    scales = _scale(abs_max, qmax)
    shape = [1] * x.dim()
    shape[axis] = -1
    return _round_and_clamp(x.detach(), scales.reshape(shape), qmax).to(torch.int8), scales


def fake_quantize(x: torch.Tensor, scale: float, num_bits: int = 8) -> torch.Tensor:
    qmax = _qmax(num_bits)
    rounded = torch.round(x.detach() / scale)
    # Straight-through estimator: the forward pass gives the value on the grid, the backward pass treats
    # rounding as the identity where the clamp changes nothing, round(x / scale) in [-qmax, qmax] (as
    # torch.fake_quantize_per_tensor_affine does), and passes no gradient where the value was clamped.
    inside = (rounded >= -qmax) & (rounded <= qmax)
    on_grid = torch.clamp(rounded, -qmax, qmax) * scale
    return on_grid + (x - x.detach()) * inside.to(x.dtype)
