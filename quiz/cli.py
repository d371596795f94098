"""The `torchprep` command: parse options, call one core function, hand the result to ui.py.

This is the only place errors become exit codes. Heavy modules are imported inside the commands that need
them, so `torchprep --help` stays fast; torch is never imported in this process at all.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperGroup

from quiz import __version__, options
from quiz.errors import QuizError, UsageError

METAVARS = {"topic": "TOPIC", "difficulty": "1-3", "qtype": "TYPE", "count": "N", "lang": "en|zh", "seed": "N",
            "bank": "PATH", "workspace": "DIR", "home": "DIR", "file": "FILE", "timeout": "SECONDS", "memory": "GIB",
            "jobs": "N", "output_format": "FORMAT", "output": "FILE", "minutes": "MINUTES", "exercise_id": "ID",
            "interview": "DATE"}


def _tidy_help(command) -> None:
    """Help in words, not Python types: `--count N`, `--lang en|zh`, `[ID]` (typer would print `<int range>`,
    `<list[str]>`, `[[ID]]` and `ID <str>`)."""
    if getattr(command, "_tidied", False):
        return
    command._tidied = True
    for param in command.params:  # by duck type: typer carries a click of its own
        if param.param_type_name == "argument":
            name = (param.metavar or param.name.upper()).strip("[]")
            param.metavar = name
            usage = (name if param.required else f"[{name}]") + (
                "..." if param.nargs != 1 and not name.endswith("...") else "")
            param._usage_display_name = lambda usage=usage: usage  # `ID` or `[ID]`, never `{ID}`
            param.display_type_rich = lambda ctx: None  # the name says it; no "<str>" after it
        elif param.param_type_name == "option" and not param.is_flag and param.metavar is None:
            param.metavar = METAVARS.get(param.name, param.name.upper())


class _HelpGroup(TyperGroup):
    """Every command's whole first sentence in the command list (click cuts it with "..." at 45 characters),
    and help in words (see _tidy_help)."""

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            _tidy_help(command)
            options.prepare(command)
            _page_help(command)
        return command

    def get_help_option(self, ctx):
        return _paged(super().get_help_option(ctx))

    def get_params(self, ctx):
        _tidy_help(self)
        options.prepare(self)
        return super().get_params(ctx)

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = (command.short_help or command.help or "").strip().split("\n\n")[0]
            rows.append((name, " ".join(text.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _page_help(command) -> None:
    """The command's --help through the pager when it is taller than the terminal (see _show_help)."""
    if getattr(command, "_paged_help", False):
        return
    command._paged_help = True
    make = command.get_help_option
    command.get_help_option = lambda ctx: _paged(make(ctx))


def _paged(option):
    if option is not None:
        option.callback = _show_help
    return option


def _show_help(ctx, param, value) -> None:
    """Click's help, paged on a terminal it would overflow: the command list is 50 lines, and at 24 rows its top
    (the usage and the first commands) would scroll away. LESS=FRX as git sets it: colours, and no pager at all
    when it fits after all."""
    if not value or ctx.resilient_parsing:
        return
    import shutil

    text = ctx.get_help()
    if sys.stdout.isatty() and text.count("\n") + 1 >= shutil.get_terminal_size().lines:
        import pydoc

        os.environ.setdefault("LESS", "FRX")
        pydoc.pager(text + "\n")
    else:
        typer.echo(text, color=ctx.color)
    ctx.exit()


GLOBAL_VALUE_OPTIONS = ("--home",)
GLOBAL_FLAGS = ("--debug",)


def _globals_first(args: list[str]) -> list[str]:
    """`torchprep report --home X` means `torchprep --home X report`: the global options work on either side of
    the command, as the README promises (click only takes them before it)."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg in GLOBAL_FLAGS:
            front.append(arg)
        elif arg in GLOBAL_VALUE_OPTIONS and index + 1 < len(args):
            front += [arg, args[index + 1]]
            index += 1
        elif arg.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


class _Group(_HelpGroup):
    """Turns a QuizError anywhere below into its message and exit code (a traceback only with --debug)."""

    def parse_args(self, ctx, args):
        ctx.meta["torchprep.args"] = list(args)  # an error is told in the --lang they ask for
        return super().parse_args(ctx, _globals_first(list(args)))

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except QuizError as problem:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            from quiz import ui

            ui.error(ui.error_in(str(problem), _lang_asked(ctx.meta.get("torchprep.args", []))))
            raise typer.Exit(problem.exit_code) from None


def _lang_asked(args: list[str]) -> str:
    """The --lang of a command line (errors are told in it), else TORCHPREP_LANG's, else "en"."""
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return os.environ.get("TORCHPREP_LANG") or "en"


def _app(help_text: str, cls=_HelpGroup, completion: bool = False) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=completion,
                       pretty_exceptions_enable=False, rich_markup_mode=None, cls=cls)


# Tab completion (`torchprep --install-completion`) of commands, options, exercise ids, topics, languages and
# question types: each list comes from a YAML read or a constant, never from torch.
def _complete_exercise(incomplete: str) -> list[tuple[str, str]]:
    from quiz import catalog
    from quiz.bank import localize

    return [(e.id, localize(e.short_title or e.title, "en")) for e in catalog.scan()[0] if e.id.startswith(incomplete)]


def _complete_topic(incomplete: str) -> list[tuple[str, str]]:
    from quiz import topics

    return [(t.slug, t.en) for t in topics.TOPICS if t.slug.startswith(incomplete)]


