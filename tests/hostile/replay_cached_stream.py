"""Hostile: Looks for the cached reference stream in torchprep's home and replays it."""
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


import os
import sys
from pathlib import Path


try:
    from quiz import paths

    home = Path(os.environ.get("TORCHPREP_HOME") or paths.home())
    streams = sorted((home / "cache" / "reference").glob("tensor_ops-*.stream"))
    if streams:
        fd = int(sys.argv[sys.argv.index("--stream-fd") + 1])
        os.write(fd, streams[0].read_bytes())
        os._exit(0)
except Exception:
    pass
