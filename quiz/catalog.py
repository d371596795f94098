"""The exercise catalog (exercises/<id>/exercise.yaml) and the user's workspace files.

The catalog checks itself: ``problems()`` lists every exercise.yaml that breaks the format, and the test
suite adds the behavioural half (every reference passes, every starter and known-wrong submission fails).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from quiz import __version__, paths, pickled, topics
from quiz.bank import Text, parse_text
from quiz.errors import NotFound, QuizError
from quiz.store import Attempt, parse_time, utcnow

SUPPORTED_FORMAT = 1
KEYS = {"format_version", "id", "title", "short_title", "topic", "difficulty", "order", "tasks", "summary", "hints",
        "references"}
OPTIONAL_KEYS = {"references", "short_title"}
SHORT_TITLE_CELLS = 26  # the exercise list's title column at 80 columns
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")  # ids are Python module names: the starter is <id>.py


@dataclass(frozen=True)
class Exercise:
    id: str
    title: Text
    topic: str
    difficulty: int
    order: int
    tasks: tuple[str, ...]
    summary: Text
    hints: tuple[Text, ...]
    references: tuple[str, ...]
    folder: Path
    hint_tasks: tuple[str | None, ...] = ()  # the task each hint is about (None: the exercise as a whole)
    short_title: Text | None = None  # for lists at 80 columns; the title when not given

    @property
    def starter(self) -> Path:
        return self.folder / f"{self.id}.py"

    @property
    def tests(self) -> Path:
        return self.folder / f"test_{self.id}.py"

    @property
    def solution(self) -> Path:
        return paths.solution_file(self.id)


def _read(folder: Path) -> tuple[Exercise | None, list[str]]:
    import yaml  # here, not at the top: a catalog read from the cache never needs it

    file = folder / "exercise.yaml"
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        return None, [f"{file}: cannot read: {error}"]
    problems: list[str] = []

    def bad(message: str) -> None:
        problems.append(f"{file}: {message}")

    if not isinstance(data, dict):
        return None, [f"{file}: must be a mapping"]
    for key in set(data) - KEYS:
        bad(f"unknown field '{key}'")
    for key in KEYS - OPTIONAL_KEYS - set(data):
        bad(f"missing field '{key}'")
    if problems:
        return None, problems
    if not isinstance(data["format_version"], int) or data["format_version"] > SUPPORTED_FORMAT:
        bad(f"format_version {data['format_version']!r} is not one this torchprep reads ({SUPPORTED_FORMAT})")
    if data["id"] != folder.name or not ID_PATTERN.match(str(data["id"])):
        bad(f"id {data['id']!r} must equal the folder name and be a Python module name")
    if data["topic"] not in topics.TOPIC_SLUGS:
        bad(f"unknown topic {data['topic']!r}")
    if data["difficulty"] not in (1, 2, 3):
        bad("difficulty must be 1, 2 or 3")
    if not isinstance(data["order"], int):
        bad("order must be a whole number")
    texts = {}
    for key in ("title", "summary", "short_title"):
        if key not in data:
            continue
        texts[key], why = parse_text(data[key])
        if why:
            bad(f"'{key}' {why}")
    from rich.cells import cell_len

    for lang, text in (texts.get("short_title") or {}).items():
        if cell_len(text) > SHORT_TITLE_CELLS:
            bad(f"short_title ({lang}) is {cell_len(text)} cells wide; the exercise list has {SHORT_TITLE_CELLS}")
    tasks = data["tasks"]
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        bad("'tasks' must list the functions and classes to implement")
        tasks = []
    hints, hint_tasks = [], []
    for index, hint in enumerate(data["hints"] if isinstance(data["hints"], list) else [], 1):
        task = None
        if isinstance(hint, Mapping) and "task" in hint:
            hint = dict(hint)
            task = hint.pop("task")
            if task not in tasks:
                bad(f"hint {index} is about task {task!r}, which is not in 'tasks'")
        text, why = parse_text(hint)
        if why:
            bad(f"hint {index} {why}")
        hints.append(text)
        hint_tasks.append(task)
    if not hints:
        bad("needs at least one hint")
    for name in (f"{folder.name}.py", f"test_{folder.name}.py"):
        if not (folder / name).is_file():
            bad(f"missing {name}")
    if problems:
        return None, problems
    return Exercise(
        id=data["id"], title=texts["title"], topic=data["topic"], difficulty=data["difficulty"],
        order=data["order"], tasks=tuple(tasks), summary=texts["summary"], hints=tuple(hints),
        references=tuple(data.get("references") or ()), folder=folder, hint_tasks=tuple(hint_tasks),
        short_title=texts.get("short_title") or texts["title"],
    ), problems


def scan(root: Path | None = None) -> tuple[list[Exercise], list[str]]:
    root = root or paths.exercises_dir()
    exercises, problems = [], []
    for folder in sorted(p for p in root.iterdir() if (p / "exercise.yaml").is_file()) if root.is_dir() else []:
        exercise, found = _read(folder)
        problems.extend(found)
        if exercise:
            exercises.append(exercise)
    for attribute in ("id", "order"):
        counts: dict = {}
        for exercise in exercises:
            counts.setdefault(getattr(exercise, attribute), []).append(exercise.id)
        for value, ids in counts.items():
            if len(ids) > 1:
                problems.append(f"exercises {', '.join(ids)} share the {attribute} {value!r}")
    return sorted(exercises, key=lambda e: e.order), problems


def problems(root: Path | None = None) -> list[str]:
    """Everything wrong with the catalog's exercise.yaml files (empty when it is sound)."""
    return scan(root)[1]


