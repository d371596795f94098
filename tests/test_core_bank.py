"""The question bank (quiz/bank.py): every problem is found with its line and id, valid files load whole.

The broken files below each hold many mistakes at once; the tests compare the complete list of problems
(line, question id, message), so a problem reported at the wrong line, for the wrong question, or in other
words fails. The valid file uses every field of every type.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from quiz import bank, topics
from quiz.bank import Choice, Question
from quiz.errors import BankError, BankProblem

CASES = {}
CASES["question_level"] = """\
format_version: 1
topic: autograd
questions:
  - just text
  - id: Bad_Id
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{text: a, correct: true}, {text: b}]
  - type: riddle
    id: no-such-type
    difficulty: 2
    prompt: p
    explanation: e
  - id: no-type
    difficulty: 1
    prompt: p
    explanation: e
  - id: missing-bits
    type: open
    topic: null
    key_points: [a, b, c]
    model_answer: m
  - id: bad-difficulty
    type: open
    difficulty: true
    prompt: ""
    explanation: {zh: 只有中文}
    key_points: [a, b, c]
    model_answer: m
    tags: [x, 3]
    hints: "not a list"
    references: ["ftp://x", "https://ok"]
  - id: twice
    id: twice
    type: open
    difficulty: 4
    prompt: p
    explanation: e
    key_points: [a, b]
    model_answer: m
    promt: typo
  - 42
"""
CASES["types"] = """\
format_version: 1
topic: tensors
questions:
  - id: out-wrong
    type: output
    difficulty: 1
    prompt: p
    explanation: e
    code: "print(1"
    answer: 3
    choices: [{text: a}, {text: b}]
    verify: "x ="
    source: 5
    cuda: yes please
  - id: bug-wrong
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\nb = 2\\n"
    answer: [true]
    check: "ok = 1"
    key_points: [a, b, c]
  - id: bug-outside
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\nb = 2\\n"
    answer: [0, 3]
  - id: bug-twice
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\nb = 2\\n"
    answer: [2, 2]
    setup: "s = ("
  - id: open-few
    type: open
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, ""]
  - id: choice-needs
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
"""
CASES["choices"] = """\
format_version: 1
topic: gpu
questions:
  - id: one-choice
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{text: a, correct: true}]
  - id: bad-items
    type: multi
    difficulty: 1
    prompt: p
    explanation: e
    choices:
      - plain
      - {correct: true}
      - {text: "", correct: true}
      - {text: t, correct: "yes", extra: 1, more: 2}
      - {text: t2, why: "", claim: 5}
      - {text: t3, claim: "assert ("}
      - {text: t4, correct: true, why: {en: w, zh: 为什么}, claim: "assert True"}
  - id: no-right
    type: multi
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{text: a}, {text: b}]
  - id: two-right
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{text: a, correct: true}, {text: b, correct: true}]
  - id: not-a-list
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: {text: a}
"""
CASES["texts"] = """\
format_version: 1
topic: gpu
questions:
  - id: texts
    type: open
    difficulty: 1
    prompt: {en: p, EN: q}
    explanation: {en: e, zh: ""}
    model_answer: 7
    key_points: [a, {en: b, zh-Hans: 乙}, c, {fr: d}]
    hints: [h, 3]
