"""A correct variant written differently from the reference."""
import torch
import torch.nn.functional as F


def _reduce(loss, reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def cross_entropy(logits, targets, weight=None, label_smoothing=0.0, reduction="mean"):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction)
    logp = F.log_softmax(logits, dim=1)
    c = logits.shape[1]
    w = torch.ones(c, dtype=logits.dtype) if weight is None else weight
    q = F.one_hot(targets, c).to(logits.dtype) * (1 - label_smoothing) + label_smoothing / c
    loss = -(q * w * logp).sum(1)
    if reduction == "mean":
        return loss.sum() / w[targets].sum()
    return _reduce(loss, reduction)


def bce_with_logits(logits, targets, pos_weight=None, reduction="mean"):
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits))
    return _reduce(loss, reduction)


def focal_loss(logits, targets, gamma=2.0, alpha=None, reduction="mean"):
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = (1 - p_t).clamp_min(1e-12) ** gamma * ce
    if alpha is not None:
        loss = torch.where(targets == 1, alpha * loss, (1 - alpha) * loss)
    return _reduce(loss, reduction)
