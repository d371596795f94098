"""The `torchprep` command: parse options, call one core function, hand the result to ui.py.

This is the only place errors become exit codes. Heavy modules are imported inside the commands that need
them, so `torchprep --help` stays fast; torch is never imported in this process at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional


import typer
from typer.core import TyperGroup

from quiz import __version__
from quiz.errors import QuizError, UsageError


class _Group(TyperGroup):
    """Turns a QuizError anywhere below into its message and exit code (a traceback only with --debug)."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except QuizError as problem:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            from quiz import ui

            ui.error(str(problem))
            raise typer.Exit(problem.exit_code) from None


def _app(help_text: str, **kwargs) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None, **kwargs)


app = _app("Get ready for PyTorch interviews: quizzes, graded coding exercises and a readiness report.",
           cls=_Group)
bank_app = _app("Check and count question banks.")
app.add_typer(bank_app, name="bank")


@dataclass
class State:
    home: Optional[Path] = None
    debug: bool = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"torchprep {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, "--home", help="Progress folder (default: TORCHPREP_HOME or the "
                                        "platform's app-data folder)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of short error messages."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = State(home=home, debug=debug)


def _state(ctx: typer.Context) -> State:
    return ctx.find_object(State) or State()


def _open_store(ctx: typer.Context, console):
    from quiz import paths, ui
    from quiz.store import Store

    store = Store.open(paths.home(_state(ctx).home))
    ui.notices(console, store.notices)
    return store


def _load_bank(banks: list[Path], console):
    """The built-in bank plus the user's; a broken user file is reported and left out, never fatal."""
    from quiz import bank, ui

    loaded = bank.load(banks)
    if loaded.problems:
        ui.bank_problems(console, loaded.problems,
                         heading="Some of your bank files were left out (run `torchprep bank lint` on them):")
    return loaded


def _check_topics(names: list[str]) -> tuple[str, ...]:
    from quiz import topics

    slugs = []
    for name in names:
        slug = topics.closest(name)
        if slug is None or (slug != name and name not in topics.TOPIC_SLUGS and len(name) < 3):
            raise UsageError(f"unknown topic {name!r}: use one of {', '.join(topics.TOPIC_SLUGS)}")
        slugs.append(slug)
    return tuple(slugs)


BANK_OPTION = typer.Option([], "--bank", help="Also use the questions in this YAML file or folder (repeatable).")
LANG_OPTION = typer.Option("en", "--lang", help="Language of the questions: en or zh (missing texts fall "
                                                "back to English).")


def _check_lang(lang: str) -> str:
    if lang not in ("en", "zh"):
        raise UsageError(f"unknown language {lang!r}: use en or zh")
    return lang


@app.command()
def quiz(
    ctx: typer.Context,
    topic: list[str] = typer.Option([], "--topic", "-t", help="Only this topic (repeatable); see `torchprep topics`."),
    difficulty: Optional[int] = typer.Option(None, "--difficulty", "-d", min=1, max=3,
                                             help="Only this difficulty: 1 easy, 2 medium, 3 hard."),
    qtype: list[str] = typer.Option([], "--type", help="Only this type (repeatable): choice, multi, output, bug, open."),
    count: int = typer.Option(10, "--count", "-n", min=1, help="How many questions."),
    lang: str = LANG_OPTION,
    seed: Optional[int] = typer.Option(None, "--seed", help="A fixed draw: the same seed and filters give the "
                                       "same questions, in the same order, with the same choice order."),
    bank: list[Path] = BANK_OPTION,
) -> None:
    """Answer interview questions in the terminal; every answer is saved as you give it."""
    from quiz import bank as bank_module
    from quiz import play, session, ui

    lang = _check_lang(lang)
    unknown_types = [t for t in qtype if t not in bank_module.QUESTION_TYPES]
    if unknown_types:
        raise UsageError(f"unknown type {unknown_types[0]!r}: use one of {', '.join(bank_module.QUESTION_TYPES)}")
    console = ui.make_console()
    loaded = _load_bank(bank, console)
    filters = session.Filters(topics=_check_topics(topic), difficulty=difficulty, types=tuple(qtype))
    store = _open_store(ctx, console)
    with store:
        questions = session.draw(loaded.questions, filters, count, seed=seed, last_outcomes=store.last_outcomes())
        if not questions:
            raise UsageError("no question matches these filters: try fewer of them, or see `torchprep topics`")
        summary = play.run(questions, store=store, ui=ui.QuizView(console, lang), seed=seed, lang=lang)
    ui.session_summary(console, summary, lang)


@app.command()
def topics(ctx: typer.Context, lang: str = LANG_OPTION, bank: list[Path] = BANK_OPTION) -> None:
    """Each topic with its number of questions and your accuracy so far."""
    from quiz import topics as topic_list
    from quiz import ui

    console = ui.make_console()
    loaded = _load_bank(bank, console)
    counts = {slug: sum(q.topic == slug for q in loaded.questions) for slug in topic_list.TOPIC_SLUGS}
    with _open_store(ctx, console) as store:
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


@bank_app.command("stats")
def bank_stats(bank: list[Path] = BANK_OPTION) -> None:
    """Count the questions by topic, type, difficulty and language."""
    from quiz import bank as bank_module
    from quiz import ui

    console = ui.make_console()
    ui.bank_stats(console, bank_module.stats(_load_bank(bank, console)))


def main() -> None:
    app()
