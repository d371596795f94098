"""Every screen in Chinese: no English word of torchprep's own interface is left over in zh output.

The English words come from the interface itself: every English text of ui.py's bilingual tables and of its
`... if lang == "en" else ...` choices, minus words the Chinese texts use too (commands, keys like `Enter`).
What the user's content says (question texts, code, paths, command names in backticks) is not the interface
and is taken out before looking.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from quiz import bank
from tests.conftest import ROOT

WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


def _strings(node) -> list[str]:
    """The texts in a node: its string constants, leaving out the keys of its dicts (names, not words shown)."""
    keys = {id(key) for n in ast.walk(node) if isinstance(n, ast.Dict) for key in n.keys if key is not None}
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in keys]


def interface_words() -> tuple[set[str], set[str]]:
    """(English words of the interface, words its Chinese texts use as well)."""
    tree = ast.parse((ROOT / "quiz" / "ui.py").read_text(encoding="utf-8"))
    english, chinese = [], []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            table = {k.value: v for k, v in zip(node.value.keys, node.value.values, strict=True)
                     if isinstance(k, ast.Constant)}
            if "en" in table and "zh" in table:
                english += _strings(table["en"])
                chinese += _strings(table["zh"])
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp) and re.search(r"\blang\b", ast.unparse(node.test)):
            english += _strings(node.body)
            chinese += _strings(node.orelse)
    words = {w.lower() for text in english for w in WORD.findall(re.sub(r"\{[^}]*\}", " ", text))}
    shared = {w.lower() for text in chinese for w in WORD.findall(re.sub(r"\{[^}]*\}", " ", text))}
    return words - shared, shared


def content_words() -> set[str]:
    """Words the questions' Chinese texts and code use themselves (they name APIs in English)."""
    found: set[str] = set()
    for question in bank.load().questions:
        for text in question.texts():
            found |= {w.lower() for w in WORD.findall(text.get("zh", ""))}
        found |= {w.lower() for w in WORD.findall((question.code or "") + " " + (question.output or ""))}
    return found


def leftovers(output: str, words: set[str]) -> list[str]:
    # a bank problem (file:line: message) is the author's diagnostic, in English as PyYAML's own are
    text = re.sub(r"^\s*\S+\.ya?ml:\d+.*$", " ", output, flags=re.M)
    text = re.sub(r"`[^`]*`", " ", text)  # commands and code in backticks
    text = re.sub(r"\w*_\w*", " ", text)  # identifiers: test names, snake_case functions
    text = re.sub(r"https?://\S+|\S*/\S*|\S+\.py\b", " ", text)  # links and paths
    text = re.sub(r"^\s*\d+\s*│.*$", " ", text, flags=re.M)  # numbered code lines
    text = re.sub(r"^\s*torchprep .*$", " ", text, flags=re.M)  # a command to run, on a line of its own
    return sorted({w for w in WORD.findall(text) if w.lower() in words})


@pytest.fixture(scope="module")
def english_words() -> set[str]:
    words, _ = interface_words()
    return words - content_words()


def test_the_interface_word_list_is_real(english_words):
    """The check below could pass vacuously: the list holds the words an English screen is made of."""
    assert {"readiness", "review", "topic", "quit", "interview", "stuck"} <= english_words
    assert len(english_words) > 60
    assert leftovers("Readiness 1/2: stuck? `torchprep quiz --topic x`", english_words) == ["Readiness", "stuck"]


ANSWERS = {"choice": "h\nh\nh\nz\na\n\n", "multi": "h\nh\nh\nab\n\n", "output": "h\nh\nh\n42\n\n",
           "bug": "h\nh\nh\n1\n\n", "open": "h\nh\nh\n我的回答\nnone\n\n"}


