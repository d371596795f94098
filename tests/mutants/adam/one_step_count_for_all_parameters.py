"""Known-wrong submission: one step counter on the optimizer, shared by every parameter.

Reference solution: Adam and AdamW written as torch.optim.Optimizer subclasses, with the same arithmetic as
torch.optim.Adam / AdamW: bias-corrected moments, eps added after the square root, L2 weight decay in the
gradient (Adam) or decoupled weight decay (AdamW), and torch's AMSGrad."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Adam(torch.optim.Optimizer):
    decoupled = False  # AdamW sets True: decay the weights directly instead of adding wd * p to the gradient

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas: {betas}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults)
        self.t = 0

    @torch.no_grad()  # the update is not part of any graph, and in-place ops on leaves need it
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.t += 1
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue  # no gradient: no update, no state, its step count does not move
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if amsgrad:
                        state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                step = self.t
                if weight_decay != 0:
                    if self.decoupled:
                        p.mul_(1 - lr * weight_decay)  # AdamW: p -= lr * wd * p, with p before this update
                    else:
                        grad = grad.add(p, alpha=weight_decay)  # Adam: L2 term in the gradient (p.grad untouched)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                if amsgrad:
                    # torch's AMSGrad: the running max of the raw second moments, bias-corrected afterwards.
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    second = state["max_exp_avg_sq"]
                else:
                    second = exp_avg_sq
                denom = second.sqrt() / bias_correction2 ** 0.5 + eps  # eps outside the square root
                p.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
        return loss


class AdamW(Adam):
    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
