"""The judge's comparison of tensor observations (quiz/grading/compare.py), with real tensors: what matches,
what does not, and the exact words a learner reads about it."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from quiz.grading import compare  # noqa: E402 - after the skip: these tests need torch

TENSOR, NDARRAY = compare.TENSOR, compare.NDARRAY


def t(values, dtype=None, device="cpu") -> dict:
    return {TENSOR: torch.tensor(values, dtype=dtype), "device": device}


def diff(expected, got, **spec) -> str | None:
    return compare.difference("out", expected, got, spec)


def test_equal_tensors_match_and_an_empty_one_matches_an_empty_one():
    assert diff(t([1.0, 2.0]), t([1.0, 2.0])) is None
    assert diff(t([1, 2]), t([1, 2])) is None
    assert diff({TENSOR: torch.zeros(0, 3), "device": "cpu"}, {TENSOR: torch.zeros(0, 3), "device": "cpu"}) is None


def test_a_tensor_against_something_else_says_both():
    assert diff(t([1.0]), 1.0) == "out: expected a tensor of shape (1,) and dtype torch.float32, got the float 1"
    assert diff(t([1.0]), None) == "out: expected a tensor of shape (1,) and dtype torch.float32, got None"


def test_a_tensor_is_not_a_numpy_array_either_way():
    array = {NDARRAY: torch.tensor([1.0])}
    assert diff(t([1.0]), array) == ("out: expected a tensor of shape (1,) and dtype torch.float32, got a NumPy "
                                     "array of shape (1,) and dtype torch.float32")
    assert diff(array, t([1.0])) == ("out: expected a NumPy array of shape (1,) and dtype torch.float32, got a "
                                     "tensor of shape (1,) and dtype torch.float32")
    assert diff(array, {NDARRAY: torch.tensor([1.0])}) is None, "arrays compare as arrays, without a device"


def test_shape_then_dtype_then_device_are_told_first():
    assert diff(t([[1.0, 2.0]]), t([1.0, 2.0])) == "out: expected shape (1, 2), got shape (2,)"
    assert diff(t([1.0]), t([1.0], torch.float64)) == "out: expected dtype torch.float32, got torch.float64"
    assert diff(t([1.0]), t([1.0], torch.float64), check_dtype=False) is None
    assert diff(t([1.0]), t([1.0], device="meta")) == "out: expected a tensor on cpu, got one on meta"


def test_a_small_tensor_is_shown_whole_with_the_count_that_differs():
    assert diff(t([1.0, 2.0, 3.0]), t([1.0, 2.5, 3.0])) == "out: expected [1, 2, 3], got [1, 2.5, 3] (1 of 3 differ)"
    assert diff(t([1, 2]), t([1, 3])) == "out: expected [1, 2], got [1, 3] (1 of 2 differ)"
    assert diff(t([True, False]), t([True, True])) == "out: expected [True, False], got [True, True] (1 of 2 differ)"


def test_eight_values_are_shown_whole_and_nine_by_the_first_difference():
    eight = [float(i) for i in range(8)]
    assert diff(t(eight), t(eight[:7] + [9.0])) == (
        "out: expected [0, 1, 2, 3, 4, 5, 6, 7], got [0, 1, 2, 3, 4, 5, 6, 9] (1 of 8 differ)")
    nine = [float(i) for i in range(9)]
    changed = nine[:]
    changed[4], changed[7] = 40.0, 7.5
    assert diff(t(nine), t(changed)) == ("out: 2 of 9 values differ; the first at [4]: expected 4, got 40 (greatest "
                                         "difference 36 at [4])")


def test_the_first_difference_is_named_by_its_index_in_every_dimension():
    want = torch.zeros(2, 3, 4)
    have = want.clone()
    have[1, 2, 3] = 1.0
    have[0, 1, 2] = 0.5
    got = diff({TENSOR: want, "device": "cpu"}, {TENSOR: have, "device": "cpu"})
    assert got == ("out: 2 of 24 values differ; the first at [0, 1, 2]: expected 0, got 0.5 (greatest difference 1 "
                   "at [1, 2, 3])")


def test_index_of_a_flat_position():
    assert compare._index(0, (2, 3)) == "[0, 0]"
    assert compare._index(5, (2, 3)) == "[1, 2]"
    assert compare._index(7, (2, 3, 4)) == "[0, 1, 3]"
    assert compare._index(23, (2, 3, 4)) == "[1, 2, 3]"
    assert compare._index(0, (0,)) == "[0]", "a zero-size dimension does not divide by zero"


def test_integers_and_exact_floats_compare_exactly_with_nan_equal_to_nan():
    assert diff(t([1, 2**40]), t([1, 2**40 + 1])) is not None
    assert diff(t([1.0, math.nan]), t([1.0, math.nan]), exact=True) is None
    assert diff(t([1.0]), t([1.0 + 1e-7]), exact=True) == (
        "out: expected [1], got [1] (1 of 1 differ)"), "exact: a last-bit difference counts, however it prints"
    assert diff(t([1.0]), t([1.0 + 1e-7])) is None, "without exact, float32's own tolerance applies"
    assert diff(t([1, 2], torch.int64), t([1, 2], torch.int32), check_dtype=False) is None, "compared as one type"


def test_float_tolerances_follow_the_dtype_and_the_reference_spec():
    one = 1.0
    assert diff(t([one], torch.float32), t([one + 2e-6], torch.float32)) is None  # within atol 1e-5
    assert diff(t([one], torch.float32), t([one + 2e-5], torch.float32)) is not None
    assert diff(t([one], torch.float64), t([one + 1.5e-7], torch.float64)) is None  # float64: 1e-7 + 1e-7
    assert diff(t([one], torch.float64), t([one + 5e-7], torch.float64)) is not None
    assert diff(t([one], torch.float16), t([one + 5e-4], torch.float16)) is None  # float16: rtol 1e-3
    assert diff(t([one], torch.bfloat16), t([1.0078125], torch.bfloat16)) is None  # one bfloat16 step
    assert diff(t([one]), t([1.01]), rtol=0.02) is None
    assert diff(t([one]), t([1.01]), rtol=0.0, atol=0.02) is None
    assert diff(t([one]), t([1.01]), rtol=0.0, atol=0.005) is not None
    assert diff(t([100.0]), t([100.0001]), rtol=0.0, atol=0.0) is not None, "a spec of 0 is 0, not the default"


def test_nan_and_infinity_in_floats():
    assert diff(t([math.nan, math.inf]), t([math.nan, math.inf])) is None
    assert diff(t([math.nan]), t([0.0])) == "out: expected [nan], got [0] (1 of 1 differ)"
    assert diff(t([math.inf]), t([-math.inf])) == "out: expected [inf], got [-inf] (1 of 1 differ)"
    nine = [0.0] * 9
    with_nan = nine[:]
    with_nan[3] = math.nan
    assert diff(t(nine), t(with_nan)) == ("out: 1 of 9 values differ; the first at [3]: expected 0, got nan "
                                          "(greatest difference inf at [3])")


def test_complex_tensors_compare_within_tolerance():
    a = {TENSOR: torch.tensor([1 + 1j, 2 - 1j], dtype=torch.complex64), "device": "cpu"}
    close = {TENSOR: torch.tensor([1 + 1j, 2 - 1j + 1e-6], dtype=torch.complex64), "device": "cpu"}
    far = {TENSOR: torch.tensor([1 + 1j, 2 + 1j], dtype=torch.complex64), "device": "cpu"}
    assert diff(a, close) is None
    assert diff(a, far) is not None


def test_values_are_printed_to_six_significant_digits():
    assert compare._values(torch.tensor([1 / 3, 2.0, 1e-9])) == "[0.333333, 2, 1e-09]"
    assert compare._values(torch.tensor([[1, 2], [3, 4]])) == "[1, 2, 3, 4]"
    assert compare._values(torch.tensor([True])) == "[True]"


def test_an_exact_comparison_takes_nan_only_for_nan():
    assert diff(t([1.0, math.nan]), t([1.0, math.nan]), exact=True) is None
    assert diff(t([1.0, math.nan]), t([1.0, 2.0]), exact=True) == "out: expected [1, nan], got [1, 2] (1 of 2 differ)"
    assert diff(t([1.0, 2.0]), t([1.0, math.nan]), exact=True) == "out: expected [1, 2], got [1, nan] (1 of 2 differ)"
    assert diff(t([1, 2]), t([1.0, 2.0]), exact=True, check_dtype=False) is None


def test_a_long_exact_difference_names_its_first_place_and_no_greatest_difference():
    want = list(range(100))
    got = want[:37] + [0] + want[38:]
    assert diff(t(want), t(got)) == "out: 1 of 100 values differ; the first at [37]: expected 37, got 0"


def test_a_float_dtype_without_its_own_tolerance_is_compared_to_1e_7():
    float8 = torch.float8_e4m3fn
    one = {TENSOR: torch.tensor([1.0]).to(float8), "device": "cpu"}
    assert diff(one, {TENSOR: torch.tensor([1.0]).to(float8), "device": "cpu"}) is None
    message = diff(one, {TENSOR: torch.tensor([1.125]).to(float8), "device": "cpu"})
    assert message is not None and message.startswith("out: expected ") and "(1 of 1 differ)" in message
