"""The progress database: the only module that speaks SQL.

Every answer and attempt is committed the moment it is given, so a kill loses nothing already answered.
WAL mode and a busy timeout let two torchprep processes write at once. The schema is versioned with
``PRAGMA user_version`` and grows by appending to MIGRATIONS, never by editing an applied one.
A file that is not a readable database is moved aside and a fresh one started, with a notice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from quiz.errors import QuizError

DB_NAME = "progress.db"
BUSY_TIMEOUT_S = 30

MIGRATIONS: tuple[str, ...] = (
    # 1: quiz answers, sessions, exercise attempts and events
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- quiz | review | mock
        started_at TEXT NOT NULL,
        ended_at TEXT,
        seed INTEGER,
        lang TEXT
    );
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions(id),
        question_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        qtype TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('right', 'wrong', 'skipped')),
        score REAL NOT NULL,                -- 0..1: the share of key points for open questions
        response TEXT,
        hints_used INTEGER NOT NULL DEFAULT 0,
        duration_s REAL,
        answered_at TEXT NOT NULL           -- ISO 8601, UTC
    );
    CREATE INDEX answers_by_question ON answers (question_id, answered_at);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        exercise_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
        passed INTEGER NOT NULL,
        total INTEGER NOT NULL,
        duration_s REAL,
        submission_sha256 TEXT,
        attempted_at TEXT NOT NULL
    );
    CREATE INDEX attempts_by_exercise ON attempts (exercise_id, attempted_at);
    CREATE TABLE exercise_events (
        id INTEGER PRIMARY KEY,
        exercise_id TEXT NOT NULL,
        kind TEXT NOT NULL,                 -- started | hint | revealed | reset
        detail TEXT,
        at TEXT NOT NULL
    );
    """,
    # 2: spaced-repetition cards, mock interviews, and natural keys so that importing progress twice
    # changes nothing
    """
    CREATE TABLE cards (
        question_id TEXT PRIMARY KEY,
        card TEXT NOT NULL,                 -- fsrs.Card.to_json()
        due TEXT NOT NULL
    );
    CREATE INDEX cards_by_due ON cards (due);
    CREATE TABLE mocks (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL UNIQUE,
        ended_at TEXT NOT NULL,
        minutes INTEGER NOT NULL,
        seed INTEGER,
        score REAL NOT NULL,                -- 0..1 over every part
        detail TEXT NOT NULL                -- JSON: each question's and the exercise's result
    );
    DELETE FROM answers WHERE id NOT IN (SELECT MIN(id) FROM answers GROUP BY question_id, answered_at);
    CREATE UNIQUE INDEX answers_natural ON answers (question_id, answered_at);
    DELETE FROM attempts WHERE id NOT IN (SELECT MIN(id) FROM attempts GROUP BY exercise_id, attempted_at);
    CREATE UNIQUE INDEX attempts_natural ON attempts (exercise_id, attempted_at);
    DELETE FROM exercise_events WHERE id NOT IN (
        SELECT MIN(id) FROM exercise_events GROUP BY exercise_id, kind, at);
    CREATE UNIQUE INDEX events_natural ON exercise_events (exercise_id, kind, at)
    """,
    # 3: the user's settings (the interview date and daily hours of `torchprep plan`)
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)


_CORRUPTION_SIGNS = ("file is not a database", "malformed", "corrupt")


class _Corrupt(sqlite3.DatabaseError):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times in the store are timezone-aware UTC")
    return moment.astimezone(timezone.utc).isoformat()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Answer:
    question_id: str
    topic: str
    qtype: str
    outcome: str  # right | wrong | skipped
    score: float
    answered_at: datetime
    response: str | None = None
    hints_used: int = 0
    duration_s: float | None = None
    session_id: int | None = None


@dataclass(frozen=True)
class Attempt:
    exercise_id: str
    status: str
    passed: int
    total: int
    attempted_at: datetime
    duration_s: float | None = None
    submission_sha256: str | None = None


