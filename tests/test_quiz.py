"""Quiz sessions through the real CLI with scripted input, and the session logic underneath."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from quiz import bank, play, session
from quiz.store import Store
from tests.conftest import SAMPLE_BANK

QUESTIONS = {q.id: q for q in bank.read_file(SAMPLE_BANK)[0]}


def answers_in(home):
    with Store.open(home) as store:
        return store.answers()


def shown_letters(output: str, question_id: str) -> dict[str, str]:
    """Map each shown letter to its choice text, read off the rendered panel."""
    letters = {}
    for line in output.splitlines():
        line = line.strip("│ ").strip()
        if len(line) > 3 and line[1] == ")" and line[0] in "abcdef":
            letters[line[0]] = line[3:].strip()
    return letters


def right_letters(output: str, question_id: str) -> str:
    question = QUESTIONS[question_id]
    correct = {c.text["en"] for c in question.choices if c.correct}
    return "".join(letter for letter, text in shown_letters(output, question_id).items() if text in correct)


def run_one(cli, qtype: str, answer: str, *extra: str):
    return cli("quiz", "--bank", SAMPLE_BANK, "--type", qtype, "--seed", "7", *extra, input=answer)


@pytest.mark.usefixtures("sample_only")
class TestEveryQuestionType:
    def test_multi_select_feedback_names_each_missed_and_each_wrong_pick(self, cli):
        letters = {text: letter for letter, text in shown_letters(run_one(cli, "multi", "q\n").output,
                                                                   "sample-multi").items()}
        picked = letters["x.view(-1)"] + letters["x.clone()"]
        out = run_one(cli, "multi", picked + "\n").output
        right = ", ".join(sorted(letters[t] for t in ("x.view(-1)", "x.t()")))
        assert f"Correct answers: {right} · Your choice: {', '.join(sorted(picked))}" in out
        assert f"  You missed {letters['x.t()']}) x.t()" in out
        assert f"  Not right {letters['x.clone()']})  clone copies." in out
        assert f"You missed {letters['x.view(-1)']})" not in out, "a right pick is not reported as missed"

    def test_choice_right_then_recorded(self, cli, isolated):
        first = run_one(cli, "choice", "q\n")  # look at the shuffled order, then quit
        letter = right_letters(first.output, "sample-choice")
        result = run_one(cli, "choice", f"{letter}\n")
        assert "✓ Right" in result.output
        assert "Why: backward() runs reverse-mode autodiff." in result.output
        assert "Read more: https://docs.pytorch.org/docs/stable/autograd.html" in result.output
        answers = answers_in(isolated)
        assert [(a.question_id, a.outcome, a.score) for a in answers] == [("sample-choice", "right", 1.0)]

    def test_choice_wrong_shows_the_right_answer_and_why_the_pick_was_wrong(self, cli, isolated):
        first = run_one(cli, "choice", "q\n")
        letters = shown_letters(first.output, "sample-choice")
        wrong = next(letter for letter, text in letters.items() if text == "optimizer.step()")
        right = next(letter for letter, text in letters.items() if text == "loss.backward()")
        result = run_one(cli, "choice", f"{wrong}\n")
        assert "✗ Not quite" in result.output
        assert f"Correct answer: {right}) loss.backward()" in result.output
        assert f"Your choice {wrong}): step() uses gradients, it does not compute them." in result.output
        assert "Missed (1):\n  • Which call computes gradients?" in result.output
        assert answers_in(isolated)[0].outcome == "wrong"

    def test_multi_needs_every_right_letter(self, cli, isolated):
        first = run_one(cli, "multi", "q\n")
        letters = right_letters(first.output, "sample-multi")
        assert len(letters) == 2
        result = run_one(cli, "multi", f"{letters[0]}\n")
        assert "✗ Not quite" in result.output
        result = run_one(cli, "multi", f"{letters[1]}, {letters[0]}\n")
        assert "✓ Right" in result.output
        assert [a.outcome for a in answers_in(isolated)] == ["wrong", "right"]

    def test_output_compares_after_normalising_whitespace(self, cli, isolated):
        result = run_one(cli, "output", "3   True\n")
        assert "✓ Right" in result.output
        result = run_one(cli, "output", "3 False\n")
        assert "✗ Not quite" in result.output
        assert "Correct answer:" in result.output and "│ 3    │" in result.output

    def test_bug_takes_line_numbers(self, cli, isolated):
        result = run_one(cli, "bug", "one\n1\n")
        # The sample bug question has no hints: neither the panel nor the notice promises one.
        assert "Answer with line numbers, e.g. 3 or 2,5 (or s skip, q quit)." in result.output
        assert "h hint" not in result.output
        assert "✓ Right" in result.output
        result = run_one(cli, "bug", "1, 4\n")
        assert "Correct answer: 1" in result.output

    def test_open_scores_covered_key_points(self, cli, isolated):
        result = run_one(cli, "open", "I would talk about the labels\n1 3\n")
        assert "Model answer" in result.output and "I found the labels were shifted by one" in result.output
        assert "  1. Situation" in result.output and "  3. Result" in result.output
        assert "Score: 2/3" in result.output
        answer = answers_in(isolated)[0]
        assert (answer.outcome, answer.score, answer.response) == ("right", pytest.approx(2 / 3, abs=1e-3),
                                                                 "I would talk about the labels")

    def test_open_with_enter_to_think_it_through(self, cli, isolated):
        result = run_one(cli, "open", "\nnone\n")
        assert "Score: 0/3" in result.output
        assert answers_in(isolated)[0].outcome == "wrong"


@pytest.mark.usefixtures("sample_only")
class TestControls:
    def test_hint_then_skip_then_quit_keeps_what_was_given(self, cli, isolated):
        result = cli("quiz", "--bank", SAMPLE_BANK, "--seed", "3", "--type", "choice", "--type", "bug",
                     input="h\nh\nh\ns\nq\n")
        assert "Hint 1/2: Think of reverse mode." in result.output
        assert "Hint 2/2: It is a method of the loss." in result.output
        assert "No more hints for this question." in result.output
        assert "Skipped (1):\n  • Which call computes gradients?" in result.output
        assert "Skipped: not counted; it can come up again in a later quiz." in result.output
        assert "Stopped early: every answer given so far is saved." in result.output
        answers = answers_in(isolated)
        assert [(a.question_id, a.outcome, a.hints_used) for a in answers] == [("sample-choice", "skipped", 2)]

    def test_end_of_input_mid_session_keeps_every_answer(self, cli, isolated):
        result = cli("quiz", "--bank", SAMPLE_BANK, "--seed", "3", "--type", "bug", "--type", "output",
                     input="1\n")  # answers the first question, then the terminal closes
        assert "Stopped early" in result.output
        assert len(answers_in(isolated)) == 1

    def test_summary_by_topic_time_and_missed(self, cli):
        result = cli("quiz", "--bank", SAMPLE_BANK, "--seed", "3", "--type", "bug", "--type", "output",
                     input="3 True\n2\n")  # seed 3 asks the output question first
        assert "Stopped early" not in result.output
        assert "Session summary" in result.output
        assert "Training loop" in result.output and "Tensors and fundamentals" in result.output
        assert "Total" in result.output and "1/2" in result.output
        assert "Time: 0m" in result.output
        assert "Missed (1):\n  • Which line is wrong?" in result.output and "sample-bug" not in result.output

    def test_chinese_with_english_fallback(self, cli):
        result = cli("quiz", "--bank", SAMPLE_BANK, "--seed", "3", "--type", "choice", "--lang", "zh",
                     input="zz\ns\n")
        assert "请用字母 a-c 作答（或 h 提示、s 跳过、q 退出）" in result.output
        assert "哪个调用会计算梯度？" in result.output
        assert "loss.backward()" in result.output  # no zh text: English is shown
        assert "题目 1/1 · 自动求导" in result.output

    def test_filters_that_match_nothing_are_a_clear_error(self, cli):
        result = cli("quiz", "--bank", SAMPLE_BANK, "--topic", "gpu", expect=2)
        assert "no question matches these filters" in result.output

    def test_unknown_topic_is_refused(self, cli):
        result = cli("quiz", "--topic", "cooking", expect=2)
        assert "unknown topic 'cooking'" in result.output


class TestDrawing:
    def test_same_seed_same_questions_order_and_choices(self):
        questions = list(QUESTIONS.values())
        first = session.draw(questions, session.Filters(), 5, seed=11)
        second = session.draw(questions, session.Filters(), 5, seed=11,
                              order=session.missed_and_new_first({"sample-bug": "wrong"}))
        assert [q.id for q in first] == [q.id for q in second]
        assert [session.choice_order(q, 11) for q in first] == [session.choice_order(q, 11) for q in second]
        orders = {tuple(q.id for q in session.draw(questions, session.Filters(), 5, seed=s)) for s in range(20)}
        assert len(orders) > 1, "different seeds should give different orders"

    def test_missed_then_new_first_without_repeats(self):
        questions = list(QUESTIONS.values())
        history = {"sample-choice": "right", "sample-multi": "wrong", "sample-bug": "right"}
        drawn = session.draw(questions, session.Filters(), 10, order=session.missed_and_new_first(history))
        ids = [q.id for q in drawn]
        assert len(ids) == len(set(ids)) == 5
        assert ids[0] == "sample-multi"
        assert set(ids[1:3]) == {"sample-output", "sample-open"}
        assert set(ids[3:]) == {"sample-choice", "sample-bug"}

    def test_filters(self):
        questions = list(QUESTIONS.values())
        only = session.select(questions, session.Filters(topics=("tensors",), difficulty=2, types=("output",)))
        assert [q.id for q in only] == ["sample-output"]


class FakeUI:
    """A scripted UI for play.run: answers from a list, records what was shown."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.shown = []

    def show_question(self, question, order, index, total):
        self.shown.append(question.id)

    def ask(self, question):
        if not self.responses:
            raise KeyboardInterrupt
        return self.responses.pop(0)

    ask_covered = ask

    def show_hint(self, question, number):
        pass

    def notice(self, what, **details):
        pass

    def reveal_open(self, question):
        pass

    def show_feedback(self, question, order, graded):
        pass

    def skipped(self, question):
        pass


