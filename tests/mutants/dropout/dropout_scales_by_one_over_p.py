"""Reference solution: inverted dropout, as a function with a torch.Generator argument and as an nn.Module."""

from __future__ import annotations

import torch
from torch import nn


def _check(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be between 0 and 1, got {p}")


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    _check(p)
    if not training or p == 0.0:
        return x.clone()  # the identity, and no random draw at all
    if p == 1.0:
        return x * 0.0  # everything dropped; 1 / (1 - p) would be inf and 0 * inf is nan
    # One uniform draw per entry, from the given generator (or the global RNG when it is None).
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= p
    return x * keep.to(x.dtype) / p


class Dropout(nn.Module):
    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        _check(p)
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.generator)
