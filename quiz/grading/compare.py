"""The judge's comparison: the reference's observation stream against a submission's, test by test.

Runs in the trusted judge process only. Everything that says *how* to compare (tolerances, the expected
value, the sentence that explains it) is read from the reference's stream; the submission's stream supplies
labels and values and nothing else. A missing, extra or out-of-order observation is a failure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from quiz.grading.scenario import UNPLAIN

TENSOR, NDARRAY, REPR = "\x00tensor", "\x00ndarray", "\x00repr"
SHOWN_IN_FULL = 8  # tensors up to this many elements are printed whole in a message
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")  # no terminal escapes from the sandbox reach the screen
# torch.testing.assert_close's defaults for each floating dtype, (rtol, atol)
DEFAULT_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
                      "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}
PYTHON_FLOAT_TOLERANCE = (1e-6, 1e-9)


class CatalogError(Exception):
    """The reference does not pass its own tests: a bug in torchprep, never the learner's."""


def clean(text: Any, limit: int = 2_000) -> str:
    """Untrusted text made safe to print: a string, no control characters, cut to ``limit``."""
    text = text if type(text) is str else repr(text)
    text = CONTROL.sub("", ANSI_ESCAPE.sub("", text))  # whole colour codes, not just their escape byte
    return text if len(text) <= limit else text[:limit] + " ..."


@dataclass(frozen=True)
class Verdict:
    status: str  # pass | fail | error | skip
    message: str = ""
    output: str = ""


def _is_tensor(value: Any) -> bool:
    return type(value) is dict and (TENSOR in value or NDARRAY in value)


def _tensor(value: dict):
    return value.get(TENSOR, value.get(NDARRAY))