"""

QUESTION_LEVEL_PROBLEMS = [
    (4, None, 'each question must be a mapping of fields, not text'),
    (5, 'Bad_Id', "id 'Bad_Id' must be kebab-case: lower-case letters, digits and single hyphens"),
    (11, 'no-such-type', "unknown type 'riddle': use one of choice, multi, output, bug, open"),
    (16, 'no-type', "missing required field 'type'"),
    (22, 'missing-bits', "missing 'topic' (give it here or as the file's default topic)"),
    (20, 'missing-bits', "missing required field 'difficulty' (1 easy, 2 medium, 3 hard)"),
    (20, 'missing-bits', "missing required field 'prompt'"),
    (20, 'missing-bits', "missing required field 'explanation'"),
    (27, 'bad-difficulty', 'difficulty must be 1, 2 or 3, not True'),
    (28, 'bad-difficulty', "'prompt' is empty"),
    (29, 'bad-difficulty', "'explanation' needs an 'en' text (other languages are optional)"),
    (32, 'bad-difficulty', "'tags' must be a list of text items"),
    (33, 'bad-difficulty', "'hints' must be a list, not text"),
    (34, 'bad-difficulty', "reference 'ftp://x' must be a web address (https://...)"),
    (36, 'twice', "field 'id' is given twice"),
    (43, 'twice', "unknown field 'promt': did you mean 'prompt'?"),
    (38, 'twice', 'difficulty must be 1, 2 or 3, not 4'),
    (41, 'twice', 'an open question needs 3 to 7 key points, not 2'),
    (44, None, 'each question must be a mapping of fields, not a number'),
]
TYPES_PROBLEMS = [
    (13, 'out-wrong', "'source' must be text, not a number"),
    (14, 'out-wrong', "'cuda' must be true or false, not text"),
    (12, 'out-wrong', "'verify' is not valid Python (its line 1: invalid syntax)"),
    (9, 'out-wrong', "'code' is not valid Python (its line 1: '(' was never closed)"),
    (11, 'out-wrong', "'choices' belongs to choice/multi questions, not to 'output'"),
    (10, 'out-wrong', 'the answer of an output question must be text (quote it or use a |- block), not a number'),
    (23, 'bug-wrong', "'key_points' belongs to open questions, not to 'bug'"),
    (21, 'bug-wrong', 'the answer of a bug question must be a list of line numbers, e.g. [3] or [2, 5]'),
    (22, 'bug-wrong', "'check' belongs with a 'fix': give the fix of the wrong lines too"),
    (30, 'bug-outside', 'bug line(s) [0, 3] are outside the code, which has 2 lines'),
    (38, 'bug-twice', "'setup' is not valid Python (its line 1: '(' was never closed)"),
    (37, 'bug-twice', 'a bug line is listed twice'),
    (38, 'bug-twice', "'setup' belongs with a 'fix': give the fix of the wrong lines too"),
    (39, 'open-few', "a 'open' question needs 'model_answer'"),
    (44, 'open-few', "'key_points' item 2 is empty"),
    (44, 'open-few', 'an open question needs 3 to 7 key points, not 2'),
    (45, 'choice-needs', "a 'choice' question needs 'choices'"),
]
CHOICES_PROBLEMS = [
    (9, 'one-choice', "'choices' must be a list of at least two choices"),
    (16, 'bad-items', "choice 1 must be a mapping with 'text' and 'correct'"),
    (17, 'bad-items', "choice 2 is missing 'text'"),
    (18, 'bad-items', "choice 3 'text' is empty"),
    (19, 'bad-items', 'choice 4 has unknown field(s) extra, more'),
    (19, 'bad-items', "choice 4: 'correct' must be true or false, not 'yes'"),
    (20, 'bad-items', "choice 5 'why' is empty"),
    (20, 'bad-items', "choice 5: 'claim' must be Python code as text, not a number"),
    (21, 'bad-items', "choice 6: 'claim' is not valid Python (its line 1: '(' was never closed)"),
    (28, 'no-right', "a 'multi' question needs at least one correct choice"),
    (34, 'two-right', "a 'choice' question needs exactly one correct choice, not 2"),
    (40, 'not-a-list', "'choices' must be a list of at least two choices"),
]
TEXTS_PROBLEMS = [
    (7, 'texts', "'prompt' has 'EN', which is not a language code such as en or zh"),
    (8, 'texts', "'explanation' has an empty or non-text 'zh' entry"),
    (9, 'texts', "'model_answer' must be text or a mapping like {en: ..., zh: ...}, not int"),
    (11, 'texts', "'hints' item 2 must be text or a mapping like {en: ..., zh: ...}, not int"),
    (10, 'texts', "'key_points' item 4 needs an 'en' text (other languages are optional)"),
]

VALID = """\
format_version: 1
topic: gpu
questions:
  - id: all-choice
    type: choice
    topic: tensors
    difficulty: 2
    tags: [views, memory]
    prompt: {en: "Which is a view?", zh: "哪个是视图？"}
    choices:
      - text: {en: "x.view(-1)", zh: "x.view(-1)"}
        correct: true
        claim: "assert True"
      - text: "x.clone()"
        why: {en: "It copies.", zh: "它会 复制。"}
    explanation: {en: "view shares storage.", zh: "view 共享 存储。"}
    hints: ["Storage.", {en: "Think.", zh: "想想。"}]
    references: [https://docs.pytorch.org/docs/stable/tensor_view.html]
    source: "own"
    verify: "assert 1"
    cuda: true
  - id: all-bug
    type: bug
    difficulty: 3
    prompt: Which line?
    code: |
      def f(x):
          y = x
          return y + 1
    answer: [2]
    fix: {2: "y = x * 2"}
    check: "assert f(1) == 3"
    setup: "import math"
    explanation: e
  - id: all-output
    type: output
    difficulty: 1
    prompt: p
    code: "print(1)"
    answer: "1"
    explanation: e
    cuda: false
  - id: all-open
    type: open
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, b, c]
    model_answer: {en: m, zh: 模}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def found(path: Path) -> list[tuple]:
    questions, problems = bank.read_file(path)
    assert all(problem.file == str(path) for problem in problems)
    return [(p.line, p.question_id, p.message) for p in problems]


# -- every problem, located --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("question_level", QUESTION_LEVEL_PROBLEMS), ("types", TYPES_PROBLEMS), ("choices", CHOICES_PROBLEMS),
    ("texts", TEXTS_PROBLEMS)])
def test_each_problem_of_a_file_is_reported_at_its_line_for_its_question(tmp_path, name, expected):
    path = write(tmp_path, name, CASES[name])
    assert found(path) == expected
    assert bank.read_file(path)[0] == [], "a file with a problem gives no question"


@pytest.mark.parametrize("text, expected", [
    ("- a\n- b\n", [(1, None, "a bank file must be a mapping with format_version and questions")]),
    ("", [(1, None, "a bank file must be a mapping with format_version and questions")]),
    ("format_version: 1\nquestions: []\nextra: 1\ntopics: x\n",
     [(3, None, "unknown top-level field 'extra': a file has format_version, topic, questions"),
      (4, None, "unknown top-level field 'topics': a file has format_version, topic, questions")]),
    ("questions: []\n", [(1, None, "missing 'format_version' (this torchprep reads format_version 1)")]),
    ("\n\nformat_version: '1'\nquestions: []\n", [(3, None, "format_version must be a whole number, not '1'")]),
    ("format_version: true\nquestions: []\n", [(1, None, "format_version must be a whole number, not True")]),
    ("format_version: 0\nquestions: []\n", [(1, None, "format_version must be a whole number, not 0")]),
    ("\nformat_version: 2\nquestions: []\n", [(2, None, "written for a newer torchprep (format_version 2; this one "
                                                        "reads up to 1): upgrade torchprep to use this file")]),
    ("format_version: 1\ntopic: autograde\nquestions: []\n",
     [(2, None, "unknown topic 'autograde': did you mean 'autograd'?")]),
    ("format_version: 1\n\ntopic: zzzzzz\nquestions: []\n",
     [(3, None, "unknown topic 'zzzzzz': use one of " + ", ".join(topics.TOPIC_SLUGS))]),
    ("format_version: 1\n", [(1, None, "'questions' must be a list of questions")]),
    ("format_version: 1\n\nquestions: {a: 1}\n", [(3, None, "'questions' must be a list of questions")]),
    ("format_version: 1\nquestions:\n  - id: x\n    prompt: [unclosed\n",
     [(5, None, "invalid YAML: did not find expected ',' or ']'")]),
    ("format_version: 1\nquestions:\n\t- x\n",
     [(3, None, "invalid YAML: found character that cannot start any token")]),
])
def test_a_file_level_problem_is_reported_at_its_line(tmp_path, text, expected):
    assert found(write(tmp_path, "file", text)) == expected


