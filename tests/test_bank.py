"""The bank loader: every class of mistake is reported with file, line, question id and a sentence."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from quiz import bank
from tests.conftest import SAMPLE_BANK

GOOD_QUESTION = """\
  - id: {id}
    type: choice
    difficulty: 2
    prompt: "Which call computes gradients?"
    choices:
      - {{text: "loss.backward()", correct: true}}
      - {{text: "optimizer.step()", correct: false, why: "It uses gradients."}}
    explanation: "backward() runs reverse-mode autodiff."
"""


def write(tmp_path: Path, body: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    _, problems = bank.read_file(path)
    return [str(problem) for problem in problems]


def test_sample_bank_loads_every_type():
    questions, problems = bank.read_file(SAMPLE_BANK)
    assert problems == []
    assert {q.type for q in questions} == set(bank.QUESTION_TYPES)
    output = next(q for q in questions if q.type == "output")
    assert output.output == "3\nTrue"
    bug = next(q for q in questions if q.type == "bug")
    assert bug.bug_lines == (1,)
    choice = next(q for q in questions if q.type == "choice")
    assert choice.prompt == {"en": "Which call computes gradients?", "zh": "哪个调用会计算梯度？"}
    assert choice.choices[2].why == {"en": "zero_grad() clears gradients."}


def test_invalid_yaml_gives_the_line(tmp_path):
    path = write(tmp_path, "format_version: 1\nquestions:\n  - id: a\n    prompt: [unclosed\n")
    assert problems_of(path) == [f"{path}:5: invalid YAML: expected ',' or ']', but got '<stream end>'"] or \
        problems_of(path)[0].startswith(f"{path}:")
    assert "invalid YAML" in problems_of(path)[0]


def test_unknown_key_is_located_and_suggests_the_real_one(tmp_path):
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n"
                 + GOOD_QUESTION.format(id="a-question") + "    explaination: typo\n")
    assert problems_of(path) == [f"{path}:12 [a-question]: unknown field 'explaination': did you mean 'explanation'?"]


def test_wrong_type_and_missing_field(tmp_path):
    path = write(tmp_path, """\
        format_version: 1
        topic: autograd
        questions:
          - id: q-one
            type: choice
            difficulty: hard
            prompt: "P"
            choices:
              - {text: "a", correct: true}
              - {text: "b", correct: false}
    """)
    assert problems_of(path) == [
        f"{path}:6 [q-one]: difficulty must be 1, 2 or 3, not 'hard'",
        f"{path}:4 [q-one]: missing required field 'explanation'",
    ]


def test_all_problems_of_a_file_are_reported_at_once(tmp_path):
    path = write(tmp_path, """\
        format_version: 1
        topic: autograd
        questions:
          - id: Bad_Id
            type: essay
            difficulty: 2
            prompt: "P"
            explanation: "E"
          - id: fine-id
            type: open
            difficulty: 4
            prompt: "P"
            explanation: "E"
            key_points: ["only one"]
            model_answer: "M"
    """)
    found = problems_of(path)
    assert any("[Bad_Id]" in p and "kebab-case" in p for p in found)
    assert any("unknown type 'essay'" in p for p in found)
    assert any(":11 [fine-id]: difficulty must be 1, 2 or 3, not 4" in p for p in found)
    assert any("needs 3 to 7 key points, not 1" in p for p in found)
    assert len(found) == 4


def test_duplicate_id_within_a_file(tmp_path):
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n"
                 + GOOD_QUESTION.format(id="same") + GOOD_QUESTION.format(id="same"))
    assert problems_of(path) == [f"{path}:12 [same]: duplicate id: 'same' is already used at line 4"]


def test_duplicate_id_across_files(tmp_path):
    first = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="shared"),
                  "a.yaml")
    second = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="shared"),
                   "b.yaml")
    questions, problems = bank.read_files([first, second])
    assert [q.file for q in questions] == [str(first)]
    assert [str(p) for p in problems] == [
        f"{second}:4 [shared]: duplicate id: 'shared' is already used in {first}:4 "
        "(ids are unique across every bank: progress is keyed on them)"]


@pytest.mark.parametrize(("correct", "qtype", "message"), [
    ((True, True), "choice", "a 'choice' question needs exactly one correct choice, not 2"),
    ((False, False), "choice", "a 'choice' question needs exactly one correct choice, not 0"),
    ((False, False), "multi", "a 'multi' question needs at least one correct choice"),
])
def test_correct_choice_counts(tmp_path, correct, qtype, message):
    path = write(tmp_path, f"""\
        format_version: 1
        topic: autograd
        questions:
          - id: q
            type: {qtype}
            difficulty: 1
            prompt: "P"
            choices:
              - {{text: "a", correct: {str(correct[0]).lower()}}}
              - {{text: "b", correct: {str(correct[1]).lower()}}}
            explanation: "E"
    """)
    assert problems_of(path) == [f"{path}:9 [q]: {message}"]


def test_bug_lines_outside_the_code(tmp_path):
    path = write(tmp_path, """\
        format_version: 1
        topic: autograd
        questions:
          - id: q
            type: bug
            difficulty: 1
            prompt: "Which line?"
            code: |
              x = 1
              y = 2
            answer: [2, 5]
            explanation: "E"
    """)
    assert problems_of(path) == [f"{path}:11 [q]: bug line(s) [5] are outside the code, which has 2 lines"]


@pytest.mark.parametrize(("spelling", "meant"), [("behavioral", "behavioural"), ("data_loading", "data-loading"),
                                                 ("Autograd", "autograd"), ("optimiser", "optimizers")])
def test_topic_spelling_variants_are_refused_with_the_real_topic(tmp_path, spelling, meant):
    path = write(tmp_path, f"format_version: 1\nquestions:\n{GOOD_QUESTION.format(id='q')}    topic: {spelling}\n")
    assert problems_of(path) == [f"{path}:11 [q]: unknown topic '{spelling}': did you mean '{meant}'?"]


def test_newer_format_version_is_refused_not_misread(tmp_path):
    path = write(tmp_path, "format_version: 2\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="q"))
    assert problems_of(path) == [
        f"{path}:1: written for a newer torchprep (format_version 2; this one reads up to 1): "
        "upgrade torchprep to use this file"]


def test_output_answer_must_be_text_and_code_must_compile(tmp_path):
    path = write(tmp_path, """\
        format_version: 1
        topic: tensors
        questions:
          - id: q
            type: output
            difficulty: 1
            prompt: "What prints?"
            code: |
              print(1 +)
            answer: 3
            explanation: "E"
    """)
    found = problems_of(path)
    assert f"{path}:8 [q]: 'code' is not valid Python (its line 1: invalid syntax)" in found
    assert any(":10 [q]: the answer of an output question must be text" in p for p in found)


def test_text_needs_english(tmp_path):
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n"
                 + GOOD_QUESTION.format(id="q").replace('prompt: "Which call computes gradients?"',
                                                         'prompt: {zh: "哪个？"}'))
    assert problems_of(path) == [f"{path}:7 [q]: 'prompt' needs an 'en' text (other languages are optional)"]


def test_a_broken_user_bank_never_hides_the_builtin_one(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    write(builtin, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="core"), "core.yaml")
    monkeypatch.setattr("quiz.paths.builtin_bank_dir", lambda: builtin)
    broken = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n"
                   + GOOD_QUESTION.format(id="core") + GOOD_QUESTION.format(id="mine"), "broken.yaml")
    good = write(tmp_path, "format_version: 1\ntopic: gpu\nquestions:\n" + GOOD_QUESTION.format(id="extra"),
                 "good.yaml")
    monkeypatch.setenv("TORCHPREP_BANKS", str(good))
    loaded = bank.load([broken])
    assert [q.id for q in loaded.questions] == ["core", "extra"]
    assert loaded.by_id()["core"].file == str(builtin / "core.yaml")
    assert len(loaded.problems) == 1 and "duplicate id: 'core'" in str(loaded.problems[0])


def test_lint_command_exit_codes(cli, tmp_path):
    result = cli("bank", "lint", SAMPLE_BANK)
    assert result.output.strip() == "✓ 5 questions, no problems."
    broken = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n  - id: x\n    type: choice\n")
    result = cli("bank", "lint", broken, expect=1)
    assert f"{broken}:4 [x]: missing required field 'difficulty'" in result.output
    assert "problem(s) in 1 file(s)." in result.output


def test_quiz_with_a_broken_bank_warns_and_still_runs(cli, tmp_path, sample_only):
    broken = write(tmp_path, "format_version: 1\nquestions: {}\n")
    result = cli("quiz", "--bank", broken, "--bank", SAMPLE_BANK, "--type", "bug", "--seed", "1", input="1\n")
    assert "Some of your bank files were left out" in result.output
    assert f"{broken}:2: 'questions' must be a list of questions" in result.output
    assert "✓ Right" in result.output


def test_stats_counts_languages(cli, sample_only):
    stats = bank.stats(bank.Bank(tuple(bank.read_file(SAMPLE_BANK)[0])))
    assert stats.total == 5
    assert stats.by_type == {"choice": 1, "multi": 1, "output": 1, "bug": 1, "open": 1}
    assert stats.language_coverage == {"en": 1.0, "zh": 0.0}
    result = cli("bank", "stats", "--bank", SAMPLE_BANK)
    assert "questions" in result.output and "coverage" in result.output


def test_the_parse_cache_is_used_and_notices_edits(tmp_path, monkeypatch):
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="first"))
    cache = tmp_path / "cache"
    read = bank.cached_reader(cache)
    assert [q.id for q in read(path)[0]] == ["first"]
    assert len(list(cache.glob("*.pickle"))) == 1

    def no_parsing(file):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(bank, "read_file", no_parsing)
    assert [q.id for q in read(path)[0]] == ["first"]
    monkeypatch.undo()
    path.write_text(path.read_text().replace("first", "second-edit"))
    assert [q.id for q in bank.cached_reader(cache)(path)[0]] == ["second-edit"]


def test_folded_chinese_loses_the_spaces_yaml_put_between_characters(tmp_path):
    path = write(tmp_path, """\
        format_version: 1
        topic: autograd
        questions:
          - id: q
            type: open
            difficulty: 1
            prompt:
              en: "Explain autograd."
              zh: >-
                请解释 PyTorch 的自动求导，
                以及 backward() 做了什么。
            key_points: [a, b, c]
            model_answer: "m"
            explanation: "e"
    """)
    question = bank.read_file(path)[0][0]
    assert question.prompt["zh"] == "请解释 PyTorch 的自动求导，以及 backward() 做了什么。"


BUG_QUESTION = """\
    format_version: 1
    topic: tensors
    questions:
      - id: q
        type: bug
        difficulty: 1
        prompt: "Which line?"
        code: |
          def double(x):
              return x * 3
          assert double(2) == 4
        answer: [2]
        explanation: "E"
