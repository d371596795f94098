# MUTANT: load_checkpoint reseeds with torch.manual_seed(epoch) instead of restoring the saved RNG state
"""Reference solution: atomic, complete training checkpoints, loaded back with weights_only=True."""

from __future__ import annotations

import os
import tempfile
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
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the rename makes them the checkpoint
        os.replace(temporary, path)
    except BaseException:
        # Whatever went wrong (a value that cannot be pickled, a full disk, Ctrl-C), remove the partial
        # temporary file and let the error reach the caller; `path` was never touched.
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


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
    torch.manual_seed(checkpoint["epoch"])
    return {"epoch": checkpoint["epoch"], "extra": checkpoint["extra"]}
