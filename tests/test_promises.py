"""Promises the product makes that a deliberately planted bug once broke without any test noticing.

Each test names the promise it guards; every one was seen to fail with its bug planted in a scratch copy.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quiz import bank, mock, progress, report, review, session
from quiz import store as store_module
from quiz.catalog import Exercise
from quiz.errors import QuizError
from quiz.store import Answer, Attempt, Store, utcnow
from tests.conftest import ROOT, SAMPLE_BANK, subprocess_env

QUESTIONS = {q.id: q for q in bank.read_file(SAMPLE_BANK)[0]}
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
IDENTITY = (0, 1, 2)  # choices shown in the bank's order: letter a is choice 0


def sample_answer(question_id: str, outcome: str, when: datetime, **extra) -> Answer:
    question = QUESTIONS[question_id]
    return Answer(question_id, question.topic, question.type, outcome, 1.0 if outcome == "right" else 0.0, when,
                  **extra)


def answer_and_review(store: Store, record: Answer) -> None:
    store.record_answer(record)
    review.review(store, record)


# ---------------------------------------------------------------------------------------------------------
# Grading


def test_output_answer_keeps_spaces_inside_a_line():
    question = dataclasses.replace(QUESTIONS["sample-output"], output="12 3")
    assert session.grade_output(question, "1 23").outcome == "wrong"
    assert session.grade_output(question, "123").outcome == "wrong"
    # What whitespace-insensitivity does promise: runs of spaces and line breaks are one separator.
    assert session.grade_output(question, "  12   3 ").outcome == "right"
    assert session.grade_output(question, "12\n3").outcome == "right"


def test_output_answer_is_case_sensitive():
    question = QUESTIONS["sample-output"]  # prints 3, then True
    assert session.grade_output(question, "3 True").outcome == "right"
    assert session.grade_output(question, "3\ntrue").outcome == "wrong"
    assert session.grade_output(question, "3 TRUE").outcome == "wrong"


def test_multi_select_superset_is_wrong():
    question = QUESTIONS["sample-multi"]  # a) view and b) t are right, c) clone is wrong
    assert session.grade_choice(question, IDENTITY, "ab").outcome == "right"
    graded = session.grade_choice(question, IDENTITY, "abc")
    assert (graded.outcome, graded.score) == ("wrong", 0.5), "one wrong choice added: half a point, not right"
    assert review.rating_for("multi", graded.outcome, graded.score, 5.0, 0) == review.fsrs.Rating.Hard
    # Letters name the shown order: shown as c) t, b) view, a) clone, "abc" is still every choice.
    assert session.grade_choice(question, (2, 0, 1), "abc").outcome == "wrong"
    assert session.grade_choice(question, (2, 0, 1), "c, b").outcome == "right"


def test_multi_select_subset_is_wrong():
    question = QUESTIONS["sample-multi"]
    for subset in ("a", "b"):
        graded = session.grade_choice(question, IDENTITY, subset)
        assert (graded.outcome, graded.score) == ("wrong", 0.5), f"{subset}: one right choice missed, half a point"
    for two_slips in ("c", "ac", "bc"):
        graded = session.grade_choice(question, IDENTITY, two_slips)
        assert (graded.outcome, graded.score) == ("wrong", 0.0), two_slips
        assert review.rating_for("multi", graded.outcome, graded.score, 5.0, 0) == review.fsrs.Rating.Again
    assert session.grade_choice(question, IDENTITY, "b a").outcome == "right"


# ---------------------------------------------------------------------------------------------------------
# The progress database: a lock is not damage; damage moves every file aside


LOCKER = textwrap.dedent("""
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "exclusive-wal":
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("BEGIN EXCLUSIVE")
    connection.execute("INSERT INTO answers (question_id, topic, qtype, outcome, score, answered_at)"
                       " VALUES ('sample-choice', 'autograd', 'choice', 'right', 1.0, '2026-05-01T10:00:00+00:00')")
    print("locked", flush=True)
    sys.stdin.readline()
    connection.execute("COMMIT")
    connection.close()
