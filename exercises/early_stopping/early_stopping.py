"""Early stopping: stop when the validation metric has not improved for ``patience`` epochs, keep the best weights.

A training loop calls ``stopper.step(val_metric, model)`` once per epoch, after validation, and breaks out
when ``stopper.should_stop`` is True; ``stopper.restore(model)`` then puts the best epoch's weights back.
``state_dict()`` / ``load_state_dict()`` let the stopper be saved in a checkpoint with the model and the
optimizer, so that a run resumed from it makes exactly the decisions the uninterrupted run would have made.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class EarlyStopping:
    """Patience-based early stopping that keeps a copy of the best state.

    Args:
        patience: >= 1: stop after this many consecutive epochs without an improvement.
        min_delta: >= 0: how much better than the best a value must be to count as an improvement.
        mode: ``"min"`` (a loss: lower is better) or ``"max"`` (an accuracy: higher is better).

    Raises:
        ValueError: patience < 1, min_delta < 0, or mode is neither "min" nor "max".

    Attributes (read by the grader, set by ``__init__`` and ``step``):
        patience, min_delta (a float), mode: the arguments.
        best: the best value so far, a Python float (None before the first improvement).
        best_epoch: the epoch of ``best`` (None before the first improvement). Epochs are numbered 0, 1, 2, ...
            in the order ``step`` is called.
        num_bad_epochs: consecutive epochs without an improvement since the last one (0 at the start).
        epoch: how many times ``step`` has been called.
        best_state: None, or a copy of ``model.state_dict()`` (every parameter and buffer) taken at the best
            epoch: new tensors, detached, that later training of the model cannot change.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        raise NotImplementedError

    def step(self, value: float | torch.Tensor, model: nn.Module) -> bool:
        """Record one epoch's validation value (a float or a 0-dim tensor) and return whether it improved.

        An improvement is, for mode "min", ``value < best - min_delta``; for mode "max",
        ``value > best + min_delta`` (strict: being better by exactly min_delta is not enough). The first
        value is always an improvement, except NaN: a NaN value is never an improvement.

        On an improvement: ``best = value``, ``best_epoch`` = this epoch, ``num_bad_epochs = 0``, and
        ``best_state`` becomes a copy of ``model.state_dict()``. Otherwise ``num_bad_epochs`` grows by one and
        nothing else changes (``best`` stays as it was, even if the value was better by less than min_delta).
        Either way ``epoch`` grows by one.
        """
        raise NotImplementedError

    @property
    def should_stop(self) -> bool:
        """True when ``num_bad_epochs >= patience``: right after the patience-th epoch in a row without an
        improvement, not one later."""
        raise NotImplementedError

    def restore(self, model: nn.Module) -> None:
        """Load ``best_state`` into ``model`` (copying the values into the model's own tensors; the stopper's
        copy stays its own). Raises RuntimeError when there is no best state yet."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue: a plain dict with the keys ``patience``, ``min_delta``, ``mode``,
        ``best``, ``best_epoch``, ``num_bad_epochs``, ``epoch`` and ``best_state`` (None, or a dict of tensors).
        It must survive ``torch.save`` and ``torch.load(..., weights_only=True)``."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore every field from ``state_dict()``'s output, so that the next ``step`` calls decide
        exactly as the saved stopper would have (whatever arguments this stopper was built with)."""
        raise NotImplementedError
