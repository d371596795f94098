#!/usr/bin/env bash
# Mutation testing of the core (issue 15) with mutmut: slow (tens of minutes on one core), never part of CI.
#
#   benchmarks/mutation.sh                      # every core module, then the score table
#   benchmarks/mutation.sh 'quiz.session.*'     # only the mutants whose names match (mutmut's own patterns)
#   MUTATION_JOBS=1 benchmarks/mutation.sh      # mutants tested at once (default: every core)
#   MUTATION_WORKDIR=/tmp/m benchmarks/mutation.sh   # keep the copy (and mutmut's results) there; default: a
#                                                    # fresh temporary folder, removed at the end
#   MUTATION_SKIP_INSTALL=1 ...                 # do not run pip first
#
# It works on a copy of the checkout (tracked files plus untracked ones git does not ignore), so mutmut's
# `mutants/` folder never lands in the working tree and pyproject.toml needs no [tool.mutmut] section: the
# configuration is written into the copy's setup.cfg below.
#
# Only the fast, torch-free tests run against the mutants: the catalog self-check, the earned messages, the
# builtin bank's claims and everything else that grades an exercise in a child process or imports torch stay
# out (they would take hours and test the exercises, not this code). The grading judge is mutated on its own
# functions and is covered by tests/test_core_judge.py and tests/test_core_compare.py, which feed it plain
# observations.
#
# killed % = killed / mutants; score % leaves out the survivors proven equivalent by the one rule explained in
# the table's code below (the letter case of SQL). A timeout is shown apart and does not count as killed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python}

if [[ "${MUTATION_SKIP_INSTALL:-}" != 1 ]]; then
    "$PYTHON" -m pip install --quiet -e ".[test,mutation]"
fi

MODULES=(
    quiz/session.py quiz/store.py quiz/review.py quiz/report.py quiz/bank.py quiz/mock.py quiz/progress.py
    quiz/grading/judge.py quiz/grading/compare.py
)
# The tests that exercise the core without torch and without grading an exercise.
TESTS=(
    tests/test_bank.py tests/test_quiz.py tests/test_store.py tests/test_learning_loop.py tests/test_promises.py
)
for file in tests/test_core_*.py; do
    [[ -e "$file" ]] && TESTS+=("$file")
done

if [[ -n "${MUTATION_WORKDIR:-}" ]]; then
    WORK=$MUTATION_WORKDIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/torchprep-mutation.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

# The copy: refreshed on every run, so edited tests are seen; mutmut's own `mutants/` folder (its cache) stays.
git ls-files --cached --others --exclude-standard -z | tar --null -T - -cf - | tar -C "$WORK" -xf -
cd "$WORK"

list() { local sep=$1; shift; local out=""; for item in "$@"; do out+="${sep}${item}"; done; printf '%s' "$out"; }
{
    echo "[mutmut]"
    echo "source_paths = quiz"
    echo "only_mutate =$(list $'\n    ' "${MODULES[@]}")"
    # pyproject's addopts run the tests on every core with xdist: the mutants must run in mutmut's own process.
    echo "pytest_add_cli_args =$(list $'\n    ' -p no:xdist -p no:cacheprovider -o 'addopts=--strict-markers')"
    echo "pytest_add_cli_args_test_selection =$(list $'\n    ' "${TESTS[@]}")"
    # The tests look for the exercises and the tiny fixture catalog beside the package, as in a checkout.
    echo "also_copy =$(list $'\n    ' exercises solutions README.md docs)"
} > setup.cfg
# mutmut reads pyproject.toml's [tool.mutmut] first and ignores setup.cfg when it has one.
if grep -q '^\[tool\.mutmut\]' pyproject.toml; then
    echo "note: pyproject.toml has a [tool.mutmut] section; mutmut uses it instead of this script's setup.cfg" >&2
fi

# Which tests reach which function is mutmut's stats, kept beside its results: a function added since (or a test
# that now reaches it) would be tested by a stale list, and its mutants reported as survivors. Recomputed every run.
rm -f mutants/mutmut-stats.json

