"""A correct variant: a uniform_ draw from the generator and torch.where, with the module branching on
self.training itself, to prove the tests accept code written differently from the reference."""

import torch
from torch import nn


def dropout(x, p=0.5, training=True, generator=None):
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"bad p {p}")
    if not training or p == 0:
        return x * 1.0
    if p == 1:
        return x * 0.0
    u = torch.empty_like(x).uniform_(generator=generator)
    return torch.where(u < 1 - p, x / (1 - p), torch.zeros_like(x))


class Dropout(nn.Module):
    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not (0.0 <= p <= 1.0):
            raise ValueError(f"bad p {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        if self.training:
            return dropout(x, self.p, True, self.generator)
        return x