"""


def test_a_bug_fix_replaces_exactly_the_wrong_lines_keeping_their_indent(tmp_path):
    path = write(tmp_path, BUG_QUESTION + '        fix: {2: "return x * 2"}\n        check: "assert double(3) == 6"\n')
    (question,), problems = bank.read_file(path)
    assert problems == []
    assert question.fix == ((2, "return x * 2"),) and question.check == "assert double(3) == 6"
    assert question.fixed_code() == "def double(x):\n    return x * 2\nassert double(2) == 4\n"


@pytest.mark.parametrize(("extra", "message"), [
    ('        fix: {3: "assert True"}\n', "'fix' must correct exactly the wrong lines [2], not [3]"),
    ('        fix: {2: "return x *"}\n', "the code with its fix is not valid Python (its line 2: invalid syntax)"),
    ('        fix: {2: "return x * 3"}\n', "'fix' changes nothing: each wrong line needs its corrected text"),
    ('        fix: ["return x * 2"]\n', "'fix' maps each wrong line number to its corrected text"),
    ('        check: "assert double(3) == 6"\n', "'check' belongs with a 'fix': give the fix of the wrong lines too"),
    ('        setup: "import math"\n', "'setup' belongs with a 'fix': give the fix of the wrong lines too"),
])
def test_a_bug_fix_of_the_wrong_shape_is_refused_with_its_line(tmp_path, extra, message):
    path = write(tmp_path, BUG_QUESTION + extra)
    found = problems_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:14 [q]: {message}"), found


def test_fix_and_check_belong_to_bug_questions_only(tmp_path):
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="a-q")
                 + '    fix: {1: "x"}\n')
    assert problems_of(path) == [f"{path}:12 [a-q]: 'fix' belongs to bug questions, not to 'choice'"]


def test_a_choice_claim_is_kept_and_must_be_python(tmp_path):
    body = GOOD_QUESTION.format(id="a-q").replace('correct: true}', 'correct: true, claim: "assert 1 + 1 == 2"}')
    body = body.replace('why: "It uses gradients."}', 'why: "It uses gradients.", claim: "assert ("}')
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + body)
    assert problems_of(path) == [f"{path}:10 [a-q]: choice 2: 'claim' is not valid Python (its line 1: '(' was "
                                 "never closed)"]
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + body.replace('"assert ("', '"pass"'))
    (question,), _ = bank.read_file(path)
    assert [choice.claim for choice in question.choices] == ["assert 1 + 1 == 2", "pass"]


def test_a_folded_line_break_between_chinese_characters_leaves_no_space(tmp_path):
    # A folded YAML block (>) turns a line break into a space: "权重相同， 最后一个" and "的 “" in Chinese.
    path = write(tmp_path, "format_version: 1\ntopic: autograd\nquestions:\n" + GOOD_QUESTION.format(id="a-q")
                 .replace('explanation: "backward() runs reverse-mode autodiff."',
                          'explanation:\n      en: "E"\n      zh: >-\n        权重相同，\n        最后一个会触发那个\n'
                          '        “警告”，用 backward() 求梯度。'))
    (question,), problems = bank.read_file(path)
    assert problems == []
    assert question.explanation["zh"] == "权重相同，最后一个会触发那个“警告”，用 backward() 求梯度。"
