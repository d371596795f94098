"""Hostile: Writes marker files into the host's /tmp, the user's home and the workspace."""

import os
import pwd

import torch

home = pwd.getpwuid(os.getuid()).pw_dir if os.getuid() else "/root"
for target in ("/tmp/torchprep-hostile-escaped", os.path.join(home, "torchprep-hostile-escaped"),
               os.path.expanduser("~/torchprep-hostile-escaped")):
    try:
        with open(target, "w") as handle:
            handle.write("escaped")
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