"$PYTHON" -m mutmut run --max-children "${MUTATION_JOBS:-$(nproc)}" "$@" || true

"$PYTHON" - "${MODULES[@]}" <<'EOF'
"""The table: one row per module from mutmut's result files (mutants/<module>.meta).

A survivor is counted as equivalent (it cannot change behaviour) by one rule only: in quiz/store.py, the only
module that speaks SQL, its single change is the letter case of an SQL statement, outside its quoted literals,
or of a sqlite3.Row column name. SQLite keywords,
table, column and pragma names are case-insensitive (https://www.sqlite.org/lang_keywords.html) and so is
sqlite3.Row's lookup by name (https://docs.python.org/3/library/sqlite3.html#sqlite3.Row). Every other
survivor counts against the score.
"""
import ast
import json
import re
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

SQL = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|PRAGMA|BEGIN|COMMIT|ROLLBACK|WHERE|VALUES|FROM|INTO)\b")  # as written
QUOTED = re.compile(r"'[^']*'")
ROW_KEY = re.compile(r'\b(?:row|r)\["([A-Za-z_0-9]+)"\]')


def equivalent(before: str, after: str) -> bool:
    if before == after or before.lower() != after.lower():
        return False
    if ROW_KEY.search(before) and ROW_KEY.sub("", before) == ROW_KEY.sub("", after):
        return True
    return bool(SQL.search(before)) and QUOTED.findall(before) == QUOTED.findall(after)


def functions(path: Path) -> dict[str, list[str]]:
    source = path.read_text()
    lines = source.splitlines()
    return {node.name: lines[node.lineno:node.end_lineno] for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


rows, totals = [], [0] * 6
for module in sys.argv[1:]:
    meta = Path("mutants") / (module + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    bodies = functions(Path("mutants") / module) if codes else {}
    counts = dict.fromkeys(("total", "killed", "survived", "equivalent", "timeout", "other"), 0)
    for name, code in codes.items():
        status = status_by_exit_code[code]
        counts["total"] += 1
        if status in ("killed", "caught by type check"):
            counts["killed"] += 1
        elif status == "timeout":
            counts["timeout"] += 1
        elif status in ("survived", "no tests", "suspicious", "skipped"):
            counts["survived"] += 1
            function = name.rsplit(".", 1)[-1]
            mutant = bodies.get(function, [])
            original = bodies.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", [])
            changed = [(a, b) for a, b in zip(original, mutant) if a != b] if len(mutant) == len(original) else []
            # store.py is the only module that speaks SQL (and the only one whose rows are sqlite3.Row)
            if module == "quiz/store.py" and len(changed) == 1 and equivalent(changed[0][0].strip(),
                                                                               changed[0][1].strip()):
                counts["equivalent"] += 1
        else:
            counts["other"] += 1
    values = list(counts.values())
    totals = [t + v for t, v in zip(totals, values)]
    rows.append((module, *values))
rows.append(("all", *totals))
print(f"\n{'module':<26}{'mutants':>8}{'killed':>8}{'survived':>9}{'(equiv.)':>9}{'timeout':>8}{'other':>6}"
      f"{'killed %':>9}{'score %':>8}")
for module, total, killed, survived, same, timeout, other in rows:
    raw = f"{100 * killed / total:.1f}" if total else "-"
    score = f"{100 * killed / (total - same):.1f}" if total - same else "-"
    print(f"{module:<26}{total:>8}{killed:>8}{survived:>9}{same:>9}{timeout:>8}{other:>6}{raw:>9}{score:>8}")
print("\nkilled % = killed / mutants; score % = killed / (mutants - equivalent), where equivalent = survivors whose "
      "only change is the letter case of SQL or of a sqlite3.Row column name; 'other' = not checked or crashed.\n"
      f"Survivors: cd {Path.cwd()} && python -m mutmut results, then python -m mutmut show NAME "
      "(MUTATION_WORKDIR keeps this folder).")
EOF
