"""The readiness report: where the user stands, topic by topic, built from the store; and its file formats.

``build`` returns a Report (plain data). The terminal view lives in ui.py; Markdown, JSON and a single
self-contained HTML page (inline CSS and SVG, no JavaScript, nothing fetched) are written here as text.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from quiz import review, topics
from quiz.bank import Question
from quiz.catalog import Exercise
from quiz.store import Store

ACTIVITY_DAYS = 30
WEAKEST = 3


def jsonable(value):
    """Dates as ISO text, tuples as lists, all the way down: what json.dumps takes."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class TopicLine:
    topic: str
    label: str
    questions: int
    seen: int
    answered: int
    right: int
    accuracy: float | None  # right / answered, skips left out
    recall: float | None  # mean predicted recall now over the questions seen
    exercises_passed: int
    exercises_total: int
    readiness: float  # mean predicted recall on the interview date (or now) over the topic's questions and
    # exercise tasks, the unseen questions and the tasks not passed yet counting 0
    tasks: int = 0  # exercise tasks of the topic (each a card once passed)


@dataclass(frozen=True)
class Suggestion:
    topic: str
    label: str
    reason: str  # in English, for the md/html/json files; the terminal words it from the numbers below
    commands: tuple[str, ...]
    seen: int = 0
    questions: int = 0
    accuracy: float | None = None
    due: int = 0


@dataclass(frozen=True)
class Day:
    day: date
    answers: int
    attempts: int


@dataclass(frozen=True)
class MockLine:
    started_at: datetime
    minutes: int
    score: float
    parts: tuple[dict, ...]


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    topics: tuple[TopicLine, ...]
    weakest: tuple[Suggestion, ...]
    activity: tuple[Day, ...]
    mocks: tuple[MockLine, ...]
    answered: int
    accuracy: float | None
    due_now: int
    exercises_passed: int
    exercises_total: int
    readiness_on: date | None = None  # the interview date readiness is predicted for; None: now
    prediction: dict | None = None  # how well predicted recall matched your answers (see quiz/fit.py)
    calibration: tuple[dict, ...] = ()  # the same in bins of predicted recall
    fit: dict | None = None  # the last `torchprep fit`: figures with the default and the fitted parameters
    fit_ready: bool = False  # enough reviews for a fit and none made yet

    def to_json(self) -> dict:
        return jsonable({"version": 1, **asdict(self)})


