"""What an exercise test may do: run its scenario against ``impl`` and ``observe`` what comes out.

An exercise test never decides pass or fail. It runs twice, in two processes: once with the learner's
submission as ``impl`` (in a sandbox) and once with the reference solution. Each run records a stream of
observations (a label and a plain value: tensors, numbers, bools, strings, None, lists, tuples and dicts of
them), and the trusted judge, in a third process that never ran submission code, compares the two streams.
Whatever the submission does to its own process (patched torch, patched pytest, a lying ``__eq__``, a forged
results file) can only change what it reports, never how the reference's stream is read or compared.

How a value is compared is decided by the *reference* run's keywords (the judge ignores the submission's):

- ``observe(label, value)``: equal to the reference's value, with torch.testing's default tolerances for
  the dtype (floats within rtol/atol, ints, bools and strings exactly); shapes, dtypes and device types must
  match.
- ``rtol=`` / ``atol=``: tolerances for floating-point values; ``exact=True``: bit-for-bit equality.
- ``expect=``: compare with this value instead of the reference's (a hand-worked example, a statistical
  target with ``atol=``); the reference must meet it too, or the catalog is broken.
- ``check_dtype=False``: numbers only, any dtype.
- ``explain=``: one sentence of what is expected, in the learner's words, shown when the value differs. Say
  what the contract asks; name a cause only when this observation isolates it.

``expect_raises(label, *types)`` records whether the block raised one of ``types`` (NotImplementedError never
counts). Tests contain no ``assert``: everything a test checks must be an observation, or the submission's
process would be the one deciding.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

# Filled by the plugin for the running test: a list of (label, value, spec) triples, or None outside a test.
_current: list[tuple[str, Any, dict]] | None = None
UNPLAIN = "\x00torchprep:unplain"  # marks a value that is not plain data: {UNPLAIN: "the type's name"}
MAX_DEPTH = 12


class ScenarioError(Exception):
    """An exercise test used the API wrongly: a bug in the catalog, never the learner's fault."""


def _plain(value: Any, depth: int = 0) -> Any:
    """The value as plain data: exact built-in types, tensors detached on the CPU, containers recursed."""
    if depth > MAX_DEPTH:
        return {UNPLAIN: "a structure nested too deeply"}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value
    import torch

    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        device = tensor.device.type
        if type(tensor) is not torch.Tensor:
            tensor = tensor.as_subclass(torch.Tensor)
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        return {"\x00tensor": tensor.cpu().clone().contiguous(), "device": device}
    if kind in (torch.dtype, torch.device):
        return {"\x00repr": str(value)}
    if kind is torch.Size:
        return tuple(int(size) for size in value)
    if kind in (list, tuple):
        return kind(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict) and kind.__module__ in ("builtins", "collections"):
        return {str(key) if not isinstance(key, (int, str)) else key: _plain(item, depth + 1)
                for key, item in dict.items(value)}
    numpy = _numpy()
    if numpy is not None:
        if kind in (numpy.float64, numpy.float32, numpy.float16):
            return float(value)
        if kind in (numpy.int64, numpy.int32, numpy.int16, numpy.int8, numpy.uint8):
            return int(value)
        if kind is numpy.bool_:
            return bool(value)
        if kind is numpy.ndarray:
            return {"\x00ndarray": torch.from_numpy(numpy.array(value, copy=True))}
    return {UNPLAIN: f"a {kind.__module__}.{kind.__qualname__} object"}


def _numpy():
    import sys

    return sys.modules.get("numpy")


def observe(label: str, value: Any, *, rtol: float | None = None, atol: float | None = None,
            exact: bool = False, expect: Any = None, check_dtype: bool = True, explain: str = "") -> None:
    """Record ``value`` under ``label`` for the judge to compare (see the module's docstring)."""
    if _current is None:
        raise ScenarioError("observe() was called outside a grading test")
    if not isinstance(label, str) or not label:
        raise ScenarioError("observe() needs a label in words")
    for name, tolerance in (("rtol", rtol), ("atol", atol)):
        if tolerance is not None and not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance)
                                          and tolerance >= 0):
            raise ScenarioError(f"{name} must be a finite number >= 0")
    spec = {"rtol": rtol, "atol": atol, "exact": exact, "check_dtype": check_dtype, "explain": explain}
    if expect is not None:
        spec["expect"] = _plain(expect)
    _current.append((label, _plain(value), spec))


RAISED = "raised as it should"


@contextlib.contextmanager
def expect_raises(label: str, *types: type[BaseException], explain: str = "") -> Iterator[None]:
    """Observe whether the block raises one of ``types``: the reference's run must show that it does."""
    if not types:
        raise ScenarioError("expect_raises() needs at least one exception type")
    try:
        yield
    except NotImplementedError:
        outcome = "not implemented yet (it raised NotImplementedError)"
    except types:
        outcome = RAISED
    except Exception as error:  # noqa: BLE001 - any other exception is the observation itself
        outcome = f"it raised {type(error).__name__}: {str(error)[:200]}"
    else:
        outcome = "it returned normally"
    names = " or ".join(kind.__name__ for kind in types)
    observe(label, outcome, exact=True, expect=RAISED,
            explain=explain or f"this call must raise {names}")
