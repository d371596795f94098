"""Reference solution: LayerNorm and BatchNorm1d by hand, matching nn.LayerNorm and nn.BatchNorm1d."""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.normalized_shape)
        if tuple(x.shape[x.dim() - k:]) != self.normalized_shape:
            raise ValueError(f"expected an input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {tuple(x.shape)}")
        dims = (-1,)
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, correction=0, keepdim=True)  # biased: divide by the number of elements
        y = (x - mean) / torch.sqrt(var + self.eps)  # eps inside the square root
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y


class BatchNorm1d(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        # Buffers, not parameters: saved in the state_dict and moved by .to(), never trained.
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"expected a 2-d or 3-d input, got {x.dim()}-d")
        if x.size(1) != self.num_features:
            raise ValueError(f"expected {self.num_features} channels in dim 1, got {x.size(1)}")
        dims = (0,) if x.dim() == 2 else (0, 2)  # every entry of a channel
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1)  # per-channel values broadcast over N (and L)
        if self.training:
            n = x.numel() // x.size(1)
            if n < 2:
                raise ValueError("expected more than 1 value per channel when training")
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, correction=0)  # biased, for normalising
            with torch.no_grad():  # the running estimates are statistics, not part of the graph
                self.num_batches_tracked += 1
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(factor * mean)
                self.running_var.mul_(1 - factor).add_(factor * var * (n / (n - 1)))  # unbiased
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y