def _complete_lang(incomplete: str) -> list[tuple[str, str]]:
    return [(code, name) for code, name in (("en", "English"), ("zh", "中文")) if code.startswith(incomplete)]


def _complete_type(incomplete: str) -> list[tuple[str, str]]:
    from quiz.bank import QUESTION_TYPES
    from quiz.ui import LABELS

    return [(name, LABELS["en"]["types"][name]) for name in QUESTION_TYPES if name.startswith(incomplete)]


app = _app("Get ready for PyTorch interviews: quizzes, graded coding exercises and a readiness report.",
           cls=_Group, completion=True)
bank_app = _app("Check and count question banks.")
app.add_typer(bank_app, name="bank")


@dataclass
class State:
    home: Path | None = None
    debug: bool = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"torchprep {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Path | None = typer.Option(None, "--home", help="Progress folder (default: TORCHPREP_HOME or the "
                                        "platform's folder for app data)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of short error messages."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = State(home=home, debug=debug)


def _state(ctx: typer.Context) -> State:
    return ctx.find_object(State) or State()


def _catalog(home: Path | None = None):
    """The exercise catalog, remembered in the cache of the home in use (see catalog.cached_scan)."""
    from quiz import catalog, paths

    return catalog.load(cache_dir=paths.cache_dir(paths.home(home)))


def _open_store(ctx: typer.Context, console, lang: str = "en"):
    from quiz import paths, ui
    from quiz.store import Store

    store = Store.open(paths.home(_state(ctx).home))
    ui.notices(console, store.notices, lang)
    return store


def _load_bank(ctx: typer.Context, banks: list[Path], console, lang: str = "en"):
    """The built-in bank plus the user's; a broken user file is reported and left out, never fatal."""
    from quiz import bank, paths, ui

    loaded = bank.load(banks, cache_dir=paths.cache_dir(paths.home(_state(ctx).home)))
    if loaded.problems:
        ui.bank_problems(console, loaded.problems, heading=ui.BANK_LEFT_OUT[lang])
    return loaded


def _check_topics(names: list[str]) -> tuple[str, ...]:
    from quiz import topics

    slugs = []
    for name in names:
        slug = topics.closest(name)  # a near miss on the command line ("behavioral") means the real topic
        if slug is None:
            raise UsageError(f"unknown topic {name!r}: use one of {', '.join(topics.TOPIC_SLUGS)}")
        if slug != name:
            from quiz import ui

            ui.plain(ui.make_console(stderr=True), f"--topic {name}: taken as {slug}", "warn")
        slugs.append(slug)
    return tuple(slugs)


BANK_OPTION = typer.Option([], "--bank", help="Also use the questions in this YAML file or folder (repeatable).")
LANG_OPTION = typer.Option("en", "--lang", envvar="TORCHPREP_LANG", show_envvar=False, autocompletion=_complete_lang,
                           help="Language: en or zh (default: TORCHPREP_LANG, else en).")


MEMORY_OPTION = typer.Option(4.0, "--memory", min=0.5, help="Memory limit of each grading process, in GiB.")


def _check_lang(lang: str) -> str:
    if lang not in ("en", "zh"):
        raise UsageError(f"unknown language {lang!r}: use en or zh")
    return lang


@app.command()
def quiz(
    ctx: typer.Context,
    topic: list[str] = typer.Option([], "--topic", "-t", autocompletion=_complete_topic,
                                    help="Only this topic (repeatable); see `torchprep topics`."),
    difficulty: int | None = typer.Option(None, "--difficulty", "-d", min=1, max=3,
                                             help="Only this difficulty: 1 easy, 2 medium, 3 hard."),
    qtype: list[str] = typer.Option([], "--type", autocompletion=_complete_type,
                                    help="Only this type (repeatable): choice, multi, output, bug, open."),
    count: int = typer.Option(10, "--count", "-n", min=1, help="How many questions."),
    lang: str = LANG_OPTION,
    seed: int | None = typer.Option(None, "--seed", help="A fixed draw: the same seed and filters give the "
                                       "same questions, in the same order, with the same choice order."),
    bank: list[Path] = BANK_OPTION,
) -> None:
    """Answer interview questions in the terminal; every answer is saved as you give it."""
    from quiz import bank as bank_module
    from quiz import play, review, session, ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    unknown_types = [t for t in qtype if t not in bank_module.QUESTION_TYPES]
    if unknown_types:
        raise UsageError(f"unknown type {unknown_types[0]!r}: use one of {', '.join(bank_module.QUESTION_TYPES)}")
    console = ui.make_console()
    loaded = _load_bank(ctx, bank, console, lang)
    filters = session.Filters(topics=_check_topics(topic), difficulty=difficulty, types=tuple(qtype))
    with _open_store(ctx, console, lang) as store:
        cards = review.load_cards(store)
        order = review.spaced_order(cards, utcnow())
        questions = session.draw(loaded.questions, filters, count, seed=seed, order=order)
        if not questions:
            raise UsageError("no question matches these filters: try fewer of them, or see `torchprep topics`")
        _countdown(console, store.setting("interview"), lang)
        summary = play.run(questions, store=store, ui=ui.QuizView(console, lang), seed=seed, lang=lang,
                           after_answer=lambda answer: review.review(store, answer, cards))
    ui.session_summary(console, summary, lang)


@app.command("review")
def review_command(
    ctx: typer.Context,
    topic: list[str] = typer.Option([], "--topic", "-t", autocompletion=_complete_topic,
                                    help="Only this topic (repeatable)."),
    count: int = typer.Option(20, "--count", "-n", min=1, help="At most this many reviews."),
    lang: str = LANG_OPTION,
    bank: list[Path] = BANK_OPTION,
) -> None:
    """The questions due for review (spaced repetition), then the exercise tasks due to be re-done; says when
    the next review is due if none is."""
    from quiz import play, review, session, ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    console = ui.make_console()
    loaded = _load_bank(ctx, bank, console, lang)
    wanted = _check_topics(topic)
    candidates = session.select(loaded.questions, session.Filters(topics=wanted))
    with _open_store(ctx, console, lang) as store:
        cards = review.load_cards(store)
        now = utcnow()
        due = review.due_questions(candidates, cards, now)[:count]
        tasks = _due_tasks(cards, now, wanted, _state(ctx).home)
        if not due:
            ui.due_tasks_view(console, tasks, lang)
            if not tasks:
                ui.nothing_due(console, review.next_due(candidates, cards), now, lang)
            return
        summary = play.run(due, store=store, ui=ui.QuizView(console, lang), lang=lang, kind="review",
                           after_answer=lambda answer: review.review(store, answer, cards))
    ui.session_summary(console, summary, lang)
    ui.due_tasks_view(console, tasks, lang)


def _due_tasks(cards, now, wanted: tuple[str, ...], home: Path | None) -> list[tuple[str, str]]:
    """The exercise tasks due now (of the exercises of these topics, when some are named)."""
    from quiz import review

    tasks = review.due_tasks(cards, now)
    if not tasks:  # the catalog is read only when some task is due
        return []

    exercises = {e.id: e for e in _catalog(home)}
    return [(exercise_id, task) for exercise_id, task in tasks if exercise_id in exercises
            and (not wanted or exercises[exercise_id].topic in wanted)]


@app.command()
def topics(ctx: typer.Context, lang: str = LANG_OPTION, bank: list[Path] = BANK_OPTION) -> None:
    """Each topic with its number of questions and your accuracy so far."""
    from quiz import topics as topic_list
    from quiz import ui

    console = ui.make_console()
    loaded = _load_bank(ctx, bank, console, lang)
    counts = {slug: sum(q.topic == slug for q in loaded.questions) for slug in topic_list.TOPIC_SLUGS}
    with _open_store(ctx, console, lang) as store:
        accuracy = store.topic_accuracy()
    ui.topics_table(console, counts, accuracy, _check_lang(lang))


@bank_app.command("lint")
def bank_lint(
    paths: list[Path] = typer.Argument(None, help="Files or folders to check (default: the built-in bank)."),
) -> None:
    """Check bank files: every problem with its file, line and question id. Exit 1 when there is any."""
    from quiz import bank, ui

    checked, problems = bank.lint(paths or [])
    ui.lint_result(ui.make_console(), checked, problems)
    if problems:
        raise typer.Exit(1)


@bank_app.command("verify")
def bank_verify(
    ctx: typer.Context,
    bank: list[Path] = BANK_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON document."),
) -> None:
    """Run every output, verify and claim block under your installed torch and list the answers that differ.
    Exit 1 when any does."""
    from quiz import ui, verify

    console = ui.make_console(stderr=as_json)
    loaded = _load_bank(ctx, bank, console)
    sources = verify.snippets(loaded.questions)
    with ui.batch_progress(console, len(sources), "Verifying") as advance:
        done = [0]

        def step() -> None:
            done[0] += 1
            advance(done[0], len(sources), "")

        result = verify.run(sources, step)
    gpu_only = set() if result.cuda else set(sources) - set(verify.snippets(loaded.questions, cuda=False))
    for key in gpu_only:  # the child found no GPU: what needs one did not run, and says so
        result.outcomes.pop(key, None)
    found = verify.differences(loaded.questions, result.outcomes)
    report = ui.verify_report(console, result, found, verify.verified_with(), not_run=len(gpu_only),
                              as_json=as_json)
    if as_json:
        print(report)
    if found:
        raise typer.Exit(1)


@bank_app.command("stats")
def bank_stats(ctx: typer.Context, bank: list[Path] = BANK_OPTION) -> None:
    """Count the questions by topic, type, difficulty and language."""
    from quiz import bank as bank_module
    from quiz import ui

    console = ui.make_console()
    ui.bank_stats(console, bank_module.stats(_load_bank(ctx, bank, console)))


# The commands a user waits on run in a group holding only themselves: before it runs one command, typer reads
# the signature of every registered one (two dozen here), time a quiz's first question does not need.
FAST_COMMANDS = ("quiz", "review", "report", "today", "topics", "plan")


def _command_named(args: list[str]) -> str | None:
    """The command word of a command line (after the global options), None when there is none."""
    args = _globals_first(list(args))
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in GLOBAL_VALUE_OPTIONS:
            index += 2
        elif arg in GLOBAL_FLAGS or arg.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS:
            index += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def main() -> None:

    name = _command_named(sys.argv[1:])
    if name in FAST_COMMANDS and not any(key.endswith("_COMPLETE") for key in os.environ):
        fast = _app(app.info.help, cls=_Group)
        fast.registered_callback = app.registered_callback
        fast.registered_commands = [info for info in app.registered_commands
                                    if (info.name or info.callback.__name__) == name]
        fast()
        return
    app()


@app.command()
def report(
    ctx: typer.Context,
    output_format: str | None = typer.Option(None, "--format", help="md, html or json instead of the screen "
                                             "(printed, or written with --output)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file (its format "
                                       "from --format or the file's suffix)."),
    lang: str = LANG_OPTION,
    bank: list[Path] = BANK_OPTION,
) -> None:
    """Where you stand: by topic, the three weakest topics with what to run next, and your last 30 days."""
    from quiz import report as report_module
    from quiz import ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    if output_format is not None and output_format not in report_module.FORMATS:
        raise UsageError(f"unknown format {output_format!r}: use md, html or json")
    if output is not None and output_format is None:
        suffix = output.suffix.lstrip(".")
        output_format = suffix if suffix in report_module.FORMATS else None
        if output_format is None:
            raise UsageError("say which format to write with --format md, html or json")
    console = ui.make_console()
    loaded = _load_bank(ctx, bank, console, lang)
    with _open_store(ctx, console, lang) as store:
        built = report_module.build(store, loaded.questions, _catalog(_state(ctx).home), utcnow(), lang,
                                    interview=_interview_date(store.setting("interview")))
    if output_format is None:
        ui.report_view(console, built, lang)  # with the countdown, from the date readiness is predicted for
        return
    text = report_module.FORMATS[output_format](built)
    if output is None:  # nothing is written outside torchprep's folders unless asked
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text, encoding="utf-8")
    ui.plain(console, f"✓ Wrote {output}", "ok")


