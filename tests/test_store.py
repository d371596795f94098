"""The progress store: each answer committed as given, a corrupt file moved aside, two writers at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

from quiz import store as store_module
from quiz.errors import QuizError
from quiz.store import Answer, Attempt, Store
from tests.conftest import ROOT, SAMPLE_BANK, subprocess_env

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def answer(question_id: str = "q", outcome: str = "right", minute: int = 0, **extra) -> Answer:
    return Answer(question_id=question_id, topic="autograd", qtype="choice", outcome=outcome,
                  score=1.0 if outcome == "right" else 0.0, answered_at=NOW + timedelta(minutes=minute), **extra)


def test_fresh_store_is_migrated_and_round_trips(isolated):
    with Store.open(isolated) as store:
        assert store.schema_version == len(store_module.MIGRATIONS)
        session_id = store.start_session("quiz", seed=3, lang="en", now=NOW)
        store.record_answer(answer("a", "wrong", session_id=session_id, response="b", hints_used=1))
        store.record_answer(answer("a", "right", minute=1, session_id=session_id))
        store.record_answer(answer("b", "skipped"))
        assert store.last_outcomes() == {"a": "right"}
        assert store.topic_accuracy() == {"autograd": (1, 2)}
        assert [a.response for a in store.answers(["a"])] == ["b", None]
        store.record_attempt(Attempt("autograd", "fail", 3, 5, NOW, 4.2, "abc"))
        assert store.attempts("autograd")[0].passed == 3
    assert not list(isolated.glob("*.corrupt-*"))


def test_naive_datetimes_are_refused(isolated):
    with Store.open(isolated) as store, pytest.raises(ValueError, match="timezone-aware"):
        store.record_answer(Answer("q", "autograd", "choice", "right", 1.0, datetime(2026, 1, 1)))


def test_each_answer_is_committed_before_the_next_question(isolated, tmp_path):
    """Kill -9 a real quiz after one answer: that answer is in the database."""
    empty = tmp_path / "empty-builtin"
    empty.mkdir()
    env = subprocess_env(TORCHPREP_HOME=str(isolated), TORCHPREP_BUILTIN_BANK=str(empty))
    process = subprocess.Popen(
        [sys.executable, "-m", "quiz", "quiz", "--bank", str(SAMPLE_BANK), "--seed", "3", "--type", "output",
         "--type", "bug"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        cwd=ROOT)
    try:
        process.stdin.write(b"3 True\n")
        process.stdin.flush()
        deadline = time.monotonic() + 30
        count = 0
        while time.monotonic() < deadline and count == 0:
            time.sleep(0.1)
            if (isolated / store_module.DB_NAME).exists():
                with Store.open(isolated) as store:
                    count = len(store.answers())
        assert process.poll() is None, "the quiz should still be waiting for the second answer"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with Store.open(isolated) as store:
        stored = store.answers()
    assert [(a.question_id, a.outcome) for a in stored] == [("sample-output", "right")]


def test_a_corrupt_database_is_moved_aside_with_a_notice(isolated):
    isolated.mkdir(parents=True)
    (isolated / store_module.DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with Store.open(isolated, now=NOW) as store:
        assert store.answers() == []
        assert len(store.notices) == 1
        assert "could not be read" in str(store.notices[0]) and "a fresh one started" in str(store.notices[0])
    moved = isolated / f"{store_module.DB_NAME}.corrupt-20260301T120000"
    assert moved.read_bytes() == b"this is not sqlite" * 100


def test_a_corrupt_database_through_the_cli(cli, isolated, sample_only):
    isolated.mkdir(parents=True)
    (isolated / store_module.DB_NAME).write_bytes(b"garbage" * 500)
    result = cli("quiz", "--bank", sample_only, "--type", "bug", input="1\n")
    assert "could not be read" in result.output
    assert "✓ Right" in result.output
    with Store.open(isolated) as store:
        assert len(store.answers()) == 1


def test_a_locked_database_is_not_mistaken_for_a_corrupt_one(isolated, monkeypatch):
    with Store.open(isolated):
        pass
    monkeypatch.setattr(store_module, "_migrate", lambda connection: (_ for _ in ()).throw(
        sqlite3.OperationalError("database is locked")))
    with pytest.raises(QuizError, match="held by another program"):
        Store.open(isolated)
    assert not list(isolated.glob("*.corrupt-*"))


def test_a_database_from_a_newer_torchprep_is_refused(isolated):
    with Store.open(isolated) as store:
        store.connection.execute("PRAGMA user_version = 99")
    with pytest.raises(QuizError, match="newer torchprep"):
        Store.open(isolated)


WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime, timedelta, timezone
    from quiz.store import Answer, Store
    with Store.open(__import__("pathlib").Path(sys.argv[1])) as store:
        for i in range(150):
            store.record_answer(Answer(f"{sys.argv[2]}-{i}", "gpu", "bug", "right", 1.0,
                                       datetime.now(timezone.utc)))
""")


def test_two_writers_at_once_lose_nothing(isolated):
    with Store.open(isolated):
        pass  # create and migrate first, as the first command of a user would
    env = subprocess_env()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(isolated), name], env=env)
               for name in ("one", "two")]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    with Store.open(isolated) as store:
        ids = [a.question_id for a in store.answers()]
    assert len(ids) == len(set(ids)) == 300
