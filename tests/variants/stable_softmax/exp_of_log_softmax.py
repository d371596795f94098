"""A correct variant: softmax as exp(log_softmax), log_softmax as x - logsumexp, and an undetached torch.max
(its gradient cancels), to prove the tests accept code written differently from the reference."""

import torch


def logsumexp(x, dim=-1, keepdim=False):
    m = torch.max(x, dim=dim, keepdim=True).values
    m = torch.where(m == float("-inf"), torch.zeros_like(m), m)
    out = m + torch.log(torch.sum(torch.exp(x - m), dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)


def log_softmax(x, dim=-1):
    return x - logsumexp(x, dim, keepdim=True)


def softmax(x, dim=-1):
    return torch.exp(log_softmax(x, dim))
