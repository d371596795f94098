"""Hostile: Calls pytest.skip() in every function: a skip must never count as a pass."""

import pytest
import torch


def gather_rows(x, index):
    pytest.skip("needs a CUDA GPU")


def segment_sum(values, group_ids, num_groups):
    pytest.skip("needs a CUDA GPU")


def mask_below(x, threshold, value):
    pytest.skip("needs a CUDA GPU")


def one_hot(labels, num_classes):
    pytest.skip("needs a CUDA GPU")


def pairwise_distances(a, b):
    pytest.skip("needs a CUDA GPU")


def batched_bilinear(x, A, y):
    pytest.skip("needs a CUDA GPU")
