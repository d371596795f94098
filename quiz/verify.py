"""`torchprep bank verify`: every runnable claim of the bank, run under the user's installed torch.

The bank's answers hold for the torch they were last verified on (VERIFIED_WITH, kept by the test suite). A
candidate whose job runs another release runs them all here and sees which answers differ there. The snippets
and their verdicts are the test suite's own (tests/test_builtin_bank.py): the same keys, the same rules.
Core module: returns data, never prints; the snippets run in a child process (quiz/snippets.py), never here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from quiz import paths
from quiz.bank import Question
from quiz.errors import QuizError
from quiz.snippets import WORKER_COMMAND, Outcome

RECORD = "verified-with.json"


def verified_with() -> dict:
    """The torch (and Python) the built-in bank's claims were last verified on, from quiz/bank/RECORD."""
    try:
        return json.loads((paths.builtin_bank_dir() / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def snippets(questions: Iterable[Question], *, cuda: bool = True) -> dict[str, str]:
    """Every runnable block, keyed `kind:question-id[:choice]`; questions marked `cuda: true` only with ``cuda``."""
    sources: dict[str, str] = {}
    for q in questions:
        if q.cuda and not cuda:
            continue
        if q.type == "output" and q.code:
            sources[f"output:{q.id}"] = q.code
        if q.verify:
            sources[f"verify:{q.id}"] = q.verify
        if q.type == "bug" and q.fix:
            sources[f"bug-as-asked:{q.id}"] = (q.setup or "") + "\n" + q.code + "\n" + (q.check or "")
            sources[f"bug-fixed:{q.id}"] = (q.setup or "") + "\n" + q.fixed_code() + "\n" + (q.check or "")
        for index, choice in enumerate(q.choices, 1):
            if choice.claim:
                sources[f"claim:{q.id}:{index}"] = choice.claim
    return sources


@dataclass(frozen=True)
class Difference:
    """One runnable claim that does not hold under this torch: where, and what differs."""
    question: Question
    what: str  # "output", "verify", "bug", "the claim of choice 2 (marked wrong)"
    expected: str
    got: str


def _last_line(error: str) -> str:
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "failed"


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def differences(questions: Sequence[Question], outcomes: dict) -> list[Difference]:
    """Each question's claims judged as the test suite judges them; ``outcomes``: key -> Outcome-like with
    ``ok``, ``stdout``, ``error``. Keys without an outcome (not run) are left out."""
    found: list[Difference] = []
    for q in questions:
        output = outcomes.get(f"output:{q.id}")
        if output is not None:
            if not output.ok:
                found.append(Difference(q, "output", _lines(q.output or ""), "raised " + _last_line(output.error)))
            elif _lines(output.stdout) != _lines(q.output or ""):
                found.append(Difference(q, "output", _lines(q.output or ""), _lines(output.stdout)))
        verify = outcomes.get(f"verify:{q.id}")
        if verify is not None and not verify.ok:
            found.append(Difference(q, "verify", "the verify block passes", _last_line(verify.error)))
        asked, fixed = outcomes.get(f"bug-as-asked:{q.id}"), outcomes.get(f"bug-fixed:{q.id}")
        if asked is not None and asked.ok:
            found.append(Difference(q, "bug", "the code as asked fails its check", "it passes"))
        if fixed is not None and not fixed.ok:
            found.append(Difference(q, "bug", "the fixed code passes its check", _last_line(fixed.error)))
        for index, choice in enumerate(q.choices, 1):
            claim = outcomes.get(f"claim:{q.id}:{index}")
            if claim is None:
                continue
            if choice.correct and not claim.ok:
                found.append(Difference(q, f"the claim of choice {index} (marked right)", "it holds",
                                        _last_line(claim.error)))
            elif not choice.correct and claim.ok:
                found.append(Difference(q, f"the claim of choice {index} (marked wrong)", "it fails", "it holds"))
    return found


@dataclass(frozen=True)
class Run:
    torch: str
    cuda: bool
    outcomes: dict


def run(sources: dict[str, str], progress: Callable[[], None] = lambda: None, *,
        python: str = sys.executable) -> Run:
    """Run the snippets in a child process under ``python``'s torch; ``progress()`` after each one."""
    # An empty folder to start in: `-c` puts the current folder on sys.path, where a stray torch.py would win.
    folder = tempfile.mkdtemp(prefix="torchprep-verify-")
    try:
        child = subprocess.Popen([python, *WORKER_COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=folder)
    except OSError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise QuizError(f"cannot start {python}: {error}") from None
    try:
        child.stdin.write(json.dumps(sources))
        child.stdin.close()
        header = child.stdout.readline()
        if not header:
            error = child.stderr.read()
            if "No module named 'torch'" in error:
                raise QuizError("torch is not installed in this environment: `bank verify` runs the bank's "
                                "claims under the torch you use (pip install torch)")
            raise QuizError("the verify process ended before it started: " + _last_line(error))
        info = json.loads(header)
        outcomes = {}
        for line in child.stdout:
            record = json.loads(line)
            key = record.pop("key")
            outcomes[key] = Outcome(**record)
            progress()
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return Run(info["torch"], info["cuda"], outcomes)


def base_version(version: str) -> str:
    """"2.13.0+cpu" -> "2.13.0": the local build tag says how it was built, not what it does."""
    return version.split("+", 1)[0]

