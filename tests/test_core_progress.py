"""Portable progress (quiz/progress.py): the export holds every fact, the import merges and never duplicates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from quiz import progress, review
from quiz.errors import QuizError
from quiz.store import Answer, Attempt, Mock, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def schedules(cards) -> dict[str, dict]:
    """Each card's schedule: everything but its id, which fsrs draws from the clock."""
    return {qid: {k: v for k, v in json.loads(card.to_json()).items() if k != "card_id"} for qid, card in cards.items()}


def filled(store: Store) -> None:
    store.record_answer(Answer("q1", "tensors", "choice", "right", 1.0, T0, "a", 1, 4.5))
    store.record_answer(Answer("q2", "gpu", "open", "wrong", 0.25, T0 + timedelta(minutes=1), "typed ✓", 0, None))
    store.record_attempt(Attempt("ex-a", "fail", 2, 5, T0 + timedelta(minutes=2), 1.25, "ab" * 32))
    store.record_event("ex-a", "hint", "2", now=T0 + timedelta(minutes=3))
    store.record_mock(Mock(T0 + timedelta(hours=1), T0 + timedelta(hours=2), 45, 7, 0.5,
                           json.dumps({"parts": [{"id": "q2"}], "time_up": False})))


def test_the_export_holds_every_answer_attempt_event_and_mock(tmp_path):
    with Store.open(tmp_path / "home") as store:
        filled(store)
        document = progress.export_document(store, T0 + timedelta(days=1))
    assert document == {
        "format": "torchprep-progress", "version": 1, "exported_at": "2026-03-02T12:00:00+00:00",
        "answers": [
            {"question_id": "q1", "topic": "tensors", "qtype": "choice", "outcome": "right", "score": 1.0,
             "answered_at": "2026-03-01T12:00:00+00:00", "response": "a", "hints_used": 1, "duration_s": 4.5},
            {"question_id": "q2", "topic": "gpu", "qtype": "open", "outcome": "wrong", "score": 0.25,
             "answered_at": "2026-03-01T12:01:00+00:00", "response": "typed ✓", "hints_used": 0, "duration_s": None}],
        "attempts": [{"exercise_id": "ex-a", "status": "fail", "passed": 2, "total": 5,
                      "attempted_at": "2026-03-01T12:02:00+00:00", "duration_s": 1.25, "submission_sha256": "ab" * 32}],
        "events": [{"exercise_id": "ex-a", "kind": "hint", "detail": "2", "at": "2026-03-01T12:03:00+00:00"}],
        "mocks": [{"started_at": "2026-03-01T13:00:00+00:00", "ended_at": "2026-03-01T14:00:00+00:00", "minutes": 45,
                   "seed": 7, "score": 0.5, "detail": {"parts": [{"id": "q2"}], "time_up": False}}],
        "settings": {},
    }


def test_an_export_is_written_whole_and_counted(tmp_path):
    target = tmp_path / "deep" / "folder" / "progress.json"
    with Store.open(tmp_path / "home") as store:
        filled(store)
        counts = progress.write_export(store, target, T0)
        expected = progress.export_document(store, T0)
    assert counts == {"answers": 2, "attempts": 1, "events": 1, "mocks": 1, "settings": 0}
    text = target.read_text(encoding="utf-8")
    assert json.loads(text) == expected
    assert "typed ✓" in text, "text is kept readable, not escaped"
    assert text.startswith('{\n "format"'), "indented for a human reader"
    assert [p.name for p in target.parent.iterdir()] == ["progress.json"], "no temporary file is left"