def test_a_bad_default_topic_is_reported_once_and_questions_need_their_own(tmp_path):
    text = ("format_version: 1\ntopic: gpus\nquestions:\n"
            "  - {id: q, type: open, difficulty: 1, prompt: p, explanation: e, key_points: [a, b, c],"
            " model_answer: m}\n")
    assert found(write(tmp_path, "t", text)) == [
        (2, None, "unknown topic 'gpus': did you mean 'gpu'?"),
        (4, "q", "missing 'topic' (give it here or as the file's default topic)")]


def test_question_topics_are_checked_with_a_suggestion(tmp_path):
    text = ("format_version: 1\nquestions:\n"
            "  - {id: q, type: open, topic: data_loading, difficulty: 1, prompt: p, explanation: e, "
            "key_points: [a, b, c], model_answer: m}\n"
            "  - {id: r, type: open, topic: 5, difficulty: 1, prompt: p, explanation: e, key_points: [a, b, c], "
            "model_answer: m}\n")
    assert found(write(tmp_path, "t", text)) == [
        (3, "q", "unknown topic 'data_loading': did you mean 'data-loading'?"),
        (4, "r", "unknown topic 5: use one of " + ", ".join(topics.TOPIC_SLUGS))]


def test_a_repeated_id_in_a_file_names_the_first_line(tmp_path):
    one = "{id: same, type: open, difficulty: 1, prompt: p, explanation: e, key_points: [a, b, c], model_answer: m}"
    text = f"format_version: 1\ntopic: gpu\nquestions:\n  - {one}\n  - {one}\n  - {one}\n"
    assert found(write(tmp_path, "d", text)) == [(5, "same", "duplicate id: 'same' is already used at line 4"),
                                                 (6, "same", "duplicate id: 'same' is already used at line 4")]


def test_a_field_given_three_times_is_reported_once(tmp_path):
    text = ("format_version: 1\ntopic: gpu\nquestions:\n  - id: q\n    type: open\n    difficulty: 1\n"
            "    difficulty: 1\n    difficulty: 1\n    prompt: p\n    explanation: e\n    key_points: [a, b, c]\n"
            "    model_answer: m\n")
    assert found(write(tmp_path, "r", text)) == [(7, "q", "field 'difficulty' is given twice")]


def test_an_unknown_field_far_from_any_gets_no_suggestion(tmp_path):
    text = ("format_version: 1\ntopic: gpu\nquestions:\n  - {id: q, type: open, difficulty: 1, prompt: p, "
            "explanation: e, key_points: [a, b, c], model_answer: m, zzz: 1}\n")
    assert found(write(tmp_path, "u", text)) == [(4, "q", "unknown field 'zzz'")]


def test_an_unreadable_file_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"format_version: 1\n\xff\n")
    ((line, qid, message),) = found(path)
    assert (line, qid) == (None, None)
    assert message.startswith("cannot read the file: 'utf-8' codec can't decode byte 0xff")
    ((line, qid, message),) = found(tmp_path / "missing.yaml")
    assert message.startswith("cannot read the file: [Errno 2] No such file or directory")


# -- a valid file, every field ---------------------------------------------------------------------------------------

def test_every_field_of_every_type_is_loaded(tmp_path):
    path = write(tmp_path, "valid", VALID)
    questions, problems = bank.read_file(path)
    assert problems == []
    file = str(path)
    assert questions == [
        Question(id="all-choice", type="choice", topic="tensors", difficulty=2,
                 prompt={"en": "Which is a view?", "zh": "哪个是视图？"},
                 explanation={"en": "view shares storage.", "zh": "view 共享存储。"}, tags=("views", "memory"),
                 choices=(Choice(text={"en": "x.view(-1)", "zh": "x.view(-1)"}, correct=True,
                                 claim="assert True"),
                          Choice(text={"en": "x.clone()"}, correct=False,
                                 why={"en": "It copies.", "zh": "它会复制。"})),
                 hints=({"en": "Storage."}, {"en": "Think.", "zh": "想想。"}),
                 references=("https://docs.pytorch.org/docs/stable/tensor_view.html",), source="own",
                 verify="assert 1", cuda=True, file=file, line=4),
        Question(id="all-bug", type="bug", topic="gpu", difficulty=3, prompt={"en": "Which line?"},
                 explanation={"en": "e"}, code="def f(x):\n    y = x\n    return y + 1\n", bug_lines=(2,),
                 fix=((2, "y = x * 2"),), check="assert f(1) == 3", setup="import math", file=file, line=22),
        Question(id="all-output", type="output", topic="gpu", difficulty=1, prompt={"en": "p"},
                 explanation={"en": "e"}, code="print(1)", output="1", file=file, line=35),
        Question(id="all-open", type="open", topic="gpu", difficulty=1, prompt={"en": "p"}, explanation={"en": "e"},
                 key_points=({"en": "a"}, {"en": "b"}, {"en": "c"}), model_answer={"en": "m", "zh": "模"},
                 file=file, line=43),
    ]
    assert questions[1].fixed_code() == "def f(x):\n    y = x * 2\n    return y + 1\n"
    assert questions[0].fixed_code() is None and questions[2].fixed_code() is None


def test_every_text_of_a_question_is_listed_for_language_coverage(tmp_path):
    questions, _ = bank.read_file(write(tmp_path, "valid", VALID))
    assert list(questions[0].texts()) == [
        {"en": "Which is a view?", "zh": "哪个是视图？"}, {"en": "view shares storage.", "zh": "view 共享存储。"},
        {"en": "x.view(-1)", "zh": "x.view(-1)"}, {"en": "x.clone()"}, {"en": "It copies.", "zh": "它会复制。"},
        {"en": "Storage."}, {"en": "Think.", "zh": "想想。"}]
    assert list(questions[3].texts()) == [{"en": "p"}, {"en": "e"}, {"en": "a"}, {"en": "b"}, {"en": "c"},
                                          {"en": "m", "zh": "模"}]


def test_bug_lines_are_sorted_and_cuda_must_be_exactly_true(tmp_path):
    text = ("format_version: 1\ntopic: gpu\nquestions:\n  - id: b\n    type: bug\n    difficulty: 1\n    prompt: p\n"
            "    explanation: e\n    code: \"a = 1\\nb = 2\\nc = 3\\n\"\n    answer: [3, 1]\n    cuda: false\n")
    (question,), problems = bank.read_file(write(tmp_path, "b", text))
    assert problems == [] and question.bug_lines == (1, 3) and question.cuda is False and question.fix == ()


