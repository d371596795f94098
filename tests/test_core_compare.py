"""The judge's comparison (quiz/grading/compare.py) on plain observations, without torch.

A reference's record says how to compare (tolerances, an expected value, an explanation); the submission's
supplies only labels and values. Each test names a promise of the judge that a real bug would break.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from quiz.grading import compare
from quiz.grading.compare import REPR, CatalogError, Verdict, clean, describe, difference, judge_test
from quiz.grading.scenario import UNPLAIN


def record(name="test_one", observations=(), status="returned", **outcome):
    return {"name": name, "observations": [list(o) for o in observations],
            "outcome": {"status": status, **outcome}, "output": ""}


# -- clean -----------------------------------------------------------------------------------------------------

def test_clean_removes_terminal_escapes_and_control_characters_but_keeps_lines_and_tabs():
    assert clean("\x1b[31mred\x1b[0m \x1b[?25lcursor") == "red cursor"
    assert clean("a\x00b\x07c\x7fd\x9be") == "abcde"
    assert clean("line 1\nline 2\tend") == "line 1\nline 2\tend"
    assert clean("\x1b]0;title\x07x") == "]0;titlex", "a lone escape byte goes too"


def test_clean_cuts_long_text_at_its_limit():
    assert clean("x" * 2_000) == "x" * 2_000
    assert clean("x" * 2_001) == "x" * 2_000 + " ..."
    assert clean("abcdef", 3) == "abc ..."
    assert clean("abc", 3) == "abc"


def test_clean_shows_a_non_string_by_its_repr():
    assert clean(42) == "42"
    assert clean(None) == "None"
    assert clean(b"x\x1b") == "b'x\\x1b'"

    class Text(str):
        pass

    assert clean(Text("sub")) == "'sub'", "a str subclass is not trusted as text"


# -- describe --------------------------------------------------------------------------------------------------

def test_describe_says_each_plain_value_in_a_few_words():
    assert describe(None) == "None"
    assert describe(True) == "True" and describe(False) == "False"
    assert describe(3) == "the int 3"
    assert describe(0.1 + 0.2) == "the float 0.3"
    assert describe(1234567.0) == "the float 1.23457e+06"
    assert describe("hi\x1b[1m") == "'hi'"
    assert describe("y" * 300) == repr("y" * 200 + " ...")
    assert describe([1, 2]) == "a list of 2 items"
    assert describe((1,)) == "a tuple of 1 items"
    assert describe({"b": 1, "a": 2, 3: 0}) == "a dict with keys ['3', 'a', 'b']"
    assert describe({str(n): n for n in range(9)}) == "a dict with keys ['0', '1', '2', '3', '4', '5']"
    assert describe({UNPLAIN: "a torch.nn.Linear object"}) == "a torch.nn.Linear object"
    assert describe({REPR: "<lambda>\x1b[0m"}) == "<lambda>"
    assert describe({REPR: "r" * 300}) == "r" * 200 + " ..."
    assert describe({UNPLAIN: "u" * 300}) == "u" * 200 + " ..."
    assert describe({1, 2}) == "set"
    assert describe(b"x") == "bytes"


# -- difference: plain values -----------------------------------------------------------------------------------

def test_equal_plain_values_match():
    for value in (None, True, False, "text", "", 3, 0, [1, "a", None], (1, 2), {"a": [1, {"b": 2}]}, [], {}):
        assert difference("x", value, value, {}) is None, value


def test_a_bool_is_not_an_int_and_an_int_is_not_a_float():
    assert difference("flag", True, 1, {}) == "flag: expected True, got the int 1"
    assert difference("count", 1, True, {}) == "count: expected the int 1, got True"
    assert difference("count", 3, 3.0, {}) == "count: expected the int 3, got the float 3"
    assert difference("mean", 3.0, 3, {}) == "mean: expected the float 3, got the int 3"
    assert difference("name", "a", None, {}) == "name: expected 'a', got None"
    assert difference("none", None, 0, {}) == "none: expected None, got the int 0"
    assert difference("none", None, "None", {}) == "none: expected None, got 'None'"
    assert difference("name", "a", "b", {}) == "name: expected 'a', got 'b'"
    assert difference("n", 2, "2", {}) == "n: expected the int 2, got '2'"


def test_without_dtype_checks_an_int_and_a_float_compare_by_value():
    assert difference("n", 3, 3.0, {"check_dtype": False}) is None
    assert difference("n", 3.0, 3, {"check_dtype": False}) is None
    assert difference("n", 3, 3.5, {"check_dtype": False}) == "n: expected 3, got 3.5"
    assert difference("n", 3, True, {"check_dtype": False}) == "n: expected the int 3, got True"


def test_ints_compare_exactly():
    assert difference("n", 10**18, 10**18 + 1, {}) == f"n: expected {10**18}, got {10**18 + 1}"
    assert difference("n", 7, 7, {"rtol": 1.0}) is None


def test_floats_compare_within_the_default_tolerance():
    assert difference("loss", 1.0, 1.0 + 5e-7, {}) is None
    assert difference("loss", 1.0, 1.0 + 2e-6, {}) == "loss: expected 1, got 1"
    assert difference("loss", 100.0, 100.0 + 5e-5, {}) is None, "the tolerance is relative"
    assert difference("loss", 100.0, 100.0 + 2e-4, {}) == "loss: expected 100, got 100", "6 digits are shown"
    assert difference("loss", 0.0, 5e-10, {}) is None, "and absolute near zero"
    assert difference("loss", 0.0, 2e-9, {}) == "loss: expected 0, got 2e-09"
    assert difference("loss", -2.0, 2.0, {}) == "loss: expected -2, got 2"


def test_a_reference_may_loosen_or_tighten_the_tolerance():
    assert difference("x", 1.0, 1.05, {"rtol": 0.1}) is None
    assert difference("x", 1.0, 1.05, {"rtol": 0.01}) == "x: expected 1, got 1.05"
    assert difference("x", 0.0, 0.5, {"atol": 1.0}) is None
    assert difference("x", 0.0, 0.5, {"atol": 0.1}) == "x: expected 0, got 0.5"
    assert difference("x", 1.0, 1.0 + 5e-7, {"rtol": 0.0, "atol": 0.0}) == "x: expected 1, got 1"
    assert difference("x", 1.0, 1.0 + 5e-7, {"rtol": None, "atol": None}) is None, "None keeps the default"


def test_exact_floats_must_be_equal():
    assert difference("x", 1.0, 1.0 + 1e-12, {"exact": True}) == "x: expected 1, got 1"
    assert difference("x", 1.5, 1.5, {"exact": True}) is None
    assert difference("x", math.nan, math.nan, {"exact": True}) is None


def test_nan_matches_only_nan_and_infinity_only_itself():
    nan, inf = math.nan, math.inf
    assert difference("x", nan, nan, {}) is None
    assert difference("x", nan, 1.0, {}) == "x: expected nan, got 1"
    assert difference("x", 1.0, nan, {}) == "x: expected 1, got nan"
    assert difference("x", inf, inf, {}) is None
    assert difference("x", -inf, -inf, {}) is None
    assert difference("x", inf, -inf, {}) == "x: expected inf, got -inf"
    assert difference("x", inf, 1e308, {"rtol": 10.0}) == "x: expected inf, got 1e+308"
    assert difference("x", 1e308, inf, {"rtol": 10.0}) == "x: expected 1e+308, got inf"
    assert difference("x", 1.0, inf, {"atol": inf}) == "x: expected 1, got inf"


def test_lists_and_tuples_compare_item_by_item_and_say_where():
    assert difference("xs", [1, 2, 3], (1, 2, 3), {}) is None, "a tuple may stand for a list"
    assert difference("xs", [1, 2], [1, 2, 3], {}) == "xs: expected 2 items, got 3"
    assert difference("xs", [1, [2, 3]], [1, [2, 4]], {}) == "xs[1][1]: expected 3, got 4"
    assert difference("xs", [1, 2], [9, 8], {}) == "xs[0]: expected 1, got 9", "the first difference is told"
    assert difference("xs", [1], "1", {}) == "xs: expected a list of 1 items, got '1'"
    assert difference("xs", (1.0,), [1.0 + 1e-9], {}) is None


def test_dicts_need_the_same_keys_and_matching_values():
    assert difference("d", {"a": 1, "b": 2}, {"b": 2, "a": 1}, {}) is None
    assert difference("d", {"a": 1, "b": 2}, {"a": 1}, {}) == "d: the key 'b' is missing"
    assert difference("d", {"a": 1, "b": 2, "c": 3}, {}, {}) == "d: the key 'a' is missing (and 2 more)"
    assert difference("d", {"a": 1}, {"a": 1, "z": 0}, {}) == "d: unexpected key 'z'"
    assert difference("d", {"a": {"b": [1, 2]}}, {"a": {"b": [1, 5]}}, {}) == "d['a']['b'][1]: expected 2, got 5"
    assert difference("d", {"a": 1}, [("a", 1)], {}) == "d: expected a dict with keys ['a'], got a list of 1 items"
    assert difference("d", {"a": 1}, {UNPLAIN: "a Foo object"}, {}) == (
        "d: expected a dict with keys ['a'], got a Foo object")
    assert difference("d", {"k\x1b[0m": 1}, {}, {}) == "d: the key 'k' is missing"


def test_a_dict_never_matches_a_tensor_observation():
    tensor = SimpleNamespace(shape=(2, 3), dtype="torch.float32")  # describe() reads only these two
    assert difference("d", {"a": 1}, {compare.TENSOR: tensor, "a": 1}, {}) == (
        "d: expected a dict with keys ['a'], got a tensor of shape (2, 3) and dtype torch.float32")
    assert describe({compare.NDARRAY: tensor}) == "a NumPy array of shape (2, 3) and dtype torch.float32"
    assert describe({compare.TENSOR: tensor, "device": "cuda:0"}) == (
        "a tensor of shape (2, 3) and dtype torch.float32 on cuda:0")
    assert describe({compare.TENSOR: tensor, "device": "cpu"}) == "a tensor of shape (2, 3) and dtype torch.float32"


def test_values_that_are_not_plain_match_only_the_same_marker():
    obj = {UNPLAIN: "a torch.nn.Linear object"}
    assert difference("m", obj, {UNPLAIN: "a torch.nn.Linear object"}, {}) is None
    assert difference("m", obj, {UNPLAIN: "a torch.nn.Conv2d object"}, {}) == (
        "m: expected a torch.nn.Linear object, got a torch.nn.Conv2d object")
    assert difference("m", {REPR: "f"}, {REPR: "f"}, {}) is None
    assert difference("m", {REPR: "f"}, "f", {}) == "m: expected f, got 'f'"


def test_a_value_of_no_known_kind_cannot_be_compared():
    assert difference("s", {1, 2}, {1, 2}, {}) == "s: cannot compare set"


def test_the_reference_explanation_follows_the_difference():
    assert difference("x", 1, 2, {"explain": "the mean, not the sum"}) == "x: expected 1, got 2\nthe mean, not the sum"
    assert difference("x", 1, 1, {"explain": "never shown"}) is None
    assert difference("x", 1, 2, {"explain": ""}) == "x: expected 1, got 2"


# -- explain_exception -----------------------------------------------------------------------------------------

def test_an_exception_is_told_with_its_type_message_and_line():
    assert compare.explain_exception({"type": "ValueError", "message": "bad shape"}, None) == "ValueError: bad shape"
    told = compare.explain_exception({"type": "KeyError", "message": "'x'", "line": 12,
                                      "code": "    return d['x']  \n"}, 4)
    assert told == "KeyError: 'x' (line 12 of your file: return d['x'])"
    assert compare.explain_exception({"type": "E", "message": "m", "line": 3}, None) == "E: m (line 3 of your file)"
    assert compare.explain_exception({"type": "E", "message": "m", "line": "3"}, None) == "E: m", "a line is a number"
    assert compare.explain_exception({"type": "E\x1b[2J"}, None) == "E: "
    long = compare.explain_exception({"type": "E", "message": "m" * 3_000}, None)
    assert long == "E: " + "m" * 1_500 + " ..."


@pytest.mark.parametrize("kind, words", [
    ("NotImplementedError", "not implemented yet: it still raises NotImplementedError (line 2 of your file)"),
    ("Skipped", "the code under test called pytest.skip(): a skipped test is not a passed one"),
    ("XFailed", "the code under test called pytest.xfail(): an expected failure is still a failure"),
    ("Exit", "the code under test called pytest.exit(): that ends nothing but this test, which fails"),
    ("SystemExit", "the code called sys.exit() (line 2 of your file): a function must return its result, not exit"),
    ("KeyboardInterrupt", "the code raised KeyboardInterrupt (line 2 of your file)"),
])
def test_each_way_out_of_a_test_has_its_own_words(kind, words):
    assert compare.explain_exception({"type": kind, "message": "ignored", "line": 2}, None) == words


def test_running_out_of_memory_names_the_limit_and_how_to_raise_it():
    expected = ("it used more than 2.5 GiB of memory, the limit of a grading run (`--memory` raises it) "
                "(line 7 of your file)")
    assert compare.explain_exception({"type": "MemoryError", "message": "", "line": 7}, 2.5) == expected
    assert compare.explain_exception({"type": "RuntimeError", "message": "DefaultCPUAllocator: not enough memory"},
                                     4) == "it used more than 4 GiB of memory, the limit of a grading run " \
                                           "(`--memory` raises it)"
    assert compare.explain_exception({"type": "RuntimeError", "message": "can't allocate memory: you tried"},
                                     None) == "it used more memory than it may, the limit of a grading run " \
                                              "(`--memory` raises it)"


# -- judge_test ------------------------------------------------------------------------------------------------

REFERENCE = record(observations=[("sum", 6, {}), ("mean", 2.0, {"rtol": 0.01}), ("shape", [2, 3], {})])


def test_a_submission_observing_the_same_values_passes():
    submission = record(observations=[("sum", 6, {}), ("mean", 2.01, {}), ("shape", (2, 3), {})],
                        output="hello\x1b[0m")
    submission["output"] = "printed\x1b[1m"
    assert judge_test(REFERENCE, submission, 4) == Verdict("pass", "", "printed")


def test_the_reference_sets_the_tolerance_not_the_submission():
    submission = record(observations=[("sum", 6, {}), ("mean", 2.5, {"rtol": 1.0}), ("shape", [2, 3], {})])
    assert judge_test(REFERENCE, submission, 4) == Verdict("fail", "mean: expected 2, got 2.5")


def test_an_expected_value_in_the_reference_is_what_the_submission_must_match():
    reference = record(observations=[("loss", 0.5, {"expect": 0.5, "rtol": 0.0, "atol": 0.0})])
    assert judge_test(reference, record(observations=[("loss", 0.5, {})]), 4).status == "pass"
    failed = judge_test(reference, record(observations=[("loss", 0.25, {})]), 4)
    assert failed == Verdict("fail", "loss: expected 0.5, got 0.25")
    lying = record(observations=[("loss", 0.25, {"expect": 0.25})])
    assert judge_test(reference, lying, 4).status == "fail", "the submission's own 'expect' is never used"


def test_a_reference_that_misses_its_own_expected_value_is_a_catalog_bug():
    reference = record("test_loss", observations=[("loss", 0.4, {"expect": 0.5})])
    with pytest.raises(CatalogError, match=r"^the reference solution does not meet its own test test_loss: "
                                           r"loss: expected 0.5, got 0.4$"):
        judge_test(reference, record(observations=[("loss", 0.5, {})]), 4)


def test_a_reference_that_raises_is_a_catalog_bug_not_the_learners():
    reference = record("test_x", status="raised", type="ValueError", message="boom")
    with pytest.raises(CatalogError, match=r"^the reference solution fails test_x: ValueError: boom$"):
        judge_test(reference, record(), 4)


def test_a_test_that_never_reported_is_an_error():
    assert judge_test(REFERENCE, None, 4) == Verdict(
        "error", "not run: the grading run ended before this test finished")


def test_broken_reports_are_errors_not_passes():
    broken = record(observations=[("sum", 6, {})])
    broken["observations"] = "sum=6"
    assert judge_test(REFERENCE, broken, 4) == Verdict("error", "the run reported this test in a broken form")
    broken["output"] = "printed before it broke"
    assert judge_test(REFERENCE, broken, 4).output == "printed before it broke", "what it printed is still shown"
    for entry in (("sum", 6), ["sum", 6, {}, 0], [6, "sum", {}], "sum"):
        bad = record(observations=[])
        bad["observations"] = [entry]
        assert judge_test(REFERENCE, bad, 4) == Verdict(
            "error", "the run reported an observation in a broken form"), entry


def test_an_observation_with_another_label_means_another_path():
    submission = record(observations=[("total\x1b[0m", 6, {})])
    assert judge_test(REFERENCE, submission, 4) == Verdict(
        "fail", "observed 'total' where 'sum' was expected: the test took another path than with the reference")


def test_a_test_that_stopped_early_fails_with_its_exception_or_its_missing_observation():
    raised = record(observations=[("sum", 6, {})], status="raised", type="IndexError", message="out of range")
    assert judge_test(REFERENCE, raised, 4) == Verdict("fail", "IndexError: out of range")
    stopped = record(observations=[("sum", 6, {})])
    assert judge_test(REFERENCE, stopped, 4) == Verdict("fail", "the test stopped before observing mean")


def test_every_observation_matching_is_not_enough_when_the_test_raised_after():
    submission = record(observations=list(REFERENCE["observations"]), status="raised", type="Skipped",
                        message="later")
    assert judge_test(REFERENCE, submission, 4) == Verdict(
        "fail", "the code under test called pytest.skip(): a skipped test is not a passed one")


def test_a_test_without_an_outcome_is_an_error():
    submission = record(observations=list(REFERENCE["observations"]))
    submission["outcome"] = "returned"
    assert judge_test(REFERENCE, submission, 4) == Verdict("error", "the run reported no outcome for this test")
    submission["outcome"] = {"status": "finished"}
    assert judge_test(REFERENCE, submission, 4).status == "error"
    del submission["outcome"]
    assert judge_test(REFERENCE, submission, 4).status == "error"


def test_an_extra_observation_after_the_references_fails():
    submission = record(observations=[*REFERENCE["observations"], ("bonus\x07", 1, {})])
    assert judge_test(REFERENCE, submission, 4) == Verdict(
        "fail", "observed 'bonus' after everything the reference observed: the test took another path")


def test_the_submissions_output_is_kept_cleaned_and_cut():
    submission = record(observations=[("sum", 5, {})])
    submission["output"] = "o" * 5_000
    verdict = judge_test(REFERENCE, submission, 4)
    assert verdict.status == "fail" and verdict.output == "o" * 4_200 + " ..."
    del submission["output"]
    assert judge_test(REFERENCE, submission, 4).output == ""


def test_a_reference_with_no_observations_passes_a_submission_that_returned():
    reference = record()
    assert judge_test(reference, record(), 4) == Verdict("pass")
    assert judge_test(reference, record(status="raised", type="MemoryError"), 1).message.startswith(
        "it used more than 1 GiB of memory")


# -- limits and the paths mutation testing found untested -----------------------------------------------------------

def test_long_keys_labels_and_type_names_are_cut_where_promised():
    key = "k" * 150
    assert difference("d", {key: 1}, {}, {}) == f"d: the key {'k' * 100 + ' ...'!r} is missing"
    assert difference("d", {}, {key: 1}, {}) == f"d: unexpected key {'k' * 100 + ' ...'!r}"
    odd = type("O" * 150, (), {})()
    assert describe(odd) == "O" * 100 + " ..."
    assert compare.explain_exception({"type": "T" * 150, "message": "m"}, None) == "T" * 100 + " ...: m"
    told = compare.explain_exception({"type": "E", "message": "m", "line": 1, "code": "c" * 200}, None)
    assert told == "E: m (line 1 of your file: " + "c" * 120 + " ...)"
    reference = record(observations=[("sum", 6, {})])
    label = "L" * 300
    assert judge_test(reference, record(observations=[(label, 6, {})]), 4).message == (
        f"observed {'L' * 200 + ' ...'!r} where 'sum' was expected: the test took another path than with the "
        "reference")
    assert judge_test(reference, record(observations=[("sum", 6, {}), (label, 1, {})]), 4).message == (
        f"observed {'L' * 200 + ' ...'!r} after everything the reference observed: the test took another path")


def test_two_missing_keys_say_one_more():
    assert difference("d", {"a": 1, "b": 2}, {}, {}) == "d: the key 'a' is missing (and 1 more)"


def test_an_int_standing_for_a_float_is_compared_with_tolerance():
    assert difference("x", 1.0000001, 1, {"check_dtype": False}) is None
    assert difference("x", 1.0, 2, {"check_dtype": False}) == "x: expected 1, got 2"


def test_exact_nan_matches_only_nan():
    assert difference("x", math.nan, 1.0, {"exact": True}) == "x: expected nan, got 1"
    assert difference("x", 1.0, math.nan, {"exact": True}) == "x: expected 1, got nan"


def test_the_submission_is_held_to_the_expected_value_not_to_the_references_own():
    reference = record(observations=[("loss", 1.09, {"expect": 1.0, "rtol": 0.1})])
    assert judge_test(reference, record(observations=[("loss", 0.95, {})]), 4).status == "pass"
    assert judge_test(reference, record(observations=[("loss", 1.18, {})]), 4).status == "fail"


def test_a_reference_out_of_memory_names_the_limit():
    reference = record("test_big", status="raised", type="MemoryError", message="")
    with pytest.raises(CatalogError, match=r"^the reference solution fails test_big: it used more than 1.5 GiB"):
        judge_test(reference, record(), 1.5)


def test_every_verdict_keeps_what_the_test_printed():
    reference = record(observations=[("sum", 6, {}), ("mean", 2.0, {})])

    def submission(**fields):
        base = record(**{k: v for k, v in fields.items() if k in ("observations", "status", "type", "message")})
        base["output"] = "printed"
        base.update({k: v for k, v in fields.items() if k not in ("observations", "status", "type", "message")})
        return base

    cases = [
        submission(observations=[("sum", 6, {})], status="raised", type="MemoryError", message=""),
        submission(observations=[("sum", 6, {})]),
        submission(observations=[("total", 6, {})]),
        submission(observations=[("sum", 6, {}), ("mean", 2.0, {})], status="raised", type="ValueError", message="x"),
        submission(observations=[("sum", 6, {}), ("mean", 2.0, {}), ("extra", 1, {})]),
        submission(observations=[("sum", 6, {}), ("mean", 2.0, {})], outcome="broken"),
        submission(observations="broken"),
        submission(observations=[]) | {"observations": [("sum", 6)]},
        submission(observations=[("sum", 7, {})]),
    ]
    for case in cases:
        assert judge_test(reference, case, 2).output == "printed", case
    memory = judge_test(reference, cases[0], 2).message
    assert memory.startswith("it used more than 2 GiB of memory")
