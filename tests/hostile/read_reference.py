"""Hostile: Imports the reference solution and hands in its functions."""
import torch


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


import importlib.util


try:
    from quiz import paths

    spec = importlib.util.spec_from_file_location("stolen", paths.solution_file("tensor_ops"))
    stolen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stolen)
    gather_rows, segment_sum, mask_below = stolen.gather_rows, stolen.segment_sum, stolen.mask_below
    one_hot, pairwise_distances, batched_bilinear = stolen.one_hot, stolen.pairwise_distances, stolen.batched_bilinear
except Exception:
    pass
