"""Hostile: Returns float and int subclasses whose __eq__ always says yes."""

import torch


class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


def gather_rows(x, index):
    return [AlwaysEqual(0.0)] * x.shape[0]


def segment_sum(values, group_ids, num_groups):
    return AlwaysEqual(0.0)


def mask_below(x, threshold, value):
    return AlwaysEqual(0.0)


def one_hot(labels, num_classes):
    return AlwaysEqualInt(0)


def pairwise_distances(a, b):
    return AlwaysEqual(0.0)


def batched_bilinear(x, A, y):
    return AlwaysEqual(0.0)
