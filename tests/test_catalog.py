"""The catalog checks itself: sound exercise.yaml files, starters that are only signatures, and honest
grading: every reference passes, every starter fails, every known-wrong submission in tests/mutants fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from quiz import catalog, paths, topics
from quiz.grading import manifest
from tests.catalog_grading import graded

MUTANTS = Path(__file__).resolve().parent / "mutants"
VARIANTS = Path(__file__).resolve().parent / "variants"  # correct solutions written differently: must pass
MIN_MUTANTS = 5
# Read without raising, so a broken catalog fails test_catalog_is_sound with its problems listed, instead of
# failing collection of the whole module.
EXERCISES = catalog.scan()[0]
BY_ID = {exercise.id: exercise for exercise in EXERCISES}


def test_catalog_is_sound():
    assert catalog.problems() == []
    assert len(EXERCISES) >= 4
    assert [e.order for e in EXERCISES] == sorted(e.order for e in EXERCISES)


def test_every_topic_but_behavioural_has_an_exercise():
    covered = {exercise.topic for exercise in EXERCISES}
    missing = set(topics.TOPIC_SLUGS) - {"behavioural"} - covered
    assert not missing, f"topics without an exercise: {sorted(missing)}"


def _defined_names(tree: ast.Module) -> dict[str, ast.AST]:
    return {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _raises_not_implemented(function: ast.FunctionDef) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_starter_states_the_contract_and_raises_not_implemented(exercise):
    tree = ast.parse(exercise.starter.read_text(encoding="utf-8"))
    names = _defined_names(tree)
    solution_names = _defined_names(ast.parse(exercise.solution.read_text(encoding="utf-8")))
    for task in exercise.tasks:
        assert task in names, f"{exercise.starter.name} does not define the task {task}"
        assert task in solution_names, f"the reference does not define the task {task}"
        node = names[task]
        assert ast.get_docstring(node), f"{task} in the starter needs a docstring that states its contract"
        functions = [node] if isinstance(node, ast.FunctionDef) else [
            item for item in node.body if isinstance(item, ast.FunctionDef)]
        assert functions and any(_raises_not_implemented(f) for f in functions), \
            f"{task} in the starter must raise NotImplementedError"
        for function in functions:
            if function.name != "__init__" or isinstance(node, ast.FunctionDef):
                assert _raises_not_implemented(function), f"{task}.{function.name} still holds an implementation"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_test_names_a_task_of_the_exercise(exercise):
    tree = ast.parse(exercise.tests.read_text(encoding="utf-8"))
    tests = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test")]
    assert len(tests) >= 4, f"{exercise.id} has only {len(tests)} tests"
    for test in tests:
        tasks = [decorator.args[0].value for decorator in test.decorator_list
                 if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "task"]
        assert tasks and tasks[0] in exercise.tasks, f"{test.name} needs @pytest.mark.task(<one of {exercise.tasks}>)"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_hint_is_about_a_task_of_the_exercise(exercise):
    # `torchprep hint` shows the hints of the task that failed first; a hint without a task never comes first.
    assert len(exercise.hint_tasks) == len(exercise.hints)
    assert all(task in exercise.tasks for task in exercise.hint_tasks), exercise.hint_tasks


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_each_exercise_has_known_wrong_submissions(exercise):
    mutants = sorted((MUTANTS / exercise.id).glob("*.py"))
    assert len(mutants) >= MIN_MUTANTS, f"{exercise.id} has {len(mutants)} known-wrong submissions"


def test_no_mutants_for_an_exercise_that_does_not_exist():
    assert {folder.name for folder in MUTANTS.iterdir() if folder.is_dir()} <= set(BY_ID)
    assert {folder.name for folder in VARIANTS.iterdir() if folder.is_dir()} <= set(BY_ID)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.xdist_group(e.id)) for e in EXERCISES],
                         ids=lambda e: e.id)
def test_grading_is_honest(exercise):
    """Through the real judge, in one batch per exercise: the reference and every correct solution written
    differently (tests/variants/) pass, the starter and every known-wrong submission fail."""
    problems = []
    results = graded(exercise.id)
    for file, expected, result in results:
        if result.status != expected or (expected == "pass" and result.passed != result.total):
            details = "\n".join(f"      {t.status:5} {t.name}: {t.message[:300]}" for t in result.tests
                                if t.status not in ("pass", "skip"))
            problems.append(f"  {file.name}: graded {result.status} ({result.message[:300]}), expected {expected}"
                            f"\n{details}")
    assert not problems, "\n".join(problems)
    assert results[0][2].total >= 4


def _test_functions(exercise) -> list[ast.FunctionDef]:
    tree = ast.parse(exercise.tests.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test")]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_exercise_tests_only_observe(exercise):
    """The verdict is the judge's: a test file holds no assert, no pytest.raises/fail, no submission or
    reference fixture (each run sees only ``impl``), and every test observes something."""
    source = exercise.tests.read_text(encoding="utf-8")
    tree = ast.parse(source)
    asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert not asserts, f"{exercise.tests.name} asserts on lines {asserts}: observe() the value instead"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pytest":
            assert node.attr not in ("raises", "fail", "skip", "xfail", "approx", "warns"), (
                f"{exercise.tests.name} line {node.lineno} uses pytest.{node.attr}: use observe/expect_raises")
    for test in _test_functions(exercise):
        arguments = {argument.arg for argument in test.args.args}
        assert not arguments & {"submission", "reference"}, f"{test.name} takes {arguments}: use impl"
        names = {node.id for node in ast.walk(test) if isinstance(node, ast.Name)} | {
            node.attr for node in ast.walk(test) if isinstance(node, ast.Attribute)}
        calls_helper = any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                           and node.func.id.startswith("_") for node in ast.walk(test))
        assert names & {"observe", "expect_raises"} or calls_helper, f"{test.name} observes nothing"


def test_the_catalog_manifest_matches_the_files():
    """The judge grades against these hashes: refresh them with `python -m quiz.grading.manifest`."""
    assert manifest.load() == manifest.compute(), "run `python -m quiz.grading.manifest` after changing tests"


# `torchprep check` end to end for the exercises whose tests lean on the sandbox in their own way (worker
# processes, a process group on loopback, files written, the profiler, CUDA-only tests skipped) and the simplest
# one. Every other reference goes through the same judge in test_grading_is_honest: a CLI run each would add
# about 4 s of CPU per exercise (a judge process importing torch) and test nothing more.
CLI_CHECKED = ("tensor_ops", "dataloader", "checkpoint", "device", "ddp", "profiling")


def test_the_cli_checked_exercises_exist():
    assert set(CLI_CHECKED) <= set(BY_ID)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [BY_ID[i] for i in CLI_CHECKED if i in BY_ID], ids=lambda e: e.id)
def test_check_command_passes_the_reference(cli, exercise):
    """End to end, as a user would: `torchprep check ID --file ... --json` (the starters and mutants fail
    through the same judge in test_grading_is_honest)."""
    import json

    reference = json.loads(cli("check", exercise.id, "--file", exercise.solution, "--json", "--timeout", "300").output)
    assert (reference["status"], reference["passed"]) == ("pass", reference["total"]), reference["message"]


def test_solutions_folder_matches_the_catalog():
    solutions = {path.stem for path in paths.solutions_dir().glob("*.py")}
    assert solutions == set(BY_ID), "every exercise needs solutions/<id>.py and nothing else lives there"