@dataclass(frozen=True)
class MovedAside:
    """What opening found: the database could not be read, so it was moved aside and a fresh one started."""

    path: Path
    moved: Path
    reason: str

    def __str__(self) -> str:
        return (f"The progress database {self.path} could not be read ({self.reason}); it was moved to "
                f"{self.moved} and a fresh one started.")


class Store:
    """An open progress database. Use ``Store.open(home)``; ``notices`` says what happened on opening."""

    def __init__(self, connection: sqlite3.Connection, path: Path, notices: list[MovedAside]):
        self.connection = connection
        self.path = path
        self.notices = notices

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path, now: datetime | None = None) -> Store:
        home.mkdir(parents=True, exist_ok=True)
        path = home / DB_NAME
        notices: list[MovedAside] = []
        try:
            connection = cls._connect(path)
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise QuizError(f"the progress database {path} is held by another program (another torchprep "
                                f"still running?) and stayed locked for {BUSY_TIMEOUT_S:g} s: close it and try "
                                "again. Nothing was changed.") from error
            raise
        except _Corrupt as error:
            moved = path.with_name(f"{DB_NAME}.corrupt-{(now or utcnow()).strftime('%Y%m%dT%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                side = Path(str(path) + suffix)
                if side.exists():
                    side.rename(Path(str(moved) + suffix))
            notices.append(MovedAside(path, moved, str(error)))
            connection = cls._connect(path)
        return cls(connection, path, notices)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        if path.exists():
            _check_health(path)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as error:
            connection.close()
            _raise_classified(error)
        try:
            _migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two writers wait their turn instead of failing.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return self.connection.execute("PRAGMA user_version").fetchone()[0]

    # -- sessions and answers --------------------------------------------------------------------------------

    def start_session(self, kind: str, *, seed: int | None = None, lang: str | None = None,
                      now: datetime | None = None) -> int:
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO sessions (kind, started_at, seed, lang) VALUES (?, ?, ?, ?)",
                                (kind, _iso(now or utcnow()), seed, lang))
            return int(cursor.lastrowid)

    def end_session(self, session_id: int, now: datetime | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (_iso(now or utcnow()), session_id))

    def record_answer(self, answer: Answer) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO answers (session_id, question_id, topic, qtype, outcome, score, response,"
                " hints_used, duration_s, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (answer.session_id, answer.question_id, answer.topic, answer.qtype, answer.outcome,
                 answer.score, answer.response, answer.hints_used, answer.duration_s, _iso(answer.answered_at)),
            )
            return int(cursor.lastrowid)

    def answers(self, question_ids: Iterable[str] | None = None, *, session_id: int | None = None) -> list[Answer]:
        """Answers oldest first, optionally only for some questions or one session."""
        sql = "SELECT * FROM answers"
        clauses, params = [], []
        if question_ids is not None:
            ids = list(question_ids)
            clauses.append(f"question_id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        if session_id is not None:
            clauses.append("session_id = ?")
            params.append(session_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY answered_at, id"
        return [_answer(row) for row in self.connection.execute(sql, params)]

    def last_outcomes(self) -> dict[str, str]:
        """question id -> the outcome of its latest answered (not skipped) attempt."""
        rows = self.connection.execute(
            "SELECT question_id, outcome FROM answers a WHERE outcome != 'skipped' AND id = ("
            " SELECT id FROM answers b WHERE b.question_id = a.question_id AND outcome != 'skipped'"
            " ORDER BY answered_at DESC, id DESC LIMIT 1)"
        )
        return {row["question_id"]: row["outcome"] for row in rows}

    def topic_accuracy(self) -> dict[str, tuple[int, int]]:
        """topic -> (right, answered), skips left out."""
        rows = self.connection.execute(
            "SELECT topic, SUM(outcome = 'right') AS right, COUNT(*) AS answered FROM answers"
            " WHERE outcome != 'skipped' GROUP BY topic"
        )
        return {row["topic"]: (int(row["right"]), int(row["answered"])) for row in rows}

    # -- exercises -------------------------------------------------------------------------------------------

    def record_attempt(self, attempt: Attempt) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO attempts (exercise_id, status, passed, total, duration_s, submission_sha256,"
                " attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (attempt.exercise_id, attempt.status, attempt.passed, attempt.total, attempt.duration_s,
                 attempt.submission_sha256, _iso(attempt.attempted_at)),
            )
            return int(cursor.lastrowid)

    def attempts(self, exercise_id: str | None = None) -> list[Attempt]:
        sql, params = "SELECT * FROM attempts", []
        if exercise_id is not None:
            sql += " WHERE exercise_id = ?"
            params.append(exercise_id)
        rows = self.connection.execute(sql + " ORDER BY attempted_at, id", params)
        return [Attempt(row["exercise_id"], row["status"], row["passed"], row["total"],
                        parse_time(row["attempted_at"]), row["duration_s"], row["submission_sha256"])
                for row in rows]

    def record_event(self, exercise_id: str, kind: str, detail: str | None = None,
                     now: datetime | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO exercise_events (exercise_id, kind, detail, at) VALUES (?, ?, ?, ?)",
                       (exercise_id, kind, detail, _iso(now or utcnow())))

    def count_events(self, exercise_id: str, kind: str) -> int:
        return self.connection.execute(
            "SELECT COUNT(*) FROM exercise_events WHERE exercise_id = ? AND kind = ?", (exercise_id, kind)
        ).fetchone()[0]


    # -- spaced repetition ---------------------------------------------------------------------------------

    def cards(self) -> dict[str, str]:
        """question id -> the FSRS card as JSON (review.py owns what it means)."""
        return {row["question_id"]: row["card"] for row in self.connection.execute("SELECT * FROM cards")}

    def save_card(self, question_id: str, card_json: str, due: datetime) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO cards (question_id, card, due) VALUES (?, ?, ?) ON CONFLICT (question_id)"
                       " DO UPDATE SET card = excluded.card, due = excluded.due", (question_id, card_json, _iso(due)))

    def replace_cards(self, cards: Iterable[tuple[str, str, datetime]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM cards")
            db.executemany("INSERT INTO cards (question_id, card, due) VALUES (?, ?, ?)",
                           [(qid, card, _iso(due)) for qid, card, due in cards])

    # -- mock interviews ------------------------------------------------------------------------------------

    def record_mock(self, mock: Mock) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO mocks (started_at, ended_at, minutes, seed, score, detail)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (_iso(mock.started_at), _iso(mock.ended_at), mock.minutes,
                                                     mock.seed, mock.score, mock.detail))

    def mocks(self) -> list[Mock]:
        rows = self.connection.execute("SELECT * FROM mocks ORDER BY started_at")
        return [Mock(parse_time(r["started_at"]), parse_time(r["ended_at"]), r["minutes"], r["seed"], r["score"],
                     r["detail"]) for r in rows]

    def events(self) -> list[dict]:
        rows = self.connection.execute("SELECT exercise_id, kind, detail, at FROM exercise_events ORDER BY at, id")
        return [dict(row) for row in rows]

    # -- settings --------------------------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self.connection.execute("SELECT key, value FROM settings")}

    def setting(self, key: str) -> str | None:
        return self.settings().get(key)

    def set_settings(self, values: dict[str, str | None]) -> None:
        """Set each key (None removes it), in one transaction."""
        with self.transaction() as db:
            for key, value in values.items():
                if value is None:
                    db.execute("DELETE FROM settings WHERE key = ?", (key,))
                else:
                    db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                               "value = excluded.value", (key, value))

    def merge_settings(self, values: dict[str, str]) -> int:
        """Add the settings this machine does not have yet (its own win); returns how many were new."""
        with self.transaction() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", list(values.items()))
            return db.total_changes - before

    # -- moving progress between machines --------------------------------------------------------------------

    def merge(self, answers: Iterable[Answer], attempts: Iterable[Attempt], events: Iterable[dict],
              mocks: Iterable[Mock]) -> dict[str, int]:
        """Add what is not here yet, in one transaction; rows already present (same natural key) are skipped.

        Returns how many rows of each kind were new.
        """
        added = {}
        with self.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO answers (question_id, topic, qtype, outcome, score, response, hints_used,"
                " duration_s, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.question_id, a.topic, a.qtype, a.outcome, a.score, a.response, a.hints_used, a.duration_s,
                  _iso(a.answered_at)) for a in answers])
            added["answers"], before = db.total_changes - before, db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO attempts (exercise_id, status, passed, total, duration_s, submission_sha256,"
                " attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(a.exercise_id, a.status, a.passed, a.total, a.duration_s, a.submission_sha256,
                  _iso(a.attempted_at)) for a in attempts])
            added["attempts"], before = db.total_changes - before, db.total_changes
            db.executemany("INSERT OR IGNORE INTO exercise_events (exercise_id, kind, detail, at) VALUES (?, ?, ?, ?)",
                           [(e["exercise_id"], e["kind"], e.get("detail"), e["at"]) for e in events])
            added["events"], before = db.total_changes - before, db.total_changes
            db.executemany("INSERT OR IGNORE INTO mocks (started_at, ended_at, minutes, seed, score, detail)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [(_iso(m.started_at), _iso(m.ended_at), m.minutes, m.seed, m.score, m.detail)
                            for m in mocks])
            added["mocks"] = db.total_changes - before
        return added

    def forget(self, topic: str | None = None, exercise_ids: Iterable[str] = ()) -> dict[str, int]:
        """Delete progress: everything, or one topic's answers and cards and its exercises' attempts."""
        with self.transaction() as db:
            if topic is None:
                counts = {table: db.execute(f"DELETE FROM {table}").rowcount
                          for table in ("answers", "cards", "attempts", "exercise_events", "mocks", "sessions")}
                return counts
            ids = list(exercise_ids)
            marks = ",".join("?" * len(ids))
            return {
                "cards": db.execute("DELETE FROM cards WHERE question_id IN (SELECT question_id FROM answers"
                                    " WHERE topic = ?)", (topic,)).rowcount,
                "answers": db.execute("DELETE FROM answers WHERE topic = ?", (topic,)).rowcount,
                "attempts": db.execute(f"DELETE FROM attempts WHERE exercise_id IN ({marks})", ids).rowcount,
                "exercise_events": db.execute(f"DELETE FROM exercise_events WHERE exercise_id IN ({marks})",
                                              ids).rowcount,
            }