def describe(value: Any) -> str:
    """A value in a few words, for 'expected X, got Y'."""
    if _is_tensor(value):
        tensor = _tensor(value)
        kind = "a NumPy array" if NDARRAY in value else "a tensor"
        where = f" on {value.get('device')}" if value.get("device") not in (None, "cpu") else ""
        return f"{kind} of shape {tuple(tensor.shape)} and dtype {tensor.dtype}{where}"
    if type(value) is dict and UNPLAIN in value:
        return clean(value[UNPLAIN], 200)
    if type(value) is dict and REPR in value:
        return clean(value[REPR], 200)
    if value is None:
        return "None"
    if type(value) is bool:
        return str(value)
    if type(value) in (int, float):
        return f"the {type(value).__name__} {_number(value)}"
    if type(value) is str:
        return repr(clean(value, 200))
    if type(value) in (list, tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    if type(value) is dict:
        return f"a dict with keys {sorted(map(str, value))[:6]}"
    return clean(type(value).__name__, 100)


def _number(value: float | int) -> str:
    if type(value) is float:
        return f"{value:.6g}"
    return str(value)


def _index(flat: int, shape: tuple[int, ...]) -> str:
    index = []
    for size in reversed(shape):
        index.append(flat % size if size else 0)
        flat //= size if size else 1
    return "[" + ", ".join(map(str, reversed(index))) + "]"


def _values(tensor) -> str:
    if tensor.dtype.is_floating_point:
        return "[" + ", ".join(f"{float(x):.6g}" for x in tensor.flatten().tolist()) + "]"
    return str(tensor.flatten().tolist())


def _compare_tensors(expected: dict, got: Any, spec: dict) -> str | None:
    import torch

    want = _tensor(expected)
    if not _is_tensor(got):
        return f"expected {describe(expected)}, got {describe(got)}"
    have = _tensor(got)
    if NDARRAY in expected and NDARRAY not in got or NDARRAY in got and NDARRAY not in expected:
        return f"expected {describe(expected)}, got {describe(got)}"
    if tuple(have.shape) != tuple(want.shape):
        return f"expected shape {tuple(want.shape)}, got shape {tuple(have.shape)}"
    if spec.get("check_dtype", True) and have.dtype != want.dtype:
        return f"expected dtype {want.dtype}, got {have.dtype}"
    if expected.get("device") != got.get("device") and TENSOR in expected:
        return f"expected a tensor on {expected.get('device')}, got one on {got.get('device')}"
    if want.numel() == 0:
        return None
    if spec.get("exact") or not (want.dtype.is_floating_point or want.dtype.is_complex):
        same = want == have  # in their promoted type, as torch compares any two dtypes
        if torch.promote_types(want.dtype, have.dtype).is_floating_point:
            same |= want.isnan() & have.isnan()  # NaN where NaN was expected is the same
        difference = None
    else:
        rtol, atol = DEFAULT_TOLERANCES.get(str(want.dtype).removeprefix("torch."), (1e-7, 1e-7))
        rtol = spec["rtol"] if spec.get("rtol") is not None else rtol
        atol = spec["atol"] if spec.get("atol") is not None else atol
        a, b = want.to(torch.float64 if not want.is_complex() else torch.complex128), have.to(
            torch.float64 if not have.is_complex() else torch.complex128)
        same = torch.isclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
        difference = (a - b).abs().nan_to_num(nan=math.inf)
    if bool(same.all()):
        return None
    flat_same = same.flatten()
    bad = int((~flat_same).sum())
    total = flat_same.numel()
    shape = tuple(want.shape)
    if total <= SHOWN_IN_FULL:
        return f"expected {_values(want)}, got {_values(have)} ({bad} of {total} differ)"
    first = int((~flat_same).nonzero()[0])
    text = (f"{bad} of {total} values differ; the first at {_index(first, shape)}: expected "
            f"{_values(want.flatten()[first:first + 1])[1:-1]}, got {_values(have.flatten()[first:first + 1])[1:-1]}")
    if difference is not None:
        worst = int(difference.flatten().argmax())
        text += f" (greatest difference {float(difference.flatten()[worst]):.3g} at {_index(worst, shape)})"
    return text


def _compare(expected: Any, got: Any, spec: dict, path: str) -> tuple[str, str] | None:
    """(where, what differs) for the first difference, or None when ``got`` matches ``expected``."""
    if _is_tensor(expected):
        problem = _compare_tensors(expected, got, spec)
        return (path, problem) if problem else None
    kind = type(expected)
    if type(expected) is dict and (UNPLAIN in expected or REPR in expected):
        return None if got == expected else (path, f"expected {describe(expected)}, got {describe(got)}")
    if expected is None or kind in (bool, str):
        if type(got) is kind and got == expected:
            return None
        return path, f"expected {describe(expected)}, got {describe(got)}"
    if kind in (int, float):
        numeric = type(got) in (int, float)
        if not numeric or (spec.get("check_dtype", True) and type(got) is not kind):
            return path, f"expected {describe(expected)}, got {describe(got)}"
        if spec.get("exact") or (kind is int and type(got) is int):
            same = got == expected or (math.isnan(got) and math.isnan(expected) if kind is float else False)
        else:
            rtol, atol = PYTHON_FLOAT_TOLERANCE
            rtol = spec["rtol"] if spec.get("rtol") is not None else rtol
            atol = spec["atol"] if spec.get("atol") is not None else atol
            same = (math.isnan(got) and math.isnan(expected)) or (
                math.isfinite(expected) and math.isfinite(got) and abs(got - expected) <= atol + rtol * abs(expected)
            ) or (math.isinf(expected) and got == expected)
        return None if same else (path, f"expected {_number(expected)}, got {_number(got)}")
    if kind in (list, tuple):
        if type(got) not in (list, tuple):
            return path, f"expected {describe(expected)}, got {describe(got)}"
        if len(got) != len(expected):
            return path, f"expected {len(expected)} items, got {len(got)}"
        for position, (want, have) in enumerate(zip(expected, got, strict=True)):
            found = _compare(want, have, spec, f"{path}[{position}]")
            if found:
                return found
        return None
    if kind is dict:
        if type(got) is not dict or _is_tensor(got) or UNPLAIN in got:
            return path, f"expected {describe(expected)}, got {describe(got)}"
        missing = [key for key in expected if key not in got]
        extra = [key for key in got if key not in expected]
        if missing:
            return path, f"the key {clean(missing[0], 100)!r} is missing" + (
                f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        if extra:
            return path, f"unexpected key {clean(extra[0], 100)!r}"
        for key in expected:
            found = _compare(expected[key], got[key], spec, f"{path}[{key!r}]")
            if found:
                return found
        return None
    return path, f"cannot compare {describe(expected)}"


def difference(label: str, expected: Any, got: Any, spec: dict) -> str | None:
    """The learner-facing sentence for an observation that differs, or None when it matches."""
    found = _compare(expected, got, spec, "")
    if found is None:
        return None
    where, what = found
    message = f"{label}{where}: {what}"
    if spec.get("explain"):
        message += f"\n{spec['explain']}"
    return message


def explain_exception(outcome: dict, memory_gib: float | None) -> str:
    """How a test of the code under test ended by raising, in the learner's words."""
    kind = clean(outcome.get("type"), 100)
    message = clean(outcome.get("message", ""), 1_500)
    line = outcome.get("line")
    where = f" (line {line} of your file" + (f": {clean(outcome['code'], 120).strip()}" if outcome.get("code")
                                               else "") + ")" if type(line) is int else ""
    if kind == "NotImplementedError":
        return f"not implemented yet: it still raises NotImplementedError{where}"
    if kind == "Skipped":
        return "the code under test called pytest.skip(): a skipped test is not a passed one"
    if kind == "XFailed":
        return "the code under test called pytest.xfail(): an expected failure is still a failure"
    if kind == "Exit":
        return "the code under test called pytest.exit(): that ends nothing but this test, which fails"
    if kind == "SystemExit":
        return f"the code called sys.exit(){where}: a function must return its result, not exit"
    if kind == "KeyboardInterrupt":
        return f"the code raised KeyboardInterrupt{where}"
    if kind == "MemoryError" or "not enough memory" in message or "can't allocate memory" in message:
        limit = f"more than {memory_gib:g} GiB of memory, " if memory_gib else "more memory than it may, "
        return f"it used {limit}the limit of a grading run (`--memory` raises it){where}"
    return f"{kind}: {message}{where}"


def check_reference(reference: dict, memory_gib: float | None) -> None:
    """CatalogError unless the reference's run of a test returned and met the test's own expectations."""
    name = reference["name"]
    if reference["outcome"].get("status") != "returned":
        raise CatalogError(f"the reference solution fails {name}: "
                           f"{explain_exception(reference['outcome'], memory_gib)}")
    for label, value, spec in reference["observations"]:
        if "expect" in spec:
            problem = difference(label, spec["expect"], value, spec)
            if problem:
                raise CatalogError(f"the reference solution does not meet its own test {name}: {problem}")


def judge_test(reference: dict, submission: dict | None, memory_gib: float | None) -> Verdict:
    """One test: the reference's record against the submission's (None when it never reported)."""
    check_reference(reference, memory_gib)
    expected = reference["observations"]
    if submission is None:
        return Verdict("error", "not run: the grading run ended before this test finished")
    output = clean(submission.get("output", ""), 4_200)
    observed = submission.get("observations")
    if type(observed) is not list:
        return Verdict("error", "the run reported this test in a broken form", output)
    outcome = submission.get("outcome") if type(submission.get("outcome")) is dict else {}
    for position, (label, value, spec) in enumerate(expected):
        if position >= len(observed):
            if outcome.get("status") == "raised":
                return Verdict("fail", explain_exception(outcome, memory_gib), output)
            return Verdict("fail", f"the test stopped before observing {label}", output)
        entry = observed[position]
        if type(entry) is not list or len(entry) != 3 or type(entry[0]) is not str:
            return Verdict("error", "the run reported an observation in a broken form", output)
        if entry[0] != label:
            return Verdict("fail", f"observed {clean(entry[0], 200)!r} where {label!r} was expected: the "
                                   "test took another path than with the reference", output)
        comparison = dict(spec)
        target = spec["expect"] if "expect" in spec else value
        problem = difference(label, target, entry[1], comparison)
        if problem:
            return Verdict("fail", problem, output)
    if outcome.get("status") == "raised":
        return Verdict("fail", explain_exception(outcome, memory_gib), output)
    if outcome.get("status") != "returned":
        return Verdict("error", "the run reported no outcome for this test", output)
    if len(observed) > len(expected):
        return Verdict("fail", f"observed {clean(observed[len(expected)][0], 200)!r} after everything the "
                               "reference observed: the test took another path", output)
    return Verdict("pass", "", output)