def test_a_text_mapping_is_tidied_and_a_plain_text_kept_as_written():
    assert bank.parse_text("  text with  spaces \n") == ({"en": "  text with  spaces \n"}, None)
    assert bank.parse_text({"en": "\n  a\n", "zh": "\n中 文\n"}) == ({"en": "  a", "zh": "中文"}, None)
    assert bank.parse_text({"en": "a", "zh-TW": "b", "pt-BR": "c"})[1] is None
    assert bank.parse_text({"en": "a", "english": "b"}) == (None, "has 'english', which is not a language code such "
                                                                  "as en or zh")
    assert bank.parse_text({"en": "a", 3: "b"}) == (None, "has 3, which is not a language code such as en or zh")
    assert bank.parse_text({"en": "a", "zh": 5}) == (None, "has an empty or non-text 'zh' entry")
    assert bank.parse_text({"en": "   "}) == (None, "has an empty or non-text 'en' entry")
    assert bank.parse_text("  ") == (None, "is empty")
    assert bank.parse_text(None) == (None, "must be text or a mapping like {en: ..., zh: ...}, not NoneType")
    assert bank.parse_text([1]) == (None, "must be text or a mapping like {en: ..., zh: ...}, not list")


def test_localize_falls_back_to_english():
    assert bank.localize({"en": "hi", "zh": "你好"}, "zh") == "你好"
    assert bank.localize({"en": "hi", "zh": ""}, "zh") == "hi"
    assert bank.localize({"en": "hi"}, "fr") == "hi"
    assert bank.localize(None, "en") == "" and bank.localize({}, "zh") == ""


# -- fixes of bug questions ---------------------------------------------------------------------------------------

BUG = ("format_version: 1\ntopic: gpu\nquestions:\n  - id: b\n    type: bug\n    difficulty: 1\n    prompt: p\n"
       "    explanation: e\n    code: |\n      def f(x):\n          y = x\n          return y\n      z = f(1)\n"
       "    answer: {answer}\n    fix: {fix}\n")


@pytest.mark.parametrize("answer, fix, message", [
    ("[2]", '{3: "return y"}', "'fix' must correct exactly the wrong lines [2], not [3]"),
    ("[2]", "[1]", "'fix' maps each wrong line number to its corrected text, e.g. {6: \"col = col - col.mean()\"}"),
    ("[2]", "{}", "'fix' maps each wrong line number to its corrected text, e.g. {6: \"col = col - col.mean()\"}"),
    ("[2]", '{true: "y = 2"}', "'fix' maps each wrong line number to its corrected text, e.g. {6: \"col = col - "
                               "col.mean()\"}"),
    ("[2]", "{2: 5}", "'fix' maps each wrong line number to its corrected text, e.g. {6: \"col = col - col.mean()\"}"),
    ("[2]", '{2: "y = x", 4: "z = 0"}', "'fix' must correct exactly the wrong lines [2], not [2, 4] (another line may "
                                        "be given only as the place a wrong line moves to: line 4 does not carry a "
                                        "wrong line whose fix is \"\")"),
    ("[2]", '{2: "", 9: "y = x"}', "'fix' must correct exactly the wrong lines [2], not [2, 9] (another line may be "
                                   "given only as the place a wrong line moves to: line 9 does not carry a wrong "
                                   "line whose fix is \"\")"),
    ("[2]", '{2: "y = (x"}', "the code with its fix is not valid Python (its line 2: '(' was never closed)"),
    ("[2]", '{2: "y = x"}', "'fix' changes nothing: each wrong line needs its corrected text"),
])
def test_a_fix_must_correct_exactly_the_wrong_lines(tmp_path, answer, fix, message):
    assert found(write(tmp_path, "b", BUG.format(answer=answer, fix=fix))) == [(15, "b", message)]


def test_a_wrong_line_may_move_to_a_line_that_carries_it(tmp_path):
    text = BUG.format(answer="[4]", fix='{4: "", 3: "z = f(1)\\nreturn y"}')
    (question,), problems = bank.read_file(write(tmp_path, "b", text))
    assert problems == []
    assert question.fix == ((3, "z = f(1)\nreturn y"), (4, ""))
    assert question.fixed_code() == "def f(x):\n    y = x\n    z = f(1)\n    return y\n"


def test_a_fix_of_lines_outside_the_code_reports_the_lines_first(tmp_path):
    problems = found(write(tmp_path, "b", BUG.format(answer="[9]", fix='{9: "x"}')))
    assert problems[0] == (14, "b", "bug line(s) [9] are outside the code, which has 4 lines")


def test_apply_fix_keeps_the_indent_and_leaves_blank_lines_blank():
    code = "def f():\n    a = 1\n    return a\n"
    assert bank.apply_fix(code, {2: "a = 2\n\nb = 3"}) == "def f():\n    a = 2\n\n    b = 3\n    return a\n"
    assert bank.apply_fix(code, {2: ""}) == "def f():\n    return a\n"
    assert bank.apply_fix("x = 1", {}) == "x = 1\n"


# -- many files ------------------------------------------------------------------------------------------------------

GOOD = ("format_version: 1\ntopic: gpu\nquestions:\n"
        "  - {{id: {id}, type: open, difficulty: 1, prompt: p, explanation: e, "
        "key_points: [a, b, c], model_answer: m}}\n")


def test_reading_many_files_leaves_out_whole_any_file_with_a_problem_or_a_taken_id(tmp_path):
    first = write(tmp_path, "a", GOOD.format(id="one"))
    again = write(tmp_path, "b", GOOD.format(id="one") + "  - {id: two, type: open}\n")
    broken = write(tmp_path, "c", GOOD.format(id="three").replace("difficulty: 1", "difficulty: 9"))
    clash = write(tmp_path, "d", GOOD.format(id="one"))
    fine = write(tmp_path, "e", GOOD.format(id="four"))
    questions, problems = bank.read_files([first, again, broken, clash, tmp_path / "none.yaml", fine])
    assert [q.id for q in questions] == ["one", "four"]
    assert [str(p) for p in problems if p.file == str(clash)] == [
        f"{clash}:4 [one]: duplicate id: 'one' is already used in {first}:4 (ids are unique across every bank: "
        "progress is keyed on them)"]
    assert BankProblem(str(tmp_path / "none.yaml"), None, None, "no such file or folder") in problems
    assert {p.file for p in problems} == {str(again), str(broken), str(clash), str(tmp_path / "none.yaml")}


