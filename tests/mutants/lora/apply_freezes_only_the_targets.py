"""Reference solution: LoRA (low-rank adaptation) for linear layers: a frozen base weight plus a trainable
low-rank update B @ A scaled by alpha / r, mergeable into the base weight and back."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int, alpha: float) -> None:
        super().__init__()
        if r < 1:
            raise ValueError(f"r must be at least 1, got {r}")
        self.base = base  # the original layer, wrapped (not copied)
        self.base.requires_grad_(False)
        self.r = r
        self.alpha = alpha
        self.scaling = alpha / r
        factory = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **factory))
        # A random, B zero: the update B @ A starts at exactly 0 (the wrapped model is unchanged at first),
        # and B still gets a gradient because A is not zero.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **factory))
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling  # (out, in), like base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:
            return out  # the update already lives in base.weight
        # x @ A^T @ B^T: two thin matmuls, never the full (out, in) product.
        return out + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False


def apply_lora(model: nn.Module, target_names: Iterable[str], r: int, alpha: float) -> nn.Module:
    targets = set(target_names)
    # Collect first, replace after: changing modules while named_modules() walks them is unsafe.
    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in targets]
    for name, module in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(module, r, alpha))
    return model


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value for name, value in model.state_dict().items()
            if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")}
