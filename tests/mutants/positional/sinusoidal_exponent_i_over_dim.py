"""Reference solution: sinusoidal position encodings and rotary position embeddings (RoPE), by hand."""

from __future__ import annotations

import torch


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    if num_positions < 0:
        raise ValueError(f"num_positions must be >= 0, got {num_positions}")
    # Work in float64 and cast once at the end: the angles grow with the position, and float32 angles lose
    # digits long before float64 ones do.
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    i = torch.arange(dim // 2, dtype=torch.float64)  # 0, 1, 2, ..., dim / 2 - 1
    frequency = base ** (-i / dim)  # (dim / 2,): pair i turns at 1 / base^(2i / dim)
    angle = position * frequency  # (P, dim / 2)
    encoding = torch.empty(num_positions, dim, dtype=torch.float64)
    encoding[:, 0::2] = angle.sin()  # even features: sin
    encoding[:, 1::2] = angle.cos()  # odd features: cos of the same angle
    return encoding.to(dtype)


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0,
               interleaved: bool = False) -> torch.Tensor:
    dim = x.size(-1)
    if dim % 2:
        raise ValueError(f"the last dimension of x must be even, got {dim}")
    length = x.size(-2)
    if positions is None:
        positions = torch.arange(length, device=x.device)
    # One angle per (position, pair): pair i turns at theta_i = base^(-2i / dim), position p by p * theta_i.
    theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=x.device) / dim)
    angle = positions.to(torch.float64)[:, None] * theta  # (T, dim / 2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    if interleaved:
        # Pairs are neighbours: (x[2i], x[2i + 1]).
        first, second = x[..., 0::2], x[..., 1::2]
    else:
        # Pairs are half a vector apart: (x[i], x[i + dim / 2]) (GPT-NeoX, Hugging Face Llama).
        first, second = x[..., : dim // 2], x[..., dim // 2:]
    # Rotate each pair counter-clockwise by its angle; new tensors, so x is never modified.
    rotated_first = first * cos - second * sin
    rotated_second = first * sin + second * cos
    if interleaved:
        return torch.stack((rotated_first, rotated_second), dim=-1).flatten(-2)
    return torch.cat((rotated_first, rotated_second), dim=-1)
