"""Correct, written differently: one loop over state_dict() entries (parameters averaged with mul_/add_,
buffers copied), copy_to via load_state_dict."""

import copy

import torch


class EMA:
    def __init__(self, model, decay=0.999, warmup=False):
        if decay < 0 or decay > 1:
            raise ValueError("decay")
        self.decay, self.warmup, self.num_updates = decay, warmup, 0
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad = False

    def get_decay(self):
        if self.warmup:
            return min(self.decay, (self.num_updates + 1) / (self.num_updates + 10))
        return self.decay

    def update(self, model):
        d = self.get_decay()
        names = {name for name, _ in model.named_parameters()}
        ours = self.module.state_dict()
        with torch.no_grad():
            for key, value in model.state_dict().items():
                if key in names:
                    ours[key].mul_(d).add_((1 - d) * value)
                else:
                    ours[key].copy_(value)
        self.num_updates += 1

    def copy_to(self, model):
        model.load_state_dict(self.module.state_dict())

    def state_dict(self):
        return dict(module=self.module.state_dict(), decay=self.decay, warmup=self.warmup,
                    num_updates=self.num_updates)

    def load_state_dict(self, state):
        self.module.load_state_dict(state["module"])
        self.decay, self.warmup, self.num_updates = state["decay"], state["warmup"], state["num_updates"]
