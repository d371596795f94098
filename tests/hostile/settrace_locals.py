"""Hostile: Installs a tracer that rewrites the locals of every test frame."""

import sys

import torch


def _tracer(frame, event, arg):
    if frame.f_code.co_name.startswith("test_"):
        for name in list(frame.f_locals):
            if name in ("got", "out", "result"):
                frame.f_locals[name] = None
    return _tracer


sys.settrace(_tracer)


def gather_rows(x, index):
    return x[:, 0].clone()


def segment_sum(values, group_ids, num_groups):
    return values.new_zeros((num_groups, *values.shape[1:]))


def mask_below(x, threshold, value):
    return x.clone()


def one_hot(labels, num_classes):
    return torch.zeros(*labels.shape, num_classes, dtype=torch.int64)


def pairwise_distances(a, b):
    return torch.zeros(a.shape[0], b.shape[0], dtype=a.dtype)


def batched_bilinear(x, A, y):
    return torch.zeros(x.shape[0], dtype=x.dtype)
