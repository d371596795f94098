"""Reading a file the user named (a bank, an export, a submission): a regular file, and no larger than one can be.

Checked before opening: a named pipe would block the open until some writer came, and a device such as
/dev/zero never ends, so either would hang the command that reads it or fill its memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class NotAFileError(ValueError):
    """The path is not a regular file, or is larger than the kind of file it should be; the message says which."""


def read_bytes(path: Path, limit: int, kind: str) -> bytes:
    """The file's bytes; OSError as open raises it (IsADirectoryError for a folder), NotAFileError for anything
    else that is not a regular file of at most ``limit`` bytes. ``kind`` names the file ("a question bank")."""
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode):
        what = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise NotAFileError(f"{what}, not a file: {kind} is a file of text")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotAFileError(f"too large for {kind} (over {_size(limit)})")
    return data


def read_text(path: Path, limit: int, kind: str) -> str:
    """The file as UTF-8 text with its line ends made "\\n", as Path.read_text's newline handling does."""
    return read_bytes(path, limit, kind).decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _size(limit: int) -> str:
    if limit >= 2**20:
        return f"{limit / 2**20:g} MiB"
    return f"{limit / 2**10:g} KiB" if limit >= 2**10 else f"{limit} bytes"
