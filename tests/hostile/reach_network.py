"""Hostile: Connects to a TCP port on the host's loopback (the test listens there) and sends a note."""

import os
import socket

import torch

port = int(os.environ.get("TORCHPREP_HOSTILE_PORT", "0") or 0)
for host in ("127.0.0.1", "localhost"):
    try:
        with socket.create_connection((host, port or 9), timeout=2) as connection:
            connection.sendall(b"escaped")
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
