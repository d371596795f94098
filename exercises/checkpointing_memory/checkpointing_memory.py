"""Activation (gradient) checkpointing: trade compute for memory.

Backward needs the activations of the forward pass. Normally autograd keeps them all until backward; a
checkpointed segment keeps only its input, and backward runs the segment's forward again to get the rest.
You write the segmenting (with ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``) and a
counter of the tensors autograd saves for backward (with ``torch.autograd.graph.saved_tensors_hooks``).
The grader builds stacks of blocks that count their forward calls and checks outputs, gradients (float32
and float64, with dropout too), how often each block runs, and how many tensors are saved. Everything runs
on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


def checkpointed_forward(blocks: Sequence[nn.Module], x: torch.Tensor, segments: int | None = None) -> torch.Tensor:
    """Run ``x`` through ``blocks`` in order (``h = block(h)``), checkpointing as
    ``torch.utils.checkpoint.checkpoint_sequential`` does.

    ``blocks``: a list, ``nn.ModuleList`` or ``nn.Sequential`` of n modules, each taking and returning one
    tensor. ``segments`` (default n, one block per segment): the blocks are cut into ``segments``
    consecutive segments of ``n // segments`` blocks each, the last segment taking all the blocks that are
    left (7 blocks, 3 segments: blocks 0-1, 2-3 and 4-6). Every segment except the last runs under
    ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)`` (RNG state preserved, the default); the
    last segment runs normally, since backward needs its activations first.

    Returns the last block's output, equal (values and, after backward, the gradients of ``x`` and of every
    parameter) to running the blocks without checkpointing, with dropout too (same seed, same masks), and
    also when ``x`` does not require grad (the parameters still get their gradients). The forward pass calls
    each block's forward exactly once; backward calls each checkpointed block's forward once more.

    Raises:
        ValueError if ``segments`` is not between 1 and n.
    """
    raise NotImplementedError


def count_saved_tensors(fn: Callable[..., Any], *args: Any) -> tuple[Any, int]:
    """Call ``fn(*args)`` once and count the tensors autograd saves for backward during that call.

    Returns ``(output, count)``: ``fn``'s output, still attached to its graph so that backward through it
    works and gives the usual gradients, and ``count``, a Python int: the number of times autograd saved a
    tensor (every pack of ``torch.autograd.graph.saved_tensors_hooks`` counts, so ``x * x`` saves x twice:
    2). Nothing is saved when no input requires grad or under ``torch.no_grad()``: 0.
    """
    raise NotImplementedError