def test_ids_taken_before_count_and_the_given_mapping_is_not_changed(tmp_path):
    taken_question = bank.read_file(write(tmp_path, "t", GOOD.format(id="x")))[0][0]
    taken = {"x": taken_question}
    questions, problems = bank.read_files([write(tmp_path, "u", GOOD.format(id="x")),
                                           write(tmp_path, "v", GOOD.format(id="y"))], taken)
    assert [q.id for q in questions] == ["y"] and len(problems) == 1
    assert list(taken) == ["x"]


def test_bank_files_are_the_yaml_below_a_folder_sorted(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "notes.txt", "sub/d.YAML"):
        (tmp_path / name).write_text("x")
    (tmp_path / "dir.yaml").mkdir()
    assert bank.bank_files(tmp_path) == [tmp_path / "a.yml", tmp_path / "b.yaml", tmp_path / "sub" / "c.yaml"]
    assert bank.bank_files(tmp_path / "b.yaml") == [tmp_path / "b.yaml"]


def test_user_banks_come_from_the_environment_then_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHPREP_BANKS", os.pathsep.join(["/one", " ", "/two"]))
    assert bank.user_bank_paths([tmp_path]) == [Path("/one"), Path("/two"), tmp_path]
    monkeypatch.delenv("TORCHPREP_BANKS")
    assert bank.user_bank_paths() == []


