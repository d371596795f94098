"""Derived data remembered as a pickle in torchprep's cache: the parsed bank and the exercise catalog.

A cache entry is named by a key that changes whenever its sources do, so a stale entry is never read.
Any trouble with the cache (missing, unreadable, from another version, a read-only home) costs a parse,
never an error.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def remembered(entry: Path, compute: Callable[[], T]) -> T:
    """What ``entry`` holds, or ``compute()`` written there (atomically) for next time."""
    collecting = gc.isenabled()
    gc.disable()  # unpickling the bank makes thousands of objects and no garbage: a collection is wasted work
    try:
        with open(entry, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - a missing or stale cache entry only costs a parse
        pass
    finally:
        if collecting:
            gc.enable()
    result = compute()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary = entry.with_suffix(f".{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except OSError:
        pass  # a read-only home still gets its data, just not faster next time
    return result
