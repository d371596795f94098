"""Reference solution: top-k mixture-of-experts routing with an expert capacity, the Switch Transformer
load-balancing loss, and the MoE layer's forward pass."""

from __future__ import annotations

import torch
from torch import nn


def route(router_logits: torch.Tensor, k: int, capacity: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if router_logits.dim() != 2:
        raise ValueError(f"router_logits must be (tokens, experts), got shape {tuple(router_logits.shape)}")
    num_experts = router_logits.size(1)
    if not 1 <= k <= num_experts:
        raise ValueError(f"k must be in 1..{num_experts}, got {k}")
    if capacity < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity}")
    gates = router_logits.softmax(dim=0)  # over the experts of each token
    # A stable descending sort: equal gates keep their expert order, so ties go to the lower index
    # (torch.topk does not promise any order among ties).
    top_gates, indices = gates.sort(dim=-1, descending=True, stable=True)
    top_gates, indices = top_gates[:, :k], indices[:, :k]
    weights = top_gates / top_gates.sum(dim=-1, keepdim=True)  # renormalised over the k chosen
    # chose[t, e] = 1 when token t picked expert e (at most once: its k experts are distinct). The tokens
    # before t that chose e hold e's earlier slots, whichever of their k choices it was.
    chose = torch.zeros(router_logits.shape, dtype=torch.long, device=router_logits.device)
    chose.scatter_(1, indices, 1)
    slot = (chose.cumsum(dim=0) - chose).gather(1, indices)  # (tokens, k): e's slot this choice claims
    kept = slot < capacity
    # A dropped choice weighs 0; the others keep their weight (no second renormalisation).
    weights = torch.where(kept, weights, torch.zeros_like(weights))
    return indices, weights, kept


def load_balancing_loss(router_logits: torch.Tensor, expert_indices: torch.Tensor) -> torch.Tensor:
    if router_logits.dim() != 2 or expert_indices.dim() != 2 or expert_indices.size(0) != router_logits.size(0):
        raise ValueError("router_logits must be (tokens, experts) and expert_indices (tokens, k)")
    tokens, num_experts = router_logits.shape
    k = expert_indices.size(1)
    # f_e: the share of all tokens x k routing choices that went to e (no gradient: it is a count).
    counts = torch.bincount(expert_indices.flatten(), minlength=num_experts).to(router_logits.dtype)
    fraction = counts / (tokens * k)
    # P_e: the mean gate probability of e over the tokens (the full softmax, carries the gradient).
    mean_gate = router_logits.softmax(dim=-1).mean(dim=0)
    return num_experts * (fraction * mean_gate).sum()


def moe_forward(x: torch.Tensor, router: nn.Module, experts: nn.ModuleList, k: int, capacity: int) -> torch.Tensor:
    indices, weights, kept = route(router(x), k, capacity)
    out = torch.zeros_like(x)
    for e, expert in enumerate(experts):
        # The (token, choice) pairs kept for expert e, in token order.
        token, choice = torch.nonzero((indices == e) & kept, as_tuple=True)
        if token.numel() == 0:
            continue
        contribution = weights[token, choice, None] * expert(x[token])
        out = out.index_add(0, token, contribution)
    return out
