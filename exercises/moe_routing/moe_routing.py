"""Top-k mixture-of-experts routing: gates, an expert capacity, the load-balancing loss and the MoE layer.

A mixture-of-experts (MoE) layer has E experts (small feed-forward networks) and a router, a linear layer that
gives every token one logit per expert. Each token is sent to its k best experts only, and its output is the
weighted sum of theirs. An expert can process at most ``capacity`` tokens per batch; the tokens beyond that
are dropped for that expert. The grader compares indices and masks exactly and weights, losses and gradients
with float tolerances, in float32 and float64, on hand-worked examples and on many random seeds.
"""

from __future__ import annotations

import torch
from torch import nn


def route(router_logits: torch.Tensor, k: int, capacity: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pick each token's k experts, weigh them, and apply the expert capacity.

    Args:
        router_logits: (tokens, experts) float tensor, one row per token (tokens >= 1).
        k: experts per token, 1 <= k <= experts.
        capacity: the most tokens one expert may keep, >= 0.

    The gate of token t is ``softmax(router_logits[t])`` over the experts. Its k experts are those with the k
    largest gates, in descending gate order; ties (equal logits in a row) go to the lower expert index first.
    ``torch.topk`` does not promise any order among tied values (its documentation says so): a stable
    descending sort does. The k weights are the chosen gates renormalised to sum to 1 over those k.

    Capacity: expert e's ``capacity`` slots go to the tokens that chose it in token order (ascending token
    index), whichever of their k choices it was: token 0's second choice of e beats token 1's first choice of
    e (a token's k experts are distinct, so its own choices never compete for one expert). The first
    ``capacity`` such tokens keep e; the rest are dropped for e. A dropped choice gets weight 0, and the
    token's other weights are NOT renormalised again (a token that keeps one of its two experts keeps that
    expert's weight as it was, so its weights sum to less than 1). ``capacity == 0`` drops everything;
    ``capacity >= tokens`` drops nothing.

    Returns:
        (expert_indices, weights, kept), each of shape (tokens, k), column j for the token's j-th best expert:
        expert_indices int64; weights in router_logits' dtype, differentiable with respect to router_logits
        (the gradient flows through the softmax and the renormalisation; dropped entries are 0 with zero
        gradient); kept bool, False where the choice was dropped for capacity.

    Raises:
        ValueError: if router_logits is not 2-D, k is outside 1..experts, or capacity < 0.
    router_logits is not modified.
    """
    raise NotImplementedError


def load_balancing_loss(router_logits: torch.Tensor, expert_indices: torch.Tensor) -> torch.Tensor:
    """The Switch Transformer auxiliary loss (https://arxiv.org/abs/2101.03961, section 2.2, without
    the coefficient alpha):

        loss = E * sum_e f_e * P_e

    where E is the number of experts (router_logits.size(1)), T the number of tokens and k =
    expert_indices.size(1):

    - f_e: the fraction of all T * k routing choices that went to expert e, i.e. the number of entries of
      ``expert_indices`` equal to e divided by T * k (so the f_e sum to 1; every choice counts, kept or
      dropped for capacity). A count: it carries no gradient. With k = 1 this is the paper's f_i. (Some
      libraries divide by T only for k > 1, which gives k times this value.)
    - P_e: the mean over the T tokens of the full softmax gate probability of expert e (all E experts, not
      the renormalised top-k weights). The gradient reaches router_logits through P.

    A perfectly balanced router (f_e = P_e = 1 / E) gives 1. Returns a 0-dim tensor in router_logits' dtype.

    Args:
        router_logits: (T, E) float tensor.
        expert_indices: (T, k) int64, each token's experts as ``route`` returns them.

    Raises:
        ValueError: if the shapes are not (T, E) and (T, k) with the same T.
    """
    raise NotImplementedError


def moe_forward(x: torch.Tensor, router: nn.Module, experts: nn.ModuleList, k: int, capacity: int) -> torch.Tensor:
    """The mixture-of-experts layer: ``out[t] = sum_j weights[t, j] * experts[expert_indices[t, j]](x[t])``.

    Args:
        x: (T, d) float tensor, one row per token.
        router: a module mapping x (T, d) to router logits (T, E) (an ``nn.Linear(d, E)`` in the tests).
        experts: E modules, each mapping (n, d) to (n, d) row by row.
        k, capacity: as in ``route``, which decides the experts, weights and kept mask from ``router(x)``.

    Dispatch: call every expert at most once, with the rows of x kept for it (``x[tokens]`` in token order);
    an expert that keeps no token is not called (or is called with 0 rows). A dropped choice contributes
    nothing, and its expert never sees that token. Returns (T, d) in x's dtype; a token that every expert
    dropped gets a zero row. Gradients reach x, the router's parameters (through the weights) and the
    experts' parameters.
    """
    raise NotImplementedError
