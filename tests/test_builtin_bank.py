"""The built-in bank: valid, as large and as broad as promised, bilingual, and every runnable claim run."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from quiz import bank, paths, topics, verify
from tests import snippets

BANK = bank.load()
QUESTIONS = BANK.questions
SCHEMA = json.loads((paths.builtin_bank_dir() / "schema.json").read_text(encoding="utf-8"))
OFFICIAL = ("https://docs.pytorch.org/", "https://pytorch.org/", "https://arxiv.org/", "https://github.com/pytorch/")
NEAR_DUPLICATE_RATIO = 0.9


def test_builtin_bank_lints_clean():
    checked, problems = bank.lint()
    assert [str(p) for p in problems] == []
    assert checked == len(QUESTIONS)


def test_every_file_matches_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for file in bank.bank_files(paths.builtin_bank_dir()):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        errors = [f"{file.name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(data)]
        assert errors == []


def test_the_schema_rejects_what_the_loader_rejects():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    bad = {"format_version": 1, "questions": [{"id": "x", "type": "choice", "difficulty": 5, "prompt": "p",
                                               "explanation": "e", "topic": "behavioral", "colour": 1}]}
    assert len(list(validator.iter_errors(bad))) >= 3


def test_schema_topics_are_the_topic_list():
    assert SCHEMA["$defs"]["topic"]["enum"] == list(topics.TOPIC_SLUGS)


def test_size_and_coverage():
    stats = bank.stats(BANK)
    assert stats.total >= 480
    for slug, count in stats.by_topic.items():
        assert count >= 25, f"{slug} has only {count} questions"
    assert stats.by_difficulty[3] >= stats.total / 4
    assert stats.by_type["output"] >= 45
    assert stats.by_type["bug"] >= 35
    assert stats.by_type["open"] >= 35
    checkable = [q for q in QUESTIONS if q.type in ("choice", "multi", "bug")]
    assert sum(q.verify is not None for q in checkable) >= len(checkable) / 2


def test_every_question_has_a_hint_and_most_have_two():
    """A nudge first, then nearly the answer: the footer promises `h hint` only where there is one."""
    assert [q.id for q in QUESTIONS if not q.hints] == []
    assert sum(len(q.hints) >= 2 for q in QUESTIONS) >= 0.9 * len(QUESTIONS)
    assert all("zh" in hint for q in QUESTIONS for hint in q.hints), "every hint in Chinese too"


def test_every_bug_question_carries_a_fix_the_suite_runs():
    assert [q.id for q in QUESTIONS if q.type == "bug" and not q.fix] == []


def test_every_text_has_chinese():
    assert bank.stats(BANK).language_coverage["zh"] == 1.0, [
        q.id for q in QUESTIONS if not all("zh" in text for text in q.texts())]


def test_the_interview_seed_questions_are_there():
    seeds = {q.source: q for q in QUESTIONS if q.source and re.fullmatch(r"seed-q\d+", q.source)}
    assert sorted(seeds, key=lambda s: int(s[6:])) == [f"seed-q{n}" for n in range(1, 11)]
    for question in seeds.values():
        assert question.type == "open" and 4 <= len(question.key_points) <= 7
        assert question.model_answer and "zh" in question.model_answer
    mistakes = [q for q in QUESTIONS if q.source == "seed-mistake"]
    assert len(mistakes) >= 8 and all(q.type in ("bug", "choice", "multi") for q in mistakes)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_every_answer_teaches(question):
    assert any(reference.startswith(OFFICIAL) for reference in question.references), \
        f"{question.id} needs a reference to the official docs or the paper"
    for choice in question.choices:
        if not choice.correct:
            assert choice.why, f"{question.id}: every wrong choice says why it is wrong"
    assert len(question.explanation["en"]) >= 40, f"{question.id}: the explanation should say why, not only what"


def _signature(question: bank.Question) -> str:
    text = question.prompt["en"] + " " + (question.code or "")
    return " ".join(re.sub(r"[^a-z0-9_.()]+", " ", text.lower()).split())


def test_no_two_questions_ask_the_same_thing():
    signatures = [(q.id, _signature(q)) for q in QUESTIONS]
    duplicates = []
    for index, (first_id, first) in enumerate(signatures):
        for second_id, second in signatures[index + 1:]:
            matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
            if matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO \
                    and matcher.ratio() >= NEAR_DUPLICATE_RATIO:
                duplicates.append((first_id, second_id, round(matcher.ratio(), 2)))
    assert duplicates == []


def test_the_duplicate_check_can_fail():
    question = QUESTIONS[0]
    assert difflib.SequenceMatcher(None, _signature(question), _signature(question) + " ?").ratio() >= \
        NEAR_DUPLICATE_RATIO


# -- every runnable claim, run under the installed torch ---------------------------------------------------

# A question whose blocks need a CUDA GPU (`cuda: true`) runs them only where one is present; elsewhere each of
# its tests is reported skipped with the reason, never passed.
HAS_CUDA = torch.cuda.is_available()
NEEDS_CUDA = pytest.mark.skip(reason="the question's code needs a CUDA GPU; this machine has none")


def cases(questions):
    return [pytest.param(q, marks=NEEDS_CUDA) if q.cuda and not HAS_CUDA else q for q in questions]


# The runnable blocks, as `torchprep bank verify` runs them (quiz/verify.py): one list, the same keys.
SNIPPETS = verify.snippets(QUESTIONS, cuda=HAS_CUDA)
# A proven answer key for bug questions: the code as asked must fail its check, the code with the fix of
# exactly the marked lines must pass it. Moving the marked line, or a fix that mends the wrong thing, fails.
FIXED = [q for q in QUESTIONS if q.type == "bug" and q.fix]
# A proven answer key for choice and multi questions: each choice's claim holds exactly when it is marked
# correct, so moving `correct: true` to another choice fails a test.
CLAIMS = [(q, index, choice) for q in QUESTIONS for index, choice in enumerate(q.choices, 1) if choice.claim]


@pytest.fixture(scope="module")
def outcomes():
    return snippets.run_all(SNIPPETS)


@pytest.mark.parametrize("question", cases([q for q in QUESTIONS if q.type == "output"]), ids=lambda q: q.id)
def test_output_questions_print_their_answer(question, outcomes):
    outcome = outcomes[f"output:{question.id}"]
    assert outcome.ok, f"{question.id}: the code raised\n{outcome.error}"
    printed = "\n".join(line.rstrip() for line in outcome.stdout.strip("\n").splitlines())
    expected = "\n".join(line.rstrip() for line in (question.output or "").strip("\n").splitlines())
    assert printed == expected, f"{question.id} ({Path(question.file).name}:{question.line}) prints something else"


@pytest.mark.parametrize("question", cases([q for q in QUESTIONS if q.verify]), ids=lambda q: q.id)
def test_verify_blocks_hold(question, outcomes):
    outcome = outcomes[f"verify:{question.id}"]
    assert outcome.ok, f"{question.id} ({Path(question.file).name}:{question.line}): verify failed\n{outcome.error}"


@pytest.mark.parametrize("question", cases(FIXED), ids=lambda q: q.id)
def test_bug_questions_fail_as_asked_and_pass_with_the_fix_of_the_marked_lines(question, outcomes):
    where = f"{question.id} ({Path(question.file).name}:{question.line})"
    as_asked, fixed = outcomes[f"bug-as-asked:{question.id}"], outcomes[f"bug-fixed:{question.id}"]
    assert not as_asked.ok, f"{where}: the code as asked passes its check, so the marked lines are not shown wrong"
    assert fixed.ok, f"{where}: the code with the fix of lines {list(question.bug_lines)} fails:\n{fixed.error}"


@pytest.mark.parametrize(("question", "index", "choice"),
                         [pytest.param(*claim, marks=NEEDS_CUDA) if claim[0].cuda and not HAS_CUDA else claim
                          for claim in CLAIMS], ids=lambda value: getattr(value, "id", None) or
                         (str(value) if isinstance(value, int) else ""))
def test_each_choice_claim_holds_exactly_when_the_choice_is_marked_correct(question, index, choice, outcomes):
    outcome = outcomes[f"claim:{question.id}:{index}"]
    where = f"{question.id} ({Path(question.file).name}:{question.line}) choice {index}"
    if choice.correct:
        assert outcome.ok, f"{where} is marked correct but its claim fails:\n{outcome.error}"
    else:
        # Refuted by an assertion about torch's behaviour, not by a typo or a missing import in the claim.
        assert not outcome.ok, f"{where} is marked wrong but its claim holds"
        assert "AssertionError" in outcome.error.strip().splitlines()[-1], \
            f"{where}: a wrong choice's claim must fail by an assert, not by an error:\n{outcome.error}"


def test_snippet_runner_reports_failures():
    results = snippets.run_all({"good": "print(1)", "bad": "assert 1 == 2, 'nope'"})
    assert results["good"] == snippets.Outcome(True, "1\n", "")
    assert not results["bad"].ok and "nope" in results["bad"].error


LENGTH_RATIO_LIMIT = 1.5
LONGEST_SHARE_LIMIT = 0.45  # with four choices chance is 25%; above this, "pick the longest" pays off


def _length_ratio(question: bank.Question) -> float:
    right = max(len(c.text["en"]) for c in question.choices if c.correct)
    wrong = max(len(c.text["en"]) for c in question.choices if not c.correct)
    return right / wrong


def test_the_right_choice_is_not_given_away_by_its_length():
    """A candidate who always picks the longest choice should not do well."""
    choice_questions = [q for q in QUESTIONS if q.type == "choice"]
    too_long = [(q.id, round(_length_ratio(q), 1)) for q in choice_questions
                if _length_ratio(q) > LENGTH_RATIO_LIMIT]
    assert too_long == [], "the correct choice is much longer than every wrong one"
    longest = sum(_length_ratio(q) > 1 for q in choice_questions)
    assert longest <= LONGEST_SHARE_LIMIT * len(choice_questions), \
        f"the correct choice is the longest in {longest} of {len(choice_questions)} choice questions"
    # Trimming right answers must not turn "pick the shortest" into the new trick.
    shortest = sum(min(len(c.text["en"]) for c in q.choices if c.correct)
                   < min(len(c.text["en"]) for c in q.choices if not c.correct) for q in choice_questions)
    assert shortest <= LONGEST_SHARE_LIMIT * len(choice_questions), \
        f"the correct choice is the shortest in {shortest} of {len(choice_questions)} choice questions"


def test_the_bank_records_the_torch_its_claims_were_verified_on():
    """This suite verifies every claim above under the installed torch; the record must name that torch, so
    `torchprep bank verify` can tell a user of another release which release the answers hold for."""
    record = verify.verified_with()
    assert record.get("torch") == verify.base_version(torch.__version__), \
        f"quiz/bank/{verify.RECORD} says {record.get('torch')}; this suite verifies under {torch.__version__}: " \
        "update the record once the suite passes here"