def _countdown(console, interview: str | None, lang: str) -> None:
    """"6 days to your interview", when `torchprep plan` knows the date (and it is still ahead)."""
    if interview is None:
        return
    from datetime import date

    from quiz import ui
    from quiz.store import utcnow

    try:
        ui.interview_countdown(console, date.fromisoformat(interview), utcnow(), lang)
    except ValueError:
        pass  # a date not written by `plan`: said nowhere rather than failing a quiz


def _interview_date(text: str | None):
    """The remembered interview date, None when there is none or it is not a date."""
    from datetime import date

    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _interview(store, interview: str | None, hours_per_day: float | None):
    """The interview date and daily hours: given now (then remembered), else remembered, else a clear error."""
    from datetime import date

    saved = store.settings()
    text = interview if interview is not None else saved.get("interview")
    if text is None:
        raise UsageError("when is your interview? Give it once: `torchprep plan --interview YYYY-MM-DD`")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--interview {text!r}: give a date as YYYY-MM-DD, such as 2026-12-10") from None
    hours = hours_per_day if hours_per_day is not None else float(saved.get("hours_per_day", DEFAULT_HOURS))
    return day, hours


DEFAULT_HOURS = 2.0


def _build_plan(store, loaded, interview: str | None, hours_per_day: float | None, cards=None, home=None):
    from quiz import plan as plan_module
    from quiz import review
    from quiz.store import utcnow

    day, hours = _interview(store, interview, hours_per_day)
    exercises = _catalog(home)
    passed = {a.exercise_id for a in store.attempts() if a.status == "pass"}
    cards = review.load_cards(store) if cards is None else cards
    built = plan_module.build(loaded.questions, cards, store.answers(), utcnow(), day, hours,
                              exercises=exercises, passed=passed)
    if interview is not None or hours_per_day is not None:  # remembered once a plan could be made for them
        store.set_settings({"interview": day.isoformat(), "hours_per_day": f"{hours:g}"})
    return built