@pytest.mark.parametrize("qtype", list(ANSWERS))
def test_a_quiz_in_chinese_of_each_type_has_no_english_interface_words(cli, english_words, qtype):
    result = cli("quiz", "--lang", "zh", "--type", qtype, "--count", "1", "--seed", "3", input=ANSWERS[qtype])
    assert leftovers(result.output, english_words) == [], result.output


def test_the_other_screens_in_chinese_have_no_english_interface_words(cli, english_words, fixture_catalog, tmp_path):
    cli("quiz", "--lang", "zh", "--count", "3", "--seed", "5", input="s\nb\n\nq\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("format_version: 1\nquestions: [\n", encoding="utf-8")
    screens = {
        "a broken bank": cli("quiz", "--lang", "zh", "--bank", broken, "--count", "1", input="q\n").output,
        "skip and quit": cli("quiz", "--lang", "zh", "--count", "2", "--seed", "9", input="s\nq\n").output,
        "review": cli("review", "--lang", "zh", input="q\n").output,
        "topics": cli("topics", "--lang", "zh").output,
        "report": cli("report", "--lang", "zh").output,
        "exercises": cli("exercises", "--lang", "zh").output,
        "start": cli("start", "adder", "--lang", "zh").output,
        "check": cli("check", "adder", "--lang", "zh", expect=1).output,
        "hint": cli("hint", "adder", "--lang", "zh").output,
        "last hint": cli("hint", "adder", "--lang", "zh").output + cli("hint", "adder", "--lang", "zh").output,
        "solution locked": cli("solution", "adder", "--lang", "zh", expect=None).output,
        "check passed": cli("check", "adder", "--lang", "zh", "--file",
                            fixture_catalog / "solutions" / "adder.py").output,
    }
    found = {name: leftovers(output, english_words) for name, output in screens.items()}
    assert {name: words for name, words in found.items() if words} == {}, "\n\n".join(
        f"--- {name}\n{screens[name]}" for name, words in found.items() if words)


def test_a_damaged_progress_database_is_told_in_chinese_with_its_paths_whole(cli, isolated, english_words):
    isolated.mkdir(parents=True)
    (isolated / "progress.db").write_bytes(b"not a database at all" * 100)
    output = cli("report", "--lang", "zh").output
    (notice,) = [line for line in output.splitlines() if "进度数据库" in line]
    assert str(isolated / "progress.db") in notice and f"已移到 {isolated / 'progress.db.corrupt-'}" in notice
    # what SQLite said stays as SQLite said it, in parentheses
    assert leftovers(output.replace("（file is not a database）", ""), english_words) == [], output


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_commands_named_on_a_screen_are_drawn_as_code_never_with_their_backticks(cli, fixture_catalog, lang):
    screens = {
        "start": cli("start", "adder", "--lang", lang).output,
        "check": cli("check", "adder", "--lang", lang, expect=1).output,
        "hint": cli("hint", "adder", "--lang", lang).output,
        "solution locked": cli("solution", "adder", "--lang", lang, expect=None).output,
        "check passed": cli("check", "adder", "--lang", lang, "--file",
                            fixture_catalog / "solutions" / "adder.py").output,
        "quiz": cli("quiz", "--lang", lang, "--count", "1", "--seed", "5", input="s\nq\n").output,
        "review": cli("review", "--lang", lang, input="q\n").output,
        "report": cli("report", "--lang", lang).output,
    }
    assert "torchprep" in screens["check"], "the check screen names the next command to run"
    assert {name: output for name, output in screens.items() if "`" in output} == {}
    # a command copied from the screen must run: its spaces are spaces, not no-break spaces
    assert {name: output for name, output in screens.items() if "\u00a0" in output} == {}
    assert "torchprep hint adder" in " ".join(screens["check"].split())


def test_the_learning_loop_screens_in_chinese_have_no_english_interface_words(cli, isolated, english_words,
                                                                             fixture_catalog):
    """Due exercise tasks in review, the calibration and fit lines of the report, and torchprep fit."""
    from datetime import datetime, timedelta, timezone

    from rich.console import Console

    from quiz import catalog, fit, ui
    from quiz.grading.results import GradeResult, TestResult
    from quiz.store import Answer, Store

    past = datetime.now(timezone.utc) - timedelta(days=6)
    with Store.open(isolated) as store:
        for day in range(4):  # answers a day apart: scored reviews for the calibration line
            store.record_answer(Answer("sample-choice", "tensors", "choice", "right" if day % 2 else "wrong",
                                       float(day % 2), past + timedelta(days=day)))
        passed = GradeResult("adder", "pass", "", (TestResult("t1", "add", "pass"), TestResult("t2", "scale", "pass")),
                             0.1, "adder.py", "ab" * 32)
        catalog.record_check(store, passed, catalog.get("adder"), now=past)
        fitted = fit.FitResult(past, 600, fit.Quality(600, 0.61, 0.45), fit.Quality(600, 0.55, 0.43), (0.1,) * 21,
                               True)
        store.set_settings({fit.FIT_SETTING: json.dumps(fitted.to_json())})
    console = Console(width=80, record=True, color_system=None)
    ui.fit_view(console, fitted, "zh")
    screens = {
        "review with due tasks": cli("review", "--lang", "zh", input="q\n").output,
        "report with calibration and fit": cli("report", "--lang", "zh").output,
        "fit": console.export_text(),
        "fit --defaults": cli("fit", "--defaults", "--lang", "zh").output,
    }
    assert "到期复习的练习任务" in screens["review with due tasks"]
    assert "预测与你的实际作答对比" in screens["report with calibration and fit"]
    assert "你的拟合" in screens["report with calibration and fit"]
    found = {name: leftovers(output, english_words) for name, output in screens.items()}
    assert {name: words for name, words in found.items() if words} == {}, "\n\n".join(
        f"--- {name}\n{screens[name]}" for name, words in found.items() if words)


# -- errors ----------------------------------------------------------------------------------------------------------

ERROR_COMMANDS = [
    ["check", "nonexist"], ["hint", "adder-x"], ["start", "xyz"], ["quiz", "--topic", "nonsense"],
    ["quiz", "--type", "foo"], ["quiz", "--topic", "behavioural", "--type", "output"],
    ["plan", "--interview", "2020-01-01"], ["plan", "--interview", "notadate"],
    ["plan", "--hours-per-day", "30", "--interview", "2099-01-01"], ["mock", "--minutes", "2"], ["today"], ["fit"],
    ["report", "--format", "pdf"], ["report", "--output", "report.txt"],
]


@pytest.mark.parametrize("args", ERROR_COMMANDS, ids=lambda args: " ".join(args))
def test_an_error_of_a_command_run_in_chinese_is_told_in_chinese(cli, fixture_catalog, args):
    english = cli(*args, expect=2).output
    chinese = cli(*args, "--lang", "zh", expect=2).output
    assert english.startswith("Error: ") and chinese.startswith("错误："), (english, chinese)
    told = re.sub(r"--[a-z-]+|'[^']*'|[a-z-]+(?:, [a-z-]+)+", " ", chinese)  # options, quoted fields, id lists
    told = re.sub(r"torchprep[ \u00a0][A-Za-z\u00a0 -]+", " ", told)  # a command to run, drawn as code
    assert leftovers(told, _error_words()) == [], chinese


def _error_words() -> set[str]:
    """The words of the English sentences ERRORS_ZH translates: not their fields (ids, topics, dates), commands
    in backticks, options or the names of formats and languages, which the Chinese keeps."""
    from quiz import ui

    kept = r"\(\?P<\w+>[^)]*\)|`[^`]*`|--[a-z-]+|YYYY-MM-DD|FSRS|md, html or json|en or zh|torchprep"
    return {w.lower() for pattern, _ in ui.ERRORS_ZH for w in WORD.findall(re.sub(kept, " ", pattern))}


def test_every_translated_error_is_one_torchprep_raises_today(cli, fixture_catalog, tmp_path, monkeypatch):
    """A pattern that no longer matches its English message would leave that error in English: each pattern
    matches a message raised here for real, or (without fields) is a sentence cli.py raises word for word."""
    import sqlite3
    from datetime import datetime, timezone

    from quiz import cli as cli_module
    from quiz import store as store_module
    from quiz import ui

    raised: list[str] = []
    translate = ui.error_in
    monkeypatch.setattr(ui, "error_in", lambda message, lang: raised.append(message) or translate(message, lang))
    for args in ERROR_COMMANDS:
        cli(*args, expect=2)
    cli("plan", "--interview", datetime.now(timezone.utc).date().isoformat(), expect=2)
    with pytest.raises(cli_module.UsageError) as unknown_language:
        cli_module._check_lang("fr")
    raised.append(str(unknown_language.value))
    (tmp_path / "newer").mkdir()
    with sqlite3.connect(tmp_path / "newer" / "progress.db") as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(cli_module.QuizError) as newer:
        store_module.Store.open(tmp_path / "newer")
    raised.append(str(newer.value))
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(tmp_path / "newer" / "progress.db", isolation_level=None)
    holder.execute("PRAGMA user_version = 0")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(cli_module.QuizError) as locked:
            store_module.Store.open(tmp_path / "newer")
        raised.append(str(locked.value))
    finally:
        holder.close()

    source = (ROOT / "quiz" / "cli.py").read_text(encoding="utf-8")
    untranslated = []
    for pattern, _ in ui.ERRORS_ZH:
        literal = None if "(?P<" in pattern else re.sub(r"\\(.)", r"\1", pattern)
        if not any(re.fullmatch(pattern, message, flags=re.S) for message in raised) and (
                literal is None or f'"{literal}"' not in source):
            untranslated.append(pattern)
    assert untranslated == []
    assert [message for message in raised if translate(message, "zh") == message] == []


def test_the_chinese_errors_keep_their_fields_and_use_no_english_words():
    from quiz import ui

    for pattern, chinese in ui.ERRORS_ZH:
        assert set(re.findall(r"\(\?P<(\w+)>", pattern)) == set(re.findall(r"\{(\w+)\}", chinese)), pattern
        words = re.sub(r"\{\w+\}|`[^`]*`|--[a-z-]+|YYYY-MM-DD|FSRS|schema|torchprep|md|html|json|en|zh|id", "", chinese)
        assert not re.search(r"[A-Za-z]{2,}", words), chinese


def test_an_error_outside_the_table_is_shown_as_it_was_raised():
    from quiz import ui

    assert ui.error_in("something else went wrong", "zh") == "something else went wrong"
    assert ui.error_in("unknown language 'fr': use en or zh", "en") == "unknown language 'fr': use en or zh"
    assert ui.error_in("unknown language 'fr': use en or zh", "zh") == "不支持语言 'fr'：请用 en 或 zh"


def test_torchprep_lang_sets_the_language_of_every_command_and_lang_still_wins(cli, monkeypatch, english_words,
                                                                               tmp_path):
    monkeypatch.setenv("TORCHPREP_LANG", "zh")
    assert leftovers(cli("report").output, english_words) == [] and "备考情况" in cli("report").output
    assert "Readiness" in cli("report", "--lang", "en").output
    assert cli("check", "nonexist", expect=2).output.startswith("错误：没有名为 'nonexist' 的练习")
    export = cli("progress", "export", tmp_path / "p.json").output
    assert export.startswith("✓ 已写入") and leftovers(export, english_words) == []
    imported = cli("progress", "import", tmp_path / "p.json").output
    assert imported.startswith("✓ 已导入") and leftovers(imported, english_words) == []
    assert cli("progress", "reset", input="n\n", expect=1).output.endswith("什么都没有改动。\n")
