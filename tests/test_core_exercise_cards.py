"""Exercise tasks in the review loop (quiz/review.py): each task of an exercise is an FSRS card that its first
pass creates and later checks review while it is due; due tasks come back in `review`, `today` and the plan;
progress sync carries them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import fsrs
import pytest

from quiz import catalog, plan, progress, review
from quiz.grading.results import GradeResult, TestResult
from quiz.store import Store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
Rating = fsrs.Rating
HINT_TASKS = {"adder": ("add", "add", "scale")}  # hints 1 and 2 are about add, hint 3 about scale


def tasks(at: datetime, **statuses: str) -> dict:
    return {"exercise_id": "adder", "kind": "tasks", "detail": json.dumps(statuses), "at": at.isoformat()}


def event(kind: str, at: datetime, detail: str | None = None) -> dict:
    return {"exercise_id": "adder", "kind": kind, "detail": detail, "at": at.isoformat()}


def reviews_of(events: list[dict]) -> list[tuple[str, Rating]]:
    _, reviews = review.history((), events, HINT_TASKS)
    return [(r.card_id.removeprefix("exercise:adder/"), r.rating) for r in reviews]


def test_a_task_card_starts_at_the_tasks_first_pass_not_at_a_failure_before_it():
    history = [tasks(T0, add="fail", scale="fail"), tasks(T0 + timedelta(minutes=5), add="pass", scale="fail")]
    assert reviews_of(history) == [("add", Rating.Good)], "scale, never passed, is still exercise work"
    cards = review.replay((), history, HINT_TASKS)
    assert sorted(cards) == ["exercise:adder/add"]


def test_a_pass_after_a_hint_about_the_task_is_hard_and_a_hint_about_another_task_does_not_count():
    history = [event("hint", T0, "3"), tasks(T0 + timedelta(minutes=1), add="pass", scale="pass")]
    assert reviews_of(history) == [("add", Rating.Good), ("scale", Rating.Hard)]


def test_a_hint_counts_until_the_tasks_next_check_only():
    history = [event("hint", T0, "1"), tasks(T0 + timedelta(minutes=1), add="pass"),
               tasks(T0 + timedelta(days=3), add="pass")]
    assert reviews_of(history) == [("add", Rating.Hard), ("add", Rating.Good)]


def test_a_pass_after_the_solution_was_revealed_is_again():
    history = [event("revealed", T0), tasks(T0 + timedelta(minutes=1), add="pass")]
    assert reviews_of(history) == [("add", Rating.Again)]


def test_checks_while_a_task_is_not_due_are_not_reviews_and_a_due_failure_is_again():
    first = T0 + timedelta(minutes=1)
    history = [tasks(first, add="pass"), tasks(first + timedelta(minutes=2), add="pass"),
               tasks(first + timedelta(minutes=3), add="fail"), tasks(first + timedelta(days=2), add="fail")]
    card_after_first = review.replay((), history[:1], HINT_TASKS)["exercise:adder/add"]
    assert card_after_first.due > first + timedelta(minutes=3), "the two checks after it come before it is due"
    assert reviews_of(history) == [("add", Rating.Good), ("add", Rating.Again)]


def test_a_task_whose_tests_were_all_skipped_is_not_reviewed():
    assert reviews_of([tasks(T0, add="skip")]) == []
    assert reviews_of([tasks(T0, add="pass"), tasks(T0 + timedelta(days=5), add="skip")]) == [("add", Rating.Good)]


def result(**statuses: str) -> GradeResult:
    tests = tuple(TestResult(f"test_{task}_{n}", task, status) for task, status in statuses.items() for n in (1, 2))
    overall = "pass" if all(s in ("pass", "skip") for s in statuses.values()) else "fail"
    return GradeResult("adder", overall, "", tests, 0.1, "adder.py", "ab" * 32)


def test_task_statuses_of_a_grading():
    graded = GradeResult("adder", "fail", "", (
        TestResult("t1", "add", "pass"), TestResult("t2", "add", "error"), TestResult("t3", "scale", "pass"),
        TestResult("t4", "scale", "skip"), TestResult("t5", "cuda", "skip"), TestResult("t6", None, "fail")),
        0.1, "adder.py", None)
    assert catalog.task_statuses(graded) == {"add": "fail", "scale": "pass", "cuda": "skip"}


def test_check_results_make_the_cards_and_a_rebuild_gives_the_same_cards(tmp_path, fixture_catalog):
    exercise = catalog.get("adder")
    with Store.open(tmp_path / "home") as store:
        assert catalog.record_check(store, result(add="fail", scale="fail"), exercise, now=T0) == []
        moved = catalog.record_check(store, result(add="pass", scale="fail"), exercise, now=T0 + timedelta(hours=1))
        assert moved == ["exercise:adder/add"]
        assert catalog.record_check(store, result(add="pass", scale="fail"), exercise,
                                    now=T0 + timedelta(hours=1, minutes=1)) == [], "not due: nothing moves"
        catalog.record_check(store, result(add="pass", scale="pass"), exercise, now=T0 + timedelta(days=2))
        incremental = store.cards()
        assert sorted(incremental) == ["exercise:adder/add", "exercise:adder/scale"]
        review.rebuild(store)
        assert store.cards() == incremental


def test_due_tasks_come_back_in_review_with_the_commands_that_redo_them(cli, isolated, sample_only, fixture_catalog):
    exercise = catalog.get("adder")
    past = datetime.now(timezone.utc) - timedelta(days=3)
    with Store.open(isolated) as store:
        catalog.record_check(store, result(add="pass", scale="fail"), exercise, now=past)
    out = cli("review", "--bank", sample_only).output
    assert "Exercise tasks due for review: re-do each from a fresh starter." in out
    assert "adder: add" in out and "scale" not in out.split("adder:")[1].splitlines()[0]
    assert "torchprep reset adder, write it again, then torchprep check adder" in " ".join(out.split())
    zh = cli("review", "--lang", "zh", "--bank", sample_only).output
    assert "到期复习的练习任务" in zh and "重新写一遍" in zh and "adder：add" in zh
    other = cli("review", "--topic", "gpu", "--bank", sample_only).output
    assert "Exercise tasks due" not in other, "a topic filter applies to exercise tasks too (adder is tensors)"


def test_the_plan_schedules_a_due_task_for_re_doing(fixture_catalog):
    exercise = catalog.get("adder")
    history = [tasks(T0, add="pass")]
    cards = review.replay((), history, HINT_TASKS)
    built = plan.build([], cards, [], T0 + timedelta(days=1), (T0 + timedelta(days=4)).date(), 1.0,
                       exercises=[exercise], passed={"adder"})
    planned = [task for day in built.days for task in day.task_reviews]
    assert ("adder", "add") in planned
    assert "exercise:adder/add" in built.predicted
    document = built.to_json()
    assert ["adder", "add"] in [task for day in document["days"] for task in day["task_reviews"]]
    unknown = plan.build([], cards, [], T0 + timedelta(days=1), (T0 + timedelta(days=4)).date(), 1.0)
    assert not [task for day in unknown.days for task in day.task_reviews], "only tasks of known exercises"


def test_progress_sync_carries_task_cards_and_twice_adds_nothing(tmp_path, fixture_catalog):
    exercise = catalog.get("adder")
    with Store.open(tmp_path / "a") as store:
        store.record_event("adder", "hint", "3", now=T0)
        catalog.record_check(store, result(add="pass", scale="pass"), exercise, now=T0 + timedelta(minutes=1))
        document = progress.export_document(store, T0 + timedelta(days=1))
        cards_a = store.cards()
    with Store.open(tmp_path / "b") as store:
        first = progress.import_document(store, document)
        assert first["events"] == 3  # the hint, the failing tasks and the task outcomes
        assert progress.import_document(store, document)["events"] == 0
        assert store.cards() == cards_a, "the task cards are rebuilt from the imported events"


@pytest.mark.parametrize("detail", ["not json", "[1, 2]", None])
def test_a_damaged_task_event_is_skipped_not_a_crash(detail):
    damaged = {"exercise_id": "adder", "kind": "tasks", "detail": detail, "at": T0.isoformat()}
    assert reviews_of([damaged, tasks(T0 + timedelta(minutes=1), add="pass")]) == [("add", Rating.Good)]


def test_task_card_ids_name_their_exercise_and_task_and_question_ids_are_not_tasks():
    card_id = review.task_card_id("adder", "add")
    assert card_id == "exercise:adder/add"
    assert review.task_of_card(card_id) == ("adder", "add")
    assert review.task_of_card("exercise:adder/nested/name") == ("adder", "nested/name")
    assert review.task_of_card("sample-choice") is None
    assert review.task_of_card("exercises:adder/add") is None


@pytest.mark.parametrize(("status", "hints", "revealed", "rating"), [
    ("fail", 0, False, Rating.Again), ("error", 3, True, Rating.Again), ("pass", 0, False, Rating.Good),
    ("pass", 1, False, Rating.Hard), ("pass", 2, True, Rating.Again), ("pass", 0, True, Rating.Again),
    ("skip", 0, False, None), ("unknown", 0, False, None)])
def test_task_ratings(status, hints, revealed, rating):
    assert review.task_rating(status, hints, revealed) is rating


def test_due_tasks_most_overdue_first_and_only_of_the_exercises_asked_for():
    cards = review.replay((), [tasks(T0, add="pass"), tasks(T0 + timedelta(minutes=1), scale="pass"),
                               {**tasks(T0, mul="pass"), "exercise_id": "other"}], HINT_TASKS)
    cards["sample-choice"] = review.new_card("sample-choice", T0)  # a question's card is never a task
    later = T0 + timedelta(days=3)
    assert review.due_tasks(cards, later) == [("adder", "add"), ("other", "mul"), ("adder", "scale")]
    assert review.due_tasks(cards, later, ["adder"]) == [("adder", "add"), ("adder", "scale")]
    assert review.due_tasks(cards, T0 + timedelta(minutes=2)) == [], "none is due minutes after its first pass"
    assert review.due_tasks(cards, later, []) == []


def test_a_check_that_moves_no_card_saves_nothing_and_says_so(tmp_path, fixture_catalog):
    exercise = catalog.get("adder")
    with Store.open(tmp_path / "home") as store:
        catalog.record_check(store, result(add="pass", scale="pass"), exercise, now=T0)
        before = store.cards()
        assert review.update_exercise_cards(store, exercise) == [], "replaying the same events moves nothing"
        assert store.cards() == before
        store.record_event("adder", "tasks", json.dumps({"add": "fail"}), now=T0 + timedelta(days=4))
        assert review.update_exercise_cards(store, exercise) == ["exercise:adder/add"]
        assert review.load_cards(store)["exercise:adder/add"].due < T0 + timedelta(days=4, hours=1), "Again: soon"


def test_the_history_of_a_store_uses_the_built_in_catalog_by_default(tmp_path, fixture_catalog):
    exercise = catalog.get("adder")
    with Store.open(tmp_path / "home") as store:
        store.record_event("adder", "hint", "1", now=T0)
        catalog.record_check(store, result(add="pass", scale="pass"), exercise, now=T0 + timedelta(minutes=1))
        _, reviews = review.store_history(store)
        assert [(r.card_id, r.rating) for r in reviews] == [("exercise:adder/add", Rating.Hard),
                                                            ("exercise:adder/scale", Rating.Good)]
        assert review.rebuild(store) == 2


def test_a_hint_about_the_whole_exercise_counts_for_each_of_its_tasks_until_the_next_check():
    history = [event("hint", T0, "1"), tasks(T0 + timedelta(minutes=1), add="pass", scale="pass"),
               tasks(T0 + timedelta(days=3), add="pass", scale="pass")]
    _, reviews = review.history((), history, {"adder": (None,)})
    assert [(r.card_id.removeprefix("exercise:adder/"), r.rating) for r in reviews] == [
        ("add", Rating.Hard), ("scale", Rating.Hard), ("add", Rating.Good), ("scale", Rating.Good)]


def test_task_reviews_count_the_hints_about_each_task_since_its_last_check():
    history = [event("hint", T0, "1"), event("hint", T0, "2"), event("hint", T0, "3"),
               tasks(T0 + timedelta(minutes=1), add="pass", scale="fail"),
               event("hint", T0 + timedelta(minutes=2), "3"), event("hint", T0 + timedelta(minutes=2), "0"),
               event("revealed", T0 + timedelta(minutes=3)), tasks(T0 + timedelta(minutes=4), add="pass", scale="pass"),
               tasks(T0 + timedelta(minutes=5), add="skip", scale="error")]
    got = [(card.removeprefix("exercise:adder/"), status, hints, revealed)
           for card, _, status, hints, revealed in review.task_reviews(history, HINT_TASKS)]
    assert got == [("add", "pass", 2, False), ("scale", "fail", 1, False),
                   ("add", "pass", 1, True), ("scale", "pass", 2, True),  # hint "0" is about no task: all of them
                   ("add", "skip", 0, False), ("scale", "error", 0, False)]


def test_stored_parameters_are_used_only_when_they_are_a_valid_fsrs_parameter_list(tmp_path):
    import fsrs as fsrs_module

    defaults = list(fsrs_module.scheduler.DEFAULT_PARAMETERS)
    with Store.open(tmp_path / "home") as store:
        assert review.stored_parameters(store) is None
        for text, expected in ((json.dumps(defaults), tuple(defaults)), ("not json", None), ("[1, 2]", None),
                               (json.dumps(["a"] * len(defaults)), None), ("", None), ("{}", None)):
            store.set_settings({review.FSRS_PARAMETERS: text})
            assert review.stored_parameters(store) == expected, text
        store.set_settings({review.FSRS_PARAMETERS: json.dumps(defaults[:-1] + [0.5])})
        review.activate(store)
        assert review.scheduler().parameters[-1] == 0.5
        store.set_settings({review.FSRS_PARAMETERS: None})
        review.activate(store)
        assert review.scheduler().parameters == tuple(defaults)


def test_a_hint_about_one_exercise_as_a_whole_never_counts_for_another_exercise():
    other = {"exercise_id": "scaler", "kind": "tasks", "detail": json.dumps({"scale": "pass"}),
             "at": (T0 + timedelta(minutes=1)).isoformat()}
    history = [event("hint", T0, "9"), other, tasks(T0 + timedelta(minutes=2), add="pass")]
    got = [(card, hints) for card, _, _, hints, _ in review.task_reviews(history, HINT_TASKS)]
    assert got == [("exercise:scaler/scale", 0), ("exercise:adder/add", 1)]


def test_a_check_that_graded_no_task_still_ends_the_hints_and_the_reveal_before_it():
    history = [event("hint", T0, "9"), event("revealed", T0), event("tasks", T0 + timedelta(minutes=1)),
               tasks(T0 + timedelta(minutes=2), add="pass")]
    assert [(hints, revealed) for _, _, _, hints, revealed in review.task_reviews(history, HINT_TASKS)] == [
        (0, False)]


def test_replay_maps_each_hint_to_the_task_it_is_about():
    history = [event("hint", T0, "3"), tasks(T0 + timedelta(minutes=1), add="pass", scale="pass")]
    cards = review.replay((), history, HINT_TASKS)
    with_hints, without = review.replay((), history, {"adder": ("add",) * 3}), review.replay((), history)
    assert cards["exercise:adder/scale"].stability < cards["exercise:adder/add"].stability, "Hard after its hint"
    assert with_hints["exercise:adder/add"].stability < with_hints["exercise:adder/scale"].stability
    assert without["exercise:adder/add"].stability == without["exercise:adder/scale"].stability, \
        "hints about no known task count for every task alike"


def test_a_store_history_reads_hints_from_the_exercises_it_is_given(tmp_path, fixture_catalog):
    exercise = catalog.get("adder")
    renamed = type("Exercise", (), {"id": "adder", "hint_tasks": ("scale",)})()  # hint 1 about scale, not add
    with Store.open(tmp_path / "home") as store:
        store.record_event("adder", "hint", "1", now=T0)
        catalog.record_check(store, result(add="pass", scale="pass"), exercise, now=T0 + timedelta(minutes=1))
        _, reviews = review.store_history(store, [renamed])
        assert [(r.card_id, r.rating) for r in reviews] == [("exercise:adder/add", Rating.Good),
                                                            ("exercise:adder/scale", Rating.Hard)]
        review.rebuild(store, [renamed])
        cards = review.load_cards(store)
        assert cards["exercise:adder/scale"].stability < cards["exercise:adder/add"].stability


def test_a_store_history_remembers_the_catalog_in_the_cache_of_its_own_home(tmp_path, fixture_catalog,
                                                                             monkeypatch):
    from quiz import paths

    monkeypatch.setenv("TORCHPREP_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("TORCHPREP_CACHE")  # the suite's shared cache would stand in for every home's
    with Store.open(tmp_path / "home") as store:
        review.store_history(store)
    assert any(paths.cache_dir(tmp_path / "home").iterdir())
    assert not (tmp_path / "elsewhere").exists()