INTERVIEW_OPTION = typer.Option(None, "--interview", metavar="DATE",
                                help="Your interview date, YYYY-MM-DD (remembered for next time).")
HOURS_OPTION = typer.Option(None, "--hours-per-day", metavar="H",
                            help=f"Hours a day you can study (remembered; default {DEFAULT_HOURS:g}).")
JSON_OPTION = typer.Option(False, "--json", help="Print it as one JSON document.")


@app.command()
def plan(ctx: typer.Context, interview: str | None = INTERVIEW_OPTION, hours_per_day: float | None = HOURS_OPTION,
         as_json: bool = JSON_OPTION, lang: str = LANG_OPTION, bank: list[Path] = BANK_OPTION) -> None:
    """A day-by-day plan to your interview: what to learn new, what to review and which exercises, each day."""
    import json

    from quiz import ui

    lang = _check_lang(lang)
    console = ui.make_console(stderr=as_json)
    loaded = _load_bank(ctx, bank, console, lang)
    with _open_store(ctx, console, lang) as store:
        built = _build_plan(store, loaded, interview, hours_per_day, home=_state(ctx).home)
    if as_json:
        print(json.dumps(built.to_json(), ensure_ascii=False, indent=1))
        return
    ui.plan_view(console, built, lang)


@app.command()
def today(ctx: typer.Context, as_json: bool = JSON_OPTION, lang: str = LANG_OPTION,
          bank: list[Path] = BANK_OPTION) -> None:
    """Today's part of your plan, then straight into today's questions (reviews first)."""
    import json

    from quiz import play, review, ui

    lang = _check_lang(lang)
    console = ui.make_console(stderr=as_json)
    loaded = _load_bank(ctx, bank, console, lang)
    with _open_store(ctx, console, lang) as store:
        cards = review.load_cards(store)  # one read: the plan's and the quiz's
        built = _build_plan(store, loaded, None, None, cards, home=_state(ctx).home)
        day = built.today()
        if as_json:
            print(json.dumps(built.to_json()["days"][0], ensure_ascii=False, indent=1))
            return
        ui.plan_view(console, built, lang, only_today=True)
        by_id = {q.id: q for q in loaded.questions}
        ids = [*day.reviews, *(qid for ids in day.new_questions.values() for qid in ids)]
        questions = [by_id[qid] for qid in ids if qid in by_id]
        if not questions:
            return
        summary = play.run(questions, store=store, ui=ui.QuizView(console, lang), lang=lang,
                           after_answer=lambda answer: review.review(store, answer, cards))
    ui.session_summary(console, summary, lang)
    ui.due_tasks_view(console, day.task_reviews, lang)  # what is left of today once the questions are done


