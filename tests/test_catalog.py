"""The catalog checks itself: sound exercise.yaml files, starters that are only signatures, and honest
grading: every reference passes, every starter fails, every known-wrong submission in tests/mutants fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from quiz import catalog, paths, topics
from quiz.grading import runner
from tests import warm_grading

MUTANTS = Path(__file__).resolve().parent / "mutants"
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
def test_each_exercise_has_known_wrong_submissions(exercise):
    mutants = sorted((MUTANTS / exercise.id).glob("*.py"))
    assert len(mutants) >= MIN_MUTANTS, f"{exercise.id} has {len(mutants)} known-wrong submissions"


def test_no_mutants_for_an_exercise_that_does_not_exist():
    assert {folder.name for folder in MUTANTS.iterdir() if folder.is_dir()} <= set(BY_ID)


GRADING_CASES = (
    [pytest.param(e.id, e.solution, "pass", id=f"{e.id}-reference") for e in EXERCISES]
    + [pytest.param(e.id, e.starter, "fail", id=f"{e.id}-starter") for e in EXERCISES]
    + [pytest.param(e.id, mutant, "fail", id=f"{e.id}-mutant-{mutant.stem}")
       for e in EXERCISES for mutant in sorted((MUTANTS / e.id).glob("*.py"))]
)


# Children forked from a warm server: the same plugin and arguments, without re-importing torch ~200 times.
LAUNCH = warm_grading.launch_forked if warm_grading.available() else runner.launch_subprocess


@pytest.mark.slow
@pytest.mark.parametrize(("exercise_id", "submission", "expected"), GRADING_CASES)
def test_grading_is_honest(exercise_id, submission, expected):
    result = runner.grade(BY_ID[exercise_id], submission, timeout=300, launch=LAUNCH)
    details = "\n".join(f"  {t.status:5} {t.name}: {t.message[:300]}" for t in result.tests if t.status != "pass")
    assert result.status == expected, (f"{submission.name} was graded {result.status} ({result.message}), "
                                       f"expected {expected}\n{details}")
    if expected == "pass":
        assert result.total >= 4 and result.passed == result.total
    else:
        assert result.passed < result.total


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_check_command_passes_the_reference_and_fails_the_starter(cli, exercise):
    """End to end, as a user would: `torchprep check ID --file ... --json` in a fresh interpreter."""
    import json

    reference = json.loads(cli("check", exercise.id, "--file", exercise.solution, "--json", "--timeout", "300").output)
    assert (reference["status"], reference["passed"]) == ("pass", reference["total"]), reference["message"]
    starter = json.loads(cli("check", exercise.id, "--file", exercise.starter, "--json", "--timeout", "300",
                             expect=1).output)
    assert starter["status"] == "fail" and starter["passed"] == 0, starter["message"]


def test_solutions_folder_matches_the_catalog():
    solutions = {path.stem for path in paths.solutions_dir().glob("*.py")}
    assert solutions == set(BY_ID), "every exercise needs solutions/<id>.py and nothing else lives there"
