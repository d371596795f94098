"""The question bank: YAML files in, validated frozen Question objects out.

Every problem is reported with its file, line and question id, all of a file's problems at once, so an
author fixes a file in one pass. The built-in bank ships with the package; users add files or folders with
``--bank`` and ``TORCHPREP_BANKS``. A broken user file is left out whole and reported; it never hides or
changes a built-in question.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from quiz import __version__, paths, pickled, topics, userfile
from quiz.errors import BankError, BankProblem

if TYPE_CHECKING:
    import yaml
# PyYAML itself is imported where a file is parsed: a quiz whose bank comes from the parse cache never needs it.

SUPPORTED_FORMAT = 1
QUESTION_TYPES = ("choice", "multi", "output", "bug", "open")
FILE_KEYS = {"format_version", "topic", "questions"}
QUESTION_KEYS = {
    "id", "type", "topic", "difficulty", "tags", "prompt", "code", "choices", "answer", "key_points",
    "model_answer", "explanation", "hints", "references", "source", "verify", "fix", "check", "setup",
    "cuda",
}
CHOICE_KEYS = {"text", "correct", "why", "claim"}
# Fields that only make sense for some types; anywhere else they are a mistake, not a harmless extra.
TYPE_ONLY = {"choices": {"choice", "multi"}, "answer": {"output", "bug"},
             "key_points": {"open"}, "model_answer": {"open"}, "fix": {"bug"}, "check": {"bug"}, "setup": {"bug"}}
TYPE_REQUIRES = {"choice": ("choices",), "multi": ("choices",), "output": ("code", "answer"),
                 "bug": ("code", "answer"), "open": ("key_points", "model_answer")}
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANG_PATTERN = re.compile(r"^[a-z]{2}(?:-[A-Za-z]{2,4})?$")
KEY_POINTS_RANGE = (3, 7)

Text = Mapping[str, str]  # language code -> text; "en" always present


def localize(text: Text | None, lang: str) -> str:
    """The text in ``lang``, falling back to English for a text not translated yet."""
    if not text:
        return ""
    return text.get(lang) or text["en"]


@dataclass(frozen=True)
class Choice:
    text: Text
    correct: bool
    why: Text | None = None
    claim: str | None = None  # Python asserting what the choice says: must pass when correct, fail when not


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    topic: str
    difficulty: int
    prompt: Text
    explanation: Text
    tags: tuple[str, ...] = ()
    code: str | None = None
    choices: tuple[Choice, ...] = ()
    output: str | None = None  # the exact printed output, for `output` questions
    bug_lines: tuple[int, ...] = ()  # the wrong lines of `code`, for `bug` questions
    key_points: tuple[Text, ...] = ()
    model_answer: Text | None = None
    hints: tuple[Text, ...] = ()
    references: tuple[str, ...] = ()
    source: str | None = None
    verify: str | None = None
    fix: tuple[tuple[int, str], ...] = ()  # bug questions: (line, its corrected text), one per wrong line
    check: str | None = None  # bug questions: Python run after the code; fails on the bug, passes once fixed
    setup: str | None = None  # bug questions: Python run before the code (what the snippet takes as given)
    cuda: bool = False  # its runnable blocks need a CUDA GPU: the suite runs them only where there is one
    file: str = ""
    line: int = 0

    def fixed_code(self) -> str | None:
        """``code`` with each wrong line replaced by its fix, indented as the line it replaces."""
        if not self.code or not self.fix:
            return None
        return apply_fix(self.code, dict(self.fix))

    def texts(self) -> Iterable[Text]:
        """Every translatable text of the question, for language coverage."""
        yield self.prompt
        yield self.explanation
        for choice in self.choices:
            yield choice.text
            if choice.why:
                yield choice.why
        yield from self.key_points
        if self.model_answer:
            yield self.model_answer
        yield from self.hints


def apply_fix(code: str, fix: Mapping[int, str]) -> str:
    lines = code.splitlines()
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        if number not in fix:
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        out += [indent + part if part.strip() else "" for part in fix[number].splitlines()]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Bank:
    questions: tuple[Question, ...]
    problems: tuple[BankProblem, ...] = ()  # from user files that were left out
    files: tuple[str, ...] = field(default=())

    def by_id(self) -> dict[str, Question]:
        return {question.id: question for question in self.questions}


# ---------------------------------------------------------------------------------------------------------
# Reading one file


class _FileChecker:
    """Validates one parsed file against the format, collecting problems with their lines."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[BankProblem] = []

    def problem(self, line: int | None, question_id: str | None, message: str) -> None:
        self.problems.append(BankProblem(self.file, line, question_id, message))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping_nodes(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """key -> (key node, value node) for a mapping node; the first of a repeated key wins for lines.

    Keys as the loaded data has them, as text: `null:` is None there, `yes:` True and `0x1:` 1, so their
    lines are found under "None", "True" and "1" (a key YAML cannot build, such as a merge, as written)."""
    import yaml

    constructor = yaml.constructor.SafeConstructor()
    result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            try:
                key = str(constructor.construct_object(key_node, deep=True))
            except yaml.YAMLError:
                key = str(key_node.value)
            result.setdefault(key, (key_node, value_node))
    return result


def _repeated_keys(node: yaml.Node) -> list[tuple[str, int | None]]:
    import yaml

    seen: Counter[str] = Counter()
    repeats = []
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            seen[str(key_node.value)] += 1
            if seen[str(key_node.value)] == 2:
                repeats.append((str(key_node.value), _line(key_node)))
    return repeats


# A folded YAML block (`zh: >-`) turns each line break into a space; between two Chinese characters that
# space is a typo the author never wrote. Spaces between CJK characters or punctuation are dropped.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u201c\u201d\u2018\u2019"  # and curly quotes
@functools.cache
def _space_between_cjk() -> re.Pattern:
    # Compiled on first use: its character classes cost milliseconds a quiz from the cache never needs.
    return re.compile(f"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")


# `x.item（）` in a Chinese text: an input method's full-width brackets inside code, which then cannot be copied.
_FULL_WIDTH_CALL = re.compile(r"[A-Za-z_][\w.]*（）")


def _tidy(text: str) -> str:
    return _space_between_cjk().sub("", text.strip("\n"))


def parse_text(value: object) -> tuple[Text | None, str | None]:
    """A text field as a language mapping, or the reason it is not one."""
    if isinstance(value, str):
        return ({"en": value} if value.strip() else None), ("is empty" if not value.strip() else None)
    if isinstance(value, Mapping):
        if "en" not in value:
            return None, "needs an 'en' text (other languages are optional)"
        for lang, text in value.items():
            if not isinstance(lang, str) or not LANG_PATTERN.match(lang):
                return None, f"has {lang!r}, which is not a language code such as en or zh"
            if not isinstance(text, str) or not text.strip():
                return None, f"has an empty or non-text {lang!r} entry"
            call = _FULL_WIDTH_CALL.search(text)
            if call:
                return None, f"writes code with full-width brackets in its {lang!r} text ({call.group(0)}): code " \
                             "stays ASCII, ()"
        return {str(lang): _tidy(str(text)) for lang, text in value.items()}, None
    return None, f"must be text or a mapping like {{en: ..., zh: ...}}, not {type(value).__name__}"


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def _check_question(
    raw: object, node: yaml.Node, default_topic: str | None, checker: _FileChecker
) -> Question | None:
    line = _line(node)
    if not isinstance(raw, dict):
        checker.problem(line, None, f"each question must be a mapping of fields, not {_type_name(raw)}")
        return None
    nodes = _mapping_nodes(node)
    raw_id = raw.get("id")
    qid = raw_id if isinstance(raw_id, str) else None
    before = len(checker.problems)

    def at(key: str) -> int | None:
        return _line(nodes[key][1]) if key in nodes else line

    def bad(key: str, message: str) -> None:
        checker.problem(at(key), qid, message)

    def missing(message: str) -> None:  # a field that is not there is reported at its question's first line
        checker.problem(line, qid, message)

    for key, key_line in _repeated_keys(node):
        checker.problem(key_line, qid, f"field '{key}' is given twice")
    for key in raw:
        if key not in QUESTION_KEYS:
            hint = _closest(str(key), QUESTION_KEYS)
            checker.problem(_line(nodes[str(key)][0]), qid,
                            f"unknown field '{key}'" + (f": did you mean '{hint}'?" if hint else ""))

    if raw_id is None:
        bad("id", "missing required field 'id'")
    elif not isinstance(raw_id, str) or not ID_PATTERN.match(raw_id):
        bad("id", f"id {raw_id!r} must be kebab-case: lower-case letters, digits and single hyphens")

    qtype = raw.get("type")
    if qtype is None:
        bad("type", "missing required field 'type'")
    elif qtype not in QUESTION_TYPES:
        bad("type", f"unknown type {qtype!r}: use one of {', '.join(QUESTION_TYPES)}")
        qtype = None

    topic = raw.get("topic", default_topic)
    if topic is None:
        bad("topic", "missing 'topic' (give it here or as the file's default topic)")
    elif not isinstance(topic, str) or topic not in topics.TOPIC_SLUGS:
        guess = topics.closest(str(topic))
        suggestion = f": did you mean '{guess}'?" if guess else f": use one of {', '.join(topics.TOPIC_SLUGS)}"
        bad("topic", f"unknown topic {topic!r}{suggestion}")

    difficulty = raw.get("difficulty")
    if difficulty is None:
        bad("difficulty", "missing required field 'difficulty' (1 easy, 2 medium, 3 hard)")
    elif isinstance(difficulty, bool) or difficulty not in (1, 2, 3):
        bad("difficulty", f"difficulty must be 1, 2 or 3, not {difficulty!r}")

    texts: dict[str, Text | None] = {}
    for key in ("prompt", "explanation", "model_answer"):
        if key in raw:
            texts[key], why = parse_text(raw[key])
            if why:
                bad(key, f"'{key}' {why}")
    for key in ("prompt", "explanation"):
        if key not in raw:
            missing(f"missing required field '{key}'")

    def text_list(key: str) -> tuple[Text, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            bad(key, f"'{key}' must be a list, not {_type_name(value)}")
            return ()
        result = []
        for index, item in enumerate(value, 1):
            text, why = parse_text(item)
            if why:
                bad(key, f"'{key}' item {index} {why}")
            elif text:
                result.append(text)
        return tuple(result)

    def str_list(key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            bad(key, f"'{key}' must be a list of text items")
            return ()
        return tuple(value)

    tags = str_list("tags")
    hints = text_list("hints")
    references = str_list("references")
    for reference in references:
        if not reference.startswith(("https://", "http://")):
            bad("references", f"reference {reference!r} must be a web address (https://...)")

    for key in ("code", "verify", "source", "check", "setup"):
        if key in raw and not isinstance(raw[key], str):
            bad(key, f"'{key}' must be text, not {_type_name(raw[key])}")
    if "cuda" in raw and not isinstance(raw["cuda"], bool):
        bad("cuda", f"'cuda' must be true or false, not {_type_name(raw['cuda'])}")
    code = raw.get("code") if isinstance(raw.get("code"), str) else None
    verify = raw.get("verify") if isinstance(raw.get("verify"), str) else None
    check = raw.get("check") if isinstance(raw.get("check"), str) and qtype == "bug" else None
    setup = raw.get("setup") if isinstance(raw.get("setup"), str) and qtype == "bug" else None
    for key, source in (("verify", verify), ("code", code if qtype == "output" else None), ("check", check),
                        ("setup", setup)):
        if source is not None:
            try:
                compile(source, f"<{key}>", "exec")
            except SyntaxError as error:
                bad(key, f"'{key}' is not valid Python (its line {error.lineno}: {error.msg})")

    if qtype:
        for key, allowed in TYPE_ONLY.items():
            if key in raw and qtype not in allowed:
                bad(key, f"'{key}' belongs to {'/'.join(sorted(allowed))} questions, not to '{qtype}'")
        for key in TYPE_REQUIRES[qtype]:
            if key not in raw:
                missing(f"a '{qtype}' question needs '{key}'")

    choices: tuple[Choice, ...] = ()
    if qtype in ("choice", "multi") and "choices" in raw:
        choices = _check_choices(raw, qtype, bad, nodes,
                                 lambda at_line, message: checker.problem(at_line, qid, message))

    output: str | None = None
    bug_lines: tuple[int, ...] = ()
    answer = raw.get("answer")
    if qtype == "output" and "answer" in raw:
        if not isinstance(answer, str):
            bad("answer", f"the answer of an output question must be text (quote it or use a |- block), "
                          f"not {_type_name(answer)}")
        else:
            output = answer
    elif qtype == "bug" and "answer" in raw:
        if not isinstance(answer, list) or not answer or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in answer
        ):
            bad("answer", "the answer of a bug question must be a list of line numbers, e.g. [3] or [2, 5]")
        else:
            count = len(code.splitlines()) if code else 0
            outside = [n for n in answer if not 1 <= n <= count]
            if outside:
                bad("answer", f"bug line(s) {outside} are outside the code, which has {count} lines")
            elif len(set(answer)) != len(answer):
                bad("answer", "a bug line is listed twice")
            else:
                bug_lines = tuple(sorted(answer))
    fix: tuple[tuple[int, str], ...] = ()
    if qtype == "bug" and "fix" in raw:
        fix = _check_fix(raw["fix"], bug_lines, code, bad)
    elif qtype == "bug":
        for key in ("check", "setup"):
            if key in raw:
                bad(key, f"'{key}' belongs with a 'fix': give the fix of the wrong lines too")

    key_points: tuple[Text, ...] = ()
    if qtype == "open" and "key_points" in raw:
        key_points = text_list("key_points")
        low, high = KEY_POINTS_RANGE
        if isinstance(raw["key_points"], list) and not low <= len(raw["key_points"]) <= high:
            bad("key_points", f"an open question needs {low} to {high} key points, not {len(raw['key_points'])}")

    if len(checker.problems) > before or qid is None or qtype is None:
        return None
    return Question(
        id=qid, type=qtype, topic=topic, difficulty=difficulty, prompt=texts["prompt"],
        explanation=texts["explanation"], tags=tags, code=code, choices=choices, output=output,
        bug_lines=bug_lines, key_points=key_points, model_answer=texts.get("model_answer"), hints=hints,
        references=references, source=raw.get("source"), verify=verify, fix=fix, check=check, setup=setup,
        cuda=raw.get("cuda") is True,
        file=checker.file,
        line=line,
    )


def _check_fix(value, bug_lines: tuple[int, ...], code: str | None, bad) -> tuple[tuple[int, str], ...]:
    """A fix corrects exactly the wrong lines, each with its corrected text, and the fixed code compiles.

    One exception, for a wrong line that is only in the wrong place: its fix is "" (the line goes) and the
    line it moves to is given too, rewritten to carry it. Any other line of the fix must be such a destination,
    so moving the marked line to an innocent one still breaks the key.
    """
    if not isinstance(value, dict) or not value or not all(
            isinstance(k, int) and not isinstance(k, bool) and isinstance(v, str) for k, v in value.items()):
        bad("fix", "'fix' maps each wrong line number to its corrected text, e.g. {6: \"col = col - col.mean()\"}")
        return ()
    if bug_lines and not set(bug_lines) <= set(value):
        bad("fix", f"'fix' must correct exactly the wrong lines {list(bug_lines)}, not {sorted(value)}")
        return ()
    extra = sorted(set(value) - set(bug_lines))
    if extra and code is not None:
        lines = code.splitlines()
        moved = [lines[n - 1].strip() for n in bug_lines if n <= len(lines) and not value[n].strip()]
        for number in extra:
            carried = 1 <= number <= len(lines) and any(
                text in [part.strip() for part in value[number].splitlines()] for text in moved)
            if not carried:
                bad("fix", f"'fix' must correct exactly the wrong lines {list(bug_lines)}, not {sorted(value)} "
                           f"(another line may be given only as the place a wrong line moves to: line {number} "
                           "does not carry a wrong line whose fix is \"\")")
                return ()
    if code is None or not bug_lines:
        return ()
    fixed = apply_fix(code, value)
    try:
        compile(fixed, "<fixed code>", "exec")
    except SyntaxError as error:
        bad("fix", f"the code with its fix is not valid Python (its line {error.lineno}: {error.msg})")
        return ()
    if _code_lines(fixed) == _code_lines(code):
        bad("fix", "'fix' changes nothing: each wrong line needs its corrected text")
        return ()
    return tuple(sorted(value.items()))


def _code_lines(code: str) -> list[str]:
    """The lines of code as they count: spaces at the end of a line and blank lines at the end do not."""
    lines = [line.rstrip() for line in code.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _check_choices(raw: dict, qtype: str, bad, nodes, problem_at) -> tuple[Choice, ...]:
    value = raw["choices"]
    if not isinstance(value, list) or len(value) < 2:
        bad("choices", "'choices' must be a list of at least two choices")
        return ()
    item_nodes = nodes["choices"][1].value  # a list's node is a sequence node, an alias resolved to it
    choices = []
    for index, (item, node) in enumerate(zip(value, item_nodes, strict=False), 1):
        line = _line(node)
        where = f"choice {index}"
        if not isinstance(item, dict):
            problem_at(line, f"{where} must be a mapping with 'text' and 'correct'")
            continue
        unknown = set(item) - CHOICE_KEYS
        if unknown:
            problem_at(line, f"{where} has unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        text, text_problem = parse_text(item.get("text"))
        if "text" not in item:
            problem_at(line, f"{where} is missing 'text'")
        elif text_problem:
            problem_at(line, f"{where} 'text' {text_problem}")
        correct = item.get("correct", False)  # only the right choices need saying so
        if not isinstance(correct, bool):
            problem_at(line, f"{where}: 'correct' must be true or false, not {correct!r}")
        why = None
        if "why" in item:
            why, why_problem = parse_text(item["why"])
            if why_problem:
                problem_at(line, f"{where} 'why' {why_problem}")
        claim = item.get("claim")
        if claim is not None:
            if not isinstance(claim, str):
                problem_at(line, f"{where}: 'claim' must be Python code as text, not {_type_name(claim)}")
                claim = None
            else:
                try:
                    compile(claim, f"<claim of {where}>", "exec")
                except SyntaxError as error:
                    problem_at(line, f"{where}: 'claim' is not valid Python (its line {error.lineno}: {error.msg})")
                    claim = None
        if text and isinstance(correct, bool):
            choices.append(Choice(text=text, correct=correct, why=why, claim=claim))
    if len(choices) == len(value):
        right = sum(choice.correct for choice in choices)
        if qtype == "choice" and right != 1:
            bad("choices", f"a 'choice' question needs exactly one correct choice, not {right}")
        if qtype == "multi" and right == 0:
            bad("choices", "a 'multi' question needs at least one correct choice")
    return tuple(choices)


def _closest(name: str, options: Iterable[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, list(options), n=1, cutoff=0.7)
    return matches[0] if matches else None


# libyaml's parser when PyYAML was built with it: an order of magnitude faster than the pure-Python one,
# which matters because every quiz, topics and report command reads the whole bank.
def _loader(source: str):
    """libyaml's safe loader where PyYAML was built with it (about ten times faster), else PyYAML's own."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)(source)


def _parse(source: str) -> tuple[yaml.Node | None, object]:
    """The node tree (for line numbers) and the data built from it, from a single parse."""
    loader = _loader(source)
    try:
        document = loader.get_single_node()
        return document, (loader.construct_document(document) if document is not None else None)
    finally:
        loader.dispose()


MAX_FILE_BYTES = 16 * 2**20  # the largest built-in file is about 200 KB


def _unbuildable_scalar(source: str) -> yaml.Node | None:
    """The first scalar (in file order) that YAML parses but cannot build, such as `!!int abc`, for its line."""
    import yaml

    loader = _loader(source)
    try:
        document = loader.get_single_node()
    finally:
        loader.dispose()
    scalars: list[yaml.ScalarNode] = []
    pending, seen = [document], set()
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            scalars.append(node)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
    for node in sorted(scalars, key=lambda n: (n.start_mark.line, n.start_mark.column)):
        try:
            yaml.constructor.SafeConstructor().construct_object(node)
        except yaml.YAMLError:
            continue
        except Exception:  # noqa: BLE001 - what the whole document's construction raised
            return node
    return None


def read_file(path: Path) -> tuple[list[Question], list[BankProblem]]:
    """The valid questions of one file and every problem found in it."""
    file = str(path)
    checker = _FileChecker(file)
    try:
        source = userfile.read_text(path, MAX_FILE_BYTES, "a question bank")
    except userfile.NotAFileError as error:
        checker.problem(None, None, str(error))
        return [], checker.problems
    except (OSError, UnicodeDecodeError) as error:
        checker.problem(None, None, f"cannot read the file: {error}")
        return [], checker.problems
    import yaml

    try:
        document, data = _parse(source)
    except yaml.reader.ReaderError as error:  # a character YAML does not allow: found again here, for its line
        # (libyaml gives its place in bytes of UTF-8, PyYAML's own reader in characters)
        found = yaml.reader.Reader.NON_PRINTABLE.search(source)
        character = ord(found.group()) if found else error.character
        checker.problem(source[:found.start()].count("\n") + 1 if found else None, None,
                        f"invalid YAML: character #x{character:04x} is not allowed in a YAML file")
        return [], checker.problems
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        checker.problem(mark.line + 1 if mark else None, None, f"invalid YAML: {reason}")
        return [], checker.problems
    except RecursionError:  # PyYAML's own parser, without libyaml, nests by recursion
        checker.problem(None, None, "invalid YAML: nested too deeply to read")
        return [], checker.problems
    except Exception as error:  # noqa: BLE001 - a tag PyYAML cannot build (`!!int abc` raises ValueError, `!!int ''` IndexError)
        node = _unbuildable_scalar(source)
        where = f"!!{node.tag.removeprefix('tag:yaml.org,2002:')} {node.value!r}" if node is not None else "a value"
        checker.problem(_line(node) if node is not None else None, None,
                        f"invalid YAML: {where} cannot be read as its tag says ({error})")
        return [], checker.problems
    if not isinstance(data, dict) or document is None:
        checker.problem(1, None, "a bank file must be a mapping with format_version and questions")
        return [], checker.problems
    nodes = _mapping_nodes(document)
    for key in data:
        if key not in FILE_KEYS:
            checker.problem(_line(nodes[str(key)][0]), None,
                            f"unknown top-level field '{key}': a file has format_version, topic, questions")
    version = data.get("format_version")
    if version is None:
        checker.problem(1, None, f"missing 'format_version' (this torchprep reads format_version {SUPPORTED_FORMAT})")
        return [], checker.problems
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        checker.problem(_line(nodes["format_version"][1]), None,
                        f"format_version must be a whole number, not {version!r}")
        return [], checker.problems
    if version > SUPPORTED_FORMAT:
        checker.problem(_line(nodes["format_version"][1]), None,
                        f"written for a newer torchprep (format_version {version}; this one reads up to "
                        f"{SUPPORTED_FORMAT}): upgrade torchprep to use this file")
        return [], checker.problems
    default_topic = data.get("topic")
    if default_topic is not None and default_topic not in topics.TOPIC_SLUGS:
        guess = topics.closest(str(default_topic))
        checker.problem(_line(nodes["topic"][1]), None, f"unknown topic {default_topic!r}"
                        + (f": did you mean '{guess}'?" if guess else f": use one of {', '.join(topics.TOPIC_SLUGS)}"))
        default_topic = None
    questions_raw = data.get("questions")
    if not isinstance(questions_raw, list):
        line = _line(nodes["questions"][1]) if "questions" in nodes else 1
        checker.problem(line, None, "'questions' must be a list of questions")
        return [], checker.problems
    question_nodes = nodes["questions"][1].value
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for raw, node in zip(questions_raw, question_nodes, strict=True):
        question = _check_question(raw, node, default_topic, checker)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            qid = raw["id"]
            if qid in seen:
                checker.problem(_line(node), qid, f"duplicate id: '{qid}' is already used at line {seen[qid]}")
                question = None
            seen.setdefault(qid, _line(node))
        if question is not None:
            questions.append(question)
    if checker.problems:
        return [], checker.problems
    return questions, checker.problems


# ---------------------------------------------------------------------------------------------------------
# Reading many files


def bank_files(path: Path) -> list[Path]:
    """The YAML files a path names: the file itself, or every .yaml/.yml below a folder, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]  # a file, or a path that does not exist (reported as such by read_files)


def user_bank_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """The user's banks: TORCHPREP_BANKS (os.pathsep-separated) then each --bank."""
    from_env = [Path(p) for p in os.environ.get("TORCHPREP_BANKS", "").split(os.pathsep) if p.strip()]
    return from_env + list(extra)


def read_files(files: Iterable[Path], taken: Mapping[str, Question] | None = None, *,
               reader: Callable[[Path], tuple[list[Question], list[BankProblem]]] | None = None
               ) -> tuple[list[Question], list[BankProblem]]:
    """Read several files; a file with any problem, or re-using an id already taken, is left out whole."""
    reader = reader or read_file
    taken = dict(taken or {})
    questions: list[Question] = []
    problems: list[BankProblem] = []
    for file in files:
        if not file.exists():
            problems.append(BankProblem(str(file), None, None, "no such file or folder"))
            continue
        found, file_problems = reader(file)
        file_problems = list(file_problems)
        for question in found:
            if question.id in taken:
                other = taken[question.id]
                file_problems.append(BankProblem(
                    str(file), question.line, question.id,
                    f"duplicate id: '{question.id}' is already used in {other.file}:{other.line} "
                    "(ids are unique across every bank: progress is keyed on them)"))
        if file_problems:
            problems.extend(file_problems)
            continue
        for question in found:
            taken[question.id] = question
        questions.extend(found)
    return questions, problems


def cached_reader(cache_dir: Path | None) -> Callable[[Path], tuple[list[Question], list[BankProblem]]]:
    """read_file, remembered in ``cache_dir`` per file path, size and modification time.

    Parsing the whole bank takes about a second even with libyaml; a quiz should start in a fraction of that.
    Any trouble with the cache (unreadable, from another version) falls back to parsing the file.
    """
    if cache_dir is None:
        return read_file

    def read(path: Path) -> tuple[list[Question], list[BankProblem]]:
        try:
            info = path.stat()
        except OSError:
            return read_file(path)
        key = hashlib.sha256(f"{path.resolve()}|{info.st_mtime_ns}|{info.st_size}|{SUPPORTED_FORMAT}|"
                             f"{__version__}".encode()).hexdigest()[:32]
        return pickled.remembered(cache_dir / f"{key}.pickle", lambda: read_file(path))

    return read


def load(extra: Iterable[Path] = (), *, builtin: bool = True, cache_dir: Path | None = None) -> Bank:
    """The built-in bank plus the user's banks; broken user files are reported in ``Bank.problems``.

    The built-in bank must be valid: a problem there is our bug and raises BankError.
    """
    reader = cached_reader(cache_dir)
    questions: list[Question] = []
    files: list[str] = []
    if builtin:
        builtin_files = bank_files(paths.builtin_bank_dir())
        questions, problems = read_files(builtin_files, reader=reader)
        if problems:
            raise BankError(problems)
        files.extend(map(str, builtin_files))
    user_files = [file for path in user_bank_paths(extra) for file in bank_files(path)]
    extra_questions, user_problems = read_files(user_files, {q.id: q for q in questions}, reader=reader)
    files.extend(str(f) for f in user_files if f.exists())
    return Bank(tuple(questions + extra_questions), tuple(user_problems), tuple(files))


def lint(targets: Iterable[Path] = ()) -> tuple[int, list[BankProblem]]:
    """Check the given files/folders (or the built-in bank): the number of valid questions and every problem.

    Ids are checked for uniqueness across the targets and the built-in bank.
    """
    targets = list(targets)
    files = [file for target in targets for file in bank_files(target)]
    builtin_files = bank_files(paths.builtin_bank_dir())
    if not targets:
        files = builtin_files
        taken = {}
    else:
        own = {f.resolve() for f in files}
        builtin_questions, _ = read_files([f for f in builtin_files if f.resolve() not in own])
        taken = {q.id: q for q in builtin_questions}
    questions, problems = read_files(files, taken)
    return len(questions), problems


# ---------------------------------------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True)
class BankStats:
    total: int
    by_topic: dict[str, int]
    by_type: dict[str, int]
    by_difficulty: dict[int, int]
    language_coverage: dict[str, float]  # language -> share of questions with every text translated
    with_verify: int
    checkable: int = 0  # choice, multi and bug questions: their marked answer can be proven by running it
    proven: int = 0  # of those, the ones whose key is run: a verify block, a claim per choice, or a bug fix
    with_hints: int = 0


def stats(bank: Bank) -> BankStats:
    questions = bank.questions
    languages = sorted({lang for q in questions for text in q.texts() for lang in text})
    coverage = {}
    for lang in languages:
        complete = sum(all(lang in text for text in q.texts()) for q in questions)
        coverage[lang] = complete / len(questions)  # a language is found only in a question
    return BankStats(
        total=len(questions),
        by_topic={slug: sum(q.topic == slug for q in questions) for slug in topics.TOPIC_SLUGS},
        by_type={qtype: sum(q.type == qtype for q in questions) for qtype in QUESTION_TYPES},
        by_difficulty={level: sum(q.difficulty == level for q in questions) for level in (1, 2, 3)},
        language_coverage=coverage,
        with_verify=sum(q.verify is not None for q in questions),
        checkable=len(checkable := [q for q in questions if q.type in ("choice", "multi", "bug")]),
        proven=sum(q.verify is not None or any(c.claim for c in q.choices) or bool(q.fix) for q in checkable),
        with_hints=sum(bool(q.hints) for q in questions),
    )
