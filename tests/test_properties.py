"""Property tests where the input space is large: the answer parsers, the bank loader, the import merge and
the spaced-repetition replay, each against every input hypothesis can think of, not a handful of examples."""

from __future__ import annotations

import json
import string
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quiz import bank, progress, review, session
from quiz.bank import Choice, Question
from quiz.store import Answer, Attempt, Store

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEPARATORS = st.sampled_from(["", " ", ",", ", ", ";", "  ", "\t"])
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def output_question(expected: str) -> Question:
    return Question(id="q-out", type="output", topic="tensors", difficulty=1, prompt={"en": "p"},
                    explanation={"en": "e"}, code="print()", output=expected)


# -- output answers: whitespace never counts, everything else does ----------------------------------------------

TOKENS = st.lists(st.text(alphabet=string.ascii_letters + string.digits + "()[].,-+=_'", min_size=1, max_size=8),
                  min_size=1, max_size=8)


@SETTINGS
@given(tokens=TOKENS, spacing=st.lists(st.sampled_from([" ", "  ", "\n", "\t", " \n "]), min_size=8, max_size=8))
def test_an_output_answer_is_right_however_its_whitespace_is_laid_out(tokens, spacing):
    expected = " ".join(tokens)
    typed = "".join(token + gap for token, gap in zip(tokens, spacing, strict=False))
    assert session.grade_output(output_question(expected), typed).outcome == "right"
    assert session.normalise_output(session.normalise_output(typed)) == session.normalise_output(typed)


@SETTINGS
@given(tokens=TOKENS, data=st.data())
def test_an_output_answer_with_one_character_changed_is_wrong(tokens, data):
    expected = " ".join(tokens)
    position = data.draw(st.sampled_from([i for i, c in enumerate(expected) if not c.isspace()]))
    replacement = data.draw(st.sampled_from([c for c in "xyzXYZ019)" if c != expected[position]]))
    typed = expected[:position] + replacement + expected[position + 1:]
    assert session.grade_output(output_question(expected), typed).outcome == "wrong"


# -- letters for choice and multi: the set typed, however it is written ---------------------------------------------

@SETTINGS
@given(data=st.data(), count=st.integers(2, 6))
def test_letters_read_as_the_set_typed_in_any_order_case_and_separators(data, count):
    chosen = data.draw(st.sets(st.integers(0, count - 1), min_size=1))
    order = data.draw(st.permutations(sorted(chosen)))
    letters = [session.LETTERS[i] for i in order]
    letters = [data.draw(st.sampled_from([c, c.upper()])) for c in letters]
    typed = data.draw(SEPARATORS).join(letters)
    assert session._letters(typed, count) == chosen


@SETTINGS
@given(count=st.integers(2, 6), junk=st.text(min_size=1, max_size=6))
def test_letters_outside_the_choices_are_unreadable_never_guessed(count, junk):
    allowed = set(session.LETTERS[:count]) | set(session.LETTERS[:count].upper()) | set(" ,;\t\n\r\x0b\x0c")
    if all(c in allowed or c.isspace() for c in junk):
        return  # a readable answer: covered above
    with pytest.raises(session.Unreadable):
        session._letters(junk, count)


@SETTINGS
@given(data=st.data(), count=st.integers(2, 6))
def test_a_multi_answer_is_right_only_for_exactly_the_right_set(data, count):
    correct = data.draw(st.sets(st.integers(0, count - 1), min_size=1))
    chosen = data.draw(st.sets(st.integers(0, count - 1), min_size=1))
    question = Question(id="q-multi", type="multi", topic="tensors", difficulty=1, prompt={"en": "p"},
                        explanation={"en": "e"},
                        choices=tuple(Choice({"en": str(i)}, i in correct) for i in range(count)))
    order = data.draw(st.permutations(range(count)))
    typed = " ".join(session.LETTERS[order.index(i)] for i in chosen)
    graded = session.grade_choice(question, order, typed)
    assert (graded.outcome == "right") == (chosen == correct)
    assert set(graded.chosen) == chosen


# -- bug lines -----------------------------------------------------------------------------------------------------

@SETTINGS
@given(lines=st.sets(st.integers(1, 400), min_size=1, max_size=6), data=st.data())
def test_bug_lines_read_as_the_numbers_typed(lines, data):
    typed = data.draw(st.sampled_from([" ", ",", ", ", ";", " ; "])).join(
        str(n) for n in data.draw(st.permutations(sorted(lines))))
    assert session.parse_line_numbers(typed) == lines


