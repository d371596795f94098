"""Reference solution: early stopping with patience and min_delta; keeps, restores and checkpoints the best state."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class EarlyStopping:
    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, float(min_delta), mode
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.num_bad_epochs = 0
        self.epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False  # a NaN is never better than anything, not even the first time
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float | torch.Tensor, model: nn.Module) -> bool:
        value = float(value)
        improved = self._improves(value)
        if improved:
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
            # A copy, not model.state_dict() itself: its tensors share storage with the live parameters and
            # buffers, so every later optimizer step would rewrite "the best" weights too.
            self.best_state = {name: t.detach().clone() for name, t in model.state_dict().items()}
        else:
            self.num_bad_epochs += 1
        self.epoch += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.num_bad_epochs > self.patience

    def restore(self, model: nn.Module) -> None:
        if self.best_state is None:
            raise RuntimeError("no best state yet: step() has not seen an improvement")
        model.load_state_dict(self.best_state)  # copies into the model's own tensors

    def state_dict(self) -> dict[str, Any]:
        return {
            "patience": self.patience, "min_delta": self.min_delta, "mode": self.mode, "best": self.best,
            "best_epoch": self.best_epoch, "num_bad_epochs": self.num_bad_epochs, "epoch": self.epoch,
            "best_state": None if self.best_state is None else {k: v.clone() for k, v in self.best_state.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.patience, self.min_delta, self.mode = state["patience"], state["min_delta"], state["mode"]
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.num_bad_epochs, self.epoch = state["num_bad_epochs"], state["epoch"]
        best_state = state["best_state"]
        self.best_state = None if best_state is None else {k: v.clone() for k, v in best_state.items()}