def build(store: Store, questions: Sequence[Question], exercises: Sequence[Exercise], now: datetime,
          lang: str = "en", interview: date | None = None) -> Report:
    """The report at ``now``; with ``interview`` (a date after today) readiness is predicted for that date, at
    the time of day of ``now``, as the plan does."""
    from quiz import fit

    answers = store.answers()
    cards = review.load_cards(store)
    if interview is not None and interview <= now.date():
        interview = None  # the day has come (or gone): readiness now
    at = now + timedelta(days=(interview - now.date()).days) if interview else now
    attempts = store.attempts()
    passed_ids = {a.exercise_id for a in attempts if a.status == "pass"}
    by_topic_questions: dict[str, list[Question]] = {slug: [] for slug in topics.TOPIC_SLUGS}
    for question in questions:
        by_topic_questions.setdefault(question.topic, []).append(question)
    topic_of = {question.id: question.topic for question in questions}
    right: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    seen: dict[str, set[str]] = {}
    for answer in answers:
        topic = topic_of.get(answer.question_id, answer.topic)
        seen.setdefault(topic, set()).add(answer.question_id)
        if answer.outcome != "skipped":
            answered[topic] += 1
            right[topic] += answer.outcome == "right"
    recall_now = {qid: review.recall(card, now) for qid, card in cards.items()}
    recall_then = recall_now if at == now else {qid: review.recall(card, at) for qid, card in cards.items()}

    lines = []
    for slug, topic_questions in by_topic_questions.items():
        ids = [q.id for q in topic_questions]
        recalls = [recall_now[qid] for qid in ids if qid in recall_now]
        topic_exercises = [e for e in exercises if e.topic == slug]
        task_ids = [review.task_card_id(e.id, task) for e in topic_exercises for task in e.tasks]
        ready = [recall_then[qid] for qid in ids + task_ids if qid in recall_then]
        lines.append(TopicLine(
            topic=slug, label=topics.label(slug, lang), questions=len(ids),
            seen=len(seen.get(slug, set()) & set(ids)), answered=answered[slug], right=right[slug],
            accuracy=right[slug] / answered[slug] if answered[slug] else None,
            recall=sum(recalls) / len(recalls) if recalls else None,
            exercises_passed=sum(e.id in passed_ids for e in topic_exercises),
            exercises_total=len(topic_exercises),
            readiness=sum(ready) / len(ids + task_ids) if ids + task_ids else 0.0,
            tasks=len(task_ids),
        ))

    # One source for "due": the very function `torchprep review` draws its questions with.
    due_ids = {question.id for question in review.due_questions(list(questions), cards, now)}
    # Weak and tried comes before untried (you know it needs work); untried topics in learning order.
    learning_order = {slug: index for index, slug in enumerate(topics.TOPIC_SLUGS)}
    weakest = tuple(_suggest(line, exercises, passed_ids, due_ids, by_topic_questions[line.topic])
                    for line in sorted((line for line in lines if line.questions),
                                       key=lambda line: (line.answered == 0, line.readiness,
                                                         learning_order.get(line.topic, 99), line.topic))[:WEAKEST])

    first_day = now.date() - timedelta(days=ACTIVITY_DAYS - 1)
    answers_per_day = Counter(a.answered_at.date() for a in answers if a.answered_at.date() >= first_day)
    attempts_per_day = Counter(a.attempted_at.date() for a in attempts if a.attempted_at.date() >= first_day)
    activity = tuple(Day(first_day + timedelta(days=n), answers_per_day[first_day + timedelta(days=n)],
                         attempts_per_day[first_day + timedelta(days=n)]) for n in range(ACTIVITY_DAYS))

    mocks = tuple(MockLine(m.started_at, m.minutes, m.score, tuple(json.loads(m.detail).get("parts", [])))
                  for m in store.mocks())
    total_answered = sum(answered.values())
    _, reviews = review.history(answers, store.events(), review.hint_tasks_of(exercises))
    figures = fit.quality(reviews)
    last_fit = fit.last_fit(store)
    return Report(
        generated_at=now, topics=tuple(lines), weakest=weakest, activity=activity, mocks=mocks,
        answered=total_answered, accuracy=sum(right.values()) / total_answered if total_answered else None,
        due_now=len(due_ids & set(topic_of)), exercises_passed=len(passed_ids & {e.id for e in exercises}),
        exercises_total=len(exercises), readiness_on=interview,
        prediction=asdict(figures) if figures.reviews else None,
        calibration=tuple(asdict(b) for b in fit.calibration(reviews)),
        fit=last_fit, fit_ready=last_fit is None and figures.reviews >= fit.MIN_REVIEWS,
    )


def _suggest(line: TopicLine, exercises: Sequence[Exercise], passed: set[str], due: set[str],
             topic_questions: Sequence[Question]) -> Suggestion:
    commands = []
    due_here = sum(q.id in due for q in topic_questions)
    if due_here:
        commands.append(f"torchprep review --topic {line.topic}")
    if line.seen < line.questions or not commands:
        commands.append(f"torchprep quiz --topic {line.topic}")
    exercise = next((e for e in exercises if e.topic == line.topic and e.id not in passed), None)
    if exercise:
        commands.append(f"torchprep start {exercise.id}")
    if line.answered == 0:
        reason = f"not started: 0 of {line.questions} questions seen"
    else:
        reason = (f"{line.seen}/{line.questions} questions seen, {line.accuracy:.0%} right"
                  + (f", {due_here} due for review" if due_here else ""))
    return Suggestion(line.topic, line.label, reason, tuple(commands), seen=line.seen, questions=line.questions,
                      accuracy=line.accuracy if line.answered else None, due=due_here)


