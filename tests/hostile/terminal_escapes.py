"""Hostile: Raises errors whose messages carry terminal escape sequences."""

import torch


def gather_rows(x, index):
    raise ValueError("\x1b[2J\x1b[H\x1b]0;pwned\x07 all tests passed")


segment_sum = mask_below = one_hot = pairwise_distances = batched_bilinear = gather_rows