def test_ctrl_c_mid_session_keeps_answers_and_times_come_from_the_clock(isolated):
    questions = [QUESTIONS["sample-bug"], QUESTIONS["sample-output"], QUESTIONS["sample-open"]]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ticks = iter(start + timedelta(seconds=5 * i) for i in range(100))
    with Store.open(isolated) as store:
        summary = play.run(questions, store=store, ui=FakeUI(["1", "3 True"]), clock=lambda: next(ticks))
        stored = store.answers()
    assert summary.quit_early and summary.missed == [] and summary.answered == 2
    assert [a.outcome for a in stored] == ["right", "right"]
    assert stored[0].duration_s == 5.0
    assert stored[0].answered_at.tzinfo is not None


def test_choice_order_is_a_permutation():
    question = QUESTIONS["sample-choice"]
    for seed in range(10):
        assert sorted(session.choice_order(question, seed)) == [0, 1, 2]


def test_a_near_miss_topic_on_the_command_line_is_said(cli, sample_only):
    result = cli("quiz", "--bank", sample_only, "--topic", "tensor", "--count", "1", input="q\n")
    assert "--topic tensor: taken as tensors" in result.output


def test_reference_addresses_are_never_broken_across_lines(cli, sample_only, tmp_path):
    url = "https://docs.pytorch.org/docs/stable/data.html#torch.utils.data.get_worker_info_and_more_text"
    bank_file = tmp_path / "one.yaml"
    bank_file.write_text(SAMPLE_BANK.read_text().replace(
        "https://docs.pytorch.org/docs/stable/autograd.html", url))
    assert url in bank_file.read_text()
    result = cli("quiz", "--bank", bank_file, "--type", "choice", "--seed", "7", input="a\n")
    assert url in result.output, "the address must come out whole, on one line"


def test_a_reference_that_fits_only_without_its_indent_loses_the_indent_not_its_line():
    from quiz import ui

    short, fits_bare = "https://a.org/" + "s" * 40, "https://a.org/" + "x" * 65  # 54 and 79 characters
    lines = [line.plain for line in ui.references_block("Read more:", [short, fits_bare], 80)]
    assert lines == [f"Read more: {short}", fits_bare]
    lines = [line.plain for line in ui.references_block("Read more:", [fits_bare, short], 80)]
    assert lines == ["Read more:", fits_bare, f"  {short}"]
