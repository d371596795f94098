"""Hostile: Patches the grading plugin so that every test is recorded as having returned."""

import sys

import torch

plugin = sys.modules.get("quiz.grading.plugin")
if plugin is not None:
    plugin.describe_exception = lambda error, impl_file: {"status": "returned"}
    plugin._cut = lambda text, limit: ""


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
