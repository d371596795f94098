"""Hostile: Replaces observe() with a no-op, in the scenario module and in the test module."""

import sys

import torch

scenario = sys.modules.get("quiz.grading.scenario")
if scenario is not None:
    scenario.observe = lambda *args, **kwargs: None
for module in list(sys.modules.values()):
    if getattr(module, "observe", None) is not None and getattr(module, "__name__", "").startswith("test_"):
        module.observe = lambda *args, **kwargs: None


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