def test_load_joins_the_builtin_bank_and_the_users_and_reports_broken_user_files(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    write(builtin, "b", GOOD.format(id="built"))
    monkeypatch.setenv("TORCHPREP_BUILTIN_BANK", str(builtin))
    users = tmp_path / "users"
    users.mkdir()
    mine = write(users, "mine", GOOD.format(id="mine"))
    clash = write(users, "clash", GOOD.format(id="built"))
    monkeypatch.setenv("TORCHPREP_BANKS", str(users))
    loaded = bank.load([tmp_path / "gone.yaml"])
    assert [q.id for q in loaded.questions] == ["built", "mine"]
    assert loaded.files == (str(builtin / "b.yaml"), str(clash), str(mine))
    assert [(p.file, p.question_id) for p in loaded.problems] == [(str(clash), "built"),
                                                                  (str(tmp_path / "gone.yaml"), None)]
    assert loaded.by_id() == {q.id: q for q in loaded.questions}
    assert [q.id for q in bank.load(builtin=False).questions] == ["built", "mine"], "no built-in id to clash with"


def test_a_problem_in_the_builtin_bank_is_our_bug_and_raises(tmp_path, monkeypatch):
    write(tmp_path, "b", GOOD.format(id="x").replace("difficulty: 1", "difficulty: 7"))
    monkeypatch.setenv("TORCHPREP_BUILTIN_BANK", str(tmp_path))
    with pytest.raises(BankError) as raised:
        bank.load()
    assert [p.message for p in raised.value.problems] == ["difficulty must be 1, 2 or 3, not 7"]


def test_the_parse_cache_returns_the_same_questions_and_notices_an_edit(tmp_path):
    path = write(tmp_path, "a", GOOD.format(id="one"))
    cache = tmp_path / "cache"
    read = bank.cached_reader(cache)
    first = read(path)
    assert first == bank.read_file(path)
    (entry,) = cache.iterdir()
    assert entry.suffix == ".pickle" and len(entry.stem) == 32
    assert pickle.loads(entry.read_bytes()) == first
    entry.write_bytes(pickle.dumps(([], [BankProblem("x", 1, None, "from the cache")])))
    assert read(path)[1][0].message == "from the cache", "an unchanged file is read from the cache"
    path.write_text(GOOD.format(id="two"))
    os.utime(path, ns=(1, 1))
    assert [q.id for q in read(path)[0]] == ["two"]
    assert len(list(cache.iterdir())) == 2
    assert not list(cache.glob("*.tmp"))


def test_a_broken_cache_entry_or_an_unwritable_cache_only_costs_a_parse(tmp_path):
    path = write(tmp_path, "a", GOOD.format(id="one"))
    cache = tmp_path / "cache"
    bank.cached_reader(cache)(path)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not a pickle")
    assert [q.id for q in bank.cached_reader(cache)(path)[0]] == ["one"]
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    assert [q.id for q in bank.cached_reader(blocked)(path)[0]] == ["one"]
    assert bank.cached_reader(cache)(tmp_path / "missing.yaml")[1][0].message.startswith("cannot read the file")
    assert bank.cached_reader(None) is bank.read_file


def test_lint_checks_targets_against_the_builtin_bank_but_not_against_themselves(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    own = write(builtin, "b", GOOD.format(id="built"))
    monkeypatch.setenv("TORCHPREP_BUILTIN_BANK", str(builtin))
    assert bank.lint() == (1, [])
    assert bank.lint([own]) == (1, []), "a built-in file linted on its own does not clash with itself"
    clash = write(tmp_path, "clash", GOOD.format(id="built"))
    count, problems = bank.lint([clash, tmp_path / "none.yaml"])
    assert count == 0 and [p.file for p in problems] == [str(clash), str(tmp_path / "none.yaml")]
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder, "x", GOOD.format(id="x"))
    write(folder, "y", GOOD.format(id="y"))
    assert bank.lint([folder]) == (2, [])


def test_stats_count_topics_types_difficulties_and_languages(tmp_path):
    questions, _ = bank.read_file(write(tmp_path, "valid", VALID))
    stats = bank.stats(bank.Bank(tuple(questions)))
    assert stats.total == 4
    assert stats.by_topic["tensors"] == 1 and stats.by_topic["gpu"] == 3 and stats.by_topic["autograd"] == 0
    assert list(stats.by_topic) == list(bank.topics.TOPIC_SLUGS)
    assert stats.by_type == {"choice": 1, "multi": 0, "output": 1, "bug": 1, "open": 1}
    assert stats.by_difficulty == {1: 2, 2: 1, 3: 1}
    assert stats.language_coverage == {"en": 1.0, "zh": 0.0}
    assert stats.with_verify == 1
    # The choice question has a verify block and claims, the bug question a fix; only the choice has hints.
    assert (stats.checkable, stats.proven, stats.with_hints) == (2, 2, 1)
    empty = bank.stats(bank.Bank(()))
    assert (empty.total, empty.language_coverage, empty.with_verify, empty.proven) == (0, {}, 0, 0)


def test_code_with_full_width_brackets_in_a_chinese_text_is_refused():
    text, reason = bank.parse_text({"en": "call x.item()", "zh": "调用 x.item（） 会同步"})
    assert text is None and "full-width brackets in its 'zh' text (x.item（）)" in reason
    assert bank.parse_text({"en": "a", "zh": "token（padding）是正文"})[1] is None, "prose parentheses stay"


# -- each problem at the line of its own field ------------------------------------------------------------------------
# Every question below starts with `- !!map` on a line of its own, so a problem reported at its question's line
# instead of its field's (or the other way round) is a different line.

LOCATED = """\
format_version: 1
topic: gpu
questions:
  - !!map
    type: open
    id: null
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, b, c]
    model_answer: m
  - !!map
    type: open
    id: Bad_Two
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, b, c]
    model_answer: m
  - !!map
    type: open
    id: 5
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, b, c]
    model_answer: m
  - !!map
    id: type-null
    difficulty: 1
    type: null
    prompt: p
    explanation: e
  - !!map
    id: type-puzzle
    difficulty: 1
    type: puzzle
    prompt: p
    explanation: e
  - !!map
    id: difficulty-null
    type: open
    difficulty: null
    prompt: p
    explanation: e
    key_points: [a, b, c]
    model_answer: m
  - !!map
    id: typo-block
    type: open
    difficulty: 1
    prompt: p
    explanation: e
    key_points: [a, b, c, d, e, f, g]
    model_answer: m
    references: ["http://example.com/plain-http-is-fine"]
    promt:
      en: typo
  - !!map
    id: output-code-list
    type: output
    difficulty: 1
    prompt: p
    explanation: e
    answer: "1"
    code: [1]
  - !!map
    id: choice-extras
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    code: "x = ("
    choices: [{text: a, correct: true}, {text: b}]
    verify: 3
    source: {a: 1}
    check: "x ="
  - !!map
    id: bug-texts
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\nb = 2\\n"
    answer: [2]
    fix: {2: "b = 3"}
    check: 3
    setup: 4.5
    source: true
  - !!map
    id: bug-check-syntax
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\nb = 2\\n"
    answer: [2]
    fix: {2: "b = 3"}
    check: "assert ("
  - !!map
    id: bug-no-answer
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\n"
  - !!map
    id: bug-empty-answer
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    code: "a = 1\\n"
    answer: []
  - !!map
    id: bug-no-code
    type: bug
    difficulty: 1
    prompt: p
    explanation: e
    answer: [1]
    fix: {1: "", 2: "x = 1"}
  - !!map
    id: choice-no-text
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{correct: false}, {text: b}]
  - !!map
    id: choice-correct-text
    type: choice
    difficulty: 1
    prompt: p
    explanation: e
    choices: [{text: a, correct: "yes"}, {text: b, correct: true}]
"""


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The line (from 1) of the only line holding ``needle`` (after the line holding ``after``, if given)."""
    lines = text.splitlines()
    start = 0 if after is None else next(i for i, line in enumerate(lines) if after in line)
    hits = [i + 1 for i, line in enumerate(lines) if i >= start and needle in line]
    assert hits, needle
    return hits[0] if after is not None else (hits[0] if len(hits) == 1 else pytest.fail(f"{needle!r} twice"))


def test_each_problem_is_reported_at_the_line_of_its_field_not_of_its_question(tmp_path):
    t = LOCATED
    kebab = "must be kebab-case: lower-case letters, digits and single hyphens"
    assert found(write(tmp_path, "located", t)) == [
        (line_of(t, "id: null"), None, "missing required field 'id'"),
        (line_of(t, "id: Bad_Two"), "Bad_Two", f"id 'Bad_Two' {kebab}"),
        (line_of(t, "id: 5"), None, f"id 5 {kebab}"),
        (line_of(t, "type: null"), "type-null", "missing required field 'type'"),
        (line_of(t, "type: puzzle"), "type-puzzle",
         "unknown type 'puzzle': use one of choice, multi, output, bug, open"),
        (line_of(t, "difficulty: null"), "difficulty-null",
         "missing required field 'difficulty' (1 easy, 2 medium, 3 hard)"),
        (line_of(t, "promt:"), "typo-block", "unknown field 'promt': did you mean 'prompt'?"),
        (line_of(t, "code: [1]"), "output-code-list", "'code' must be text, not a list"),
        (line_of(t, "verify: 3"), "choice-extras", "'verify' must be text, not a number"),
        (line_of(t, "source: {a: 1}"), "choice-extras", "'source' must be text, not a mapping"),
        (line_of(t, 'check: "x ="'), "choice-extras", "'check' belongs to bug questions, not to 'choice'"),
        (line_of(t, "source: true"), "bug-texts", "'source' must be text, not true/false"),
        (line_of(t, "check: 3"), "bug-texts", "'check' must be text, not a number"),
        (line_of(t, "setup: 4.5"), "bug-texts", "'setup' must be text, not float"),
        (line_of(t, 'check: "assert ("'), "bug-check-syntax",
         "'check' is not valid Python (its line 1: '(' was never closed)"),
        (line_of(t, "id: bug-no-answer") - 1, "bug-no-answer", "a 'bug' question needs 'answer'"),
        (line_of(t, "answer: []"), "bug-empty-answer",
         "the answer of a bug question must be a list of line numbers, e.g. [3] or [2, 5]"),
        (line_of(t, "id: bug-no-code") - 1, "bug-no-code", "a 'bug' question needs 'code'"),
        (line_of(t, "answer: [1]"), "bug-no-code", "bug line(s) [1] are outside the code, which has 0 lines"),
        (line_of(t, "choices: [{correct: false}"), "choice-no-text", "choice 1 is missing 'text'"),
        (line_of(t, 'choices: [{text: a, correct: "yes"}'), "choice-correct-text",
         "choice 1: 'correct' must be true or false, not 'yes'"),
    ]


def test_a_question_with_seven_key_points_or_a_plain_http_reference_is_valid(tmp_path):
    start = LOCATED.index("  - !!map\n    id: typo-block")
    end = LOCATED.index("  - !!map\n    id: output-code-list")
    block = LOCATED[start:end].replace("    promt:\n      en: typo\n", "")
    text = "format_version: 1\ntopic: gpu\nquestions:\n" + block
    (question,), problems = bank.read_file(write(tmp_path, "seven", text))
    assert problems == [] and len(question.key_points) == 7
    assert question.references == ("http://example.com/plain-http-is-fine",)


@pytest.mark.parametrize("text, expected", [
    ("format_version: 1\nquestions: []\n\nnull: 1\n", [(4, None, "unknown top-level field 'None': a file has "
                                                          "format_version, topic, questions")]),
    ("format_version: 1\nquestions: []\nextra:\n  a: 1\n", [(3, None, "unknown top-level field 'extra': a file has "
                                                               "format_version, topic, questions")]),
    # A field brought in by a merge is found where it is written.
    ("\nformat_version: 1\nquestions: []\n<<: {extra: 1}\n", [(4, None, "unknown top-level field 'extra': a file "
                                                                   "has format_version, topic, questions")]),
    ("format_version: 1\nquestions: []\nb: x\x07y\n", [(3, None, "invalid YAML: character #x0007 is not allowed "
                                                            "in a YAML file")]),
])
def test_keys_yaml_builds_into_other_types_and_bad_characters_are_found_at_their_line(tmp_path, text, expected):
    assert found(write(tmp_path, "file", text)) == expected


@pytest.fixture(params=[True, False], ids=["libyaml", "pure-python"])
def libyaml(request, monkeypatch) -> bool:
    """Each test that takes it runs with libyaml's parser, then with PyYAML's own (libyaml hidden)."""
    import yaml

    if not request.param:
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml here")
    return request.param


def test_a_character_yaml_does_not_allow_is_found_at_its_line_by_either_parser(tmp_path, libyaml):
    path = write(tmp_path, "file", "format_version: 1\nquestions: []\n\nb: x\x1by\n")
    assert found(path) == [(4, None, "invalid YAML: character #x001b is not allowed in a YAML file")]
    # after Chinese text: libyaml counts its place in bytes, three to a character here
    path = write(tmp_path, "file", "format_version: 1\nquestions: []\na: " + "中文" * 40 + "\nb: 1\nc: x\x07y\nd: 2\n")
    assert found(path) == [(5, None, "invalid YAML: character #x0007 is not allowed in a YAML file")]


@pytest.mark.parametrize("text, line, message", [
    ("format_version: 1\ntopic: gpu\nquestions:\n  - id: a-b\n    difficulty: !!int abc\n", 5,
     "invalid YAML: !!int 'abc' cannot be read as its tag says (invalid literal for int() with base 10: 'abc')"),
    ("format_version: 1\nquestions:\n  - id: a-b\n    !!float x: 1\n", 4,
     "invalid YAML: !!float 'x' cannot be read as its tag says (could not convert string to float: 'x')"),
    ("format_version: 1\nquestions: []\nwhen: [2026-01-01, !!timestamp 2026-13-01]\n", 3,
     "invalid YAML: !!timestamp '2026-13-01' cannot be read as its tag says (month must be in 1..12)"),
    # found past a list that holds itself (walked once) and past a merge key (not a value of its own)
    ("format_version: 1\nquestions: []\nloop: &loop [1, *loop, !!int x]\n", 3,
     "invalid YAML: !!int 'x' cannot be read as its tag says (invalid literal for int() with base 10: 'x')"),
    ("format_version: 1\nquestions: []\nbad: !!int x\nloop: &loop [1, *loop]\n", 3,
     "invalid YAML: !!int 'x' cannot be read as its tag says (invalid literal for int() with base 10: 'x')"),
    ("format_version: 1\nquestions: []\n<<: {a: 1}\nbad: !!float y\n", 4,
     "invalid YAML: !!float 'y' cannot be read as its tag says (could not convert string to float: 'y')"),
])
def test_a_value_its_tag_cannot_build_is_a_problem_at_its_line_not_a_traceback(tmp_path, libyaml, text, line,
                                                                                message):
    assert found(write(tmp_path, "tag", text)) == [(line, None, message)]


def test_a_bank_nested_thousands_deep_is_a_problem_not_a_traceback(tmp_path, libyaml):
    path = write(tmp_path, "deep", "format_version: 1\nquestions: " + "[" * 5000 + "]" * 5000 + "\n")
    expected = (2, "invalid YAML: exceeded maximum nesting depth") if libyaml else (
        None, "invalid YAML: nested too deeply to read")
    assert found(path) == [(expected[0], None, expected[1])]


def test_a_build_error_whose_value_cannot_be_found_is_still_a_problem_not_a_traceback(tmp_path, monkeypatch):
    def fails_to_build(source):
        raise KeyError("boom")

    monkeypatch.setattr(bank, "_parse", fails_to_build)
    assert found(write(tmp_path, "e", "format_version: 1\nquestions: []\n")) == [
        (None, None, "invalid YAML: a value cannot be read as its tag says ('boom')")]


def test_a_field_merged_into_a_question_is_checked_and_reported_where_it_is_written(tmp_path):
    text = ("format_version: 1\ntopic: gpu\nbase: &base {difficulty: 1, promt: typo}\nquestions:\n"
            "  - !!map\n    <<: *base\n    id: merged\n    type: open\n    prompt: p\n    explanation: e\n"
            "    key_points: [a, b, c]\n    model_answer: m\n")
    assert found(write(tmp_path, "merge", text)) == [
        (3, None, "unknown top-level field 'base': a file has format_version, topic, questions"),
        (3, "merged", "unknown field 'promt': did you mean 'prompt'?")]


def test_a_yaml_error_without_a_problem_position_is_reported_at_its_context(tmp_path, monkeypatch):
    import yaml

    mark = yaml.Mark("x", 0, 6, 0, None, None)

    def context_only(source):
        raise yaml.MarkedYAMLError(context="while scanning", context_mark=mark)

    monkeypatch.setattr(bank, "_parse", context_only)
    ((line, qid, message),) = found(write(tmp_path, "e", "format_version: 1\n"))
    assert (line, qid) == (7, None) and message.startswith("invalid YAML: while scanning")

    def no_position(source):
        raise yaml.YAMLError("something went wrong")

    monkeypatch.setattr(bank, "_parse", no_position)
    assert found(write(tmp_path, "e", "format_version: 1\n")) == [(None, None, "invalid YAML: something went wrong")]


def test_without_libyaml_the_pure_python_parser_reads_the_same_bank(tmp_path, monkeypatch):
    import yaml

    path = write(tmp_path, "valid", VALID)
    with_libyaml = bank.read_file(path)
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert bank.read_file(path) == with_libyaml and len(with_libyaml[0]) == 4


def test_a_wrong_line_may_move_to_the_first_or_the_last_line(tmp_path):
    to_first = BUG.format(answer="[4]", fix='{4: "", 1: "z = 0\\ndef f(x):"}')
    assert found(write(tmp_path, "b", to_first)) == [(15, "b", "'fix' must correct exactly the wrong lines [4], not "
                                                                "[1, 4] (another line may be given only as the place a "
                                                                "wrong line moves to: line 1 does not carry a wrong "
                                                                "line whose fix is \"\")")]
    carried = BUG.format(answer="[4]", fix='{4: "", 1: "def g():\\n    pass\\nz = f(1)\\ndef f(x):"}')
    (question,), problems = bank.read_file(write(tmp_path, "b", carried))
    assert problems == [] and question.fix[0][0] == 1
    to_last = BUG.format(answer="[2]", fix='{2: "", 4: "y = x\\nz = f(1)"}')
    (question,), problems = bank.read_file(write(tmp_path, "b", to_last))
    assert problems == [] and question.fix == ((2, ""), (4, "y = x\nz = f(1)"))


@pytest.mark.parametrize("answer, fix", [
    ("[2]", '{2: "y = x   "}'),  # spaces at the end of the line
    ("[4]", '{4: "z = f(1)\\n\\n"}'),  # blank lines after the last line
])
def test_a_fix_that_changes_only_spaces_at_line_ends_or_blank_lines_at_the_end_changes_nothing(tmp_path, answer, fix):
    assert found(write(tmp_path, "b", BUG.format(answer=answer, fix=fix))) == [
        (15, "b", "'fix' changes nothing: each wrong line needs its corrected text")]


def test_a_text_loses_only_its_surrounding_line_breaks():
    assert bank.parse_text({"en": "\nX marks the spot X\n"}) == ({"en": "X marks the spot X"}, None)


def test_a_full_width_call_in_chinese_says_exactly_what_to_write():
    assert bank.parse_text({"en": "x.item()", "zh": "调用 x.item（）"})[1] == (
        "writes code with full-width brackets in its 'zh' text (x.item（）): code stays ASCII, ()")


def test_load_remembers_every_file_it_parses_in_the_cache_and_reads_it_from_there(tmp_path, monkeypatch):
    user = write(tmp_path, "user", GOOD.format(id="user-one"))
    cache = tmp_path / "cache"
    first = bank.load([user], cache_dir=cache)
    assert len(list(cache.glob("*.pickle"))) == len(bank.bank_files(bank.paths.builtin_bank_dir())) + 1

    def no_parsing(path):
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(bank, "read_file", no_parsing)
    assert bank.load([user], cache_dir=cache).questions == first.questions


def test_stats_count_a_key_proven_by_a_verify_block_alone_and_not_a_key_without_proof(tmp_path):
    questions, _ = bank.read_file(write(tmp_path, "valid", VALID))
    choice = questions[0]
    verify_only = Question(**{**choice.__dict__, "id": "v", "choices": tuple(
        Choice(text=c.text, correct=c.correct) for c in choice.choices)})
    also_verify_only = Question(**{**verify_only.__dict__, "id": "w"})
    unproven = Question(**{**verify_only.__dict__, "id": "u", "verify": None})
    stats = bank.stats(bank.Bank((verify_only, also_verify_only, unproven)))
    assert (stats.checkable, stats.proven) == (3, 2)


def test_a_suggestion_is_made_only_for_a_near_miss():
    assert bank._closest("model", bank.QUESTION_KEYS) is None, "two-thirds alike ('code') is no near miss"
    assert bank._closest("modelans", bank.QUESTION_KEYS) == "model_answer"


def test_a_named_pipe_or_a_device_given_as_a_bank_is_refused_without_waiting_for_it(tmp_path):
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)  # opening it to read would wait for a writer forever
    assert found(pipe) == [(None, None, "a named pipe, not a file: a question bank is a file of text")]
    assert found(Path("/dev/zero")) == [(None, None, "a device, not a file: a question bank is a file of text")]


def test_a_file_too_large_to_be_a_bank_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(bank, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    path = write(tmp_path, "big", "format_version: 1\nquestions: []\n" + "# " + "x" * (2 * 1024 * 1024) + "\n")
    assert found(path) == [(None, None, "too large for a question bank (over 2 MiB)")]
    monkeypatch.setattr(bank, "MAX_FILE_BYTES", path.stat().st_size)
    assert found(path) == []


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_a_bank_written_with_other_line_ends_reads_as_the_same_questions_at_the_same_lines(tmp_path, newline):
    unix = write(tmp_path, "unix", VALID)
    other = tmp_path / "other.yaml"
    other.write_bytes(VALID.replace("\n", newline).encode())
    (questions, problems), (expected, expected_problems) = bank.read_file(other), bank.read_file(unix)
    assert problems == expected_problems == []
    assert [(q.line, q.code, q.prompt) for q in questions] == [(q.line, q.code, q.prompt) for q in expected]
