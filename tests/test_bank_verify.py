"""`torchprep bank verify`: the bank's runnable claims under the installed torch, and the answers that differ."""

from __future__ import annotations

import json
import os
import textwrap

from quiz import verify
from quiz.bank import Choice, Question
from quiz.snippets import Outcome

BANK = textwrap.dedent("""\
    format_version: 1
    topic: tensors
    questions:
      - id: mine-output-right
        type: output
        difficulty: 1
        prompt: {en: "What does it print?", zh: "它打印什么？"}
        code: |
          import torch
          print(torch.tensor([1, 2]).sum().item())
        answer: "3"
        explanation: {en: "The sum of 1 and 2 is 3; item() turns the 0-dim tensor into an int.", zh: "1 加 2 等于 3。"}
      - id: mine-output-wrong
        type: output
        difficulty: 1
        prompt: {en: "What does the mean print?", zh: "平均值打印什么？"}
        code: |
          import torch
          print(torch.tensor([1, 2]).float().mean().item())
        answer: "1.0"
        explanation:
          en: "Deliberately wrong for the test: the mean of 1 and 2 is 1.5."
          zh: "为测试故意写错：平均值是 1.5。"
      - id: mine-claim-swapped
        type: choice
        difficulty: 1
        prompt: {en: "What dtype does torch.tensor([1, 2]) have?", zh: "它的 dtype 是什么？"}
        choices:
          - text: {en: "torch.float32", zh: "torch.float32"}
            correct: true
            claim: |
              import torch
              assert torch.tensor([1, 2]).dtype == torch.float32
          - text: {en: "torch.int64", zh: "torch.int64"}
            why: {en: "Marked wrong on purpose for the test.", zh: "为测试故意标错。"}
            claim: |
              import torch
              assert torch.tensor([1, 2]).dtype == torch.int64
        explanation: {en: "Python ints give int64 tensors; the key is marked wrong on purpose.", zh: "故意标错。"}
""")


def write_bank(tmp_path, monkeypatch):
    empty = tmp_path / "no-builtin"
    empty.mkdir()
    monkeypatch.setenv("TORCHPREP_BUILTIN_BANK", str(empty))
    path = tmp_path / "mine.yaml"
    path.write_text(BANK, encoding="utf-8")
    return path


def test_bank_verify_lists_each_answer_that_differs_under_the_installed_torch(cli, tmp_path, monkeypatch):
    path = write_bank(tmp_path, monkeypatch)
    result = cli("bank", "verify", "--bank", path, expect=1)
    out = " ".join(result.output.split())
    assert "Ran 4 blocks of 3 questions under torch" in out
    assert "2 question(s) answer differently" in out
    assert "mine-output-wrong (mine.yaml:13) output: expected 1.0, got 1.5" in out
    assert "the claim of choice 1 (marked right): expected it holds, got AssertionError" in out
    assert "the claim of choice 2 (marked wrong): expected it fails, got it holds" in out
    assert "mine-output-right" not in out, "an answer that holds is not listed"


def test_bank_verify_json_is_one_document_with_every_difference(cli, tmp_path, monkeypatch):
    path = write_bank(tmp_path, monkeypatch)
    document = json.loads(cli("bank", "verify", "--bank", path, "--json", expect=1).stdout)
    assert document["blocks"] == 4 and document["questions"] == 3
    assert document["torch"].startswith(verify.base_version(document["torch"]))
    assert [(d["id"], d["what"], d["expected"], d["got"]) for d in document["differences"]] == [
        ("mine-output-wrong", "output", "1.0", "1.5"),
        ("mine-claim-swapped", "the claim of choice 1 (marked right)", "it holds", "AssertionError"),
        ("mine-claim-swapped", "the claim of choice 2 (marked wrong)", "it fails", "it holds")]


def question(qtype: str, **fields) -> Question:
    return Question(id=f"q-{qtype}", type=qtype, topic="tensors", difficulty=1, prompt={"en": "p"},
                    explanation={"en": "e"}, **fields)


def test_differences_judge_every_kind_of_block_as_the_suite_does():
    output = question("output", code="print(1)", output="1")
    bug = question("bug", code="x = 1\n", bug_lines=(1,), fix={1: "x = 2"}, check="assert x == 2")
    verified = question("choice", verify="assert True", choices=(Choice({"en": "a"}, True, claim="assert 1"),
                                                                  Choice({"en": "b"}, False, claim="assert 0")))
    fine = {"output:q-output": Outcome(True, "1\n", ""), "bug-as-asked:q-bug": Outcome(False, "", "AssertionError"),
            "bug-fixed:q-bug": Outcome(True, "", ""), "verify:q-choice": Outcome(True, "", ""),
            "claim:q-choice:1": Outcome(True, "", ""), "claim:q-choice:2": Outcome(False, "", "AssertionError")}
    assert verify.differences([output, bug, verified], fine) == []
    broken = {"output:q-output": Outcome(False, "", "Traceback\nRuntimeError: boom\n"),
              "bug-as-asked:q-bug": Outcome(True, "", ""), "bug-fixed:q-bug": Outcome(False, "", "NameError: y"),
              "verify:q-choice": Outcome(False, "", "AssertionError: no")}
    assert [(d.question.id, d.what, d.got) for d in verify.differences([output, bug, verified], broken)] == [
        ("q-output", "output", "raised RuntimeError: boom"), ("q-bug", "bug", "it passes"),
        ("q-bug", "bug", "NameError: y"), ("q-choice", "verify", "AssertionError: no")]
    assert verify.differences([output], {"output:q-output": Outcome(True, "2\n", "")})[0].got == "2"


def test_questions_that_need_a_gpu_are_left_out_without_one():
    gpu = question("output", code="print(1)", output="1", cuda=True)
    assert verify.snippets([gpu], cuda=False) == {} and list(verify.snippets([gpu])) == ["output:q-output"]


def test_a_snippet_that_hangs_or_leaves_a_process_behind_never_hangs_the_run(monkeypatch):
    """run_all (the suite's) and stream (`bank verify`'s) kill a hung snippet and whatever a snippet left
    running: a rank of a process group stuck in its rendezvous once hung the suite in the pool's shutdown."""
    import time

    from quiz import snippets

    monkeypatch.setattr(snippets, "SNIPPET_TIMEOUT_S", 8)
    left_behind = ("import multiprocessing, time\n"
                   "p = multiprocessing.Process(target=time.sleep, args=(600,))\n"
                   "p.start()\n"
                   "print(p.pid)\n")
    started = time.monotonic()
    results = snippets.run_all({"hangs": "import time\ntime.sleep(600)\n", "leaves": left_behind,
                                "fine": "print(1 + 1)\n"})
    assert time.monotonic() - started < 60, "neither snippet was waited for"
    assert results["fine"] == snippets.Outcome(True, "2\n", "")
    assert not results["hangs"].ok and "still running after 8 s" in results["hangs"].error
    assert results["leaves"].ok
    orphan = int(results["leaves"].stdout)
    time.sleep(0.5)
    try:
        os.kill(orphan, 0)
        alive = open(f"/proc/{orphan}/stat").read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    assert not alive, "the process the snippet started was killed"
