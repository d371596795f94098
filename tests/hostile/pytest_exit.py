"""Hostile: Calls pytest.exit(returncode=0) from the first function called."""

import pytest
import torch


def _stop(*args, **kwargs):
    pytest.exit("all good", returncode=0)


gather_rows = segment_sum = mask_below = one_hot = pairwise_distances = batched_bilinear = _stop