@SETTINGS
@given(typed=st.text(min_size=1, max_size=12))
@example(typed="²")  # found by this test: str.isdigit() says yes and int() refuses
@example(typed="1 ½")
def test_bug_lines_with_anything_but_numbers_are_unreadable(typed):
    parts = [p for p in typed.replace(",", " ").replace(";", " ").split() if p]
    if parts and all(p.isdecimal() for p in parts):  # what int() reads: covered above
        return
    with pytest.raises(session.Unreadable):
        session.parse_line_numbers(typed)


# -- the bank loader: any file gives questions and located problems, never a traceback -------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=12),
                    st.sampled_from(["choice", "multi", "output", "bug", "open", "tensors", "gpu", "en", "zh"]))
KEYS = st.sampled_from(["id", "type", "topic", "difficulty", "prompt", "explanation", "choices", "correct", "text",
                        "answer", "code", "key_points", "model_answer", "hints", "en", "zh", "fix", "setup", "check",
                        "verify", "claim", "why", "references", "tags", "cuda", "questions", "format_version"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=6)), max_leaves=25)
DOCUMENTS = st.fixed_dictionaries({"format_version": st.sampled_from([1, 2, "1"]),
                                   "questions": st.lists(st.dictionaries(KEYS, VALUES, max_size=10), max_size=3)},
                                  optional={"topic": SCALARS})