def test_a_failed_export_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep").write_text("x")  # a folder in the way: the rename fails
    with Store.open(tmp_path / "home") as store, pytest.raises(OSError):
        progress.write_export(store, target, T0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out"]


def test_an_empty_store_exports_empty_lists(tmp_path):
    with Store.open(tmp_path / "home") as store:
        counts = progress.write_export(store, tmp_path / "p.json", T0)
    assert counts == {"answers": 0, "attempts": 0, "events": 0, "mocks": 0, "settings": 0}
    assert progress.read_export(tmp_path / "p.json")["answers"] == []


def test_importing_merges_rebuilds_the_cards_and_twice_changes_nothing(tmp_path):
    with Store.open(tmp_path / "a") as store:
        filled(store)
        document = progress.export_document(store, T0)
    with Store.open(tmp_path / "b") as store:
        store.record_answer(Answer("q1", "tensors", "choice", "right", 1.0, T0, "a", 1, 4.5))
        store.record_answer(Answer("q9", "gpu", "choice", "wrong", 0.0, T0 - timedelta(days=1)))
        assert progress.import_document(store, document) == {"answers": 1, "attempts": 1, "events": 1, "mocks": 1,
                                                             "settings": 0}
        assert progress.import_document(store, document) == {"answers": 0, "attempts": 0, "events": 0, "mocks": 0,
                                                             "settings": 0}
        assert [(a.question_id, a.response, a.hints_used, a.duration_s) for a in store.answers()] == [
            ("q9", None, 0, None), ("q1", "a", 1, 4.5), ("q2", "typed ✓", 0, None)]
        assert store.attempts() == [Attempt("ex-a", "fail", 2, 5, T0 + timedelta(minutes=2), 1.25, "ab" * 32)]
        assert store.events() == document["events"]
        (mock,) = store.mocks()
        assert (mock.minutes, mock.seed, mock.score, json.loads(mock.detail)) == (
            45, 7, 0.5, {"parts": [{"id": "q2"}], "time_up": False})
        cards = review.load_cards(store)
        assert sorted(cards) == ["q1", "q2", "q9"], "the schedule is rebuilt from every answer"
        expected = review.replay(store.answers())
        assert schedules(cards) == schedules(expected)


def test_an_import_fills_in_what_older_exports_left_out(tmp_path):
    document = {"format": "torchprep-progress", "version": 1,
                "answers": [{"question_id": "q1", "topic": "tensors", "qtype": "choice", "outcome": "right",
                             "score": "1", "answered_at": "2026-03-01T12:00:00+00:00"}],
                "attempts": [{"exercise_id": "ex", "status": "pass", "passed": "3", "total": 3,
                              "attempted_at": "2026-03-01T12:00:00+00:00"}],
                "events": [{"exercise_id": "ex", "kind": "started", "at": "2026-03-01T12:00:00+00:00"}],
                "mocks": [{"started_at": "2026-03-01T12:00:00+00:00", "ended_at": "2026-03-01T12:30:00+00:00",
                           "minutes": "30", "score": 1}]}
    with Store.open(tmp_path / "home") as store:
        assert progress.import_document(store, document) == {"answers": 1, "attempts": 1, "events": 1, "mocks": 1,
                                                             "settings": 0}
        assert store.answers()[0] == Answer("q1", "tensors", "choice", "right", 1.0, T0, None, 0, None)
        assert store.attempts() == [Attempt("ex", "pass", 3, 3, T0, None, None)]
        assert store.events() == [{"exercise_id": "ex", "kind": "started", "detail": None,
                                   "at": "2026-03-01T12:00:00+00:00"}]
        assert store.mocks() == [Mock(T0, T0 + timedelta(minutes=30), 30, None, 1.0, "{}")]
        assert progress.import_document(store, {"format": "torchprep-progress", "version": 1}) == {
            "answers": 0, "attempts": 0, "events": 0, "mocks": 0, "settings": 0}


@pytest.mark.parametrize("damage, kind", [
    (lambda d: d["answers"][0].pop("question_id"), "KeyError"),
    (lambda d: d["answers"][0].update(score="high"), "ValueError"),
    (lambda d: d["answers"][0].update(answered_at=5), "TypeError"),
    (lambda d: d["attempts"][0].pop("status"), "KeyError"),
    (lambda d: d["attempts"][0].update(passed="two"), "ValueError"),
    (lambda d: d["attempts"][0].update(total=None), "TypeError"),
    (lambda d: d["events"][0].pop("at"), "KeyError"),
    (lambda d: d["mocks"][0].update(minutes="long"), "ValueError"),
    (lambda d: d["mocks"][0].update(score=None), "TypeError"),
    (lambda d: d["mocks"][0].pop("ended_at"), "KeyError"),
])
def test_a_damaged_file_imports_nothing_and_says_what_is_wrong(tmp_path, damage, kind):
    with Store.open(tmp_path / "a") as store:
        filled(store)
        document = progress.export_document(store, T0)
    damage(document)
    with Store.open(tmp_path / "b") as store:
        with pytest.raises(QuizError) as raised:
            progress.import_document(store, document)
        assert str(raised.value).startswith(f"the progress file is damaged ({kind}: ")
        assert str(raised.value).endswith("); nothing was imported")
        assert store.answers() == [] and store.attempts() == [] and store.mocks() == [] and store.events() == []


def test_reading_an_export_back(tmp_path):
    path = tmp_path / "p.json"
    with Store.open(tmp_path / "home") as store:
        filled(store)
        progress.write_export(store, path, T0)
        assert progress.read_export(path) == json.loads(json.dumps(progress.export_document(store, T0)))


def test_a_missing_export_is_named(tmp_path):
    with pytest.raises(QuizError) as raised:
        progress.read_export(tmp_path / "nope.json")
    assert str(raised.value) == f"no file at {tmp_path / 'nope.json'}"


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b""])
def test_a_file_that_is_not_json_is_refused_with_the_reason(tmp_path, content):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(QuizError) as raised:
        progress.read_export(path)
    assert str(raised.value).startswith(f"{path} is not a torchprep progress file: ")


