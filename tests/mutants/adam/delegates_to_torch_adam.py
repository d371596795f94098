"""Known-wrong submission: hands the update to torch.optim.Adam instead of writing it.

Reference solution: Adam and AdamW written as torch.optim.Optimizer subclasses, with the same arithmetic as
torch.optim.Adam / AdamW: bias-corrected moments, eps added after the square root, L2 weight decay in the
gradient (Adam) or decoupled weight decay (AdamW), and torch's AMSGrad."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Adam(torch.optim.Adam):
    decoupled = False  # AdamW sets True: decay the weights directly instead of adding wd * p to the gradient

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         decoupled_weight_decay=self.decoupled)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return super().step(closure)


class AdamW(Adam):
    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
