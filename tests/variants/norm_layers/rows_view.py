"""A correct variant: BatchNorm1d on a (N * L, C) view with sums, reassigned detached buffers, and a
flattened LayerNorm with rsqrt, to prove the tests accept code written differently from the reference."""

import torch
from torch import nn


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(*self.normalized_shape))
            self.bias = nn.Parameter(torch.zeros(*self.normalized_shape))
        else:
            self.weight = self.bias = None

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.shape[x.dim() - k:] != torch.Size(self.normalized_shape):
            raise RuntimeError("bad shape")
        flat = x.reshape(*x.shape[: x.dim() - k], -1)
        mean = flat.mean(-1, keepdim=True)
        centred = flat - mean
        var = (centred * centred).mean(-1, keepdim=True)
        y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)
        if self.weight is not None:
            y = self.weight * y + self.bias
        return y


class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        super().__init__()
        self.C, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        if x.dim() == 2:
            rows = x
        elif x.dim() == 3:
            rows = x.transpose(1, 2).reshape(-1, x.size(1))
        else:
            raise ValueError("2-d or 3-d input expected")
        if rows.size(1) != self.C:
            raise ValueError("wrong number of channels")
        n = rows.size(0)
        if self.training:
            if n == 1:
                raise ValueError("need more than one value per channel")
            mean = rows.sum(0) / n
            sq = ((rows - mean) ** 2).sum(0)
            var = sq / n
            self.num_batches_tracked = self.num_batches_tracked + 1
            f = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
            self.running_mean = ((1 - f) * self.running_mean + f * mean).detach()
            self.running_var = ((1 - f) * self.running_var + f * sq / (n - 1)).detach()
        else:
            mean, var = self.running_mean, self.running_var
        out = (rows - mean) / (var + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight + self.bias
        if x.dim() == 3:
            out = out.reshape(x.size(0), x.size(2), x.size(1)).transpose(1, 2)
        return out
