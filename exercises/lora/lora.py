"""LoRA: fine-tune a big model by training a small low-rank update instead of its weights.

A LoRA layer keeps a pretrained ``nn.Linear`` frozen (weight W, shape (out, in)) and learns
``delta_W = (alpha / r) * B @ A`` with A (r, in) and B (out, r), r much smaller than in and out. The grader
wraps real ``nn.Linear`` layers, loads chosen A and B into your adapters, and checks outputs, gradients,
which parameters train, and that merging the update into W and taking it out again round-trips (float64).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class LoRALinear(nn.Module):
    """A LoRA adapter around an existing ``nn.Linear``.

    Attributes (exact names):
        base: the wrapped ``nn.Linear`` itself (not a copy), frozen: its weight and bias have
            ``requires_grad=False``.
        lora_A: ``nn.Parameter`` of shape (r, in_features), initialised at random (not all zeros; e.g.
            ``nn.init.kaiming_uniform_(A, a=math.sqrt(5))`` as PEFT does).
        lora_B: ``nn.Parameter`` of shape (out_features, r), initialised to zeros, so the layer first
            computes exactly what ``base`` does.
        Both adapters have base.weight's dtype and device and require grad; they are the only trainable
        parameters. r, alpha: as given; scaling = alpha / r.
        merged: bool, False until ``merge()``.

    forward(x) for x (..., in_features): ``base(x) + scaling * (x @ A^T @ B^T)`` while not merged;
    ``base(x)`` alone once merged (the update is then inside base.weight).

    Raises:
        ValueError from ``__init__`` if r < 1.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def merge(self) -> None:
        """Add ``scaling * B @ A`` to ``base.weight`` in place (no autograd), set ``merged = True``. A second
        ``merge()`` while merged does nothing."""
        raise NotImplementedError

    def unmerge(self) -> None:
        """Subtract the update from ``base.weight`` again (restoring it up to rounding), set
        ``merged = False``. Does nothing when not merged."""
        raise NotImplementedError


def apply_lora(model: nn.Module, target_names: Iterable[str], r: int, alpha: float) -> nn.Module:
    """Wrap every ``nn.Linear`` of ``model`` whose own name (the last part of its qualified name, e.g.
    ``"q_proj"`` for ``"layers.0.attn.q_proj"``) is in ``target_names`` in a ``LoRALinear(layer, r, alpha)``,
    in place (the wrapper replaces the attribute on its parent module). The name must equal a target
    exactly: ``"out_proj"`` does not match the target ``"proj"``. Afterwards only the adapters' ``lora_A``
    and ``lora_B`` are trainable: every other parameter of the model (targets or not, embeddings, norms)
    has ``requires_grad=False``. Returns the same ``model``.
    """
    raise NotImplementedError


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights of ``model``: the ``state_dict()`` entries whose names end in ``lora_A`` or
    ``lora_B`` (e.g. ``"attn.q_proj.lora_A"``), with their full names, so that
    ``model.load_state_dict(lora_state_dict(trained), strict=False)`` restores a fine-tune into a model
    with freshly applied adapters. A checkpoint of a few thousand numbers instead of the whole model."""
    raise NotImplementedError
