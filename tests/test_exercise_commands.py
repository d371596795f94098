"""start, hint, solution, reset and check without an id, on the tiny `adder` exercise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from quiz.store import Store
from tests.conftest import FIXTURES


def workspace_file(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "adder.py"


def test_start_copies_the_starter_and_never_overwrites(cli, fixture_catalog, tmp_path):
    result = cli("start", "adder")
    target = workspace_file(tmp_path)
    assert f"✓ Created {target}" in result.output.replace("\n", "")
    assert "Implement: add, scale." in result.output
    assert target.read_text() == (FIXTURES / "exercises" / "adder" / "adder.py").read_text()
    target.write_text("my work")
    result = cli("start", "adder")
    assert "already there (nothing overwritten)" in result.output
    assert target.read_text() == "my work"


def test_start_unknown_exercise_suggests(cli, fixture_catalog):
    result = cli("start", "addr", expect=2)
    assert "no exercise called 'addr': did you mean 'adder'?" in result.output


def test_workspace_is_the_same_whatever_the_current_folder(cli, fixture_catalog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli("start", "adder")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert "already there" in cli("start", "adder").output
    other = tmp_path / "other-ws"
    cli("start", "adder", "--workspace", other)
    assert (other / "adder.py").is_file()


def test_hint_gives_the_next_one_each_time(cli, fixture_catalog):
    assert "Hint 1/3 for adder: Python has an operator for that: +." in cli("hint", "adder").output
    assert "Hint 2/3 for adder: return a + b" in cli("hint", "adder").output
    third = cli("hint", "adder").output
    assert "Hint 3/3 for adder: return x * k" in third and "That is the last hint" in third
    assert "Hint 3/3" in cli("hint", "adder").output
    assert "两数相加" not in cli("hint", "adder", "--lang", "zh").output
    assert "return x * k" in cli("hint", "adder", "--lang", "zh").output


def test_hint_is_about_the_first_task_that_failed_in_the_last_check(cli, fixture_catalog):
    cli("check", "adder", "--file", FIXTURES / "submissions" / "wrong_scale.py", expect=1)
    first = cli("hint", "adder").output
    assert "Hint 3/3 for adder, about scale (the first task that failed in your last check)" in first
    assert "return x * k" in first
    assert "That is the last hint for scale" in first
    # Nothing of scale is left: its last hint again, never a hint about add, which passes.
    after = cli("hint", "adder").output
    assert "Hint 3/3 for adder, about scale" in after and "last hint for scale" in after
    cli("check", "adder", "--file", FIXTURES / "submissions" / "wrong_add.py", expect=1)
    assert "Hint 1/3 for adder, about add" in cli("hint", "adder").output


def test_next_hint_prefers_unseen_hints_of_failing_tasks():
    from pathlib import Path

    from quiz.catalog import Exercise, next_hint

    exercise = Exercise(id="x", title={"en": "x"}, topic="tensors", difficulty=1, order=1, tasks=("a", "b"),
                        summary={"en": "x"}, hints=({"en": "1"}, {"en": "2"}, {"en": "3"}, {"en": "4"}),
                        references=(), folder=Path("."), hint_tasks=("a", "b", "a", "b"))
    assert next_hint(exercise, [], ["b"]) == (2, "b", False)
    assert next_hint(exercise, [2], ["b"]) == (4, "b", True)
    assert next_hint(exercise, [2], ["b", "a"]) == (4, "b", False)
    assert next_hint(exercise, [2, 4], ["b", "a"]) == (1, "a", False)
    assert next_hint(exercise, [], []) == (1, None, False)
    assert next_hint(exercise, [1, 2, 3], []) == (4, None, True)
    # Every hint of the failing task seen: its last hint again, not one about a task that passes.
    assert next_hint(exercise, [1, 3], ["a"]) == (3, "a", True)
    assert next_hint(exercise, [1, 2, 3, 4], ["a"]) == (3, "a", True)


def test_solution_only_after_passing_or_forced(cli, fixture_catalog, tmp_path, isolated):
    cli("start", "adder")
    result = cli("solution", "adder", expect=2)
    assert "pass adder first" in result.output
    result = cli("solution", "adder", "--force")
    assert "Reference solution: adder" in result.output and "return a + b" in result.output
    assert "against the reference, docstrings and comments left out" in result.output
    assert "- " in result.output and "raise NotImplementedError" in result.output
    assert "+     return a + b" in result.output
    with Store.open(isolated) as store:
        assert store.count_events("adder", "revealed") == 1
    shutil.copy(FIXTURES / "solutions" / "adder.py", workspace_file(tmp_path))
    cli("check", "adder")
    result = cli("solution", "adder")
    assert "Your code is the reference's, but for docstrings and comments." in result.output
    with Store.open(isolated) as store:
        assert store.count_events("adder", "revealed") == 1


def test_the_solution_diff_ignores_docstrings_and_comments_and_names_real_lines():
    from quiz.catalog import code_diff, code_lines

    reference = 'def f(x):\n    """Doc."""\n    # why\n    y = x + 1  # note\n    return y\n'
    yours = "def f(x):\n\n    y = x + 1\n    return y\n"
    assert [line for _, line in code_lines(reference)] == ["def f(x):", "    y = x + 1", "    return y"]
    assert code_diff(yours, reference) == []
    wrong = "def f(x):\n    y = x + 2\n    return y\n"
    assert code_diff(wrong, reference) == [("@", "your line 1, the reference's line 1"), (" ", "def f(x):"),
                                           ("-", "    y = x + 2"), ("+", "    y = x + 1"), (" ", "    return y")]
    assert code_lines("def broken(:\n  # kept as it is\n") == [(1, "def broken(:"), (2, "  # kept as it is")]


def test_solution_fits_80_columns(cli, tmp_path):
    shutil.copy(Path(__file__).resolve().parents[1] / "tests" / "mutants" / "autograd" /
                "fit_linear_forgets_zero_grad.py", tmp_path / "autograd.py")
    result = cli("solution", "autograd", "--force", "--workspace", tmp_path)
    assert "w.grad = None" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_reset_asks_and_keeps_a_backup(cli, fixture_catalog, tmp_path):
    cli("start", "adder")
    target = workspace_file(tmp_path)
    target.write_text("def add(a, b):\n    return 42\n")
    result = cli("reset", "adder", input="n\n", expect=1)
    assert "Nothing changed." in result.output and "42" in target.read_text()
    result = cli("reset", "adder", input="y\n")
    assert "raise NotImplementedError" in target.read_text()
    backups = list((tmp_path / "workspace" / "backups").glob("adder-*.py"))
    assert len(backups) == 1 and "42" in backups[0].read_text()


def test_bare_check_takes_the_first_not_passed_then_the_one_last_worked_on(cli, fixture_catalog, tmp_path):
    result = cli("check", expect=1)
    assert "Check adder, the first exercise not passed yet." in result.output
    assert "there is no file at" in result.output and "torchprep start adder" in result.output
    cli("start", "adder")
    assert "Hint for adder, the exercise you last started" in cli("hint").output
    shutil.copy(FIXTURES / "solutions" / "adder.py", workspace_file(tmp_path))
    result = cli("check")
    assert "Check adder, the exercise you last edited" in result.output and "PASS" in result.output
    result = cli("check")
    assert "Check adder, the exercise you last checked" in result.output


def test_the_exercise_last_worked_on_is_the_latest_start_check_or_edit(tmp_path):
    from datetime import datetime, timedelta, timezone

    from quiz import catalog
    from quiz.store import Attempt

    exercises = catalog.load()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert catalog.last_worked_on(exercises, [], [], tmp_path) is None
    attempts = [Attempt("tensor_ops", "fail", 1, 2, t0)]
    events = [{"exercise_id": "cnn", "kind": "started", "detail": None, "at": (t0 + timedelta(hours=1)).isoformat()}]
    found = catalog.last_worked_on(exercises, attempts, events, tmp_path)
    assert (found[0].id, found[1]) == ("cnn", "started")
    edited = tmp_path / "autograd.py"
    edited.write_text("# work")
    moment = (t0 + timedelta(hours=2)).timestamp()
    os.utime(edited, (moment, moment))
    found = catalog.last_worked_on(exercises, attempts, events, tmp_path)
    assert (found[0].id, found[1]) == ("autograd", "edited")
    attempts.append(Attempt("losses", "pass", 2, 2, t0 + timedelta(hours=3)))
    found = catalog.last_worked_on(exercises, attempts, events, tmp_path)
    assert (found[0].id, found[1]) == ("losses", "checked")
    unknown = [{"exercise_id": "gone", "kind": "started", "detail": None, "at": (t0 + timedelta(days=9)).isoformat()}]
    assert catalog.last_worked_on(exercises, attempts, unknown, tmp_path)[0].id == "losses"


def test_exercise_list_shows_status_and_best_score(cli, fixture_catalog, tmp_path):
    result = cli("exercise", "list")
    assert "adder" in result.output and "not started" in result.output
    cli("start", "adder")
    cli("check", "adder", "--file", FIXTURES / "submissions" / "wrong_add.py", expect=1)
    result = cli("exercises")
    assert "in progress" in result.output and "1/2" in result.output
    shutil.copy(FIXTURES / "solutions" / "adder.py", workspace_file(tmp_path))
    cli("check", "adder")
    result = cli("exercise", "list", "--lang", "zh")
    assert "已通过" in result.output and "2/2" in result.output and "两数相加" in result.output


def test_check_and_hint_speak_chinese_with_lang_zh(cli, fixture_catalog):
    out = cli("check", "adder", "--file", FIXTURES / "submissions" / "wrong_scale.py", "--lang", "zh", expect=1).output
    assert "未通过  通过" in out and "下一步：修好 scale 再检查一次" in out
    assert not any(word in out for word in ("tests passed", "Next:", "Checking", "FAIL")), out
    hint = cli("hint", "--lang", "zh").output
    assert hint.startswith("给出 adder 的提示：你最近检查的练习") and "关于 scale" in hint
    assert "Hint" not in hint and "last hint" not in hint


def test_the_exercise_list_is_one_line_an_exercise_at_80_columns_in_both_languages(cli):
    from quiz import catalog

    for lang, status in (("en", "not started"), ("zh", "未开始")):
        out = cli("exercises", "--lang", lang).output
        rows = [line for line in out.splitlines() if line.strip()[:2].strip().isdigit()]
        assert len(rows) == len(catalog.load()), out
        assert all(status in row and "…" not in row for row in rows), out
        assert max(len(line) for line in out.splitlines()) <= 80
    assert "not started" not in cli("exercises", "--lang", "zh").output


def test_the_catalog_cache_gives_the_parse_and_a_changed_exercise_yaml_is_read_again(tmp_path):
    import shutil

    from quiz import catalog

    root = tmp_path / "exercises"
    shutil.copytree(catalog.paths.exercises_dir() / "tensor_ops", root / "tensor_ops")
    cache = tmp_path / "cache"
    parsed = catalog.scan(root)
    assert catalog.cached_scan(root, cache) == parsed
    assert list(cache.glob("catalog-*.pickle")), "the scan is remembered"
    assert catalog.cached_scan(root, cache) == parsed, "and read back the same"
    yaml_file = root / "tensor_ops" / "exercise.yaml"
    yaml_file.write_text(yaml_file.read_text(encoding="utf-8").replace("difficulty: 1", "difficulty: 2"),
                         encoding="utf-8")
    (changed,), _ = catalog.cached_scan(root, cache)
    assert changed.difficulty == 2, "an edited exercise.yaml is parsed again, not read from the cache"
    for entry in cache.glob("catalog-*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert catalog.cached_scan(root, cache)[0][0].difficulty == 2, "a broken cache entry costs a parse"


def _check_screen(result, width: int, lang: str) -> str:
    import io

    from rich.console import Console

    from quiz import ui

    out = io.StringIO()
    ui.grade_result(Console(file=out, width=width, height=40, color_system=None), result, lang=lang)
    return out.getvalue()


def test_the_check_screen_keeps_each_task_with_its_mark_and_a_chinese_message_under_its_test():
    from rich.cells import cell_len

    from quiz.grading.results import GradeResult, TestResult

    message = "还没有实现：仍然抛出 NotImplementedError（你的文件第 24 行：raise NotImplementedError），" * 2
    tests = [TestResult(f"test_{task}", task, "fail" if task == "mask_below" else "pass",
                        message if task == "mask_below" else "")
             for task in ("gather_rows", "segment_sum", "mask_below", "one_hot", "pairwise_distances",
                          "batched_bilinear")]
    result = GradeResult("tensor_ops", "fail", "", tuple(tests), 0.5, "x.py", None)
    for width in (60, 80, 100):
        for lang in ("en", "zh"):
            lines = _check_screen(result, width, lang).splitlines()
            assert all(cell_len(line) <= width for line in lines), (width, lang)
            start = next(n for n, line in enumerate(lines) if "还没有实现" in line)
            end = next(n for n, line in enumerate(lines) if n > start and line.startswith(("✓", "✗")))
            assert end - start >= 2 and all(line.startswith("    ") for line in lines[start:end]), lines
            summary = [line for line in lines if ("✓" in line or "✗" in line) and not line.startswith(("✓", "✗"))]
            items = " ".join(summary).replace(" · ", "|").replace(" ·", "|").split("|")
            assert [item.strip().split()[0] for item in items] == [t.task for t in tests], summary
            assert all(item.strip().split()[1] in ("✓", "✗") for item in items), summary