@app.command()
def fit(ctx: typer.Context,
        defaults: bool = typer.Option(False, "--defaults", help="Go back to FSRS's default parameters."),
        as_json: bool = JSON_OPTION, lang: str = LANG_OPTION) -> None:
    """Fit the review scheduler to your own answers, once you have 512 reviews a day or more apart.

    FSRS's optimizer runs in a child process; its parameters are used only when they predict your recall
    better (a lower log loss on your reviews) than the defaults.
    """
    import json

    from quiz import fit as fitting
    from quiz import ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    console = ui.make_console(stderr=as_json)
    words = ui.fit_words(lang)
    with _open_store(ctx, console, lang) as store:
        if defaults:
            fitting.use_defaults(store)
            ui.plain(console, words["defaults"])
            return
        count = fitting.count_scored(store)
        if count < fitting.MIN_REVIEWS:
            raise fitting.not_enough(count)  # a QuizError: its message, exit 2
        with ui.busy(console, words["busy"].format(n=count)):
            result = fitting.fit(store, utcnow())
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
        return
    ui.fit_view(console, result, lang)


@app.command()
def mock(
    ctx: typer.Context,
    minutes: int = typer.Option(45, "--minutes", metavar="MINUTES",
                                help="Length of the interview, 5 to 240 minutes."),
    seed: int | None = typer.Option(None, "--seed", help="The same seed gives the same questions and exercise."),
    lang: str = LANG_OPTION,
    workspace: Path | None = typer.Option(None, "--workspace", help="Folder of your exercise files."),
    bank: list[Path] = BANK_OPTION,
) -> None:
    """A timed mock interview: open questions from different topics and one coding exercise, then a score."""
    import shutil

    from quiz import mock as mock_module
    from quiz import review, ui
    from quiz.grading import runner
    from quiz.store import utcnow

    lang = _check_lang(lang)
    if not mock_module.MIN_MINUTES <= minutes <= mock_module.MAX_MINUTES:
        raise UsageError(f"--minutes {minutes}: a mock interview lasts {mock_module.MIN_MINUTES} to "
                         f"{mock_module.MAX_MINUTES} minutes (45 is a typical first round)")
    console = ui.make_console()
    loaded = _load_bank(ctx, bank, console, lang)
    exercises = _catalog(_state(ctx).home)
    folder = _workspace(workspace) / "mock"

    def fresh_copy(exercise):
        # A mock starts from the starter in a folder of its own: your workspace file is never touched.
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{exercise.id}.py"
        shutil.copyfile(exercise.starter, target)
        return target

    with _open_store(ctx, console, lang) as store:
        passed = frozenset(a.exercise_id for a in store.attempts() if a.status == "pass")
        planned = mock_module.plan(loaded.questions, exercises, minutes=minutes, seed=seed, passed=passed)
        if not planned.questions:
            raise UsageError("no open questions to ask: check your --bank files")
        cards = review.load_cards(store)
        view = ui.QuizView(console, lang, clock=utcnow)
        outcome = mock_module.run(planned, store=store, ui=view, clock=utcnow, lang=lang,
                                  grader=lambda exercise, path: runner.grade(exercise, path),
                                  starter=fresh_copy, after_answer=lambda answer: review.review(store, answer, cards))
    ui.mock_summary(console, outcome, lang, code_note=_keep_mock_code(outcome, folder, _workspace(workspace)))


def _keep_mock_code(outcome, folder: Path, workspace: Path) -> tuple[str, str] | None:
    """The mock's graded code becomes the workspace file when there is none, so `exercises` (which counts the
    attempt) and `check` (which reads the workspace) speak of the same file; an existing file is never touched."""
    exercise = outcome.plan.exercise
    mock_file = folder / f"{exercise.id}.py" if exercise is not None else None
    if outcome.grade is None or mock_file is None or not mock_file.exists():
        return None
    target = workspace / f"{exercise.id}.py"
    if target.exists():
        return "kept", str(mock_file)
    mock_file.replace(target)
    return "moved", str(target)


progress_app = _app("Move your progress between machines, or start over.")
app.add_typer(progress_app, name="progress")


@progress_app.command("export")
def progress_export(ctx: typer.Context, file: Path = typer.Argument(..., help="The JSON file to write."),
                    lang: str = LANG_OPTION) -> None:
    """Write your whole history (answers, exercise attempts, mock interviews) to one JSON file."""
    from quiz import progress, ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    console = ui.make_console()
    with _open_store(ctx, console, lang) as store:
        counts = progress.write_export(store, file, utcnow())
    ui.plain(console, ui.CHANGE_WORDS[lang]["wrote"].format(file=file, counts=ui.counted(counts, lang)), "ok")


