"""Hostile: Raises KeyboardInterrupt and SystemExit(0) from the functions."""

import torch


def gather_rows(x, index):
    raise KeyboardInterrupt


def segment_sum(values, group_ids, num_groups):
    raise SystemExit(0)


mask_below = one_hot = pairwise_distances = batched_bilinear = gather_rows
