"""Correct, written differently: torch.utils.checkpoint.checkpoint_sequential itself, and a
saved_tensors_hooks subclass as the counter."""

import torch
from torch.utils.checkpoint import checkpoint_sequential


def checkpointed_forward(blocks, x, segments=None):
    blocks = list(blocks)
    n = len(blocks)
    if segments is None:
        segments = n
    if segments < 1 or segments > n:
        raise ValueError("bad segments")
    return checkpoint_sequential(blocks, segments, x, use_reentrant=False)


class _Counter(torch.autograd.graph.saved_tensors_hooks):
    def __init__(self):
        self.n = 0
        super().__init__(self._pack, self._unpack)

    def _pack(self, t):
        self.n += 1
        return t

    def _unpack(self, t):
        return t


def count_saved_tensors(fn, *args):
    counter = _Counter()
    with counter:
        out = fn(*args)
    return out, counter.n
