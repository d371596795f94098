"""Hostile: Starts processes meant to outlive the check: plain, new session and double fork."""

import os
import subprocess

import torch

MARKER = "8888.0417"  # sleep's argument: the test looks for it in /proc afterwards
subprocess.Popen(["sleep", MARKER])
subprocess.Popen(["sleep", MARKER], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", MARKER])
    os._exit(0)


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
