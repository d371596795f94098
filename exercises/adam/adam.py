"""Adam and AdamW by hand, as ``torch.optim.Optimizer`` subclasses.

Write the update rules yourself with tensor operations (no torch.optim.Adam, AdamW or torch.optim's
functional helpers). The grader runs your optimizers and torch.optim.Adam / AdamW side by side on the same
parameters and gradients (float64 and float32, several parameter groups, a parameter that has no gradient,
one that skips steps) and compares the parameters after every step, the state and the state_dict.

For each parameter p with a gradient g = p.grad, at its step t (1, 2, ...: counted per parameter):

    Adam:   g = g + weight_decay * p                 (L2 penalty in the gradient; p.grad itself untouched)
    AdamW:  p = p - lr * weight_decay * p            (decoupled decay, with p before this step's update)
    m = beta1 * m + (1 - beta1) * g                  (m, v start at zeros)
    v = beta2 * v + (1 - beta2) * g * g
    amsgrad: v_max = max(v_max, v) (elementwise, v_max starts at zeros); use v_max instead of v below
    p = p - lr / (1 - beta1 ** t) * m / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Adam(torch.optim.Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)``.

    ``params``: an iterable of tensors or of parameter-group dicts, as for any torch optimizer (call
    ``super().__init__(params, defaults)`` with these five hyper-parameters as the defaults, so that a group
    without its own value takes the default). Raises ValueError for lr < 0, eps < 0, weight_decay < 0, or a
    beta outside [0, 1).

    ``step(closure=None)``: if ``closure`` is given, call it once with gradients enabled and return its
    value (else return None); then update every parameter of every group whose ``.grad`` is not None, in
    place, without recording the update in autograd. A parameter whose grad is None is skipped: it does
    not move, gets no state, and its step count does not advance.

    ``self.state[p]`` (so that ``state_dict()`` / ``load_state_dict()`` carry it): ``"step"``, the number of
    steps p has taken (an int or a 0-dim tensor); ``"exp_avg"`` (m) and ``"exp_avg_sq"`` (v), tensors like
    p; and ``"max_exp_avg_sq"`` (v_max) when amsgrad is on.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)``: Adam with
    decoupled weight decay (``p = p - lr * weight_decay * p`` before the Adam update, nothing added to the
    gradient). Everything else (validation, step, closure, skipping, state) as in Adam. Note the default
    weight_decay, 1e-2 as in torch.optim.AdamW."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        raise NotImplementedError
