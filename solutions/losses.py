"""Reference solution: loss functions from logits, written by hand."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    _check_reduction(reduction)
    num_classes = logits.shape[1]
    # log_softmax = x - logsumexp(x); logsumexp subtracts the row maximum before exponentiating, so
    # logits of 1e4 never overflow exp(), and no probability is rounded to 0 before the log is taken.
    logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    if weight is None:
        weight = torch.ones(num_classes, dtype=logits.dtype, device=logits.device)
    target_weight = weight[targets]  # w[y[i]], shape (N,)

    nll = -target_weight * logp.gather(1, targets.unsqueeze(1)).squeeze(1)
    # PyTorch's smoothing term: the uniform distribution over all C classes, each class weighted by its
    # own weight (not by the target's weight).
    smooth = -(logp * weight).sum(dim=1)
    eps = label_smoothing
    loss = (1.0 - eps) * nll + (eps / num_classes) * smooth

    if reduction == "mean":
        # The weighted mean divides by the total weight of the targets, so a batch full of a rare,
        # heavily weighted class does not get a bigger loss just because of its weights.
        return loss.sum() / target_weight.sum()
    return _reduce(loss, reduction)


def bce_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    _check_reduction(reduction)
    # log(sigmoid(x)) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x): both stay finite for any x,
    # whereas sigmoid(x) rounds to exactly 0 or 1 once |x| is beyond ~17 (float32) and the log gives -inf.
    log_p = -F.softplus(-logits)
    log_not_p = -F.softplus(logits)
    positive = targets * log_p
    if pos_weight is not None:
        positive = pos_weight * positive
    loss = -(positive + (1.0 - targets) * log_not_p)
    return _reduce(loss, reduction)


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    _check_reduction(reduction)
    # -log(p_t) is exactly the binary cross-entropy of each element; reuse the stable version.
    ce = bce_with_logits(logits, targets, reduction="none")
    # 1 - p_t is the probability of the wrong class: sigmoid(-x) for a positive, sigmoid(x) for a negative,
    # so its log comes straight from the logits (the targets are exactly 0 or 1).
    log_not_p_t = targets * F.logsigmoid(-logits) + (1.0 - targets) * F.logsigmoid(logits)
    # The modulating factor (1 - p_t) ** gamma shrinks the loss of well-classified examples (p_t near 1), so
    # the many easy negatives of dense detection stop dominating the gradient. Written as
    # exp(gamma * log(1 - p_t)), not as a power of 1 - sigmoid(...): once p_t rounds to 1 (|x| beyond ~17
    # in float32, ~37 in float64) the power's slope at 0 is infinite for gamma < 1, and inf * 0 makes the
    # gradient NaN although the loss itself is finite.
    loss = torch.exp(gamma * log_not_p_t) * ce
    if alpha is not None:
        alpha_t = alpha * targets + (1.0 - alpha) * (1.0 - targets)
        loss = alpha_t * loss
    return _reduce(loss, reduction)
