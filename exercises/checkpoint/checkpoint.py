"""Checkpoints: save everything an exact resume needs, atomically, and load it back safely.

Implement the two tasks below with ``torch.save`` / ``torch.load``.
"""

from __future__ import annotations

import os
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
    """Save a training checkpoint to ``path``, atomically.

    Args:
        path: the checkpoint file (str or path-like). Its folder exists; the file may already exist (an
            older checkpoint), and is then replaced.
        model, optimizer: their ``state_dict()``s are saved.
        epoch: the number of finished epochs (an int), saved as is.
        scheduler: its ``state_dict()`` is saved too when given.
        **extra: any other values to keep (e.g. ``best_loss=0.3``), saved together as one dict. They must
            be of types ``torch.load(..., weights_only=True)`` accepts (tensors, numbers, strings, lists,
            tuples, dicts, None); a value that cannot be saved makes the save fail (see below).

    What is saved: everything an exact resume needs: the model's, optimizer's and scheduler's state dicts,
    ``epoch``, the torch RNG state (``torch.get_rng_state()``) and, when CUDA is available, the CUDA RNG
    states (``torch.cuda.get_rng_state_all()``), and the ``extra`` dict. How you lay it out in the file is
    up to you, but the file must load with ``torch.load(path, weights_only=True)``.

    Atomic: when it returns, the new checkpoint is at ``path``. If anything fails while saving, the
    exception reaches the caller, the file that was at ``path`` before (if any) is left byte for byte as it
    was (and no file appears at ``path`` if there was none), and no temporary file is left behind, neither
    in ``path``'s folder nor in the system's temporary folder.

    Returns None. Saving does not change the model, the optimizer, the scheduler or the RNG state.
    """
    raise NotImplementedError


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    map_location: Any = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint`` and restore the training state from it.

    Args:
        path: the checkpoint file.
        model: restored with ``load_state_dict`` strictly: a checkpoint of another architecture (missing
            or unexpected keys, other shapes) raises.
        optimizer, scheduler: restored when given (None: left alone).
        map_location: passed to ``torch.load`` (a device, a string such as "cpu", or a callable).

    The file is read with ``torch.load(..., weights_only=True)``: never unpickle arbitrary objects from a
    file. The torch RNG state is restored (and the CUDA RNG states, when CUDA is available and they were
    saved), so that training continued after the load gives bit-identical parameters to a run that was
    never interrupted (same dropout masks, same Adam moments, same learning rates).

    Returns:
        ``{"epoch": <the saved epoch>, "extra": <the dict of extra values>}`` (exactly these two keys;
        ``extra`` is ``{}`` when none were saved).
    """
    raise NotImplementedError