@progress_app.command("import")
def progress_import(ctx: typer.Context, file: Path = typer.Argument(..., help="A file from `progress export`."),
                    lang: str = LANG_OPTION) -> None:
    """Merge an exported history into this machine's; importing the same file twice changes nothing."""
    from quiz import progress, ui

    lang = _check_lang(lang)
    console = ui.make_console()
    document = progress.read_export(file)
    with _open_store(ctx, console, lang) as store:
        added = progress.import_document(store, document)
    ui.plain(console, ui.CHANGE_WORDS[lang]["imported"].format(file=file, counts=ui.counted(added, lang, new=True)),
             "ok")


@progress_app.command("reset")
def progress_reset(
    ctx: typer.Context,
    topic: str | None = typer.Option(None, "--topic", autocompletion=_complete_topic,
                                     help="Only this topic's answers and exercises."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    lang: str = LANG_OPTION,
) -> None:
    """Forget your progress (all of it, or one topic's), after a confirmation and a backup export."""
    from quiz import paths, progress, review, topics, ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    words = ui.CHANGE_WORDS[lang]
    console = ui.make_console()
    slug = _check_topics([topic])[0] if topic else None
    what = words["topic"].format(topic=topics.label(slug, lang)) if slug else words["all"]
    if not yes and not typer.confirm(words["forget"].format(what=what)):
        ui.plain(console, words["unchanged"], "muted")
        raise typer.Exit(1)
    now = utcnow()
    with _open_store(ctx, console, lang) as store:
        backup = paths.home(_state(ctx).home) / "backups" / f"progress-{now:%Y%m%d-%H%M%S}.json"
        progress.write_export(store, backup, now)
        exercise_ids = [e.id for e in _catalog(_state(ctx).home) if e.topic == slug] if slug else []
        removed = store.forget(slug, exercise_ids)
        review.rebuild(store)
    ui.plain(console, words["forgot"].format(what=what, answers=removed.get("answers", 0),
                                             attempts=removed.get("attempts", 0), backup=backup), "ok")


# ---------------------------------------------------------------------------------------------------------
# Exercises

exercise_app = _app("Coding exercises graded by pytest against reference solutions.")
app.add_typer(exercise_app, name="exercise")
CURRENT_HELP = "Default: the exercise you last started, checked or edited (else the first not passed)."
WORKSPACE_OPTION = typer.Option(None, "--workspace", help="Folder of your exercise files (default: "
                                "TORCHPREP_WORKSPACE or ~/torchprep-workspace).")


def _workspace(override: Path | None) -> Path:
    from quiz import paths

    return paths.workspace(override)


def _exercise_list(ctx: typer.Context, workspace: Path | None, lang: str) -> None:
    from quiz import catalog, ui

    console = ui.make_console()
    exercises = _catalog(_state(ctx).home)
    with _open_store(ctx, console, lang) as store:
        attempts = {e.id: store.attempts(e.id) for e in exercises}
    ui.exercise_list(console, catalog.statuses(exercises, attempts, _workspace(workspace)), _check_lang(lang))


@exercise_app.command("list")
def exercise_list(ctx: typer.Context, workspace: Path | None = WORKSPACE_OPTION, lang: str = LANG_OPTION) -> None:
    """Every exercise in learning order, with your status and best score."""
    _exercise_list(ctx, workspace, lang)


@app.command("exercises")
def exercises_alias(ctx: typer.Context, workspace: Path | None = WORKSPACE_OPTION, lang: str = LANG_OPTION) -> None:
    """Same as `torchprep exercise list`."""
    _exercise_list(ctx, workspace, lang)


@app.command()
def start(ctx: typer.Context, exercise_id: str = typer.Argument(..., metavar="ID", autocompletion=_complete_exercise),
          workspace: Path | None = WORKSPACE_OPTION, lang: str = LANG_OPTION) -> None:
    """Copy an exercise's starter into your workspace (existing work is never overwritten)."""
    from quiz import catalog, ui

    console = ui.make_console()
    exercise = catalog.get(exercise_id)
    path, created = catalog.start(exercise, _workspace(workspace))
    if created:
        with _open_store(ctx, console, lang) as store:
            store.record_event(exercise.id, "started")
    ui.exercise_started(console, exercise, path, created, _check_lang(lang))


CURRENT_WORDS = {
    "en": {"first": "{verb}, the first exercise not passed yet.",
           "last": "{verb}, the exercise you last {why} (name another: `torchprep {command} ID`).",
           "started": "started", "checked": "checked", "edited": "edited"},
    "zh": {"first": "{verb}：第一个还没通过的练习。",
           "last": "{verb}：你最近{why}的练习（换一个：`torchprep {command} ID`）。",
           "started": "开始", "checked": "检查", "edited": "编辑"},
}
CURRENT_VERBS = {"check": ("Check {id}", "检查 {id}"), "hint": ("Hint for {id}", "给出 {id} 的提示"),
                 "solution": ("Solution of {id}", "显示 {id} 的参考答案"), "watch": ("Watching {id}", "监视 {id}")}


def _current_exercise(console, store, exercises, workspace, command: str, lang: str = "en"):
    """The exercise a bare command acts on: the one last started, checked or edited (said on screen), else
    the first not passed yet."""
    from quiz import catalog, ui

    words = CURRENT_WORDS[lang]
    verb_pattern = CURRENT_VERBS[command][lang == "zh"]
    found = catalog.last_worked_on(exercises, store.attempts(), store.events(), _workspace(workspace))
    if found is None:
        exercise = _first_unpassed(store, exercises)
        ui.plain(console, words["first"].format(verb=verb_pattern.format(id=exercise.id)), "muted")
        return exercise
    exercise, why = found
    ui.plain(console, words["last"].format(verb=verb_pattern.format(id=exercise.id), why=words[why], command=command),
             "muted")
    return exercise


def _first_unpassed(store, exercises):
    passed = {a.exercise_id for a in store.attempts() if a.status == "pass"}
    for exercise in exercises:
        if exercise.id not in passed:
            return exercise
    raise UsageError("you have passed every exercise: name one to check it again")


@app.command()
def check(
    ctx: typer.Context,
    exercise_id: str | None = typer.Argument(None, metavar="ID", autocompletion=_complete_exercise, help=CURRENT_HELP),
    file: Path | None = typer.Option(None, "--file", help="Grade this file instead of the workspace's."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (exercism results.json shape)."),
    timeout: float = typer.Option(60.0, "--timeout", min=1, help="Stop the tests after this many seconds."),
    memory: float = MEMORY_OPTION,
    verbose: bool = typer.Option(False, "--verbose", help="Every test with its message, and the sandbox used."),
    workspace: Path | None = WORKSPACE_OPTION,
    lang: str = LANG_OPTION,
) -> None:
    """Grade your solution with the exercise's tests, test by test. Exit 0 when every test passes.

    Your code runs in a sandbox (on Linux: its own namespaces, read-only files, no network, limits on time,
    memory and disk); the verdict is decided in a separate process that never runs your code.
    """
    import json

    from quiz import catalog, ui
    from quiz.grading import runner

    console = ui.make_console()
    exercises = _catalog(_state(ctx).home)
    with _open_store(ctx, ui.make_console(stderr=True), lang) as store:
        if exercise_id:
            exercise = catalog.get(exercise_id, exercises)
        else:
            exercise = _current_exercise(ui.make_console(stderr=as_json), store, exercises, workspace, "check",
                                         _check_lang(lang))
        submission = file or catalog.workspace_file(exercise, _workspace(workspace))
        if not as_json:
            ui.plain(console, (f"正在检查 {exercise.id}（{submission}）……" if lang == "zh"
                               else f"Checking {exercise.id} ({submission}) ..."), "muted")
        result = runner.grade(exercise, submission, timeout=timeout, memory_gib=memory, home=_state(ctx).home)
        if submission.is_file():
            catalog.record_check(store, result, exercise)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        ui.grade_result(console, result, verbose=verbose, lang=_check_lang(lang))
    if result.status != "pass":
        raise typer.Exit(1)


@app.command()
def watch(
    ctx: typer.Context,
    exercise_id: str | None = typer.Argument(None, metavar="ID", autocompletion=_complete_exercise, help=CURRENT_HELP),
    timeout: float = typer.Option(60.0, "--timeout", min=1, help="Stop the tests after this many seconds."),
    memory: float = MEMORY_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
    lang: str = LANG_OPTION,
) -> None:
    """Check your file again every time you save it: h shows a hint, r checks again, q quits.

    One grader stays up while you work (torch is imported once), so a check after a save costs about the
    time of the tests themselves. Every check is kept, as with `torchprep check`.
    """
    from quiz import catalog, ui
    from quiz import watch as watching
    from quiz.grading import runner

    lang = _check_lang(lang)
    console = ui.make_console()
    exercises = _catalog(_state(ctx).home)
    with _open_store(ctx, ui.make_console(stderr=True), lang) as store:
        exercise = (catalog.get(exercise_id, exercises) if exercise_id
                    else _current_exercise(console, store, exercises, workspace, "watch", lang))
        path = catalog.workspace_file(exercise, _workspace(workspace))

        def next_hint():
            shown, failing = catalog.hint_history(store.events(), exercise.id)
            number, task, last = catalog.next_hint(exercise, shown, failing)
            if number not in shown:
                store.record_event(exercise.id, "hint", str(number))
            return number, task, last

        def keep(result):
            if result.submission_sha256 is not None:
                catalog.record_check(store, result, exercise)

        view = ui.WatchView(console, exercise, path, lang, next_hint=next_hint)
        view.starting()
        with runner.WarmJudge(home=_state(ctx).home, timeout=timeout, memory_gib=memory) as judge, \
                ui.key_reader() as read_key:
            if not judge.wait_ready():
                raise UsageError("the grader did not start: run `torchprep check` to see why")
            watching.run(exercise, path, grader=judge, ui=view, read_key=read_key, on_graded=keep)


GRADE_FORMATS = ("table", "json", "csv", "junit")


def _submission_files(sources: list[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files += sorted(path for path in source.rglob("*.py") if not any(
                part.startswith(".") or part == "__pycache__" for part in path.relative_to(source).parts))
        elif source.is_file():
            files.append(source)
        else:
            raise UsageError(f"{source} is neither a file nor a folder")
    if not files:
        raise UsageError("no .py files to grade in " + ", ".join(map(str, sources)))
    return files


@app.command()
def grade(
    ctx: typer.Context,
    sources: list[Path] = typer.Argument(..., metavar="SUBMISSIONS", help="Submissions: .py files, or "
                                         "folders searched for them."),
    exercise_id: str = typer.Option(..., "--exercise", metavar="ID", autocompletion=_complete_exercise,
                                    help="The exercise they solve."),
    jobs: int = typer.Option(0, "--jobs", min=0, help="Submissions graded at once (0: one per CPU core)."),
    output_format: str = typer.Option("table", "--format", help="table, json, csv or junit (JUnit XML)."),
    output: Path | None = typer.Option(None, "--output", help="Write the json, csv or junit text to this file."),
    hidden_reference: bool = typer.Option(False, "--hidden-reference", help="Refuse to grade unless the "
                                          "sandbox can hide the reference solution from every submission."),
    timeout: float = typer.Option(60.0, "--timeout", min=1, help="Stop one submission's tests after this many "
                                  "seconds."),
    memory: float = MEMORY_OPTION,
) -> None:
    """Grade many submissions of one exercise (a class, a hiring round), each in its own sandbox.

    One broken submission never stops the batch. Exit 0 when every submission passes, 1 otherwise.
    """

    from quiz import catalog, ui
    from quiz.grading import formats, runner

    if output_format not in GRADE_FORMATS:
        raise UsageError(f"unknown format {output_format!r}: use one of {', '.join(GRADE_FORMATS)}")
    exercise = catalog.get(exercise_id)
    files = _submission_files(sources)
    console = ui.make_console(stderr=True)
    with ui.batch_progress(console, len(files)) as advance:
        results = runner.grade_many(exercise, files, jobs=jobs or os.cpu_count() or 1, timeout=timeout,
                                    memory_gib=memory, home=_state(ctx).home, hidden_reference=hidden_reference,
                                    progress=advance)
    if output_format == "table":
        ui.batch_table(ui.make_console(), results, exercise.id)
    else:
        text = {"json": lambda: formats.to_json(results), "csv": lambda: formats.to_csv(results),
                "junit": lambda: formats.to_junit(results, exercise.id)}[output_format]()
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            ui.plain(console, f"Wrote {len(results)} results to {output}", "muted")
    if any(result.status != "pass" for result in results):
        raise typer.Exit(1)


@app.command()
def hint(ctx: typer.Context,
         exercise_id: str | None = typer.Argument(None, metavar="ID", autocompletion=_complete_exercise,
                                                  help=CURRENT_HELP),
         lang: str = LANG_OPTION, workspace: Path | None = WORKSPACE_OPTION) -> None:
    """The next hint: first for the first task that failed in your last check, from a nudge to nearly the
    answer."""
    from quiz import catalog, ui

    console = ui.make_console()
    with _open_store(ctx, console, lang) as store:
        exercises = _catalog(_state(ctx).home)
        exercise = (catalog.get(exercise_id, exercises) if exercise_id
                    else _current_exercise(console, store, exercises, workspace, "hint", _check_lang(lang)))
        shown, failing = catalog.hint_history(store.events(), exercise.id)
        number, task, last = catalog.next_hint(exercise, shown, failing)
        if number not in shown:
            store.record_event(exercise.id, "hint", str(number))
    ui.exercise_hint(console, exercise, number, task=task, last=last, lang=_check_lang(lang))


@app.command()
def solution(
    ctx: typer.Context,
    exercise_id: str | None = typer.Argument(None, metavar="ID", autocompletion=_complete_exercise, help=CURRENT_HELP),
    force: bool = typer.Option(False, "--force", help="Show it before you have passed (recorded as revealed)."),
    workspace: Path | None = WORKSPACE_OPTION,
    lang: str = LANG_OPTION,
) -> None:
    """The reference solution, with a diff against your file: once you have passed, or with --force."""
    from quiz import catalog, ui

    lang = _check_lang(lang)
    console = ui.make_console()
    with _open_store(ctx, console, lang) as store:
        exercises = _catalog(_state(ctx).home)
        exercise = (catalog.get(exercise_id, exercises) if exercise_id
                    else _current_exercise(console, store, exercises, workspace, "solution"))
        passed = any(a.status == "pass" for a in store.attempts(exercise.id))
        if not passed and not force:
            raise UsageError(ui.SOLUTION_WORDS[lang]["locked"].format(id=exercise.id))
        if not passed:
            store.record_event(exercise.id, "revealed")
    ui.solution_view(console, exercise, catalog.workspace_file(exercise, _workspace(workspace)), lang)


@app.command()
def reset(
    ctx: typer.Context,
    exercise_id: str = typer.Argument(..., metavar="ID", autocompletion=_complete_exercise),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    workspace: Path | None = WORKSPACE_OPTION,
    lang: str = LANG_OPTION,
) -> None:
    """Put the starter back in your workspace; your previous file is kept in workspace/backups."""
    from quiz import catalog, ui
    from quiz.store import utcnow

    lang = _check_lang(lang)
    words = ui.CHANGE_WORDS[lang]
    console = ui.make_console()
    exercise = catalog.get(exercise_id)
    folder = _workspace(workspace)
    if not yes and not typer.confirm(words["replace"].format(path=catalog.workspace_file(exercise, folder))):
        ui.plain(console, words["unchanged"], "muted")
        raise typer.Exit(1)
    path, backup = catalog.reset(exercise, folder, utcnow())
    with _open_store(ctx, console, lang) as store:
        store.record_event(exercise.id, "reset", str(backup) if backup else None)
    ui.path_line(console, words["starter_back"], path, "ok")
    if backup:
        ui.path_line(console, words["kept"], backup, "muted")
