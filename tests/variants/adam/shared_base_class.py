"""Correct, written differently: one base class with a decoupled flag per subclass, a 0-dim tensor step,
lerp_ for m, and m_hat / denom."""

import math

import torch
from torch.optim import Optimizer


class _Base(Optimizer):
    def __init__(self, params, lr, betas, eps, weight_decay, amsgrad, decoupled):
        for v in (lr, eps, weight_decay):
            if v < 0:
                raise ValueError("negative hyper-parameter")
        if any(not 0 <= b < 1 for b in betas):
            raise ValueError("beta out of range")
        self._decoupled = decoupled
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if len(st) == 0:
                        st["step"] = torch.tensor(0.0)
                        st["exp_avg"] = torch.zeros_like(p)
                        st["exp_avg_sq"] = torch.zeros_like(p)
                        if group["amsgrad"]:
                            st["max_exp_avg_sq"] = torch.zeros_like(p)
                    st["step"] += 1
                    t = st["step"].item()
                    g = p.grad
                    wd = group["weight_decay"]
                    if wd:
                        if self._decoupled:
                            p.sub_(group["lr"] * wd * p)
                        else:
                            g = g + wd * p
                    st["exp_avg"].lerp_(g, 1 - b1)
                    st["exp_avg_sq"].copy_(b2 * st["exp_avg_sq"] + (1 - b2) * g.square())
                    v = st["exp_avg_sq"]
                    if group["amsgrad"]:
                        st["max_exp_avg_sq"].copy_(torch.maximum(st["max_exp_avg_sq"], v))
                        v = st["max_exp_avg_sq"]
                    m_hat = st["exp_avg"] / (1 - b1 ** t)
                    denom = v.sqrt() / math.sqrt(1 - b2 ** t) + group["eps"]
                    p.sub_(group["lr"] * m_hat / denom)
        return loss


class Adam(_Base):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, False)


class AdamW(_Base):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, True)
