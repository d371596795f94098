"""Reference solution: softmax, log-softmax and logsumexp by hand, stable by subtracting each slice's max."""

from __future__ import annotations

import torch


def _shifted(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x - m, m) with m the max of each slice along ``dim`` (kept as size 1), so that every exponent is <= 0.

    A slice of all -inf has m = -inf, and x - m would be -inf - (-inf) = nan: shift such slices by 0 instead
    (as torch does), which keeps logsumexp at log(0) = -inf. m is a constant of the identity
    logsumexp(x) = m + logsumexp(x - m), so it carries no gradient."""
    m = x.detach().amax(dim=dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    return x - m, m


def logsumexp(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    out = x.exp().sum(dim=dim, keepdim=True).log()
    return out if keepdim else out.squeeze(dim)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    # Stay in log space: log(softmax) would turn an underflowed 0 into -inf.
    z, _ = _shifted(x, dim)
    return z - z.exp().sum(dim=dim, keepdim=True).log()


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    z, _ = _shifted(x, dim)
    e = z.exp()  # every entry in [0, 1], and the max of each finite slice becomes exp(0) = 1: no overflow
    return e / e.sum(dim=dim, keepdim=True)
