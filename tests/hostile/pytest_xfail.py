"""Hostile: Calls pytest.xfail() in every function."""

import pytest
import torch


def _give_up(*args, **kwargs):
    pytest.xfail("known issue")


gather_rows = segment_sum = mask_below = one_hot = pairwise_distances = batched_bilinear = _give_up
