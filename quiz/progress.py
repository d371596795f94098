"""Portable progress: export the history to one JSON file, merge it into another machine's store.

Only facts are exported (answers, exercise attempts and events, mock interviews); the spaced-repetition
cards are derived from the answers and rebuilt after an import. Importing merges on natural keys, so
importing the same file twice changes nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from quiz import review, userfile
from quiz.errors import QuizError
from quiz.store import Answer, Attempt, Mock, Store, parse_time

FORMAT = "torchprep-progress"
VERSION = 1
MAX_EXPORT_BYTES = 256 * 2**20  # 2,000 answers export to about 1 MB


def export_document(store: Store, now: datetime) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": now.isoformat(),
        "answers": [{"question_id": a.question_id, "topic": a.topic, "qtype": a.qtype, "outcome": a.outcome,
                     "score": a.score, "answered_at": a.answered_at.isoformat(), "response": a.response,
                     "hints_used": a.hints_used, "duration_s": a.duration_s} for a in store.answers()],
        "attempts": [{"exercise_id": a.exercise_id, "status": a.status, "passed": a.passed, "total": a.total,
                      "attempted_at": a.attempted_at.isoformat(), "duration_s": a.duration_s,
                      "submission_sha256": a.submission_sha256} for a in store.attempts()],
        "events": store.events(),
        "mocks": [{"started_at": m.started_at.isoformat(), "ended_at": m.ended_at.isoformat(), "minutes": m.minutes,
                   "seed": m.seed, "score": m.score, "detail": json.loads(m.detail)} for m in store.mocks()],
        "settings": store.settings(),
    }


def write_export(store: Store, path: Path, now: datetime) -> dict[str, int]:
    """Write the export atomically (a temporary file renamed into place). Returns the counts written."""
    document = export_document(store, now)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, ensure_ascii=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return {key: len(document[key]) for key in ("answers", "attempts", "events", "mocks", "settings")}


def read_export(path: Path) -> dict:
    try:
        document = json.loads(userfile.read_text(path, MAX_EXPORT_BYTES, "a progress file"))
    except FileNotFoundError:
        raise QuizError(f"no file at {path}") from None
    except userfile.NotAFileError as error:
        raise QuizError(f"{path}: {error}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QuizError(f"{path} is not a torchprep progress file: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise QuizError(f"{path} is not a torchprep progress file (made with `torchprep progress export`)")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise QuizError(f"{path} was written by a newer torchprep (version {document.get('version')}); upgrade to "
                        "import it")
    return document


def import_document(store: Store, document: dict) -> dict[str, int]:
    """Merge an export into the store; returns how many rows of each kind were new."""
    try:
        answers = [Answer(a["question_id"], a["topic"], a["qtype"], a["outcome"], float(a["score"]),
                          parse_time(a["answered_at"]), a.get("response"), int(a.get("hints_used", 0)),
                          a.get("duration_s")) for a in document.get("answers", [])]
        attempts = [Attempt(a["exercise_id"], a["status"], int(a["passed"]), int(a["total"]),
                            parse_time(a["attempted_at"]), a.get("duration_s"), a.get("submission_sha256"))
                    for a in document.get("attempts", [])]
        events = [{"exercise_id": e["exercise_id"], "kind": e["kind"], "detail": e.get("detail"), "at": e["at"]}
                  for e in document.get("events", [])]
        mocks = [Mock(parse_time(m["started_at"]), parse_time(m["ended_at"]), int(m["minutes"]), m.get("seed"),
                      float(m["score"]), json.dumps(m.get("detail", {}))) for m in document.get("mocks", [])]
        settings = {str(key): str(value) for key, value in dict(document.get("settings", {})).items()}
    except (KeyError, TypeError, ValueError) as error:
        raise QuizError(f"the progress file is damaged ({type(error).__name__}: {error}); nothing was imported") \
            from None
    added = store.merge(answers, attempts, events, mocks)
    added["settings"] = store.merge_settings(settings)  # this machine's own settings win
    review.rebuild(store)
    return added
