"""The progress database (quiz/store.py) through its public methods: what is written is read back whole."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quiz import store as store_module
from quiz.errors import QuizError
from quiz.store import Answer, Attempt, Mock, MovedAside, Store

T0 = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)


def answer(qid="q", outcome="right", minute=0, topic="autograd", **extra) -> Answer:
    return Answer(qid, topic, "choice", outcome, 1.0 if outcome == "right" else 0.0, T0 + timedelta(minutes=minute),
                  **extra)


def test_a_store_opens_in_a_folder_it_creates_and_says_where_it_is(tmp_path):
    home = tmp_path / "a" / "b" / "home"
    with Store.open(home) as store:
        assert store.path == home / "progress.db"
        assert store.notices == []
        assert store.schema_version == len(store_module.MIGRATIONS)
    assert (home / "progress.db").is_file()


def test_reopening_a_healthy_database_changes_no_file_and_creates_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    with Store.open(home) as store:
        store.record_answer(answer())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with Store.open(home) as store:
        assert [a.question_id for a in store.answers()] == ["q"] and store.notices == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_waiting_writer_waits_thirty_seconds_for_the_lock(tmp_path):
    with Store.open(tmp_path) as store:
        assert store.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_times_are_stored_in_utc_whatever_the_local_zone(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        plus_two = timezone(timedelta(hours=2))
        with Store.open(tmp_path) as store:
            store.record_answer(Answer("q", "t", "choice", "right", 1.0, datetime(2026, 6, 1, 11, 30, tzinfo=plus_two)))
            (stored,) = store.answers()
        assert stored.answered_at == T0 and stored.answered_at.utcoffset() == timedelta(0)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_naive_time_is_refused_with_the_reason(tmp_path):
    with Store.open(tmp_path) as store, pytest.raises(ValueError) as raised:
        store.record_event("ex", "started", now=datetime(2026, 1, 1))
    assert str(raised.value) == "times in the store are timezone-aware UTC"


def test_an_answer_round_trips_with_every_field(tmp_path):
    with Store.open(tmp_path) as store:
        session_id = store.start_session("review", seed=4, lang="zh", now=T0)
        full = Answer("q1", "gpu", "bug", "wrong", 0.0, T0, "3, 4", 2, 12.5, session_id)
        row_id = store.record_answer(full)
        assert isinstance(row_id, int) and row_id >= 1
        assert store.answers() == [full]
        bare = answer("q2", minute=1)
        store.record_answer(bare)
        assert store.answers()[1] == bare and store.answers()[1].session_id is None


def test_sessions_keep_the_times_they_are_given(tmp_path):
    with Store.open(tmp_path) as store:
        first = store.start_session("quiz", seed=1, lang="en", now=T0)
        second = store.start_session("mock", now=T0 + timedelta(hours=1))
        store.end_session(first, now=T0 + timedelta(minutes=5))
        assert second == first + 1
        rows = [tuple(row) for row in store.connection.execute(
            "SELECT id, kind, started_at, ended_at, seed, lang FROM sessions ORDER BY id")]
    assert rows == [(first, "quiz", "2026-06-01T09:30:00+00:00", "2026-06-01T09:35:00+00:00", 1, "en"),
                    (second, "mock", "2026-06-01T10:30:00+00:00", None, None, None)]


def test_a_session_without_a_time_is_stamped_now(tmp_path):
    with Store.open(tmp_path) as store:
        before = datetime.now(timezone.utc)
        session = store.start_session("quiz")
        store.end_session(session)
        started, ended = store.connection.execute("SELECT started_at, ended_at FROM sessions").fetchone()
    for stamp in (started, ended):
        assert before - timedelta(seconds=1) <= datetime.fromisoformat(stamp) <= datetime.now(timezone.utc)


def test_answers_can_be_asked_for_some_questions_or_one_session(tmp_path):
    with Store.open(tmp_path) as store:
        one = store.start_session("quiz", now=T0)
        two = store.start_session("quiz", now=T0)
        store.record_answer(answer("a", minute=2, session_id=one))
        store.record_answer(answer("b", minute=1, session_id=two))
        store.record_answer(answer("c", minute=0, session_id=one))
        store.record_answer(answer("a", minute=3, session_id=two))
        assert [a.question_id for a in store.answers()] == ["c", "b", "a", "a"], "oldest first"
        assert [a.question_id for a in store.answers(["a", "c"])] == ["c", "a", "a"]
        assert [a.question_id for a in store.answers(["b"])] == ["b"]
        assert store.answers([]) == []
        assert [a.question_id for a in store.answers(session_id=one)] == ["c", "a"]
        assert [a.question_id for a in store.answers(["a"], session_id=two)] == ["a"]
        assert [a.answered_at for a in store.answers(["a"], session_id=two)] == [T0 + timedelta(minutes=3)]


def test_answers_at_the_same_moment_keep_their_order(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("z"))
        store.record_answer(answer("a", outcome="wrong", minute=0, topic="gpu"))
        assert [a.question_id for a in store.answers()] == ["z", "a"]


def test_the_last_outcome_is_the_latest_answer_that_was_not_a_skip(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("a", "wrong", minute=0))
        store.record_answer(answer("a", "right", minute=2))
        store.record_answer(answer("a", "skipped", minute=3))
        store.record_answer(answer("b", "right", minute=5))
        store.record_answer(answer("b", "wrong", minute=1))
        store.record_answer(answer("c", "skipped", minute=1))
        assert store.last_outcomes() == {"a": "right", "b": "right"}


def test_topic_accuracy_counts_right_of_answered_per_topic(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("a", "right", 0, topic="gpu"))
        store.record_answer(answer("b", "wrong", 1, topic="gpu"))
        store.record_answer(answer("c", "skipped", 2, topic="gpu"))
        store.record_answer(answer("d", "wrong", 3, topic="tensors"))
        assert store.topic_accuracy() == {"gpu": (1, 2), "tensors": (0, 1)}


def test_attempts_round_trip_oldest_first_and_by_exercise(tmp_path):
    with Store.open(tmp_path) as store:
        late = Attempt("ex-b", "pass", 4, 4, T0 + timedelta(hours=1), 2.5, "f" * 64)
        early = Attempt("ex-a", "error", 0, 0, T0)
        assert store.record_attempt(late) == 1 and store.record_attempt(early) == 2
        assert store.attempts() == [early, late]
        assert store.attempts("ex-b") == [late]
        assert store.attempts("ex-c") == []


def test_events_are_counted_per_exercise_and_kind_and_listed_in_time_order(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_event("ex", "hint", "1", now=T0 + timedelta(minutes=1))
        store.record_event("ex", "hint", "2", now=T0 + timedelta(minutes=2))
        store.record_event("ex", "revealed", now=T0)
        store.record_event("other", "hint", now=T0 + timedelta(minutes=3))
        assert store.count_events("ex", "hint") == 2
        assert store.count_events("ex", "revealed") == 1
        assert store.count_events("ex", "reset") == 0
        assert store.events() == [
            {"exercise_id": "ex", "kind": "revealed", "detail": None, "at": "2026-06-01T09:30:00+00:00"},
            {"exercise_id": "ex", "kind": "hint", "detail": "1", "at": "2026-06-01T09:31:00+00:00"},
            {"exercise_id": "ex", "kind": "hint", "detail": "2", "at": "2026-06-01T09:32:00+00:00"},
            {"exercise_id": "other", "kind": "hint", "detail": None, "at": "2026-06-01T09:33:00+00:00"}]


def test_an_event_without_a_time_is_stamped_now(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_event("ex", "started")
        (event,) = store.events()
    assert abs(datetime.fromisoformat(event["at"]) - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_a_saved_card_is_replaced_not_duplicated(tmp_path):
    with Store.open(tmp_path) as store:
        store.save_card("q1", '{"v": 1}', T0)
        store.save_card("q2", '{"v": 2}', T0)
        store.save_card("q1", '{"v": 3}', T0 + timedelta(days=1))
        assert store.cards() == {"q1": '{"v": 3}', "q2": '{"v": 2}'}
        due = dict(tuple(row) for row in store.connection.execute("SELECT question_id, due FROM cards"))
        assert due == {"q1": "2026-06-02T09:30:00+00:00", "q2": "2026-06-01T09:30:00+00:00"}
        store.replace_cards([("q3", '{"v": 4}', T0)])
        assert store.cards() == {"q3": '{"v": 4}'}
        store.replace_cards([])
        assert store.cards() == {}


def test_mocks_round_trip_oldest_first_and_a_repeated_start_is_one_mock(tmp_path):
    with Store.open(tmp_path) as store:
        later = Mock(T0 + timedelta(days=1), T0 + timedelta(days=1, minutes=30), 30, None, 0.25, '{"parts": []}')
        first = Mock(T0, T0 + timedelta(minutes=45), 45, 7, 0.75, json.dumps({"parts": [1]}))
        store.record_mock(later)
        store.record_mock(first)
        store.record_mock(Mock(T0, T0, 1, 1, 0.0, "{}"))
        assert store.mocks() == [first, later]


def test_a_merge_adds_only_what_is_new_and_counts_it(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("a", minute=0))
        store.record_attempt(Attempt("ex", "pass", 1, 1, T0))
        store.record_event("ex", "hint", "1", now=T0)
        store.record_mock(Mock(T0, T0, 10, None, 1.0, "{}"))
        answers = [answer("a", "wrong", minute=0), answer("b", minute=1, response="typed", hints_used=2,
                                                          duration_s=3.5)]
        attempts = [Attempt("ex", "fail", 0, 1, T0), Attempt("ex", "fail", 0, 1, T0 + timedelta(minutes=1), 9.0, "d")]
        events = [{"exercise_id": "ex", "kind": "hint", "detail": "x", "at": "2026-06-01T09:30:00+00:00"},
                  {"exercise_id": "ex", "kind": "hint", "at": "2026-06-01T09:31:00+00:00"}]
        mocks = [Mock(T0, T0, 99, 1, 0.0, "{}"), Mock(T0 + timedelta(days=1), T0 + timedelta(days=1), 20, 2, 0.5,
                                                     '{"parts": []}')]
        assert store.merge(answers, attempts, events, mocks) == {"answers": 1, "attempts": 1, "events": 1, "mocks": 1}
        assert store.merge(answers, attempts, events, mocks) == {"answers": 0, "attempts": 0, "events": 0, "mocks": 0}
        assert [(a.question_id, a.outcome) for a in store.answers()] == [("a", "right"), ("b", "right")]
        assert store.answers()[1] == answer("b", minute=1, response="typed", hints_used=2, duration_s=3.5)
        assert store.attempts()[1] == Attempt("ex", "fail", 0, 1, T0 + timedelta(minutes=1), 9.0, "d")
        assert store.events()[1] == {"exercise_id": "ex", "kind": "hint", "detail": None,
                                     "at": "2026-06-01T09:31:00+00:00"}
        assert [m.minutes for m in store.mocks()] == [10, 20]
        assert store.mocks()[1] == mocks[1]


def test_forgetting_everything_empties_every_table_and_counts_it(tmp_path):
    with Store.open(tmp_path) as store:
        store.start_session("quiz", now=T0)
        store.record_answer(answer("a"))
        store.record_answer(answer("b", minute=1))
        store.save_card("a", "{}", T0)
        store.record_attempt(Attempt("ex", "pass", 1, 1, T0))
        store.record_event("ex", "hint", now=T0)
        store.record_mock(Mock(T0, T0, 10, None, 1.0, "{}"))
        assert store.forget() == {"answers": 2, "cards": 1, "attempts": 1, "exercise_events": 1, "mocks": 1,
                                  "sessions": 1}
        assert (store.answers(), store.cards(), store.attempts(), store.events(), store.mocks()) == ([], {}, [], [], [])


def test_forgetting_a_topic_keeps_every_other(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("g1", topic="gpu"))
        store.record_answer(answer("g1", "wrong", minute=1, topic="gpu"))
        store.record_answer(answer("t1", topic="tensors"))
        store.save_card("g1", "{}", T0)
        store.save_card("t1", "{}", T0)
        for exercise in ("ex-gpu", "ex-gpu2", "ex-tensors"):
            store.record_attempt(Attempt(exercise, "pass", 1, 1, T0))
            store.record_event(exercise, "hint", now=T0)
        store.record_mock(Mock(T0, T0, 10, None, 1.0, "{}"))
        assert store.forget("gpu", ["ex-gpu", "ex-gpu2"]) == {"cards": 1, "answers": 2, "attempts": 2,
                                                            "exercise_events": 2}
        assert [a.question_id for a in store.answers()] == ["t1"]
        assert list(store.cards()) == ["t1"]
        assert [a.exercise_id for a in store.attempts()] == ["ex-tensors"]
        assert [e["exercise_id"] for e in store.events()] == ["ex-tensors"]
        assert len(store.mocks()) == 1, "mock interviews are not a topic's"
        assert store.forget("tensors") == {"cards": 1, "answers": 1, "attempts": 0, "exercise_events": 0}


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    with Store.open(tmp_path) as store:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.merge([answer("a")], [Attempt("ex", "pass", 1, 1, datetime(2026, 1, 1))], [], [])
        assert store.answers() == [] and store.attempts() == []
        store.record_answer(answer("b"))
        assert [a.question_id for a in store.answers()] == ["b"], "the store is usable after a failed write"


def test_a_corrupt_database_notice_says_what_sqlite_said_and_where_it_went(tmp_path):
    tmp_path.joinpath("progress.db").write_bytes(b"not a database at all" * 100)
    tmp_path.joinpath("progress.db-wal").write_bytes(b"wal")
    with Store.open(tmp_path, now=T0) as store:
        moved = tmp_path / "progress.db.corrupt-20260601T093000"
        assert store.notices == [MovedAside(tmp_path / "progress.db", moved, "file is not a database")]
        assert str(store.notices[0]) == (f"The progress database {tmp_path / 'progress.db'} could not be read (file "
                                         f"is not a database); it was moved to {moved} and a fresh one started.")
        assert store.path == tmp_path / "progress.db" and store.answers() == []
    assert moved.read_bytes() == b"not a database at all" * 100
    assert Path(str(moved) + "-wal").read_bytes() == b"wal"


def test_a_busy_database_is_told_as_held_not_corrupt(tmp_path, monkeypatch):
    with Store.open(tmp_path):
        pass

    def busy(*args, **kwargs):
        raise sqlite3.OperationalError("database busy")

    monkeypatch.setattr(store_module, "_check_health", busy)
    with pytest.raises(QuizError) as raised:
        Store.open(tmp_path)
    assert str(raised.value) == (
        f"the progress database {tmp_path / 'progress.db'} is held by another program (another torchprep still "
        "running?) and stayed locked for 30 s: close it and try again. Nothing was changed.")
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []


def test_any_other_operational_error_is_not_hidden(tmp_path, monkeypatch):
    with Store.open(tmp_path):
        pass

    def failing(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module, "_check_health", failing)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        Store.open(tmp_path)


def test_a_migration_that_fails_is_rolled_back_whole(tmp_path):
    path = tmp_path / "progress.db"
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in store_module._statements(store_module.MIGRATIONS[0]):
        connection.execute(statement)
    connection.execute("CREATE TABLE cards (x)")  # in the way of migration 2
    connection.execute("PRAGMA user_version = 1")
    connection.close()
    with pytest.raises(sqlite3.OperationalError, match="table cards already exists"):
        Store.open(tmp_path)
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    assert check.execute("SELECT name FROM sqlite_master WHERE name = 'mocks'").fetchall() == []
    check.close()


def test_a_database_of_an_older_schema_is_migrated_keeping_its_answers(tmp_path):
    path = tmp_path / "progress.db"
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in store_module._statements(store_module.MIGRATIONS[0]):
        connection.execute(statement)
    for _ in range(2):  # a duplicate that version 2's natural key removes
        connection.execute("INSERT INTO answers (question_id, topic, qtype, outcome, score, answered_at) VALUES "
                           "('q', 'gpu', 'choice', 'right', 1.0, '2026-06-01T09:30:00+00:00')")
    connection.execute("PRAGMA user_version = 1")
    connection.close()
    with Store.open(tmp_path) as store:
        assert store.schema_version == len(store_module.MIGRATIONS)
        assert [(a.question_id, a.answered_at) for a in store.answers()] == [("q", T0)]
        assert store.cards() == {}


def test_a_newer_schema_is_refused_and_not_migrated(tmp_path):
    path = tmp_path / "progress.db"
    connection = sqlite3.connect(path)
    newer = len(store_module.MIGRATIONS) + 1
    connection.execute(f"PRAGMA user_version = {newer}")
    connection.close()
    with pytest.raises(QuizError) as raised:
        Store.open(tmp_path)
    assert str(raised.value) == (f"the progress database was written by a newer torchprep (schema {newer}; this one "
                                 f"knows up to {newer - 1}): upgrade torchprep")
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == newer
    assert check.execute("SELECT name FROM sqlite_master").fetchall() == []
    check.close()


def test_a_transaction_that_raises_is_rolled_back(tmp_path):
    with Store.open(tmp_path) as store:
        with pytest.raises(KeyError), store.transaction() as db:
            db.execute("INSERT INTO exercise_events (exercise_id, kind, at) VALUES ('ex', 'hint', 'x')")
            raise KeyError("stop")
        assert store.events() == []
        with store.transaction() as db:
            db.execute("INSERT INTO exercise_events (exercise_id, kind, at) VALUES ('ex', 'hint', 'x')")
        assert len(store.events()) == 1
        assert not store.connection.in_transaction


def test_closing_the_store_closes_its_connection(tmp_path):
    store = Store.open(tmp_path)
    with store as same:
        assert same is store
    with pytest.raises(sqlite3.ProgrammingError):
        store.connection.execute("SELECT 1")
    assert os.path.exists(tmp_path / "progress.db")


def test_settings_are_set_replaced_removed_and_merged_without_overwriting(tmp_path):
    with Store.open(tmp_path) as store:
        assert store.settings() == {}
        store.set_settings({"interview": "2026-06-10", "hours_per_day": "2"})
        store.set_settings({"hours_per_day": "3", "gone": None})
        assert store.settings() == {"interview": "2026-06-10", "hours_per_day": "3"}
        assert store.merge_settings({"interview": "2026-07-01", "lang": "zh"}) == 1, "this machine's own win"
        assert store.merge_settings({"interview": "2026-07-01", "lang": "zh"}) == 0
        assert store.setting("interview") == "2026-06-10" and store.setting("lang") == "zh"
        store.set_settings({"lang": None})
        assert store.setting("lang") is None


# -- from the store's mutation survivors: the connection itself ------------------------------------------------------

def test_an_answer_is_committed_when_it_is_recorded_so_another_program_sees_it_at_once(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(answer("seen"))
        other = sqlite3.connect(tmp_path / "progress.db", timeout=1)
        try:
            assert other.execute("SELECT question_id FROM answers").fetchall() == [("seen",)]
        finally:
            other.close()
        assert not store.connection.in_transaction


def test_the_health_check_reads_only_and_waits_for_a_busy_database_as_long_as_the_store(tmp_path, monkeypatch):
    with Store.open(tmp_path):
        pass
    opened = []
    connect = sqlite3.connect

    def recording(target, *args, **kwargs):
        opened.append((str(target), kwargs))
        return connect(target, *args, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", recording)
    with Store.open(tmp_path):
        pass
    probe, main = opened
    assert probe == (f"{(tmp_path / 'progress.db').resolve().as_uri()}?mode=ro",
                     {"uri": True, "timeout": store_module.BUSY_TIMEOUT_S})
    assert main == (str(tmp_path / "progress.db"), {"timeout": store_module.BUSY_TIMEOUT_S, "isolation_level": None})


class _FailsOnce:
    """A connection whose first PRAGMA journal_mode fails as a damaged (or unwell) file makes it fail."""

    failed = False

    def __init__(self, real, message):
        self.real, self.message = real, message

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __setattr__(self, name, value):
        if name in ("real", "message"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.real, name, value)

    def execute(self, sql, *args):
        if sql.startswith("PRAGMA journal_mode") and not _FailsOnce.failed:
            _FailsOnce.failed = True
            raise sqlite3.DatabaseError(self.message)
        return self.real.execute(sql, *args)


@pytest.mark.parametrize("message, moved", [("file is not a database", True), ("disk I/O error", False)])
def test_an_error_setting_up_the_connection_moves_the_file_aside_only_when_it_is_damage(tmp_path, monkeypatch,
                                                                                         message, moved):
    with Store.open(tmp_path) as store:
        store.record_answer(answer())
    connect = sqlite3.connect
    _FailsOnce.failed = False
    monkeypatch.setattr(store_module.sqlite3, "connect", lambda target, *args, **kwargs: (
        connect(target, *args, **kwargs) if kwargs.get("uri") else _FailsOnce(connect(target, *args, **kwargs),
                                                                                 message)))
    if moved:
        with Store.open(tmp_path, now=T0) as store:
            assert [type(n) for n in store.notices] == [MovedAside] and store.notices[0].reason == message
            assert store.answers() == []
    else:
        with pytest.raises(sqlite3.DatabaseError, match="disk I/O error"):
            Store.open(tmp_path)
        assert (tmp_path / "progress.db").exists() and not list(tmp_path.glob("*.corrupt-*"))


class _StaleFirstRead:
    """A connection whose first read of the schema version is from before another process migrated."""

    def __init__(self, real, stale: int):
        self.real, self.stale = real, stale

    def execute(self, sql, *args):
        if sql == "PRAGMA user_version" and self.stale is not None:
            stale, self.stale = self.stale, None
            return self.real.execute(f"SELECT {stale}")
        return self.real.execute(sql, *args)


def test_migrations_another_process_ran_meanwhile_are_skipped_and_the_rest_still_run(tmp_path):
    path = tmp_path / "progress.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in store_module._statements(store_module.MIGRATIONS[0]):
            connection.execute(statement)
        connection.execute("PRAGMA user_version = 1")  # another process got as far as version 1 ...
        store_module._migrate(_StaleFirstRead(connection, stale=0))  # ... after this one read 0
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(store_module.MIGRATIONS)
        assert not connection.in_transaction
    finally:
        connection.close()
    with Store.open(tmp_path) as store:
        store.record_answer(answer())
        assert len(store.answers()) == 1
