"""An exponential moving average (EMA) of a model's weights.

Evaluating an average of the recent weights instead of the last ones often gives a better model (it is what
diffusion models, many vision models and Polyak averaging do). After every optimizer step:
``ema = d * ema + (1 - d) * weights``. The grader trains small models (with BatchNorm) and checks the average
after every update, against hand-worked values and against
``torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``.
"""

from __future__ import annotations

from typing import Any

from torch import nn


class EMA:
    """``EMA(model, decay=0.999, warmup=False)``: an average of ``model``'s weights.

    Attributes:
        module: a deep copy of ``model`` made at construction (its own tensors), whose parameters hold the
            average; they have ``requires_grad=False`` (``model`` itself is left as it is). Evaluate with
            ``ema.module(x)``.
        decay, warmup: as given. num_updates: the number of ``update`` calls so far (0 at first).

    ``get_decay()``: the decay d the next ``update`` uses: ``decay``; with ``warmup``,
    ``min(decay, (1 + n) / (10 + n))`` where n = num_updates (0.1 for the first update, then 2/11, 3/12, ...
    until it reaches ``decay``), so that the average forgets its random starting weights quickly.

    ``update(model)``: for every parameter (in ``parameters()`` order, ``model`` having the same structure),
    ``ema_p = d * ema_p + (1 - d) * p``, in place and without autograd (no graph, no ``requires_grad``);
    every buffer (BatchNorm's running_mean, running_var, num_batches_tracked) is copied from ``model``, not
    averaged. Then num_updates += 1. The first update averages too (the average starts from the
    weights at construction): ``AveragedModel``'s first ``update_parameters`` only copies, so an AveragedModel
    given one extra update with the starting weights matches ``EMA`` with a constant decay.

    ``copy_to(model)``: copy the averaged parameters and the buffers into ``model``, in place (``model``
    keeps its own Parameter objects, which an optimizer may hold; later training of ``model`` does not
    change the average).

    ``state_dict()``: a dict ``{"module": module.state_dict(), "decay": ..., "warmup": ...,
    "num_updates": ...}``; ``load_state_dict(state)`` restores all four, so that an EMA resumed from a
    checkpoint goes on exactly as if never interrupted (warm-up included).

    Raises:
        ValueError from ``__init__`` if decay is not in [0, 1].
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False) -> None:
        raise NotImplementedError

    def get_decay(self) -> float:
        raise NotImplementedError

    def update(self, model: nn.Module) -> None:
        raise NotImplementedError

    def copy_to(self, model: nn.Module) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError
