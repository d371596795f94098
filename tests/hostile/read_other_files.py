"""Hostile: Reads /etc/shadow, the user's home and other exercises' folders, and fails loudly if it can."""

import os

import torch

leaks = []
for target in ("/etc/shadow", os.path.expanduser("~/.ssh"), "/root/.bash_history"):
    try:
        if os.path.isdir(target):
            leaks.append((target, os.listdir(target)))
        else:
            with open(target, "rb") as handle:
                leaks.append((target, handle.read(16)))
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