""")


@pytest.mark.parametrize("journal", ["rollback", "exclusive-wal"])
def test_a_locked_database_is_never_moved_aside(isolated, monkeypatch, journal):
    """Another program (the sqlite3 shell, a DB browser) holds the write lock while torchprep opens the store.

    rollback: a database in rollback-journal mode (copied or edited with the sqlite3 shell), where BEGIN
    EXCLUSIVE keeps readers out. exclusive-wal: our WAL database, locked with locking_mode=EXCLUSIVE.
    """
    with Store.open(isolated) as store:
        store.record_answer(sample_answer("sample-bug", "right", T0, response="1"))
    path = isolated / store_module.DB_NAME
    if journal == "rollback":
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        connection.close()
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path), journal], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.3)  # give up soon instead of after 30 s
        with pytest.raises(QuizError, match="held by another program"):
            Store.open(isolated)
        assert path.exists()
        assert not list(isolated.glob("*.corrupt-*")), "a locked database was taken for a corrupt one"
    finally:
        locker.stdin.write("\n")
        locker.stdin.close()
        assert locker.wait(timeout=30) == 0
    with Store.open(isolated) as store:
        assert store.notices == []
        # Neither the answer already there nor the one the other program wrote under its lock is lost.
        assert [(a.question_id, a.response) for a in store.answers()] == [("sample-bug", "1"), ("sample-choice", None)]


CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from datetime import datetime, timezone
    from pathlib import Path
    from quiz.store import Answer, Store
    store = Store.open(Path(sys.argv[1]))
    store.record_answer(Answer("the-last-answer", "autograd", "choice", "right", 1.0,
                               datetime(2026, 5, 1, 9, 30, tzinfo=timezone.utc), response="b"))
    os._exit(0)  # killed: the answer is committed to the -wal only, never checkpointed into the main file
""")


def test_a_corrupt_database_moves_aside_with_its_wal_and_shm(isolated, tmp_path):
    with Store.open(isolated) as store:
        store.record_answer(sample_answer("sample-bug", "right", T0, response="1"))
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(isolated)], env=subprocess_env(), cwd=ROOT,
                   timeout=60, check=True)
    path = isolated / store_module.DB_NAME
    data = bytearray(path.read_bytes())
    header, data[:16] = bytes(data[:16]), b"damaged header!!"  # the main file no longer reads as a database
    path.write_bytes(bytes(data))
    before = {suffix: Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm")}
    assert before["-wal"], "the crashed writer should have left its -wal"
    with Store.open(isolated, now=T0) as store:
        assert store.answers() == [] and "could not be read" in str(store.notices[0])
    moved = isolated / f"{store_module.DB_NAME}.corrupt-20260501T090000"
    for suffix, content in before.items():
        side = Path(f"{moved}{suffix}")
        assert side.exists(), f"{side.name} was not moved aside with the database"
        if suffix != "-shm":  # the -shm is only an index of the -wal, which SQLite may rebuild on reading
            assert side.read_bytes() == content, f"{side.name} was changed before it was moved aside"
    # Nothing answered is lost: mend the moved-aside header and both answers are there, the last from the -wal.
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    for suffix in before:
        Path(f"{rescue / 'progress.db'}{suffix}").write_bytes(Path(f"{moved}{suffix}").read_bytes())
    mended = bytearray((rescue / "progress.db").read_bytes())
    mended[:16] = header
    (rescue / "progress.db").write_bytes(bytes(mended))
    with Store.open(rescue) as store:
        assert [a.question_id for a in store.answers()] == ["sample-bug", "the-last-answer"]


def _break_freelist_count(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[36:40] = (5).to_bytes(4, "big")  # the header claims 5 free pages; there are none
    path.write_bytes(bytes(data))


def _break_an_index_page(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'answers_by_question'"
                                  ).fetchone()[0]
    connection.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size] = 0  # not a valid b-tree page type any more
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_break_freelist_count, _break_an_index_page], ids=["freelist", "index-page"])
def test_a_database_failing_quick_check_is_treated_as_corrupt(isolated, damage):
    """Damage that opening and reading the header do not notice, only `PRAGMA quick_check` does."""
    with Store.open(isolated) as store:
        for minute in range(20):
            store.record_answer(sample_answer("sample-bug", "right", T0 + timedelta(minutes=minute)))
    path = isolated / store_module.DB_NAME
    assert not Path(f"{path}-wal").exists()  # closed cleanly: everything is in the main file
    damage(path)
    damaged = path.read_bytes()
    with sqlite3.connect(path) as connection:  # the damage is of the kind that raises nothing on its own
        assert connection.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    connection.close()
    with Store.open(isolated, now=T0) as store:
        assert store.answers() == []
        assert len(store.notices) == 1 and "could not be read" in str(store.notices[0])
        assert "integrity check failed" in str(store.notices[0])
    assert (isolated / f"{store_module.DB_NAME}.corrupt-20260501T090000").read_bytes() == damaged