def cached_scan(root: Path | None = None, cache_dir: Path | None = None) -> tuple[list[Exercise], list[str]]:
    """scan, remembered in ``cache_dir`` under the path, size and modification time of every exercise.yaml:
    parsing 40 YAML files costs more than the rest of a report. Any trouble with the cache costs a parse."""
    root = root or paths.exercises_dir()
    if cache_dir is None or not root.is_dir():
        return scan(root)
    try:
        stamps = sorted((folder.name, stat.st_mtime_ns, stat.st_size) for folder in root.iterdir()
                        if (stat := _stat(folder / "exercise.yaml")) is not None)
    except OSError:
        return scan(root)
    key = hashlib.sha256(repr((str(root.resolve()), stamps, __version__)).encode()).hexdigest()[:32]
    return pickled.remembered(cache_dir / f"catalog-{key}.pickle", lambda: scan(root))


def _stat(path: Path):
    try:
        return path.stat()
    except OSError:
        return None


def load(root: Path | None = None, cache_dir: Path | None = None) -> list[Exercise]:
    """Every exercise in learning order (remembered in ``cache_dir`` when given, see cached_scan). A broken
    catalog is our bug: it raises with every problem."""
    exercises, found = cached_scan(root, cache_dir)
    if found:
        raise QuizError("the exercise catalog is broken:\n  " + "\n  ".join(found))
    return exercises


def get(exercise_id: str, exercises: Sequence[Exercise] | None = None) -> Exercise:
    exercises = exercises if exercises is not None else load()
    for exercise in exercises:
        if exercise.id == exercise_id:
            return exercise
    ids = [e.id for e in exercises]
    close = difflib.get_close_matches(exercise_id.replace("-", "_"), ids, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "see `torchprep exercise list`"
    raise NotFound(f"no exercise called {exercise_id!r}: {hint}")


# ---------------------------------------------------------------------------------------------------------
# The workspace


def workspace_file(exercise: Exercise, workspace: Path) -> Path:
    return workspace / f"{exercise.id}.py"


def start(exercise: Exercise, workspace: Path) -> tuple[Path, bool]:
    """Copy the starter into the workspace; existing work is never overwritten. Returns (path, created)."""
    target = workspace_file(exercise, workspace)
    if target.exists():
        return target, False
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exercise.starter, target)
    return target, True


