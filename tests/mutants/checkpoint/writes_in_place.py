# MUTANT: save_checkpoint calls torch.save(checkpoint, path) directly: a failed save destroys the old file
"""Reference solution: atomic, complete training checkpoints, loaded back with weights_only=True."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    **extra: Any,
) -> None:
    path = Path(path)
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),  # Adam's moments and step counts, the current lr, ...
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        # Dropout masks, data shuffling and augmentation after the resume depend on the RNG state.
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
        "extra": dict(extra),
    }
    # Write a temporary file in the same folder, then rename it over `path`: os.replace is atomic on one
    # filesystem, so a reader (or a crash) sees either the old checkpoint or the new one, never half a file.
    torch.save(checkpoint, path)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    map_location: Any = "cpu",
) -> dict[str, Any]:
    # weights_only=True only rebuilds tensors and plain containers: a crafted checkpoint cannot run code.
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    # strict=True (the default) raises on missing or unexpected keys instead of silently keeping the
    # random initialisation of whatever did not match.
    model.load_state_dict(checkpoint["model"], strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    # RNG states must be CPU ByteTensors, whatever map_location moved them to.
    torch.set_rng_state(checkpoint["rng"]["torch"].cpu())
    if torch.cuda.is_available() and checkpoint["rng"]["cuda"]:
        torch.cuda.set_rng_state_all([state.cpu() for state in checkpoint["rng"]["cuda"]])
    return {"epoch": checkpoint["epoch"], "extra": checkpoint["extra"]}
