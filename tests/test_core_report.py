"""The readiness report (quiz/report.py): the numbers per topic, what to work on next, and each file format."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from quiz import report, review, topics
from quiz.bank import Question
from quiz.catalog import Exercise
from quiz.store import Answer, Attempt, Mock, Store

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=timezone.utc)


def q(qid: str, topic: str) -> Question:
    return Question(id=qid, type="choice", topic=topic, difficulty=1, prompt={"en": "p"}, explanation={"en": "e"})


def ex(eid: str, topic: str, order: int) -> Exercise:
    return Exercise(id=eid, title={"en": eid}, topic=topic, difficulty=1, order=order, tasks=("f",),
                    summary={"en": "s"}, hints=(), references=(), folder=Path("/nowhere"))


QUESTIONS = [q("t1", "tensors"), q("t2", "tensors"), q("t3", "tensors"), q("a1", "autograd"), q("a2", "autograd"),
             q("g1", "gpu"), q("c1", "custom")]
EXERCISES = [ex("ex-t", "tensors", 1), ex("ex-t2", "tensors", 2), ex("ex-g", "gpu", 3)]


@pytest.fixture
def built(tmp_path):
    """A history touching every rule: a repeated question, a skip, a question no longer in the bank, an answer
    just inside and one outside the 30 days, cards due before, at and after now, an exercise not in the list."""
    with Store.open(tmp_path) as store:
        for answer in [Answer("t1", "tensors", "choice", "right", 1.0, NOW - timedelta(days=2)),
                       Answer("t1", "tensors", "choice", "wrong", 0.0, NOW - timedelta(days=1)),
                       Answer("t2", "tensors", "choice", "skipped", 0.0, NOW - timedelta(days=1, hours=1)),
                       Answer("a1", "autograd", "choice", "right", 1.0, NOW - timedelta(days=40)),
                       Answer("gone", "autograd", "choice", "right", 1.0, NOW - timedelta(days=3)),
                       Answer("c1", "custom", "choice", "wrong", 0.0, NOW - timedelta(days=29, hours=11))]:
            store.record_answer(answer)
        review.rebuild(store)
        cards = review.load_cards(store)
        for qid, due in (("t1", NOW - timedelta(hours=1)), ("a1", NOW + timedelta(days=2)),
                         ("gone", NOW - timedelta(days=1)), ("c1", NOW)):
            cards[qid].due = due
            store.save_card(qid, cards[qid].to_json(), due)
        store.record_attempt(Attempt("ex-t", "pass", 3, 3, NOW - timedelta(days=1)))
        store.record_attempt(Attempt("ex-g", "fail", 1, 3, NOW))
        store.record_attempt(Attempt("ex-old", "pass", 1, 1, NOW - timedelta(days=100)))
        store.record_mock(Mock(NOW - timedelta(days=5), NOW - timedelta(days=5, minutes=-40), 45, 3, 0.5,
                               json.dumps({"parts": [{"id": "t1", "score": 0.5}], "time_up": False})))
        recall = {qid: review.recall(card, NOW) for qid, card in review.load_cards(store).items()}
        return report.build(store, QUESTIONS, EXERCISES, NOW), recall


def line_of(built_report, topic):
    return next(line for line in built_report.topics if line.topic == topic)


def test_every_topic_has_a_line_in_learning_order_and_a_bank_only_topic_comes_last(built):
    result, _ = built
    assert [line.topic for line in result.topics] == [*topics.TOPIC_SLUGS, "custom"], "the topic list's order"
    assert result.topics[0].topic == "tensors" and result.topics[-2].topic == "behavioural"
    assert line_of(result, "custom").label == "custom"
    assert line_of(result, "tensors").label == "Tensors and fundamentals"


def test_a_topic_line_counts_seen_answered_right_and_exercises(built):
    result, recall = built
    tensors = line_of(result, "tensors")
    assert (tensors.questions, tensors.seen, tensors.answered, tensors.right, tensors.accuracy) == (3, 2, 2, 1, 0.5)
    assert tensors.recall == pytest.approx(recall["t1"]), "the mean over the questions with a card"
    assert tensors.tasks == 2
    assert tensors.readiness == pytest.approx(recall["t1"] / 5), \
        "over 3 questions and 2 exercise tasks, the unseen questions and the tasks without a card counting 0"
    assert (tensors.exercises_passed, tensors.exercises_total) == (1, 2)
    autograd = line_of(result, "autograd")
    assert (autograd.questions, autograd.seen, autograd.answered, autograd.right) == (2, 1, 2, 2), \
        "an answer to a question no longer in the bank still counts for its topic, but is not a seen question"
    assert autograd.accuracy == 1.0 and autograd.recall == pytest.approx(recall["a1"])
    assert autograd.readiness == pytest.approx(recall["a1"] / 2)


def test_a_topic_never_answered_has_no_accuracy_nor_recall(built):
    result, _ = built
    gpu = line_of(result, "gpu")
    assert (gpu.questions, gpu.seen, gpu.answered, gpu.right, gpu.accuracy, gpu.recall, gpu.readiness) == (
        1, 0, 0, 0, None, None, 0.0)
    assert (gpu.exercises_passed, gpu.exercises_total) == (0, 1)
    empty = line_of(result, "optimizers")
    assert (empty.questions, empty.readiness, empty.accuracy) == (0, 0.0, None)


def test_the_totals_count_every_answer_but_skips_and_only_the_listed_exercises(built):
    result, _ = built
    assert result.answered == 5 and result.accuracy == pytest.approx(3 / 5)
    assert result.due_now == 2, "due an hour ago and due exactly now; a card of a question not in the bank is not"
    assert (result.exercises_passed, result.exercises_total) == (1, 3)
    assert result.generated_at == NOW


def test_the_weakest_tried_topics_come_first_with_what_to_run(built):
    result, recall = built
    assert [s.topic for s in result.weakest] == ["tensors", "autograd", "custom"], "untried gpu comes after"
    tensors, autograd, custom = result.weakest
    assert tensors == report.Suggestion(
        "tensors", "Tensors and fundamentals", "2/3 questions seen, 50% right, 1 due for review",
        ("torchprep review --topic tensors", "torchprep quiz --topic tensors", "torchprep start ex-t2"),
        seen=2, questions=3, accuracy=0.5, due=1)
    assert autograd == report.Suggestion("autograd", "Autograd", "1/2 questions seen, 100% right",
                                         ("torchprep quiz --topic autograd",), seen=1, questions=2, accuracy=1.0,
                                         due=0)
    assert custom == report.Suggestion("custom", "custom", "1/1 questions seen, 0% right, 1 due for review",
                                       ("torchprep review --topic custom",), seen=1, questions=1, accuracy=0.0,
                                       due=1), "every question seen and some due: review, not quiz"


def test_untried_topics_are_suggested_in_learning_order(tmp_path):
    questions = [q("g1", "gpu"), q("t1", "tensors"), q("d1", "deployment"), q("o1", "optimizers")]
    with Store.open(tmp_path) as store:
        result = report.build(store, questions, [ex("ex-o", "optimizers", 1)], NOW)
    assert [s.topic for s in result.weakest] == ["tensors", "optimizers", "gpu"]
    tensors, optimizers, _ = result.weakest
    assert tensors.reason == "not started: 0 of 1 questions seen"
    assert tensors.commands == ("torchprep quiz --topic tensors",)
    assert tensors.accuracy is None and tensors.due == 0 and tensors.seen == 0 and tensors.questions == 1
    assert optimizers.commands == ("torchprep quiz --topic optimizers", "torchprep start ex-o")
    assert result.answered == 0 and result.accuracy is None and result.due_now == 0 and result.mocks == ()


def test_equally_ready_tried_topics_are_ordered_by_the_learning_order(tmp_path):
    questions = [q("g1", "gpu"), q("t1", "tensors"), q("x1", "zz-custom"), q("y1", "aa-custom")]
    with Store.open(tmp_path) as store:
        for qid, topic in (("g1", "gpu"), ("t1", "tensors"), ("x1", "zz-custom"), ("y1", "aa-custom")):
            store.record_answer(Answer(qid, topic, "choice", "skipped", 0.0, NOW - timedelta(days=1)))
            store.record_answer(Answer(qid, topic, "choice", "wrong", 0.0, NOW - timedelta(hours=1)))
        result = report.build(store, questions, [], NOW)
    readiness = {line.topic: line.readiness for line in result.topics if line.questions}
    assert len({round(value, 12) for value in readiness.values()}) == 1
    assert [s.topic for s in result.weakest] == ["tensors", "gpu", "aa-custom"], \
        "learning order first, then topics outside it by name"


def test_a_passed_exercise_is_not_suggested_again(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_attempt(Attempt("ex-t", "pass", 1, 1, NOW))
        store.record_attempt(Attempt("ex-t2", "fail", 0, 1, NOW))
        result = report.build(store, [q("t1", "tensors")], EXERCISES, NOW)
    assert result.weakest[0].commands == ("torchprep quiz --topic tensors", "torchprep start ex-t2")
    assert line_of(result, "tensors").exercises_passed == 1


def test_a_report_in_chinese_labels_its_topics_in_chinese(tmp_path):
    with Store.open(tmp_path) as store:
        result = report.build(store, [q("t1", "tensors")], [], NOW, lang="zh")
    assert line_of(result, "tensors").label == "张量与基础"
    assert result.weakest[0].label == "张量与基础"
    with Store.open(tmp_path) as store:
        assert line_of(report.build(store, [q("t1", "tensors")], [], NOW), "tensors").label == \
            "Tensors and fundamentals"


def test_activity_covers_the_last_30_days_ending_today(built):
    result, _ = built
    assert len(result.activity) == 30
    assert result.activity[0].day == date(2026, 4, 11) and result.activity[-1].day == date(2026, 5, 10)
    busy = [(day.day, day.answers, day.attempts) for day in result.activity if day.answers or day.attempts]
    assert busy == [(date(2026, 4, 11), 1, 0), (date(2026, 5, 7), 1, 0), (date(2026, 5, 8), 1, 0),
                    (date(2026, 5, 9), 2, 1), (date(2026, 5, 10), 0, 1)], "skips are activity too"
    assert [d.day for d in result.activity] == [date(2026, 4, 11) + timedelta(days=n) for n in range(30)]


def test_mock_interviews_are_listed_with_their_parts(built):
    result, _ = built
    assert result.mocks == (report.MockLine(NOW - timedelta(days=5), 45, 0.5, ({"id": "t1", "score": 0.5},)),)


def test_a_mock_without_parts_lists_none(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_mock(Mock(NOW, NOW, 30, None, 0.0, json.dumps({"time_up": True})))
        assert report.build(store, [], [], NOW).mocks == (report.MockLine(NOW, 30, 0.0, ()),)


# -- formats ------------------------------------------------------------------------------------------------------

def percent(value):
    return f"{value:.0%}"


def test_the_markdown_report(built):
    result, recall = built
    lines = report.to_markdown(result).split("\n")
    assert lines[:8] == [
        "# torchprep readiness report", "",
        "Generated 2026-05-10 12:00 UTC. 5 answers, 60% right; 2 reviews due; exercises passed 1/3.", "",
        "## By topic", "",
        "| Topic | Seen | Accuracy | Recall now | Exercises | Readiness |",
        "| --- | ---: | ---: | ---: | ---: | ---: |"]
    assert lines[8] == (f"| Tensors and fundamentals | 2/3 | 50% | {percent(recall['t1'])} | 1/2 | "
                        f"{percent(recall['t1'] / 5)} |")  # 3 questions and 2 exercise tasks
    assert lines[10] == "| Data loading | 0/0 | - | - | 0/0 | 0% |"
    assert lines[14] == "| GPU and devices | 0/1 | - | - | 0/1 | 0% |"
    custom = 8 + len(topics.TOPIC_SLUGS)  # one row a topic, in the topic list's order, then the bank-only topic
    assert lines[custom] == f"| custom | 1/1 | 0% | {percent(recall['c1'])} | 0/0 | {percent(recall['c1'])} |"
    assert lines[custom + 1:] == [
        "", "Readiness: predicted recall now, over every question and exercise task of the topic (unseen questions "
        "and tasks not passed yet count 0).",
        "", "Calibration on 1 review a day or more apart: 90%–95%: predicted 95%, right 0% (1). Log loss 2.935, "
        "RMSE 0.947.",
        "", "## Work on these next", "",
        "- **Tensors and fundamentals** (2/3 questions seen, 50% right, 1 due for review): "
        "`torchprep review --topic tensors`, `torchprep quiz --topic tensors`, `torchprep start ex-t2`",
        "- **Autograd** (1/2 questions seen, 100% right): `torchprep quiz --topic autograd`",
        "- **custom** (1/1 questions seen, 0% right, 1 due for review): `torchprep review --topic custom`",
        "", "## Activity, last 30 days", "", "| Day | Answers | Exercise checks |", "| --- | ---: | ---: |",
        "| 2026-04-11 | 1 | 0 |", "| 2026-05-07 | 1 | 0 |", "| 2026-05-08 | 1 | 0 |", "| 2026-05-09 | 2 | 1 |",
        "| 2026-05-10 | 0 | 1 |",
        "", "## Mock interviews", "", "| Date | Minutes | Score |", "| --- | ---: | ---: |",
        "| 2026-05-05 12:00 | 45 | 50% |", ""]


def test_markdown_without_activity_or_mocks_says_so(tmp_path):
    with Store.open(tmp_path) as store:
        text = report.to_markdown(report.build(store, [], [], NOW))
    assert text.endswith("| Day | Answers | Exercise checks |\n| --- | ---: | ---: |\n| (no activity) | 0 | 0 |\n")
    assert "Mock interviews" not in text
    assert "0 answers, - right; 0 reviews due; exercises passed 0/0." in text


def test_the_json_report_is_the_report_as_plain_data(built):
    result, _ = built
    text = report.to_json_text(result)
    assert text.endswith("}\n") and text.startswith('{\n  "version": 1,\n  "generated_at": "2026-05-10T12:00:00+00:00"')
    document = json.loads(text)
    assert document == result.to_json()
    assert document["version"] == 1 and document["due_now"] == 2 and document["answered"] == 5
    assert document["activity"][0] == {"day": "2026-04-11", "answers": 1, "attempts": 0}
    assert document["mocks"] == [{"started_at": "2026-05-05T12:00:00+00:00", "minutes": 45, "score": 0.5,
                                  "parts": [{"id": "t1", "score": 0.5}]}]
    assert document["weakest"][0]["commands"][0] == "torchprep review --topic tensors"
    assert document["topics"][0]["topic"] == "tensors" and document["topics"][0]["accuracy"] == 0.5


def test_the_json_report_keeps_non_ascii_text(tmp_path):
    with Store.open(tmp_path) as store:
        text = report.to_json_text(report.build(store, [q("t1", "tensors")], [], NOW, lang="zh"))
    assert "张量与基础" in text


def test_the_activity_chart_stacks_checks_on_answers_scaled_to_the_busiest_day():
    days = [report.Day(date(2026, 5, d), a, e) for d, a, e in ((1, 2, 1), (2, 0, 0), (3, 4, 0))]
    assert report.activity_svg(days) == (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 180" width="720" height="180" role="img" '
        'aria-label="Activity over the last 3 days">'
        '<line x1="36" y1="156" x2="712" y2="156" class="axis"/>'
        '<text x="30" y="20" text-anchor="end">4</text><text x="30" y="156" text-anchor="end">0</text>'
        '<g><title>2026-05-01: 2 answers, 1 exercise checks</title>'
        '<rect x="38.0" y="86.0" width="221.3" height="70.0" class="a"/>'
        '<rect x="38.0" y="51.0" width="221.3" height="35.0" class="e"/></g>'
        '<g><title>2026-05-02: 0 answers, 0 exercise checks</title>'
        '<rect x="263.3" y="156.0" width="221.3" height="0.0" class="a"/>'
        '<rect x="263.3" y="156.0" width="221.3" height="0.0" class="e"/></g>'
        '<g><title>2026-05-03: 4 answers, 0 exercise checks</title>'
        '<rect x="488.7" y="16.0" width="221.3" height="140.0" class="a"/>'
        '<rect x="488.7" y="16.0" width="221.3" height="0.0" class="e"/></g>'
        '<text x="599.3" y="172" text-anchor="middle">05-03</text></svg>')


def test_the_activity_chart_takes_its_size():
    days = [report.Day(date(2026, 5, 1), 1, 1)]
    svg = report.activity_svg(days, width=300, height=100)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 100" width="300" height="100"')
    assert '<rect x="38.0" y="46.0" width="252.0" height="30.0" class="a"/>' in svg
    assert '<rect x="38.0" y="16.0" width="252.0" height="30.0" class="e"/>' in svg
    assert '<text x="30" y="20" text-anchor="end">2</text>' in svg


def test_an_empty_chart_still_has_a_scale_of_one():
    svg = report.activity_svg([report.Day(date(2026, 5, 1), 0, 0)])
    assert '<text x="30" y="20" text-anchor="end">1</text>' in svg
    assert "&lt;" not in report.activity_svg([report.Day(date(2026, 5, 1), 0, 0)])


@pytest.mark.parametrize("count, labelled", [(5, [0, 4]), (12, [0, 7, 11]), (30, [0, 7, 14, 21, 29]),
                                             (11, [0, 10]), (1, [0])])
def test_the_chart_labels_each_week_and_the_last_day_without_overlap(count, labelled):
    start = date(2026, 1, 1)
    days = [report.Day(start + timedelta(days=n), 1, 0) for n in range(count)]
    labels = re.findall(r'text-anchor="middle">(\d\d-\d\d)</text>', report.activity_svg(days))
    assert labels == [f"{start + timedelta(days=n):%m-%d}" for n in labelled]


def test_the_html_report_is_one_self_contained_page(built):
    result, recall = built
    page = report.to_html(result)
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    assert page.endswith("</body></html>\n")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert f"<style>{report.HTML_STYLE}</style>" in page
    assert ('<p class="summary">Generated 2026-05-10 12:00 UTC · 5 answers,\n60% right · 2 reviews due · exercises '
            'passed\n1/3</p>') in page
    tensors_width = int(round(80 * recall["t1"] / 5))
    assert (f"<tr><td>Tensors and fundamentals</td><td>2/3</td><td>50%</td><td>{percent(recall['t1'])}</td>"
            f'<td>1/2</td><td><span class="track"><span class="bar" style="width:{tensors_width}px"></span></span>'
            f"<span class=\"pct\">{percent(recall['t1'] / 5)}</span></td></tr><tr><td>Autograd</td>") in page
    assert ('<tr><td>GPU and devices</td><td>0/1</td><td>-</td><td>-</td><td>0/1</td><td><span class="track">'
            '<span class="bar" style="width:0px"></span></span><span class="pct">0%</span></td></tr>') in page
    assert ("<h2>Work on these next</h2><ul><li><strong>Tensors and fundamentals</strong> (2/3 questions seen, 50% "
            "right, 1 due for review): <code>torchprep review --topic tensors</code>, <code>torchprep quiz --topic "
            "tensors</code>, <code>torchprep start ex-t2</code></li><li><strong>Autograd</strong>") in page
    assert "</code></li></ul>\n<h2>Activity, last 30 days</h2>" in page
    assert report.activity_svg(result.activity) in page
    assert ("<h2>Mock interviews</h2><table><tr><th>Date</th><th>Minutes</th><th>Score</th></tr>"
            "<tr><td>2026-05-05 12:00</td><td>45</td><td>50%</td></tr></table>") in page
    assert "<h2>By topic</h2>\n<table><tr><th>Topic</th>" in page


def test_the_html_report_escapes_what_it_shows(tmp_path):
    with Store.open(tmp_path) as store:
        page = report.to_html(report.build(store, [q("x1", "<b>&")], [], NOW))
    assert "<td>&lt;b&gt;&amp;</td>" in page and "<strong>&lt;b&gt;&amp;</strong>" in page
    assert "<b>&" not in page
    assert "Mock interviews" not in page


def test_a_full_topic_draws_a_full_bar(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(Answer("t1", "tensors", "choice", "right", 1.0, NOW))
        review.rebuild(store)
        page = report.to_html(report.build(store, [q("t1", "tensors")], [], NOW))
    assert 'style="width:80px"' in page


def test_each_format_has_its_writer():
    assert report.FORMATS == {"md": report.to_markdown, "json": report.to_json_text, "html": report.to_html}


def test_an_answer_counts_for_the_topic_its_question_has_now(tmp_path):
    """A question moved to another topic (ddp went from training-loop to distributed) brings its history."""
    with Store.open(tmp_path) as store:
        store.record_answer(Answer("d1", "training-loop", "choice", "right", 1.0, NOW - timedelta(days=1)))
        review.rebuild(store)
        built = report.build(store, [q("d1", "distributed")], [], NOW)
    assert (line_of(built, "distributed").answered, line_of(built, "training-loop").answered) == (1, 0)


def test_a_topics_recall_is_the_mean_over_its_cards(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(Answer("t1", "tensors", "choice", "right", 1.0, NOW - timedelta(days=9)))
        store.record_answer(Answer("t2", "tensors", "choice", "wrong", 0.0, NOW - timedelta(days=1)))
        review.rebuild(store)
        recall = {qid: review.recall(card, NOW) for qid, card in review.load_cards(store).items()}
        built = report.build(store, [q("t1", "tensors"), q("t2", "tensors")], [], NOW)
    assert recall["t1"] != recall["t2"]
    assert line_of(built, "tensors").recall == pytest.approx((recall["t1"] + recall["t2"]) / 2)


def test_an_exercise_check_on_the_first_day_of_the_activity_window_is_counted(tmp_path):
    with Store.open(tmp_path) as store:
        first = report.build(store, [], [], NOW).activity[0].day
        store.record_attempt(Attempt("ex-t", "fail", 0, 3, datetime.combine(first, datetime.min.time(),
                                                                            tzinfo=timezone.utc)))
        built = report.build(store, [], [], NOW)
    assert built.activity[0].day == first and built.activity[0].attempts == 1


def test_readiness_is_predicted_recall_on_the_interview_date_and_a_past_date_means_now(tmp_path):
    with Store.open(tmp_path) as store:
        store.record_answer(Answer("t1", "tensors", "choice", "right", 1.0, NOW - timedelta(days=1)))
        review.rebuild(store, EXERCISES)
        card = review.load_cards(store)["t1"]
        week = report.build(store, QUESTIONS, EXERCISES, NOW, interview=(NOW + timedelta(days=7)).date())
        past = report.build(store, QUESTIONS, EXERCISES, NOW, interview=(NOW - timedelta(days=1)).date())
    assert week.readiness_on == (NOW + timedelta(days=7)).date() and past.readiness_on is None
    tensors = line_of(week, "tensors")
    assert tensors.readiness == pytest.approx(review.recall(card, NOW + timedelta(days=7)) / 5)
    assert tensors.readiness < line_of(past, "tensors").readiness, "recall falls between now and the date"
    assert "on " + (NOW + timedelta(days=7)).date().isoformat() in report.to_markdown(week)


def test_the_reports_prediction_figures_are_those_of_the_review_history(built, tmp_path):
    from quiz import fit

    result, _ = built
    with Store.open(tmp_path) as store:  # the fixture's store
        _, reviews = review.history(store.answers(), store.events(), review.hint_tasks_of(EXERCISES))
    figures = fit.quality(reviews)
    assert figures.reviews == 1 and result.prediction == {"reviews": 1, "log_loss": pytest.approx(figures.log_loss),
                                                           "rmse": pytest.approx(figures.rmse)}
    assert [b["reviews"] for b in result.calibration] == [1]
    assert result.fit is None and not result.fit_ready
    page = report.to_html(result)
    assert "Predictions against your answers" in page and 'class="dot"' in page


CALIBRATION_BINS = ({"low": 0.5, "high": 0.7, "reviews": 4, "predicted": 0.6, "recalled": 0.5},
                    {"low": 0.9, "high": 0.95, "reviews": 16, "predicted": 0.925, "recalled": 0.75})


def test_the_calibration_chart_puts_each_bin_at_its_prediction_and_outcome():
    """240 by 240 with a 52-unit left margin: the square plot spans 176 units from (52, 208) to (228, 32); a dot's
    radius grows with the square root of its reviews (3 + 7 * sqrt(n / most))."""
    assert report.calibration_svg(CALIBRATION_BINS) == (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 260 240" width="260" height="240" role="img" '
        'aria-label="Predicted recall against recall on your answers">'
        '<path d="M52 32h176v176h-176z" class="frame"/>'
        '<line x1="52" y1="208" x2="228" y2="32" class="diag"/>'
        '<text x="52.0" y="222" text-anchor="middle">0%</text><text x="46" y="212.0" text-anchor="end">0%</text>'
        '<text x="140.0" y="222" text-anchor="middle">50%</text><text x="46" y="124.0" text-anchor="end">50%</text>'
        '<text x="228.0" y="222" text-anchor="middle">100%</text><text x="46" y="36.0" text-anchor="end">100%</text>'
        '<g><title>predicted 60%, right 50% (4 reviews)</title><circle cx="157.6" cy="120.0" r="6.5" class="dot"/></g>'
        '<g><title>predicted 92%, right 75% (16 reviews)</title><circle cx="214.8" cy="76.0" r="10.0" class="dot"/>'
        '</g><text x="140.0" y="236" text-anchor="middle">predicted recall</text>'
        '<text x="12" y="120.0" text-anchor="middle" transform="rotate(-90 12 120.0)">share right</text></svg>')


def _with(built_report, **changes):
    from dataclasses import replace

    return replace(built_report, **changes)


def test_the_prediction_notes_say_the_bins_the_figures_and_the_fit(built):
    result, _ = built
    fitted = {"fitted": {"log_loss": 0.5, "rmse": 0.4}, "default": {"log_loss": 0.6, "rmse": 0.45}, "adopted": True}
    shown = _with(result, prediction={"reviews": 20, "log_loss": 0.55, "rmse": 0.41}, calibration=CALIBRATION_BINS,
                  fit=fitted, fit_ready=False)
    assert report.prediction_notes(shown) == [
        "", "Calibration on 20 reviews a day or more apart: 50%–70%: predicted 60%, right 50% (4); 90%–95%: "
            "predicted 92%, right 75% (16). Log loss 0.550, RMSE 0.410.",
        "", "Scheduler fit: log loss 0.500 (defaults 0.600), RMSE 0.400 (defaults 0.450); your parameters are in use."]
    kept = _with(shown, fit={**fitted, "adopted": False})
    assert report.prediction_notes(kept)[-1].endswith("; the defaults are kept.")
    ready = _with(result, prediction=None, calibration=(), fit=None, fit_ready=True)
    assert report.prediction_notes(ready) == ["", "Enough reviews to fit the scheduler to you: `torchprep fit`."]
    assert report.prediction_notes(_with(ready, fit_ready=False)) == []
    page = report.to_html(shown)
    assert ('<p class="note">Scheduler fit: log loss 0.500 (defaults 0.600), RMSE 0.400 (defaults 0.450); your '
            'parameters are in use.</p>') in page
    assert '<h2>Predictions against your answers</h2><div class="calibration"><svg' in page
    assert "<h2>Predictions against your answers</h2>" not in report.to_html(ready), "no chart without bins"
    assert '<p class="note">Enough reviews to fit the scheduler to you: torchprep fit.</p>' in report.to_html(ready)
