"""Hostile: Replaces the __code__ of every test function with an empty body."""

import sys

import torch


def _empty(*args, **kwargs):
    return None


for name, module in list(sys.modules.items()):
    if "test_tensor_ops" in name or name.startswith("test_"):
        for attribute in dir(module):
            function = getattr(module, attribute)
            if attribute.startswith("test_") and hasattr(function, "__code__"):
                function.__code__ = _empty.__code__


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