@dataclass(frozen=True)
class Mock:
    started_at: datetime
    ended_at: datetime
    minutes: int
    seed: int | None
    score: float
    detail: str  # JSON


def _answer(row: sqlite3.Row) -> Answer:
    return Answer(
        question_id=row["question_id"], topic=row["topic"], qtype=row["qtype"], outcome=row["outcome"],
        score=row["score"], answered_at=parse_time(row["answered_at"]), response=row["response"],
        hints_used=row["hints_used"], duration_s=row["duration_s"], session_id=row["session_id"],
    )


def _raise_classified(error: sqlite3.DatabaseError) -> None:
    # Only damage moves the file aside; "database is locked" and the like must reach the user.
    if isinstance(error, _Corrupt) or any(sign in str(error) for sign in _CORRUPTION_SIGNS):
        raise _Corrupt(str(error)) from error
    raise error


def _check_health(path: Path) -> None:
    """Raise _Corrupt when the database is damaged, without changing any of its files.

    The check runs on a read-only connection: a read-write one that meets a damaged file deletes the -wal and
    -shm when it closes (SQLite tidies up after the last connection), and the answers committed only to the
    -wal would be gone before the files could be moved aside.
    """
    probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        check = probe.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        _raise_classified(error)
    finally:
        probe.close()
    if check != "ok":
        raise _Corrupt(f"integrity check failed: {check}")


def _migrate(connection: sqlite3.Connection) -> None:
    current = connection.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        from quiz.errors import QuizError

        raise QuizError(f"the progress database was written by a newer torchprep (schema {current}; this one "
                        f"knows up to {len(MIGRATIONS)}): upgrade torchprep")
    for version in range(current, len(MIGRATIONS)):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the lock: another process may have migrated meanwhile.
            if connection.execute("PRAGMA user_version").fetchone()[0] != version:
                connection.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[version]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; splitting keeps each migration inside one transaction.
    return [statement.strip() for statement in script.split(";") if statement.strip()]
