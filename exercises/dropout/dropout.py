"""Inverted dropout by hand: a function and an nn.Module.

In training, dropout zeroes each entry independently with probability ``p`` and scales the survivors by
``1 / (1 - p)``, so every entry keeps its expected value and nothing needs rescaling at test time; in eval
mode it is the identity. Write it with ``torch.rand`` (or ``torch.bernoulli``) and tensor arithmetic, not
with ``torch.nn.functional.dropout`` or ``nn.Dropout``.

The grader checks the contract statistically on large tensors (the fraction kept, the scale of the kept
entries, the mean), and checks reproducibility with a ``torch.Generator`` and that the global RNG is left
alone when a generator is given.
"""

from __future__ import annotations

import torch
from torch import nn


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout of ``x``.

    Args:
        x: a float32 or float64 tensor of any shape. Not modified.
        p: the probability of zeroing each entry, ``0 <= p <= 1``; otherwise ValueError.
        training: with False, return ``x``'s values unchanged (the identity, no randomness used).
        generator: where the random numbers come from. When given, every random draw uses it
            (``torch.rand(..., generator=generator)``), so a generator seeded alike gives the same mask, and
            the global RNG (``torch.manual_seed``'s) is not touched. When None, the global RNG is used.

    Returns:
        A new tensor of ``x``'s shape and dtype: each entry independently 0 with probability ``p`` and
        ``x / (1 - p)`` otherwise (one independent draw per entry, none shared across the batch).
        ``p == 0`` returns ``x``'s values; ``p == 1`` returns zeros (never nan: do not divide by 1 - p = 0).
        Gradients flow: d out / d x is ``mask / (1 - p)``, and for ``p == 1`` the zeros are still computed
        from ``x`` (e.g. ``x * 0``), so backward gives ``x`` a zero gradient rather than none.
    """
    raise NotImplementedError


class Dropout(nn.Module):
    """``nn.Dropout`` by hand: ``Dropout(p=0.5, generator=None)``.

    Keeps ``p`` and ``generator`` as attributes; has no parameters and no buffers (an empty state_dict).
    ``forward(x)`` is ``dropout(x, self.p, self.training, self.generator)``: it drops in train mode (the
    default for a new module, and after ``.train()``) and is the identity after ``.eval()``. Raises ValueError
    from ``__init__`` when p is outside [0, 1].
    """

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
