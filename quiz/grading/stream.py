"""The observation stream: how records cross from a grading run to the judge.

A stream is a file of records, each an 8-byte big-endian length and a ``torch.save`` blob. The writer (the
plugin, inside the sandbox) appends and flushes one record at a time, so a crash loses only the test that
was running. The reader (the judge) trusts nothing in it: it caps the file and each record, loads each blob
with ``torch.load(weights_only=True)`` (only tensors and built-in containers and scalars; a pickled class, a
float subclass with a lying ``__eq__`` or a tensor subclass is refused), and checks the shape of every
record before the judge looks at it.
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any

HEADER = struct.Struct(">Q")
MAX_STREAM_BYTES = 512 * 1024 * 1024
MAX_RECORD_BYTES = 256 * 1024 * 1024


class StreamError(Exception):
    """The stream is not one an honest run writes: cut, oversized or holding something other than data."""


_save = None  # torch.serialization.save as it was when the writer started; see bind_writer()


def bind_writer() -> None:
    """Keep the real ``torch.save`` for the stream before any test runs: a test may monkeypatch torch.save
    (to simulate a full disk, say) and its own observations must still be recorded."""
    global _save
    import torch.serialization

    _save = torch.serialization.save


def write_record(fd: int, record: dict) -> None:
    if _save is None:
        bind_writer()
    buffer = io.BytesIO()
    _save(record, buffer)
    payload = buffer.getvalue()
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_records(path: str | os.PathLike) -> tuple[list[dict], str | None]:
    """Every whole record of the stream at ``path``, and why reading stopped early (None when it did not)."""
    import torch

    records: list[dict] = []
    try:
        size = os.path.getsize(path)
    except OSError:
        return records, None
    if size > MAX_STREAM_BYTES:
        return records, f"the run wrote {size / 2**20:.0f} MiB of observations (the most is " \
                        f"{MAX_STREAM_BYTES // 2**20} MiB)"
    with open(path, "rb") as handle:
        while True:
            head = handle.read(HEADER.size)
            if not head:
                return records, None
            if len(head) < HEADER.size:
                return records, "the stream ends in the middle of a record"
            (length,) = HEADER.unpack(head)
            if length > MAX_RECORD_BYTES:
                return records, "a record is larger than any honest run writes"
            payload = handle.read(length)
            if len(payload) < length:
                return records, "the stream ends in the middle of a record"
            try:
                record = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
            except Exception as error:  # noqa: BLE001 - whatever the blob is, it is refused, not trusted
                return records, f"a record holds something other than plain data ({type(error).__name__})"
            if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
                return records, "a record is not in the stream's format"
            records.append(record)


def is_text(value: Any, limit: int = 20_000) -> bool:
    return type(value) is str and len(value) <= limit
