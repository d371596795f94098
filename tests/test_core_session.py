"""quiz/session.py through its public functions: what is drawn, in which order, and how each answer grades.

Written against mutation testing (benchmarks/mutation.sh): each test names the promise a real bug would break.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from quiz import session
from quiz.bank import Choice, Question

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def question(qid: str, qtype: str = "choice", topic: str = "tensors", difficulty: int = 1, **fields) -> Question:
    return Question(id=qid, type=qtype, topic=topic, difficulty=difficulty, prompt={"en": f"prompt {qid}"},
                    explanation={"en": "because"}, **fields)


def choices(*correct: bool) -> tuple[Choice, ...]:
    return tuple(Choice(text={"en": f"choice {i}", "zh": f"选项 {i}"}, correct=c) for i, c in enumerate(correct))


POOL = [question(f"q{n:02d}", topic=("tensors", "autograd", "gpu")[n % 3], difficulty=n % 3 + 1,
                 qtype=("choice", "multi", "output", "bug", "open")[n % 5]) for n in range(30)]


# -- filters and the draw ----------------------------------------------------------------------------------

def test_filters_keep_only_the_asked_topic_difficulty_and_type():
    assert {q.topic for q in session.select(POOL, session.Filters(topics=("gpu",)))} == {"gpu"}
    assert len(session.select(POOL, session.Filters(topics=("gpu",)))) == 10
    assert {q.difficulty for q in session.select(POOL, session.Filters(difficulty=2))} == {2}
    assert {q.type for q in session.select(POOL, session.Filters(types=("bug", "open")))} == {"bug", "open"}
    both = session.select(POOL, session.Filters(topics=("tensors", "gpu"), difficulty=1, types=("choice",)))
    assert both == [q for q in POOL if q.topic in ("tensors", "gpu") and q.difficulty == 1 and q.type == "choice"]


def test_no_filter_keeps_every_question_in_its_order():
    assert session.select(POOL, session.Filters()) == POOL


def test_a_draw_has_no_repeats_and_at_most_count_questions():
    drawn = session.draw(POOL, session.Filters(), 12, seed=3)
    assert len(drawn) == 12 and len({q.id for q in drawn}) == 12
    assert len(session.draw(POOL, session.Filters(topics=("gpu",)), 50, seed=3)) == 10


def test_a_seeded_draw_ignores_bank_order_and_history():
    shuffled = list(POOL)
    random.Random(1).shuffle(shuffled)
    history = session.missed_and_new_first({q.id: "wrong" for q in POOL[10:]})
    first = session.draw(POOL, session.Filters(), 8, seed=42)
    assert session.draw(shuffled, session.Filters(), 8, seed=42, order=history) == first
    assert session.draw(POOL, session.Filters(), 8, seed=43) != first


def test_a_seeded_draw_is_shuffled_not_in_id_order():
    drawn = session.draw(POOL, session.Filters(), 30, seed=5)
    assert sorted(q.id for q in drawn) == [q.id for q in POOL]
    assert [q.id for q in drawn] != [q.id for q in POOL]


def test_without_a_seed_the_order_decides():
    calls = []

    def by_reverse_id(candidates, rng):
        calls.append([q.id for q in candidates])
        return list(reversed(candidates))

    drawn = session.draw(list(reversed(POOL)), session.Filters(topics=("gpu",)), 3, order=by_reverse_id)
    gpu_ids = sorted(q.id for q in POOL if q.topic == "gpu")
    assert calls == [gpu_ids], "the order receives the candidates sorted by id"
    assert [q.id for q in drawn] == gpu_ids[::-1][:3]


def test_without_seed_or_order_the_draw_is_still_a_sample_of_the_filter():
    drawn = session.draw(POOL, session.Filters(types=("open",)), 4)
    assert len(drawn) == 4 and all(q.type == "open" for q in drawn)


def test_missed_questions_come_first_then_new_ones_then_the_rest():
    history = {"q00": "right", "q01": "wrong", "q02": "right", "q03": "wrong", "q04": "skipped"}
    candidates = [question(f"q{n:02d}") for n in range(7)]
    ordered = session.missed_and_new_first(history)(candidates, random.Random(0))
    ids = [q.id for q in ordered]
    assert set(ids[:2]) == {"q01", "q03"}
    assert set(ids[2:4]) == {"q05", "q06"}
    assert set(ids[4:]) == {"q00", "q02", "q04"}, "a skip is neither missed nor new"


def test_each_group_of_the_default_order_is_shuffled():
    candidates = [question(f"q{n:02d}") for n in range(20)]
    ordered = session.missed_and_new_first({})(candidates, random.Random(2))
    assert sorted(ordered, key=lambda q: q.id) == candidates and ordered != candidates


def test_choice_order_is_a_reproducible_permutation_per_seed_and_question():
    many = question("many", choices=choices(*([False] * 7 + [True])))
    other = question("other", choices=many.choices)
    order = session.choice_order(many, 11)
    assert sorted(order) == list(range(8))
    assert session.choice_order(many, 11) == order
    assert session.choice_order(many, 12) != order
    assert session.choice_order(other, 11) != order, "two questions with the same seed are shuffled apart"
    assert len({session.choice_order(many, None) for _ in range(8)}) > 1, "no seed: a fresh order each time"


# -- grading -------------------------------------------------------------------------------------------------

def test_a_choice_letter_refers_to_the_shown_order():
    q = question("c", choices=choices(False, False, True))
    order = (2, 0, 1)  # a) is choice 2, the right one
    right = session.grade_choice(q, order, "a")
    assert (right.outcome, right.score, right.chosen, right.response) == ("right", 1.0, (2,), "a")
    wrong = session.grade_choice(q, order, "C")
    assert (wrong.outcome, wrong.score, wrong.chosen) == ("wrong", 0.0, (1,))


def test_a_choice_question_takes_exactly_one_letter():
    q = question("c", choices=choices(True, False, False))
    with pytest.raises(session.Unreadable) as raised:
        session.grade_choice(q, (0, 1, 2), "ab")
    assert raised.value.reason == "one_letter"


def test_multi_needs_exactly_the_right_set_in_any_spelling():
    q = question("m", qtype="multi", choices=choices(True, False, True, False))
    order = (0, 1, 2, 3)
    for response in ("ac", "a,c", "c; a", " A C ", "a, c,"):
        graded = session.grade_choice(q, order, response)
        assert (graded.outcome, graded.chosen) == ("right", (0, 2)), response
    assert session.grade_choice(q, order, "a").outcome == "wrong"
    assert session.grade_choice(q, order, "acd").outcome == "wrong"
    assert session.grade_choice(q, order, "aac").outcome == "right", "a letter typed twice is one pick"


@pytest.mark.parametrize("response", ["", "   ", "d", "a1", "a-b", "?"])
def test_letters_outside_the_shown_choices_are_unreadable_and_name_the_last_letter(response):
    q = question("m", qtype="multi", choices=choices(True, False, True))
    with pytest.raises(session.Unreadable) as raised:
        session.grade_choice(q, (0, 1, 2), response)
    assert raised.value.reason == "letters"
    assert raised.value.details == {"last": "c"}
    assert str(raised.value) == "letters"


def test_output_answer_ignores_how_whitespace_is_typed_and_nothing_else():
    q = question("o", qtype="output", output="tensor([1, 2])\nTrue")
    for response in ("tensor([1, 2]) True", "  tensor([1,  2])\n\nTrue\n", "tensor([1,\t2])\tTrue"):
        graded = session.grade_output(q, response)
        assert (graded.outcome, graded.score, graded.response) == ("right", 1.0, response)
    for response in ("tensor([1,2]) True", "tensor([1, 2]) true", "tensor([1, 2])"):
        assert session.grade_output(q, response).outcome == "wrong", response
        assert session.grade_output(q, response).score == 0.0


def test_an_output_question_without_its_output_accepts_nothing():
    q = question("o", qtype="output")
    assert session.grade_output(q, "XXXX").outcome == "wrong"


def test_normalise_output_joins_lines_with_single_spaces():
    assert session.normalise_output("  a   b\n\n c\t d ") == "a b c d"
    assert session.normalise_output("") == ""


def test_an_empty_output_answer_is_unreadable():
    q = question("o", qtype="output", output="1")
    for response in ("", "  \n "):
        with pytest.raises(session.Unreadable) as raised:
            session.grade_output(q, response)
        assert raised.value.reason == "output"


def test_bug_lines_in_any_separator_and_order():
    assert session.parse_line_numbers("3") == {3}
    assert session.parse_line_numbers(" 5, 3 ") == {3, 5}
    assert session.parse_line_numbers("5;3 12") == {3, 5, 12}
    assert session.parse_line_numbers("3,,5") == {3, 5}


@pytest.mark.parametrize("response", ["", " ", "three", "3a", "-3", "3.0", "3 x"])
def test_bug_lines_that_are_not_numbers_are_unreadable(response):
    with pytest.raises(session.Unreadable) as raised:
        session.parse_line_numbers(response)
    assert raised.value.reason == "lines"


def test_a_bug_answer_must_name_exactly_the_wrong_lines():
    q = question("b", qtype="bug", code="a\nb\nc\nd\n", bug_lines=(2, 4))
    right = session.grade_bug(q, "4 2")
    assert (right.outcome, right.score, right.chosen) == ("right", 1.0, (2, 4))
    assert session.grade_bug(q, "2").outcome == "wrong"
    assert session.grade_bug(q, " 4, 2 ").response == " 4, 2 ", "the response is kept as typed"
    wrong = session.grade_bug(q, "2 3 4")
    assert (wrong.outcome, wrong.score, wrong.chosen) == ("wrong", 0.0, (2, 3, 4))


def test_covered_key_points_are_one_based_on_screen():
    assert session.parse_covered("1 3", 3) == {0, 2}
    assert session.parse_covered("3,1;2", 3) == {0, 1, 2}
    assert session.parse_covered(" ALL ", 4) == {0, 1, 2, 3}
    assert session.parse_covered("a", 2) == {0, 1}
    for nothing in ("none", "N", "0", "-", "", "  "):
        assert session.parse_covered(nothing, 3) == set(), nothing


@pytest.mark.parametrize("response", ["4", "0 1", "x", "1 two", "-1"])
def test_key_points_out_of_range_are_unreadable_with_the_count(response):
    with pytest.raises(session.Unreadable) as raised:
        session.parse_covered(response, 3)
    assert raised.value.reason == "key_points"
    assert raised.value.details == {"count": 3}


def test_an_open_answer_is_right_from_half_the_key_points():
    q = question("op", qtype="open", key_points=({"en": "a"}, {"en": "b"}, {"en": "c"}, {"en": "d"}))
    half = session.grade_open(q, "said a and b", {0, 1})
    assert (half.outcome, half.score, half.chosen, half.response) == ("right", 0.5, (0, 1), "said a and b")
    assert session.grade_open(q, "", {3}).outcome == "wrong"
    assert session.grade_open(q, "", {3}).score == 0.25
    three = question("op3", qtype="open", key_points=({"en": "a"}, {"en": "b"}, {"en": "c"}))
    assert session.grade_open(three, "", {2, 0}).score == 0.6667
    assert session.grade_open(three, "", {2, 0}).chosen == (0, 2)
    assert session.grade_open(three, "", {1}).outcome == "wrong"
    assert session.grade_open(question("none", qtype="open"), "", set()) == session.Graded("wrong", 0.0, "", ())


def test_a_skip_scores_nothing():
    assert session.skipped() == session.Graded("skipped", 0.0, "")
    assert session.skipped("?") == session.Graded("skipped", 0.0, "?")


def test_the_expected_answer_is_what_the_user_would_have_typed():
    q = question("m", qtype="multi", choices=choices(True, False, True))
    assert session.expected_answer(q, (2, 1, 0), "en") == "a) choice 2, c) choice 0"
    assert session.expected_answer(q, (0, 1, 2), "zh") == "a) 选项 0, c) 选项 2"
    assert session.expected_answer(question("o", qtype="output", output="3\nTrue"), (), "en") == "3\nTrue"
    assert session.expected_answer(question("o2", qtype="output"), (), "en") == ""
    assert session.expected_answer(question("b", qtype="bug", bug_lines=(2, 7)), (), "en") == "2, 7"
    assert session.expected_answer(question("op", qtype="open"), (), "en") == ""


# -- the end of a session ----------------------------------------------------------------------------------

def test_a_summary_counts_answers_score_misses_and_skips_by_topic():
    results = [
        session.Result(question("a1", topic="autograd"), session.Graded("right", 1.0, "a")),
        session.Result(question("t2", topic="tensors"), session.skipped()),
        session.Result(question("a2", topic="autograd"), session.Graded("wrong", 0.0, "b")),
        session.Result(question("g1", topic="gpu"), session.skipped()),
        session.Result(question("t1", topic="tensors", qtype="open"), session.Graded("right", 0.75, "x")),
    ]
    summary = session.summarize(results, T0, T0 + timedelta(seconds=95.5), quit_early=True)
    assert summary.answered == 3
    assert summary.score == 1.75
    assert summary.missed == ["a2"]
    assert summary.skipped_ids == ["t2", "g1"], "a skip in the middle does not end the count"
    assert summary.duration_s == 95.5
    assert summary.quit_early is True
    assert summary.by_topic == {"autograd": (1.0, 2), "tensors": (0.75, 1)}, "skips count nowhere"
    assert summary.results == tuple(results)
    assert (summary.started_at, summary.ended_at) == (T0, T0 + timedelta(seconds=95.5))
    assert session.summarize(results, T0, T0).quit_early is False