# ---------------------------------------------------------------------------------------------------------
# Seeds reproduce across processes

DRAWS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from quiz import bank, session
    questions = bank.read_file(Path(sys.argv[1]))[0]
    draws = {}
    for seed in range(25):
        drawn = session.draw(questions, session.Filters(), 5, seed=seed)
        draws[seed] = [[q.id, list(session.choice_order(q, seed))] for q in drawn]
    print(json.dumps(draws))
""")


def test_same_seed_same_draw_and_choice_order_in_every_process():
    """A seed shared with a friend gives them the same quiz: nothing may depend on per-process hashing."""
    outputs = []
    for hash_seed in ("1", "2", "12345"):
        done = subprocess.run([sys.executable, "-c", DRAWS, str(SAMPLE_BANK)], capture_output=True, text=True,
                              env=subprocess_env(PYTHONHASHSEED=hash_seed), cwd=ROOT, timeout=60, check=True)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == outputs[2]
    first = outputs[0]
    assert len({json.dumps(draw) for draw in first.values()}) > 1, "different seeds should give different draws"
    assert all(sorted(order) == list(range(len(QUESTIONS[qid].choices))) for draw in first.values()
               for qid, order in draw)


# ---------------------------------------------------------------------------------------------------------
# Spaced repetition in the report and the quiz


def test_report_counts_a_card_due_in_the_past(isolated):
    now = T0 + timedelta(days=3)
    with Store.open(isolated) as store:
        answer_and_review(store, sample_answer("sample-bug", "wrong", T0))              # due minutes after T0
        answer_and_review(store, sample_answer("sample-choice", "right", now - timedelta(minutes=1),
                                               duration_s=100.0))                      # due in 9 minutes
        built = report.build(store, list(QUESTIONS.values()), [], now)
    assert built.due_now == 1
    assert json.loads(report.to_json_text(built))["due_now"] == 1
    assert "1 reviews due" in report.to_markdown(built)


PROMPTS = {"sample-bug": "Which line is wrong?", "sample-choice": "Which call computes gradients?",
           "sample-multi": "Which return views?", "sample-output": "What does this print?",
           "sample-open": "Tell me about a time"}


def asked_order(output: str) -> list[str]:
    found = {qid: output.find(prompt) for qid, prompt in PROMPTS.items()}
    assert all(position >= 0 for position in found.values()), output
    return sorted(found, key=found.get)


def test_quiz_asks_due_reviews_first(cli, isolated, sample_only):
    """README: `torchprep quiz` serves due reviews first (most overdue first), then new questions."""
    now = utcnow()
    with Store.open(isolated) as store:
        # Right answers, so "missed first" would not put them first: only their due dates do.
        answer_and_review(store, sample_answer("sample-bug", "right", now - timedelta(days=60), duration_s=100.0))
        answer_and_review(store, sample_answer("sample-choice", "right", now - timedelta(days=30),
                                               duration_s=100.0))
        answer_and_review(store, sample_answer("sample-output", "right", now - timedelta(minutes=1),
                                               duration_s=100.0))  # seen, not due yet
    for _ in range(3):  # the new questions are shuffled: the due ones must lead every time
        order = asked_order(cli("quiz", "--bank", sample_only, "--count", "5", input="s\n" * 5).output)
        assert order[:2] == ["sample-bug", "sample-choice"], order
        assert set(order[2:4]) == {"sample-multi", "sample-open"} and order[4] == "sample-output", order


# ---------------------------------------------------------------------------------------------------------
# Exercises, banks, mock interviews, portable progress


def test_hint_in_chinese_when_asked(cli, fixture_catalog):
    output = cli("hint", "adder", "--lang", "zh").output
    assert "adder 的提示 1/3：Python 有现成的运算符：+。" in output
    assert "Hint 1/3" not in output and "operator for that" not in output


def test_invalid_yaml_is_reported_at_its_true_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("format_version: 1\ntopic: autograd\nquestions:\n  - id: a\n    prompt: one: two\n"
                    "    type: choice\n", encoding="utf-8")
    questions, problems = bank.read_file(path)
    assert questions == []
    assert [(problem.line, problem.message.split(":")[0]) for problem in problems] == [(5, "invalid YAML")]
    assert str(problems[0]).startswith(f"{path}:5:")


class TickingClock:
    """Each reading moves time on by a fixed step; ``now`` peeks without moving it."""

    def __init__(self, step_s: float):
        self.now = T0
        self.step = timedelta(seconds=step_s)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class ClockedMockUI:
    def __init__(self, clock: TickingClock):
        self.clock = clock
        self.deadline = None
        self.shown_at: list[datetime] = []
        self.exercise_offered = False

    def mock_intro(self, plan):
        pass

    def show_question(self, question, order, index, total):
        self.shown_at.append(self.clock.now)

    def ask(self, question):
        return "my answer"

    def ask_covered(self, question):
        return "all"

    def reveal_open(self, question):
        pass

    def show_feedback(self, question, order, graded):
        pass

    def show_hint(self, question, number):
        pass

    def skipped(self, question):
        pass

    def notice(self, what, **details):
        pass

    def mock_exercise(self, exercise, path, remaining):
        self.exercise_offered = True
        return ""


def test_mock_interview_asks_nothing_after_its_deadline(isolated, tmp_path):
    questions = tuple(bank.Question(id=f"open-{n}", type="open", topic="behavioural", difficulty=1,
                                    prompt={"en": "p"}, explanation={"en": "e"}, key_points=({"en": "a"},),
                                    model_answer={"en": "m"}) for n in range(8))
    exercise = Exercise("ex", {"en": "ex"}, "tensors", 1, 1, ("f",), {"en": "s"}, ({"en": "h"},), (), Path("/x"))
    clock = TickingClock(60)  # every reading of the clock is a minute: a question takes about three
    ui = ClockedMockUI(clock)

    def grader(exercise, path):
        raise AssertionError("no exercise after the deadline")

    with Store.open(isolated) as store:
        outcome = mock.run(mock.Plan(questions, exercise, 10, 1), store=store, ui=ui, clock=clock, grader=grader,
                           starter=lambda e: tmp_path / "ex.py")
    deadline = outcome.started_at + timedelta(minutes=10)
    assert ui.deadline == deadline
    assert ui.shown_at, "questions before the deadline are asked"
    late = [moment - deadline for moment in ui.shown_at if moment >= deadline]
    assert not late, f"questions were asked after the deadline, by {late}"
    assert outcome.time_up and not ui.exercise_offered
    statuses = [part["status"] for part in outcome.parts()]
    assert statuses[:len(ui.shown_at)] == ["right"] * len(ui.shown_at)
    assert set(statuses[len(ui.shown_at):]) == {"not reached"}


def test_progress_export_and_import_keep_typed_responses(tmp_path):
    typed = [sample_answer("sample-output", "right", T0, response="3 True", hints_used=1, duration_s=12.5),
             sample_answer("sample-multi", "wrong", T0 + timedelta(minutes=1), response="a, c", duration_s=4.0),
             Answer("sample-open", "behavioural", "open", "right", 0.6667, T0 + timedelta(minutes=2),
                    response="I found the labels were shifted — 标签错位了", duration_s=90.0)]
    with Store.open(tmp_path / "a") as store:
        for record in typed:
            store.record_answer(record)
        progress.write_export(store, tmp_path / "progress.json", T0)
    with Store.open(tmp_path / "b") as store:
        progress.import_document(store, progress.read_export(tmp_path / "progress.json"))
        copied = store.answers()
    assert [a.response for a in copied] == ["3 True", "a, c", "I found the labels were shifted — 标签错位了"]
    assert [dataclasses.replace(a, session_id=None) for a in copied] == typed  # every other fact, too


def test_exercise_list_shows_the_best_score_not_the_latest(cli, fixture_catalog, isolated):
    now = utcnow()
    with Store.open(isolated) as store:
        store.record_attempt(Attempt("adder", "fail", 1, 4, now - timedelta(hours=3)))
        store.record_attempt(Attempt("adder", "pass", 4, 4, now - timedelta(hours=2)))
        store.record_attempt(Attempt("adder", "fail", 2, 4, now - timedelta(hours=1)))  # the latest, worse
    row = next(line for line in cli("exercise", "list").output.splitlines() if "adder" in line)
    assert "passed" in row and row.rstrip().endswith("4/4"), row


def test_mock_minutes_out_of_range_is_a_clear_usage_error(cli):
    result = cli("mock", "--minutes", "3", expect=2)
    assert "--minutes 3: a mock interview lasts 5 to 240 minutes" in result.output
    assert "Invalid value" not in result.output


def test_mock_result_shows_titles_and_the_check_and_leaves_the_code_where_check_finds_it(
        cli, isolated, fixture_catalog, sample_only, tmp_path):
    # sample.yaml has one open question: a 30-minute mock asks it, then the adder exercise (★, 10 minutes).
    result = cli("mock", "--minutes", "30", "--seed", "1", "--bank", sample_only, input="my answer\nall\n\n\n")
    out = " ".join(result.output.split())
    assert "30 minutes: 1 interview question;" not in out and "30 minutes: 1 interview question," in out
    assert "1 interview questions" not in out
    assert "sample-open" not in out, "the result names a question by its title, never its id"
    assert "add ✗" in out or "✗ add" in out, "the exercise's check is shown as `torchprep check` shows it"
    moved = tmp_path / "workspace" / "adder.py"
    assert moved.exists() and not (tmp_path / "workspace" / "mock" / "adder.py").exists()
    assert "Your mock code is now your workspace file (`torchprep check adder` goes on from it):" in out \
        or "Your mock code is now your workspace file (torchprep check adder goes on from it):" in out
    assert f"\n  {moved}\n" in result.output, "the path on a line of its own, whole"
    listing = " ".join(cli("exercises").output.split())
    assert "in progress" in listing
    assert "0/2" in " ".join(cli("check", "adder", expect=1).output.split()), "check grades the same file"


def test_mock_screens_in_chinese_have_no_english_words(cli, isolated, fixture_catalog, sample_only):
    result = cli("mock", "--minutes", "5", "--seed", "1", "--lang", "zh", "--bank", sample_only,
                 input="我的回答\nall\n\n")
    shown = result.output.replace("--minutes", "")  # an option's name is code, not a word to translate
    for english in ("minutes", "interview", "left", "Mock", "Part", "Topic", "Score", "Overall", "Saved"):
        assert english not in shown, english