def reset(exercise: Exercise, workspace: Path, now: datetime) -> tuple[Path, Path | None]:
    """Put the starter back, keeping the previous file in workspace/backups. Returns (path, backup)."""
    target = workspace_file(exercise, workspace)
    backup = None
    if target.exists():
        backups = workspace / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        backup = backups / f"{exercise.id}-{now.strftime('%Y%m%d-%H%M%S-%f')}.py"
        shutil.copy2(target, backup)
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exercise.starter, target)
    return target, backup


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ExerciseStatus:
    exercise: Exercise
    state: str  # not started | in progress | passed
    best_passed: int
    best_total: int
    attempts: int


def statuses(exercises: Sequence[Exercise], attempts_by_id: Mapping[str, Sequence], workspace: Path
             ) -> list[ExerciseStatus]:
    """Each exercise's state from its recorded attempts and whether a workspace file exists."""
    result = []
    for exercise in exercises:
        attempts = list(attempts_by_id.get(exercise.id, ()))
        best = max(attempts, key=lambda a: (a.passed / a.total if a.total else 0.0, a.total), default=None)
        if any(a.status == "pass" for a in attempts):
            state = "passed"
        elif attempts or workspace_file(exercise, workspace).exists():
            state = "in progress"
        else:
            state = "not started"
        result.append(ExerciseStatus(exercise, state, best.passed if best else 0, best.total if best else 0,
                                     len(attempts)))
    return result


def last_worked_on(exercises: Sequence[Exercise], attempts: Iterable, events: Iterable[dict],
                   workspace: Path) -> tuple[Exercise, str] | None:
    """The exercise the learner last started, checked or edited, and which of the three it was.

    Started and checked come from the progress database (``events`` of kind started/reset, ``attempts``);
    edited is the workspace file's modification time. None when there is no trace of any exercise."""
    by_id = {exercise.id: exercise for exercise in exercises}
    moments: list[tuple[datetime, str, str]] = []
    for attempt in attempts:
        moments.append((attempt.attempted_at, attempt.exercise_id, "checked"))
    for event in events:
        if event["kind"] in ("started", "reset"):
            moments.append((parse_time(event["at"]), event["exercise_id"], "started"))
    for exercise in exercises:
        try:
            mtime = workspace_file(exercise, workspace).stat().st_mtime
        except OSError:
            continue
        moments.append((datetime.fromtimestamp(mtime, timezone.utc), exercise.id, "edited"))
    moments = [moment for moment in moments if moment[1] in by_id]
    if not moments:
        return None
    _, exercise_id, why = max(moments, key=lambda moment: moment[0])
    return by_id[exercise_id], why


def task_statuses(result) -> dict[str, str]:
    """Each task's outcome in one grading: "fail" when one of its tests failed or errored, "pass" when the
    others passed, "skip" when every one was skipped here (a CUDA-only task on a CPU machine)."""
    statuses: dict[str, str] = {}
    for task, tests in result.by_task().items():
        if task == "other":
            continue
        kinds = {test.status for test in tests}
        statuses[task] = "fail" if kinds & {"fail", "error"} else "pass" if "pass" in kinds else "skip"
    return statuses


def record_check(store, result, exercise: Exercise | None = None, now: datetime | None = None) -> list[str]:
    """Keep a grading of the workspace file (by `check` or `watch`): the attempt, which tasks failed in the
    order of the tests (which `hint` targets first), each task's outcome, and the exercise's task cards
    reviewed from it (quiz/review.py says when a check is a review). Returns the ids of the cards it moved."""
    import json

    from quiz import review

    now = now or utcnow()
    store.record_attempt(Attempt(result.exercise, result.status, result.passed, result.total, now,
                                 result.duration_s, result.submission_sha256))
    failing = list(dict.fromkeys(t.task for t in result.tests if t.status in ("fail", "error") and t.task))
    store.record_event(result.exercise, "failing", json.dumps(failing), now=now)
    store.record_event(result.exercise, "tasks", json.dumps(task_statuses(result)), now=now)
    return review.update_exercise_cards(store, exercise or get(result.exercise))


