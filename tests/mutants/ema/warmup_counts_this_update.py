"""Known-wrong submission: warm-up with n counting this update (2/11 first).

Reference solution: an exponential moving average of a model's weights, with an optional warm-up of the
decay; buffers are copied, not averaged (as torch.optim.swa_utils.AveragedModel does by default)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        self.module = copy.deepcopy(model)  # its own tensors: training the model must not move the average
        self.module.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0

    def get_decay(self) -> float:
        if not self.warmup:
            return self.decay
        n = self.num_updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()  # the average is not part of any graph (without it, every update would extend one)
    def update(self, model: nn.Module) -> None:
        decay = self.get_decay()
        for averaged, current in zip(self.module.parameters(), model.parameters(), strict=True):
            averaged.lerp_(current.detach(), 1 - decay)  # decay * averaged + (1 - decay) * current
        # Buffers (BatchNorm's running statistics, its int64 counter) are copied, as AveragedModel does by default
        # (use_buffers=False): an int64 counter cannot be averaged anyway.
        for averaged, current in zip(self.module.buffers(), model.buffers(), strict=True):
            averaged.copy_(current)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        # In place: the model keeps its own Parameter objects (an optimizer still holds them).
        for target, averaged in zip(model.parameters(), self.module.parameters(), strict=True):
            target.copy_(averaged)
        for target, averaged in zip(model.buffers(), self.module.buffers(), strict=True):
            target.copy_(averaged)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "decay": self.decay, "warmup": self.warmup,
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.decay = state["decay"]
        self.warmup = state["warmup"]
        self.num_updates = state["num_updates"]
