"""Known-wrong submission: a lambda in the loop: backward recomputes with the loop's final start.

Reference solution: activation checkpointing of a stack of blocks (torch.utils.checkpoint, non-reentrant),
segmented as checkpoint_sequential does, and a counter of the tensors autograd saves for backward."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def _run(blocks: Sequence[nn.Module]) -> Callable[[torch.Tensor], torch.Tensor]:
    # A function of its own for each segment: a lambda in the loop would see the loop's last start and end
    # when backward recomputes it, long after the loop has finished.
    def forward(h: torch.Tensor) -> torch.Tensor:
        for block in blocks:
            h = block(h)
        return h
    return forward


def checkpointed_forward(blocks: Sequence[nn.Module], x: torch.Tensor, segments: int | None = None) -> torch.Tensor:
    blocks = list(blocks)
    segments = len(blocks) if segments is None else segments
    if not 1 <= segments <= len(blocks):
        raise ValueError(f"segments must be between 1 and the number of blocks ({len(blocks)}), got {segments}")
    size = len(blocks) // segments
    start = 0
    for _ in range(segments - 1):
        # Non-reentrant: gradients reach the parameters even when x does not require grad, and the RNG state
        # is restored for the recomputation (preserve_rng_state=True), so dropout draws the same masks.
        x = checkpoint(lambda h: _run(blocks[start:start + size])(h), x, use_reentrant=False)  # noqa: B023 - the mistake
        start += size
    # The last segment runs normally: backward needs its activations first, so recomputing them saves nothing.
    return _run(blocks[start:])(x)


def count_saved_tensors(fn: Callable[..., Any], *args: Any) -> tuple[Any, int]:
    count = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal count
        count += 1
        return tensor  # what unpack gets back at backward time: the tensor itself, kept as autograd would

    def unpack(tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        out = fn(*args)
    return out, count
