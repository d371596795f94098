"""Reference solution: k-means with k-means++ seeding, vectorised with torch.cdist."""

from __future__ import annotations

import torch


def _check(x: torch.Tensor, k: int) -> None:
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, D), got {tuple(x.shape)}")
    if not 1 <= k <= x.size(0):
        raise ValueError(f"k must be in [1, N] = [1, {x.size(0)}], got {k}")


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    _check(x, k)
    first = torch.randint(0, x.size(0), (1,), generator=generator)
    centres = x[first]  # (1, D)
    for _ in range(1, k):
        # Squared distance of every point to its nearest chosen centre: one (N, c) cdist, no loop over points.
        d2 = torch.cdist(x, centres).pow(2).min(dim=1).values
        if not d2.sum() > 0:
            raise ValueError(f"x has fewer than k = {k} distinct points")
        nxt = torch.multinomial(d2, 1, generator=generator)  # P(point i) proportional to d2[i]
        centres = torch.cat((centres, x[nxt]), dim=0)
    return centres


def kmeans(x: torch.Tensor, k: int, max_iter: int = 100, tol: float = 1e-4,
           generator: torch.Generator | None = None, init: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor, int]:
    _check(x, k)
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    if init is None:
        centres = kmeans_plus_plus(x, k, generator)
    else:
        if init.shape != (k, x.size(1)):
            raise ValueError(f"init must have shape ({k}, {x.size(1)}), got {tuple(init.shape)}")
        centres = init.to(x.dtype).clone()
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        labels = torch.cdist(x, centres).argmin(dim=1)  # (N,); ties go to the lowest index
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        # An empty cluster keeps its previous centre (no division by zero, no NaN).
        new = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
        shift = (new - centres).norm(dim=1).max()
        centres = new
        if shift < tol:
            break
    labels = torch.cdist(x, centres).argmin(dim=1)  # the labels of the centres returned
    return centres, labels, n_iter