def test_a_folder_is_not_an_export(tmp_path):
    with pytest.raises(QuizError, match="is not a torchprep progress file: "):
        progress.read_export(tmp_path)


def test_a_named_pipe_or_a_device_is_refused_as_an_export_without_waiting_for_it(tmp_path):
    import os

    pipe = tmp_path / "progress.json"
    os.mkfifo(pipe)  # opening it to read would wait for a writer forever
    with pytest.raises(QuizError) as refused:
        progress.read_export(pipe)
    assert str(refused.value) == f"{pipe}: a named pipe, not a file: a progress file is a file of text"
    with pytest.raises(QuizError, match="^/dev/zero: a device, not a file"):
        progress.read_export(Path("/dev/zero"))


def test_an_export_larger_than_any_export_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "MAX_EXPORT_BYTES", 1024)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": progress.FORMAT, "version": 1, "padding": "x" * 1024}))
    with pytest.raises(QuizError) as refused:
        progress.read_export(big)
    assert str(refused.value) == f"{big}: too large for a progress file (over 1 KiB)"


@pytest.mark.parametrize("document", [[1, 2], {"version": 1}, {"format": "other", "version": 1}, "text"])
def test_json_of_another_kind_is_refused(tmp_path, document):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    with pytest.raises(QuizError) as raised:
        progress.read_export(path)
    assert str(raised.value) == f"{path} is not a torchprep progress file (made with `torchprep progress export`)"


@pytest.mark.parametrize("version", [2, "1", None, 1.0])
def test_a_newer_or_unversioned_export_is_refused(tmp_path, version):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "torchprep-progress", "version": version}))
    with pytest.raises(QuizError) as raised:
        progress.read_export(path)
    assert str(raised.value) == (f"{path} was written by a newer torchprep (version {version}); upgrade to import it")


def test_an_export_of_this_version_is_read(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "torchprep-progress", "version": 1, "answers": []}))
    assert progress.read_export(path) == {"format": "torchprep-progress", "version": 1, "answers": []}
    path.write_text(json.dumps({"format": "torchprep-progress", "version": 0}))
    assert progress.read_export(path)["version"] == 0


def test_settings_travel_with_an_import_and_this_machines_own_win(tmp_path):
    with Store.open(tmp_path / "a") as store:
        store.set_settings({"interview": "2026-12-10", "hours_per_day": "1.5", "fsrs_parameters": "[0.1]"})
        document = progress.export_document(store, T0)
    with Store.open(tmp_path / "b") as store:
        store.set_settings({"hours_per_day": "3"})
        assert progress.import_document(store, document)["settings"] == 2
        assert store.settings() == {"interview": "2026-12-10", "hours_per_day": "3", "fsrs_parameters": "[0.1]"}
        assert progress.import_document(store, document)["settings"] == 0, "twice adds nothing"


def test_the_export_is_written_beside_its_target_and_renamed_into_place(tmp_path, monkeypatch):
    """Atomic: a temporary file in the same folder (a rename never crosses file systems), named after the
    target, replaces it in one step."""
    renamed = []
    real_replace = progress.os.replace
    monkeypatch.setattr(progress.os, "replace", lambda src, dst: (renamed.append((src, dst)), real_replace(src, dst)))
    target = tmp_path / "out" / "p.json"
    with Store.open(tmp_path / "a") as store:
        filled(store)
        progress.write_export(store, target, T0)
    ((source, destination),) = renamed
    assert Path(destination) == target and Path(source).parent == target.parent
    assert Path(source).name.startswith(".p.json."), "a hidden name that says what it will become"
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.json"]
