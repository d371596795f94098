"""Whole-command timings against a baseline measured in the same run (not a test: timings never assert).

    python benchmarks/bench.py startup   # `torchprep --help` and a quiz up to its first question
    python benchmarks/bench.py check     # one `torchprep check` against `python -c "import torch, pytest"`
    python benchmarks/bench.py report    # `torchprep report` on 2,000 answers
    python benchmarks/bench.py batch     # `torchprep grade` of 50 submissions, --jobs 2, against 50 checks
    python benchmarks/bench.py watch     # a save under `torchprep watch` until its result, against `check`
    python benchmarks/bench.py all       # all but batch (minutes)

Each command runs once to warm the caches, then RUNS times alternating with its baseline; the median, min and
max wall times are printed with the median ratio. Progress goes to a temporary TORCHPREP_HOME.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
PYTHON = sys.executable
TORCHPREP = [PYTHON, "-m", "quiz"]


def timed(command: list[str], env: dict, stdin: str = "") -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, input=stdin, text=True, capture_output=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return elapsed


def _label(command: list[str]) -> str:
    return "a bare typer command with one option" if command is TYPER_COMMAND else " ".join(command[1:])


def compare(name: str, command: list[str], baseline: list[str], env: dict, stdin: str = "") -> None:
    timed(command, env, stdin)
    timed(baseline, env)
    ours, base = [], []
    for _ in range(RUNS):
        ours.append(timed(command, env, stdin))
        base.append(timed(baseline, env))
    ratio = statistics.median(o / b for o, b in zip(ours, base, strict=True))
    print(f"{name}\n  torchprep: median {statistics.median(ours) * 1000:7.0f} ms  (min {min(ours) * 1000:.0f}, "
          f"max {max(ours) * 1000:.0f})\n  baseline:  median {statistics.median(base) * 1000:7.0f} ms  "
          f"(min {min(base) * 1000:.0f}, max {max(base) * 1000:.0f})  {_label(baseline)}\n"
          f"  ratio (median of pairs): {ratio:.2f}\n")


def environment(home: Path) -> dict:
    return dict(os.environ, TORCHPREP_HOME=str(home), TORCHPREP_WORKSPACE=str(home / "ws"), NO_COLOR="1",
                COLUMNS="80", PYTHONPATH=str(ROOT))


# The floor typer itself sets for a command with an option: it imports pydantic to convert parameters.
TYPER_COMMAND = [PYTHON, "-c", "import typer, rich, yaml\napp = typer.Typer()\n@app.command()\n"
                 "def main(count: int = typer.Option(1, '--count')): pass\n"
                 "app(['--count', '2'], standalone_mode=False)"]


def startup(env: dict) -> None:
    baseline = [PYTHON, "-c", "import typer, rich, yaml"]
    compare("torchprep --help", TORCHPREP + ["--help"], baseline, env)
    compare("torchprep quiz, up to the first question", TORCHPREP + ["quiz", "--count", "1"], baseline, env,
            stdin="q\n")
    compare("torchprep quiz, against a bare typer command with one option", TORCHPREP + ["quiz", "--count", "1"],
            TYPER_COMMAND, env, stdin="q\n")
    compare("torchprep quiz, a question with code, against a bare typer command with one option",
            TORCHPREP + ["quiz", "--count", "1", "--type", "output"], TYPER_COMMAND, env, stdin="q\n")


def check(env: dict) -> None:
    compare("torchprep check autograd (reference solution)",
            TORCHPREP + ["check", "autograd", "--file", str(ROOT / "solutions" / "autograd.py")],
            [PYTHON, "-c", "import torch, pytest"], env)


def batch(env: dict, home: Path, count: int = 50) -> None:
    """One `torchprep grade --jobs 2` of `count` tensor_ops submissions (the reference, the starter and every
    known-wrong one, repeated) against the same submissions checked one `torchprep check` at a time. Once
    each: the sequential side takes minutes."""
    sources = [ROOT / "solutions" / "tensor_ops.py", ROOT / "exercises" / "tensor_ops" / "tensor_ops.py",
               *sorted((ROOT / "tests" / "mutants" / "tensor_ops").glob("*.py"))]
    folder = home / "submissions"
    folder.mkdir()
    files = []
    for index in range(count):
        target = folder / f"candidate_{index:02d}.py"
        target.write_bytes(sources[index % len(sources)].read_bytes())
        files.append(target)
    timed(TORCHPREP + ["check", "tensor_ops", "--file", str(files[0])], env)  # records the reference once
    grade = timed(TORCHPREP + ["grade", str(folder), "--exercise", "tensor_ops", "--jobs", "2",
                               "--format", "json", "--output", str(home / "batch.json")], env)
    start = time.perf_counter()
    for target in files:
        timed(TORCHPREP + ["check", "tensor_ops", "--file", str(target), "--json"], env)
    sequential = time.perf_counter() - start
    print(f"torchprep grade of {count} tensor_ops submissions\n  grade --jobs 2:       {grade:7.1f} s  "
          f"({grade / count:.2f} s a submission)\n  {count} checks in a row: {sequential:7.1f} s  "
          f"({sequential / count:.2f} s a submission)\n  ratio: {grade / sequential:.2f}\n")


def watch(env: dict, home: Path) -> None:
    """Under one `torchprep watch tensor_ops`, save the file RUNS times (the reference and a known-wrong
    submission in turn) and time each save until the verdict line is printed; against a cold `torchprep check`
    of the same files, whose --json says how long the tests themselves ran."""
    import json
    import queue
    import threading

    workspace = home / "ws"
    workspace.mkdir(exist_ok=True)
    target = workspace / "tensor_ops.py"
    sources = [ROOT / "solutions" / "tensor_ops.py",
               sorted((ROOT / "tests" / "mutants" / "tensor_ops").glob("*.py"))[0]]
    target.write_bytes(sources[1].read_bytes())
    cold, tests_s = [], []
    for index in range(RUNS + 1):
        probe = home / f"probe{index % 2}.py"
        probe.write_bytes(sources[index % 2].read_bytes())
        start = time.perf_counter()
        completed = subprocess.run(TORCHPREP + ["check", "tensor_ops", "--file", str(probe), "--json"], env=env,
                                   capture_output=True, text=True, cwd=ROOT)
        if index:  # the first one records the reference stream
            cold.append(time.perf_counter() - start)
            tests_s.append(json.loads(completed.stdout)["tests_s"])
    process = subprocess.Popen(TORCHPREP + ["watch", "tensor_ops"], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()

    def verdict(timeout: float = 120) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            line = lines.get(timeout=timeout)
            if line.startswith(("PASS", "FAIL", "ERROR")):
                return time.perf_counter()
        sys.exit("watch printed no verdict")

    started = time.perf_counter()
    verdict()
    first = time.perf_counter() - started
    warm = []
    for index in range(RUNS):
        time.sleep(0.5)
        saved = time.perf_counter()
        target.write_bytes(sources[index % 2].read_bytes())
        warm.append(verdict() - saved)
    process.stdin.write("q\n")
    process.stdin.flush()
    process.wait(timeout=30)
    median_tests = statistics.median(tests_s)
    print(f"torchprep watch tensor_ops: a save until its verdict is printed ({RUNS} saves)\n"
          f"  watch, after a save:  median {statistics.median(warm) * 1000:6.0f} ms  (min {min(warm) * 1000:.0f}, "
          f"max {max(warm) * 1000:.0f})\n"
          f"  the tests themselves: median {median_tests * 1000:6.0f} ms  (what the runs report)\n"
          f"  watch's own cost:     median {(statistics.median(warm) - median_tests) * 1000:6.0f} ms  "
          f"(after a save, less the tests)\n"
          f"  cold torchprep check: median {statistics.median(cold) * 1000:6.0f} ms  (min {min(cold) * 1000:.0f}, "
          f"max {max(cold) * 1000:.0f}), same files\n"
          f"  watch's start, to its first verdict: {first * 1000:.0f} ms\n"
          f"  ratio watch/check (medians): {statistics.median(warm) / statistics.median(cold):.2f}\n")


def fill_history(home: Path, answers: int = 2_000) -> None:
    """A plausible history: answers spread over the last 60 days on the built-in questions, and their cards."""
    sys.path.insert(0, str(ROOT))
    from quiz import bank, review
    from quiz.store import Answer, Store

    rng = random.Random(0)
    questions = bank.load().questions
    start = datetime.now(timezone.utc) - timedelta(days=60)
    step = timedelta(days=60) / answers
    with Store.open(home) as store:
        records = []
        for index in range(answers):
            question = rng.choice(questions)
            outcome = rng.choice(["right", "right", "wrong", "skipped"])
            records.append(Answer(question.id, question.topic, question.type, outcome,
                                  1.0 if outcome == "right" else 0.0, start + step * index,
                                  None, 0, rng.uniform(5, 90)))
        store.merge(records, [], [], [])
        review.rebuild(store)


def report(env: dict, home: Path) -> None:
    fill_history(home)
    compare("torchprep report (2,000 answers)", TORCHPREP + ["report"], [PYTHON, "-c", "import typer, rich, yaml"],
            env)
    compare("torchprep report (2,000 answers), against a bare typer command", TORCHPREP + ["report"], TYPER_COMMAND,
            env)


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        env = environment(home)
        print(f"{RUNS} runs each, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
        if which in ("startup", "all"):
            startup(env)
        if which in ("check", "all"):
            check(env)
        if which in ("report", "all"):
            report(env, home)
        if which == "batch":
            batch(env, home)
        if which == "watch":
            watch(env, home)


if __name__ == "__main__":
    main()
