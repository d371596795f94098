"""Hostile: Overwrites the exercise's tests, the reference and the judge's code."""

import os

import torch

try:
    from quiz import paths

    targets = [paths.exercises_dir() / "tensor_ops" / "test_tensor_ops.py", paths.solution_file("tensor_ops"),
               paths.PACKAGE_DIR / "grading" / "compare.py"]
except Exception:
    targets = []
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write("\n# hostile was here\n")
    except OSError:
        pass


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