def hint_history(events: Iterable[dict], exercise_id: str) -> tuple[list[int], list[str]]:
    """From the progress events: the hints of an exercise already shown, and the tasks that failed in its
    last check (recorded by `check` as a JSON list, in the order of the tests)."""
    import json

    mine = [event for event in events if event["exercise_id"] == exercise_id]
    shown = [int(e["detail"]) for e in mine if e["kind"] == "hint" and (e["detail"] or "").isdecimal()]
    last_check = next((e for e in reversed(mine) if e["kind"] == "failing"), None)
    failing = json.loads(last_check["detail"]) if last_check and last_check["detail"] else []
    return shown, failing


def next_hint(exercise: Exercise, shown: Iterable[int], failing_tasks: Sequence[str]
              ) -> tuple[int, str | None, bool]:
    """The hint to show next: its number (from 1), the failing task it is about (None when nothing failed in
    the last check), and whether it is the last one left for that (for every task when nothing failed).

    The first unseen hint of the first task that failed in the last check; once every hint of the failing
    tasks has been seen, the last hint of the first of them again, never a hint about a task that passes."""
    seen = set(shown)
    tasks = exercise.hint_tasks or (None,) * len(exercise.hints)
    failing = [task for task in failing_tasks if task in tasks]
    if failing:
        unseen = [(number, task) for task in failing for number, hint_task in enumerate(tasks, 1)
                  if hint_task == task and number not in seen]
        if unseen:
            number, task = unseen[0]
            return number, task, len(unseen) == 1
        task = failing[0]
        return max(number for number, hint_task in enumerate(tasks, 1) if hint_task == task), task, True
    unseen_numbers = [number for number in range(1, len(exercise.hints) + 1) if number not in seen]
    if unseen_numbers:
        return unseen_numbers[0], None, len(unseen_numbers) == 1
    return len(exercise.hints), None, True


def code_lines(source: str) -> list[tuple[int, str]]:
    """The source's lines without docstrings, comments and blank lines (trailing spaces cut): what a learner's
    file and the reference are compared on, so a removed docstring or a different comment is no difference.
    A file that does not parse is compared as it is, minus blank lines. Each line with its number in the file."""
    import ast
    import io
    import tokenize

    lines = source.splitlines()
    drop: set[int] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [(number, line.rstrip()) for number, line in enumerate(lines, 1) if line.strip()]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                drop.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    kept = list(lines)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, column = token.start
                kept[row - 1] = kept[row - 1][:column]
    except (tokenize.TokenError, IndentationError):
        pass
    return [(number, line.rstrip()) for number, line in enumerate(kept, 1) if number not in drop and line.strip()]


def code_diff(yours: str, reference: str) -> list[tuple[str, str]]:
    """Your code against the reference's, docstrings and comments left out: (kind, line) pairs where kind is
    "@" (a hunk's place), "-" (only yours), "+" (only the reference's) or " " (the same, as context)."""
    rows: list[tuple[str, str]] = []
    mine, theirs = code_lines(yours), code_lines(reference)
    a, b = [line for _, line in mine], [line for _, line in theirs]
    for group in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_grouped_opcodes(2):
        _, a0, _, b0, _ = group[0]
        where_mine = f"your line {mine[a0][0]}" if a0 < len(mine) else "the end of your file"
        where_theirs = f"the reference's line {theirs[b0][0]}" if b0 < len(theirs) else "the reference's end"
        rows.append(("@", f"{where_mine}, {where_theirs}"))
        for tag, a0, a1, b0, b1 in group:
            if tag == "equal":
                rows += [(" ", line) for line in a[a0:a1]]
            else:
                rows += [("-", line) for line in a[a0:a1]]
                rows += [("+", line) for line in b[b0:b1]]
    return rows
