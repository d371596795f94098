"""`torchprep plan` and `torchprep today`: the interview date remembered, the plan on screen and as JSON, today's
part started as a quiz, the countdown at quiz start and in the report, and the date carried by progress sync."""

from __future__ import annotations

import json
from datetime import timedelta

from quiz.store import Store, utcnow


def flat(text: str) -> str:
    return " ".join(text.split())


def in_days(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def test_plan_without_a_date_asks_for_one(cli, sample_only):
    result = cli("plan", "--bank", sample_only, expect=2)
    assert "when is your interview? Give it once: torchprep plan --interview YYYY-MM-DD" in flat(result.output)


def test_a_date_today_in_the_past_or_misspelt_is_a_clear_error(cli, sample_only):
    assert "is today" in flat(cli("plan", "--interview", in_days(0), "--bank", sample_only, expect=2).output)
    assert "3 days ago" in flat(cli("plan", "--interview", in_days(-3), "--bank", sample_only, expect=2).output)
    assert "give a date as YYYY-MM-DD" in flat(cli("plan", "--interview", "12/11", "--bank", sample_only,
                                                  expect=2).output)


def test_plan_is_a_day_by_day_table_to_the_date_and_remembers_it(cli, isolated, sample_only, fixture_catalog):
    date = in_days(5)
    out = cli("plan", "--interview", date, "--hours-per-day", "1", "--bank", sample_only).output
    assert f"5 days to your interview on {date} · 1 h a day" in out
    assert "Your plan to the interview" in out
    assert "Predicted recall on the date:" in out
    with Store.open(isolated) as store:
        assert store.settings() == {"interview": date, "hours_per_day": "1"}
    again = cli("plan", "--bank", sample_only).output  # remembered
    assert f"5 days to your interview on {date} · 1 h a day" in again
    document = json.loads(cli("plan", "--json", "--bank", sample_only).stdout)
    assert document["interview"] == date and len(document["days"]) == 6 and document["days"][-1]["interview"]
    assert all(day["minutes"] <= 60 for day in document["days"]), "no day planned over its hour"
    planned = {qid for day in document["days"] for ids in day["new_questions"].values() for qid in ids}
    assert planned, "new questions are planned"


def test_today_shows_its_part_then_starts_its_questions(cli, sample_only, fixture_catalog):
    cli("plan", "--interview", in_days(3), "--bank", sample_only)
    out = cli("today", "--bank", sample_only, input="q\n").output
    assert "3 days to your interview" in out and "minutes planned" in out
    assert "Starting today's" in out and "Question 1/" in out, "today's questions start right away"
    day = json.loads(cli("today", "--json", "--bank", sample_only).stdout)
    assert day["date"] == utcnow().date().isoformat()
    zh = cli("today", "--lang", "zh", "--bank", sample_only, input="q\n").output
    assert "距离" in zh and "面试还有 3 天" in zh and "现在开始今天的" in zh


def test_quiz_and_report_count_down_to_the_interview(cli, sample_only, fixture_catalog):
    cli("plan", "--interview", in_days(6), "--bank", sample_only)
    assert "6 days to your interview" in cli("quiz", "--count", "1", "--bank", sample_only, input="q\n").output
    assert "6 days to your interview" in cli("report", "--bank", sample_only).output
    assert "面试还有 6 天" in cli("report", "--lang", "zh", "--bank", sample_only).output


def test_the_interview_date_travels_with_progress_and_importing_twice_adds_nothing(cli, tmp_path, monkeypatch,
                                                                                     sample_only):
    date = in_days(9)
    cli("plan", "--interview", date, "--hours-per-day", "3", "--bank", sample_only)
    cli("progress", "export", tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["settings"] == {"interview": date, "hours_per_day": "3"}
    monkeypatch.setenv("TORCHPREP_HOME", str(tmp_path / "other-machine"))
    assert "2 new settings" in flat(cli("progress", "import", tmp_path / "p.json").output)
    assert "9 days to your interview" in cli("plan", "--bank", sample_only).output
    assert "0 new settings" in flat(cli("progress", "import", tmp_path / "p.json").output)
