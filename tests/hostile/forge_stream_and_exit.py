"""Hostile: Writes 'returned' records for every test straight into the stream, then exits."""

import os
import sys

import torch

try:
    from quiz.grading.stream import write_record

    fd = int(sys.argv[sys.argv.index("--stream-fd") + 1])
    for item in getattr(sys.modules.get("quiz.grading.plugin"), "__dict__", {}).get("_listed", []):
        pass
    write_record(fd, {"kind": "session", "tests": [], "impl_error": None})
    for name in ("test_gather_rows_values", "test_segment_sum_values", "test_one_hot_values"):
        write_record(fd, {"kind": "test", "name": name, "task": None, "observations": [],
                          "outcome": {"status": "returned"}, "output": ""})
except Exception:
    pass
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