# ---------------------------------------------------------------------------------------------------------
# File formats


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def to_markdown(report: Report) -> str:
    out = ["# torchprep readiness report", "", f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC. "
           f"{report.answered} answers, {_percent(report.accuracy)} right; {report.due_now} reviews due; "
           f"exercises passed {report.exercises_passed}/{report.exercises_total}.", "", "## By topic", "",
           "| Topic | Seen | Accuracy | Recall now | Exercises | Readiness |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for line in report.topics:
        out.append(f"| {line.label} | {line.seen}/{line.questions} | {_percent(line.accuracy)} | "
                   f"{_percent(line.recall)} | {line.exercises_passed}/{line.exercises_total} | "
                   f"{_percent(line.readiness)} |")
    out += ["", readiness_note(report)]
    out += prediction_notes(report)
    out += ["", "## Work on these next", ""]
    for suggestion in report.weakest:
        out.append(f"- **{suggestion.label}** ({suggestion.reason}): "
                   + ", ".join(f"`{command}`" for command in suggestion.commands))
    out += ["", f"## Activity, last {ACTIVITY_DAYS} days", "", "| Day | Answers | Exercise checks |",
            "| --- | ---: | ---: |"]
    out += [f"| {day.day:%Y-%m-%d} | {day.answers} | {day.attempts} |" for day in report.activity
            if day.answers or day.attempts] or ["| (no activity) | 0 | 0 |"]
    if report.mocks:
        out += ["", "## Mock interviews", "", "| Date | Minutes | Score |", "| --- | ---: | ---: |"]
        out += [f"| {m.started_at:%Y-%m-%d %H:%M} | {m.minutes} | {m.score:.0%} |" for m in report.mocks]
    return "\n".join(out) + "\n"


def readiness_note(report: Report) -> str:
    when = f"on {report.readiness_on.isoformat()}, the interview date" if report.readiness_on else "now"
    return (f"Readiness: predicted recall {when}, over every question and exercise task of the topic (unseen "
            "questions and tasks not passed yet count 0).")


def prediction_notes(report: Report) -> list[str]:
    """How well predicted recall matched the answers (and the last fit), as Markdown paragraphs."""
    out = []
    if report.prediction:
        bins = "; ".join(f"{b['low']:.0%}–{b['high']:.0%}: predicted {b['predicted']:.0%}, right {b['recalled']:.0%}"
                         f" ({b['reviews']})" for b in report.calibration)
        count = report.prediction["reviews"]
        out += ["", f"Calibration on {count} review{'s' * (count != 1)} a day or more apart: {bins}. Log loss "
                    f"{report.prediction['log_loss']:.3f}, RMSE {report.prediction['rmse']:.3f}."]
    if report.fit:
        fitted, default = report.fit["fitted"], report.fit["default"]
        out += ["", f"Scheduler fit: log loss {fitted['log_loss']:.3f} (defaults {default['log_loss']:.3f}), RMSE "
                    f"{fitted['rmse']:.3f} (defaults {default['rmse']:.3f}); "
                    + ("your parameters are in use." if report.fit.get("adopted") else "the defaults are kept.")]
    elif report.fit_ready:
        out += ["", "Enough reviews to fit the scheduler to you: `torchprep fit`."]
    return out


def calibration_svg(bins: Sequence[dict], size: int = 240) -> str:
    """A reliability chart: each bin's mean predicted recall (x) against the share recalled (y), dot area by
    its number of reviews, over the diagonal a perfectly calibrated scheduler would sit on."""
    pad, left = 32, 52  # the left margin holds the "100%" ticks and the axis title beside them
    span = size - 2 * pad  # the plot is square: span by span
    top = max([b["reviews"] for b in bins] + [1])

    def x(value: float) -> float:
        return left + span * value

    def y(value: float) -> float:
        return size - pad - span * value

    dots = []
    for b in bins:
        predicted, recalled, count = b["predicted"], b["recalled"], b["reviews"]
        title = html.escape(f"predicted {predicted:.0%}, right {recalled:.0%} ({count} reviews)")
        dots.append(f'<g><title>{title}</title><circle cx="{x(predicted):.1f}" cy="{y(recalled):.1f}" '
                    f'r="{3 + 7 * (count / top) ** 0.5:.1f}" class="dot"/></g>')
    ticks = "".join(f'<text x="{x(v):.1f}" y="{size - pad + 14}" text-anchor="middle">{v:.0%}</text>'
                    f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>' for v in (0, 0.5, 1))
    width = left + span + pad
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {size}" width="{width}" height="{size}" '
            f'role="img" aria-label="Predicted recall against recall on your answers">'
            f'<path d="M{left} {pad}h{span}v{span}h-{span}z" class="frame"/>'
            f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" class="diag"/>{ticks}{"".join(dots)}'
            f'<text x="{left + span / 2}" y="{size - 4}" text-anchor="middle">predicted recall</text>'
            f'<text x="12" y="{pad + span / 2}" text-anchor="middle" transform="rotate(-90 12 {pad + span / 2})">'
            f'share right</text>'
            f'</svg>')


def to_json_text(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def activity_svg(activity: Sequence[Day], width: int = 720, height: int = 180) -> str:
    """A bar chart of answers (and exercise checks, stacked) per day, as inline SVG."""
    top = max([day.answers + day.attempts for day in activity] + [1])
    left, bottom, plot_height = 36, 24, height - 40
    slot = (width - left - 8) / len(activity)
    bars = []
    for index, day in enumerate(activity):
        x = left + index * slot + 2
        answers_h = plot_height * day.answers / top
        attempts_h = plot_height * day.attempts / top
        y = height - bottom - answers_h
        title = f"{day.day:%Y-%m-%d}: {day.answers} answers, {day.attempts} exercise checks"
        bars.append(f'<g><title>{html.escape(title)}</title>'
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" height="{answers_h:.1f}" class="a"/>'
                    f'<rect x="{x:.1f}" y="{y - attempts_h:.1f}" width="{slot - 4:.1f}" height="{attempts_h:.1f}" '
                    f'class="e"/></g>')
        last = len(activity) - 1
        if index == last or (index % 7 == 0 and last - index >= 4):  # weekly labels that never overlap the last
            bars.append(f'<text x="{x + (slot - 4) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                        f'{day.day:%m-%d}</text>')
    axis = (f'<line x1="{left}" y1="{height - bottom}" x2="{width - 8}" y2="{height - bottom}" class="axis"/>'
            f'<text x="{left - 6}" y="{height - bottom - plot_height + 4}" text-anchor="end">{top}</text>'
            f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="Activity over the last {len(activity)} days">'
            f'{axis}{"".join(bars)}</svg>')


HTML_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans SC",sans-serif;max-width:960px;margin:2rem auto;
padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.summary{color:#59636e}table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;text-align:right;
border-bottom:1px solid #eaeef2}th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
.bar{display:block;height:.6rem;background:#2da44e;border-radius:2px}
.track{display:inline-block;width:80px;height:.6rem;background:#eaeef2;border-radius:2px;margin-right:.4rem;
text-align:left;vertical-align:middle}
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}svg text{font-size:11px;fill:#59636e}
svg .a{fill:#0969da}svg .e{fill:#bf8700}svg .axis{stroke:#d0d7de}svg .frame{fill:none;stroke:#d0d7de}
svg .diag{stroke:#8c959f;stroke-dasharray:4 3}svg .dot{fill:#8250df;fill-opacity:.75}.note{color:#59636e}
.calibration{display:flex;gap:1.5rem;align-items:center}.calibration svg{flex:none}
.pct{display:inline-block;width:2.6rem;text-align:right}.legend span{display:inline-block;width:10px;
height:10px;margin:0 .3rem 0 1rem}
"""


def to_html(report: Report) -> str:
    escape = html.escape
    rows = []
    for line in report.topics:
        width = int(round(80 * line.readiness))
        rows.append(
            f"<tr><td>{escape(line.label)}</td><td>{line.seen}/{line.questions}</td><td>{_percent(line.accuracy)}</td>"
            f"<td>{_percent(line.recall)}</td><td>{line.exercises_passed}/{line.exercises_total}</td>"
            f'<td><span class="track"><span class="bar" style="width:{width}px"></span></span>'
            f'<span class="pct">{_percent(line.readiness)}</span></td></tr>')
    weakest = "".join(
        f"<li><strong>{escape(s.label)}</strong> ({escape(s.reason)}): "
        + ", ".join(f"<code>{escape(c)}</code>" for c in s.commands) + "</li>" for s in report.weakest)
    notes = "".join(f'<p class="note">{escape(text).replace("`", "")}</p>' for text in prediction_notes(report) if text)
    calibration = ""
    if report.calibration:
        calibration = (f'<h2>Predictions against your answers</h2><div class="calibration">'
                       f'{calibration_svg(report.calibration)}<div>{notes}</div></div>')
    elif notes:
        calibration = notes
    mocks = ""
    if report.mocks:
        mocks = ("<h2>Mock interviews</h2><table><tr><th>Date</th><th>Minutes</th><th>Score</th></tr>"
                 + "".join(f"<tr><td>{m.started_at:%Y-%m-%d %H:%M}</td><td>{m.minutes}</td><td>{m.score:.0%}</td></tr>"
                           for m in report.mocks) + "</table>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>torchprep readiness report</title><style>{HTML_STYLE}</style></head><body>
<h1>torchprep readiness report</h1>
<p class="summary">Generated {report.generated_at:%Y-%m-%d %H:%M} UTC · {report.answered} answers,
{_percent(report.accuracy)} right · {report.due_now} reviews due · exercises passed
{report.exercises_passed}/{report.exercises_total}</p>
<h2>By topic</h2>
<table><tr><th>Topic</th><th>Seen</th><th>Accuracy</th><th>Recall now</th><th>Exercises</th><th>Readiness</th></tr>
{"".join(rows)}</table>
<p class="note">{escape(readiness_note(report))}</p>
{calibration}
<h2>Work on these next</h2><ul>{weakest}</ul>
<h2>Activity, last {ACTIVITY_DAYS} days</h2>
<p class="legend"><span style="background:#0969da"></span>answers<span style="background:#bf8700"></span>exercise
checks</p>
{activity_svg(report.activity)}
{mocks}
</body></html>
"""


FORMATS = {"md": to_markdown, "json": to_json_text, "html": to_html}