def _read(text: str) -> tuple[list, list]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.yaml"
        path.write_text(text, encoding="utf-8")
        return bank.read_file(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_the_loader_reads_any_generated_bank_without_a_traceback(document):
    text = yaml.safe_dump(document, allow_unicode=True)
    questions, problems = _read(text)
    lines = len(text.splitlines()) + 1  # YAML also breaks lines at NEL and the Unicode line separators
    for problem in problems:
        assert problem.file.endswith("generated.yaml") and problem.message
        assert problem.line is None or 1 <= problem.line <= lines, problem
    assert all(isinstance(q, Question) for q in questions)


@SETTINGS
@given(text=st.text(max_size=300))
def test_the_loader_reads_any_text_without_a_traceback(text):
    questions, problems = _read(text)
    assert questions == [] or all(isinstance(q, Question) for q in questions)
    assert all(p.message for p in problems)


TAGS = st.sampled_from(["!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!!str", "!!set",
                        "!!omap", "!!pairs", "!!seq", "!!map", "!!python/name:os.system", "!unknown"])
TAGGED_VALUES = st.one_of(st.text(alphabet="0123456789abcdefx-:.+ TZ%=", max_size=12).map(repr),
                          st.sampled_from(["[]", "{}", "[1, 2]", "{a: 1}", "[a: 1]", "-1e999", "0x_", "2026-02-30"]))


@SETTINGS
@given(tagged=st.lists(st.tuples(KEYS, TAGS, TAGGED_VALUES, st.booleans()),
                       min_size=1, max_size=4))
def test_the_loader_reads_any_tagged_value_or_key_without_a_traceback(tagged):
    fields = "".join(f"    {tag} {value}: 1\n" if as_key else f"    {key}: {tag} {value}\n"
                     for key, tag, value, as_key in tagged)
    text = f"format_version: 1\ntopic: gpu\nquestions:\n  - id: tagged\n{fields}"
    questions, problems = _read(text)
    assert problems, "every one of these questions lacks required fields"
    assert all(p.message and (p.line is None or 1 <= p.line <= len(text.splitlines())) for p in problems)


# -- the import merge: importing an export twice adds nothing --------------------------------------------------------

ANSWERS = st.lists(st.builds(
    lambda qid, qtype, outcome, minutes, response, hints, duration: Answer(
        f"q-{qid}", "tensors", qtype, outcome, 1.0 if outcome == "right" else 0.0, T0 + timedelta(minutes=minutes),
        response, hints, duration),
    st.integers(0, 4), st.sampled_from(["choice", "multi", "output", "bug", "open"]),
    st.sampled_from(["right", "wrong", "skipped"]), st.integers(0, 60 * 24 * 30),
    st.one_of(st.none(), st.text(max_size=20)), st.integers(0, 3),
    st.one_of(st.none(), st.floats(0.5, 600, allow_nan=False))), max_size=12,
    unique_by=lambda a: (a.question_id, a.answered_at))  # the store keeps one answer per question and moment
ATTEMPTS = st.lists(st.builds(
    lambda eid, passed, minutes: Attempt(f"ex-{eid}", "pass" if passed == 4 else "fail", passed, 4,
                                         T0 + timedelta(minutes=minutes)),
    st.integers(0, 2), st.integers(0, 4), st.integers(0, 1000)), max_size=5,
    unique_by=lambda a: (a.exercise_id, a.attempted_at))


def _facts(store: Store) -> tuple:
    return (sorted((a.question_id, a.answered_at, a.outcome, a.response, a.hints_used, a.duration_s)
                   for a in store.answers()),
            sorted((a.exercise_id, a.attempted_at, a.status, a.passed) for a in store.attempts()))


@SETTINGS
@given(answers=ANSWERS, attempts=ATTEMPTS, local=ANSWERS)
def test_importing_any_export_twice_changes_nothing_the_second_time(answers, attempts, local):
    with tempfile.TemporaryDirectory() as folder:
        with Store.open(Path(folder) / "a") as source:
            for answer in answers:
                source.record_answer(answer)
            for attempt in attempts:
                source.record_attempt(attempt)
            document = json.loads(json.dumps(progress.export_document(source, T0)))
            exported = _facts(source)
        with Store.open(Path(folder) / "b") as target:
            for answer in local:
                target.record_answer(answer)
            progress.import_document(target, document)
            once = _facts(target)
            added = progress.import_document(target, document)
            assert added == {key: 0 for key in added}, "the second import added rows"
            assert _facts(target) == once
            # Merged on natural keys (question and moment, exercise and moment): a row the machine already has wins.
            assert {row[:2] for row in exported[0]} <= {row[:2] for row in once[0]}, "an exported answer was lost"
            assert {row[:2] for row in exported[1]} <= {row[:2] for row in once[1]}, "an exported attempt was lost"


# -- spaced repetition: replaying a history gives the cards its answers gave one by one ------------------------------

@SETTINGS
@given(answers=ANSWERS)
def test_replaying_a_history_gives_the_same_cards_as_reviewing_it_answer_by_answer(answers):
    in_order = sorted(answers, key=lambda a: a.answered_at)
    with tempfile.TemporaryDirectory() as folder:
        with Store.open(Path(folder) / "h") as store:
            cards: dict = {}
            for answer in in_order:
                store.record_answer(answer)
                review.review(store, answer, cards)
            incremental = {qid: _schedule(json.loads(text)) for qid, text in store.cards().items()}
    replayed = {qid: _schedule(json.loads(card.to_json())) for qid, card in review.replay(answers).items()}
    assert replayed == incremental


def _schedule(card: dict) -> dict:
    card.pop("card_id")  # fsrs names a new card after the clock's milliseconds: an id, not the schedule
    return card


# -- wrapping Chinese and `code`: the scanner is the pattern it replaced ------------------------------------------

# The regular expression quiz/ui.py wrap_tokens stands for (compiling it cost 4 ms before the first question).
WRAP_PATTERN = (r"`[^`\n]+`|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s`\u2e80-\u9fff"
                r"\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+|\s+|`")
WRAP_ALPHABET = st.sampled_from(list("ab1 .,`\t\u00a0\u3000\u2028中文，。（）ｘ\uf900\u2e7f\ufff0"))


@settings(max_examples=300, deadline=None)
@given(paragraph=st.text(alphabet=WRAP_ALPHABET, max_size=40) | st.text(max_size=40).map(lambda t: t.replace("\n", "")))
@example(paragraph="`` `x` ` 中`文`a，b　 c")
def test_wrap_tokens_are_the_pieces_the_wrapping_pattern_finds(paragraph):
    import re

    from quiz import ui

    tokens = ui.wrap_tokens(paragraph)
    assert tokens == re.findall(WRAP_PATTERN, paragraph)
    assert "".join(tokens) == paragraph


def test_wrap_tokens_of_every_text_in_the_bank_are_the_patterns():
    import re

    from quiz import ui

    pattern = re.compile(WRAP_PATTERN)
    paragraphs = {paragraph for question in bank.load().questions for text in question.texts()
                  for value in text.values() for paragraph in value.split("\n")}
    assert len(paragraphs) > 3000
    for paragraph in paragraphs:
        assert ui.wrap_tokens(paragraph) == pattern.findall(paragraph), paragraph
