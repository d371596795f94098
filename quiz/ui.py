"""Everything the user sees: the only module that imports rich.

Views take the data that core modules return and render it; prompts read a line. NO_COLOR and narrow
terminals are rich's business (it honours NO_COLOR and measures Chinese characters as two cells).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from quiz import session, topics
from quiz.bank import BankStats, Question, localize
from quiz.errors import BankProblem
from quiz.session import Graded, Summary

THEME = Theme({
    "ok": "bold green", "bad": "bold red", "warn": "yellow", "muted": "dim", "accent": "bold cyan",
    "key": "bold", "skip": "yellow", "code": "cyan",
})
SYNTAX_THEME = "ansi_dark"  # uses the terminal's own palette, and goes plain with NO_COLOR

LABELS = {
    "en": {
        "question": "Question", "right": "Right", "wrong": "Not quite", "answer": "Answer",
        "correct": "Correct answer", "explanation": "Why", "references": "Read more", "hint": "Hint",
        "model": "Model answer", "key_points": "Key points", "your_pick": "Your choice", "your_answer": "Your answer",
        "prompt_choice": "Your answer (letter", "prompt_multi": "Your answer (all letters that apply",
        "prompt_output": "What does it print? (one line is fine", "prompt_bug": "Which line(s) are wrong",
        "prompt_open": "Your answer (Enter to think it through, then see the model answer",
        "covered": "Which key points did you cover? (numbers, 'all' or 'none')",
        "controls": "h hint · s skip · q quit", "controls_no_hint": "s skip · q quit", "score": "Score",
        "colon": ": ", "missed": "You missed", "wrongly": "Not right", "skipped": "Skipped: not counted; it can "
        "come up again in a later quiz.", "correct_many": "Correct answers", "next": "Enter: next › ",
        "time_left": "⏱ {left} left",
        "partial": "Half a point: one choice off. It comes back sooner than a right answer (rated Hard).",
        "types": {"choice": "single choice", "multi": "multiple choice", "output": "what does it print",
                  "bug": "spot the bug", "open": "interview question"},
    },
    "zh": {
        "question": "题目", "right": "回答正确", "wrong": "还差一点", "answer": "答案",
        "correct": "正确答案", "explanation": "解析", "references": "延伸阅读", "hint": "提示",
        "model": "参考答案", "key_points": "要点", "your_pick": "你的选择", "your_answer": "你的回答",
        "prompt_choice": "你的答案（字母", "prompt_multi": "你的答案（所有正确选项的字母",
        "prompt_output": "这段代码会打印什么？（可写在一行", "prompt_bug": "哪一行有错",
        "prompt_open": "你的回答（直接回车可先在心里组织，再看参考答案",
        "covered": "你覆盖了哪些要点？（填编号、all 或 none）",
        "controls": "h 提示 · s 跳过 · q 退出", "controls_no_hint": "s 跳过 · q 退出", "score": "得分",
        "colon": "：", "missed": "漏选", "wrongly": "选错", "skipped": "已跳过：不计分，之后的测验里还会再出现。",
        "correct_many": "正确答案", "next": "回车继续 › ", "time_left": "⏱ 还剩 {left}",
        "partial": "得半分：只差一个选项。它会比答对的题更早再出现（复习时按 Hard 计）。",
        "types": {"choice": "单选题", "multi": "多选题", "output": "输出题", "bug": "找 bug", "open": "面试问答"},
    },
}
DIFFICULTY = {1: "easy", 2: "medium", 3: "hard"}
NOTICES = {
    "en": {"no_more_hints": "No more hints for this question.", "no_hints": "This question has no hints.",
           "letters": "Answer with letters a-{last}", "one_letter": "Choose one letter",
           "output": "Type what the code prints", "lines": "Answer with line numbers, e.g. 3 or 2,5",
           "key_points": "Give key point numbers from 1 to {count}, 'all' or 'none'",
           "controls": " (or h hint, s skip, q quit)", "controls_no_hint": " (or s skip, q quit)", "end": "."},
    "zh": {"no_more_hints": "这道题没有更多提示了。", "no_hints": "这道题没有提示。",
           "letters": "请用字母 a-{last} 作答", "one_letter": "只能选一个字母", "output": "请输入代码打印的内容",
           "lines": "请输入行号，例如 3 或 2,5", "key_points": "请输入 1 到 {count} 的要点编号，或 all / none",
           "controls": "（或 h 提示、s 跳过、q 退出）", "controls_no_hint": "（或 s 跳过、q 退出）", "end": "。"},
}


def make_console(stderr: bool = False) -> Console:
    # Created per command, not at import, so tests that swap sys.stdout see the output. emoji=False: a `:name:`
    # in a question or in code is printed as written, never turned into an emoji (and rich's emoji table is
    # never loaded).
    return Console(theme=THEME, highlight=False, emoji=False, stderr=stderr,
                   file=sys.stderr if stderr else sys.stdout,
                   width=int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdecimal() else None)


# Errors are raised in English, as data (core modules and the CLI's checks); a command run with --lang zh shows
# them in Chinese through this table: each English message as a pattern, its fields carried over. What another
# program said (SQLite, click's own usage errors) stays as it said it.
ERRORS_ZH: tuple[tuple[str, str], ...] = (
    (r"no exercise called '(?P<id>[^']*)': did you mean '(?P<close>[^']*)'\?",
     "没有名为 '{id}' 的练习：你是不是想找 '{close}'？"),
    (r"no exercise called '(?P<id>[^']*)': see `torchprep exercise list`",
     "没有名为 '{id}' 的练习：用 `torchprep exercise list` 查看所有练习"),
    (r"unknown topic '(?P<name>[^']*)': use one of (?P<choices>.*)", "没有主题 '{name}'：可选的主题有 {choices}"),
    (r"unknown language '(?P<lang>[^']*)': use en or zh", "不支持语言 '{lang}'：请用 en 或 zh"),
    (r"unknown type '(?P<type>[^']*)': use one of (?P<choices>.*)", "没有题型 '{type}'：可选的题型有 {choices}"),
    (r"no question matches these filters: try fewer of them, or see `torchprep topics`",
     "没有符合这些条件的题目：少用几个筛选条件，或者看看 `torchprep topics`"),
    (r"unknown format '(?P<format>[^']*)': use md, html or json", "不支持格式 '{format}'：请用 md、html 或 json"),
    (r"say which format to write with --format md, html or json", "请用 --format md、html 或 json 指定要写的格式"),
    (r"when is your interview\? Give it once: `torchprep plan --interview YYYY-MM-DD`",
     "你的面试在哪天？设置一次即可：`torchprep plan --interview YYYY-MM-DD`"),
    (r"--interview '(?P<text>[^']*)': give a date as YYYY-MM-DD, such as (?P<example>\S+)",
     "--interview '{text}'：日期请写成 YYYY-MM-DD，例如 {example}"),
    (r"the interview date (?P<date>\S+) is today: a plan needs a date after today",
     "面试日期 {date} 就是今天：计划需要一个今天之后的日期"),
    (r"the interview date (?P<date>\S+) is (?P<days>\d+) days? ago: a plan needs a date after today",
     "面试日期 {date} 是 {days} 天前：计划需要一个今天之后的日期"),
    (r"hours per day must be more than 0 and at most 24, not (?P<hours>\S+)",
     "每天的小时数必须大于 0、最多 24，而不是 {hours}"),
    (r"--minutes (?P<minutes>-?\d+): a mock interview lasts (?P<low>\d+) to (?P<high>\d+) minutes "
     r"\(45 is a typical first round\)",
     "--minutes {minutes}：模拟面试的时长是 {low} 到 {high} 分钟（一轮初面通常是 45 分钟）"),
    (r"no open questions to ask: check your --bank files", "没有可问的问答题：检查一下你的 --bank 文件"),
    (r"you have passed every exercise: name one to check it again",
     "你已经通过了所有练习：写上练习的 id 可以再检查一次"),
    (r"the grader did not start: run `torchprep check` to see why",
     "评分程序没有启动：运行 `torchprep check` 看看原因"),
    (r"(?P<count>\d+) of your reviews count for a fit \(those a day or more after the card's previous review\); "
     r"fitting needs (?P<need>\d+), below which FSRS's optimizer keeps its defaults\. Until then the defaults are "
     r"used\.",
     "你的复习中有 {count} 次可以用来拟合（距同一张卡片上一次复习一天或更久的复习）；拟合至少需要 {need} 次，"
     "少于这个数时 FSRS 的优化器只会留下默认参数。在那之前使用默认参数。"),
    (r"the progress database (?P<path>.+) is held by another program \(another torchprep still running\?\) and "
     r"stayed locked for (?P<seconds>\S+) s: close it and try again\. Nothing was changed\.",
     "进度数据库 {path} 被另一个程序占用（还有 torchprep 在运行？），等了 {seconds} 秒仍然被锁：关掉它再试一次。"
     "什么都没有改动。"),
    (r"the progress database was written by a newer torchprep \(schema (?P<schema>\d+); this one knows up to "
     r"(?P<known>\d+)\): upgrade torchprep",
     "进度数据库是更新版本的 torchprep 写的（schema {schema}，这个版本最多认识 {known}）：请升级 torchprep"),
)


def error_in(message: str, lang: str) -> str:
    """The error as the user reads it in ``lang``: a message of ERRORS_ZH in Chinese, anything else as it is."""
    if lang != "zh":
        return message
    for pattern, chinese in ERRORS_ZH:
        found = re.fullmatch(pattern, message, flags=re.S)
        if found:
            return chinese.format(**found.groupdict())
    return message


def error(message: str) -> None:
    # A message written in Chinese (a command run with --lang zh) gets a Chinese prefix.
    console = make_console(stderr=True)
    prefix = "错误：" if has_cjk(message) else "Error: "
    console.print(Text(prefix, style="bad") + para(message, console.width, first_offset=cell_len(prefix)))


def notices(console: Console, found: Sequence, lang: str = "en") -> None:
    """What opening the progress database found (store.MovedAside): paths whole, never folded."""
    for notice in found:
        message = str(notice) if lang != "zh" else (
            f"进度数据库 {notice.path} 无法读取（{notice.reason}），已移到 {notice.moved}，并新建了一个空的数据库。")
        console.print(Text(message, style="warn"), soft_wrap=True)


BANK_LEFT_OUT = {"en": "Some of your bank files were left out (run `torchprep bank lint` on them):",
                 "zh": "你的部分题库文件有问题，没有载入（用 `torchprep bank lint` 检查它们）："}


def bank_problems(console: Console, problems: Sequence[BankProblem], *, heading: str | None = None) -> None:
    """Each problem as file:line: message, never wrapped (to copy); the messages are for the bank's author and
    stay in English, as a compiler's would."""
    if heading:
        console.print(para(heading, console.width, style="warn"))
    for problem in problems:
        console.print(Text(f"  {problem}"), soft_wrap=True)  # unwrapped: file:line must stay copyable


# ---------------------------------------------------------------------------------------------------------
# The quiz

INLINE_CODE = re.compile(r"`([^`\n]+)`")


def inline(text: str, style: str | None = None) -> Text:
    """Text with `inline code` drawn as code (the backticks dropped). Its spaces stay spaces, so a command
    copied from the screen runs; para() wraps text with code so that no span is split (rich would break at a
    no-break space as at any other)."""
    out = Text(style=style or "")
    position = 0
    for match in INLINE_CODE.finditer(text):
        out.append(text[position:match.start()])
        out.append(match.group(1), style="code")
        position = match.end()
    out.append(text[position:])
    return out


# Chinese may break between any two characters, Latin words and `code` never; closing punctuation never
# starts a line and opening punctuation never ends one. rich breaks only at spaces, so a Chinese sentence is
# one long "word" to it: moved whole to the next line, a Latin word in it split mid-way.
def _breaks_alone(character: str) -> bool:
    return "\u2e80" <= character <= "\u9fff" or "\uf900" <= character <= "\ufaff" or "\uff00" <= character <= "\uffef"


def wrap_tokens(paragraph: str) -> list[str]:
    """The pieces wrap_text may break between: a `code` span whole, each Chinese character (full-width
    punctuation included), a run of other non-space characters, a run of spaces, a lone backtick.

    A scan rather than a regular expression: the pattern's Unicode classes took 4 ms to compile, on the way
    to the first question."""
    tokens = []
    index, end = 0, len(paragraph)
    while index < end:
        character = paragraph[index]
        after = index + 1
        if character == "`":
            close = paragraph.find("`", after)
            if close > after:
                after = close + 1
        elif not _breaks_alone(character):
            space = character.isspace()
            while after < end and paragraph[after].isspace() == space and (
                    space or (paragraph[after] != "`" and not _breaks_alone(paragraph[after]))):
                after += 1
        tokens.append(paragraph[index:after])
        index = after
    return tokens


_NO_LINE_START = set("，。、；：？！）」』》〉】,.;:?!)]}%")
_NO_LINE_END = set("（「『《〈【([{")


def has_cjk(text: str) -> bool:
    return any("\u2e80" <= character <= "\u9fff" for character in text)


def wrap_text(text: str, width: int, first_offset: int = 0) -> str:
    """``text`` with line breaks where a line would pass ``width`` cells (the first line starts after
    ``first_offset`` cells): Chinese between characters, everything else at spaces."""
    width = max(10, width)
    out_lines = []
    for paragraph in text.split("\n"):
        tokens = wrap_tokens(paragraph)
        merged: list[str] = []
        for token in tokens:  # glue punctuation to its neighbour so neither begins or ends a line wrongly
            if merged and (token[0] in _NO_LINE_START or merged[-1][-1] in _NO_LINE_END) and not token.isspace():
                merged[-1] += token
            else:
                merged.append(token)
        line, used = "", first_offset if not out_lines else 0
        for token in merged:
            size = cell_len(token)
            if token.isspace():
                if line:
                    line, used = line + " ", used + 1
                continue
            if used + size > width and line.strip():
                out_lines.append(line.rstrip())
                line, used = "", 0
            line, used = line + token, used + size
        out_lines.append(line.rstrip())
    return "\n".join(out_lines)


def para(text: str, width: int, first_offset: int = 0, style: str | None = None) -> Text:
    """A paragraph to print: inline code drawn as code; Chinese, and text with `code` in it, wrapped by
    wrap_text (rich wraps the rest). rich breaks at any Unicode space, the no-break space included, so a code
    span kept whole is one wrap_text keeps whole."""
    if has_cjk(text) or "`" in text:
        text = wrap_text(text, width, first_offset)
    return inline(text, style)


# The colours of code, from the terminal's own palette (NO_COLOR drops them). Highlighted with the standard
# library's tokenize rather than pygments: loading pygments' Python lexer compiles hundreds of regular
# expressions, about 70 ms before a question with code could show, more than the rest of torchprep's start.
CODE_STYLES = {"keyword": "magenta", "constant": "cyan", "string": "green", "number": "cyan",
               "comment": "bright_black italic", "builtin": "cyan", "decorator": "yellow"}
_CONSTANTS = {"True", "False", "None"}


def highlight_python(code: str) -> list[Text]:
    """Each line of ``code`` as Text, highlighted by token; lines as they are when the code does not tokenize
    (a snippet that is not meant to be valid Python keeps its text)."""
    import builtins
    import io
    import keyword
    import tokenize

    lines = code.split("\n")
    texts = [Text(line) for line in lines]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return texts
    names = set(dir(builtins))
    previous = None
    for token in tokens:
        kind, text, (row, col), (end_row, end_col) = token.type, token.string, token.start, token.end
        style = None
        if kind == tokenize.NAME:
            if text in _CONSTANTS:
                style = "constant"
            elif keyword.iskeyword(text) or keyword.issoftkeyword(text) and previous in (None, "\n"):
                style = "keyword"
            elif text in names:
                style = "builtin"
        elif kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_START", -1):
            style = "string"
        elif kind == tokenize.NUMBER:
            style = "number"
        elif kind == tokenize.COMMENT:
            style = "comment"
        elif kind == tokenize.OP and text == "@" and previous in (None, "\n", ""):
            style = "decorator"
        if kind not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            previous = text
        elif kind in (tokenize.NL, tokenize.NEWLINE):
            previous = "\n"
        if style is None:
            continue
        for line in range(row, end_row + 1):  # a string may span lines
            if line - 1 >= len(texts):
                break
            start = col if line == row else 0
            end = end_col if line == end_row else len(lines[line - 1])
            texts[line - 1].stylize(CODE_STYLES[style], start, end)
    return texts


def code_view(code: str):
    """Code with its line numbers, as rich's Syntax draws it (numbers right-aligned two cells wider than the
    largest, a space, then the code; a long line wrapped under the code, not under the numbers)."""
    lines = highlight_python(code.rstrip("\n"))
    width = len(str(len(lines))) + 2
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(width=width, justify="right", no_wrap=True, style="bright_black")
    grid.add_column(overflow="fold")
    for number, line in enumerate(lines, 1):
        grid.add_row(str(number), line)
    return grid


def _labelled(label: str, body: Text) -> Text:
    line = Text(label, style="key")
    line.append_text(body)
    return line


def references_block(label: str, urls: Sequence[str], width: int) -> list[Text]:
    """Each address whole on a line (never wrapped or cut, a hyperlink where the terminal has them); the
    first beside the label when it fits."""
    lines: list[Text] = []
    for number, url in enumerate(urls):
        link = Text(url, style=f"muted link {url}")
        gap = "" if label.endswith("：") else " "
        if number == 0 and cell_len(label + gap) + len(url) <= width:
            line = Text(label + gap, style="key") + link
        else:
            if number == 0:
                lines.append(Text(label, style="key"))
            line = (Text("  ") if len(url) + 2 <= width else Text()) + link  # the indent only where it fits
        line.no_wrap, line.overflow = True, "ignore"
        lines.append(line)
    return lines


class QuizView:
    """The terminal side of play.run: shows questions and feedback, reads answers."""

    def __init__(self, console: Console, lang: str = "en", *, deadline=None, clock=None):
        self.console = console
        self.lang = lang
        self.words = LABELS.get(lang, LABELS["en"])
        self.deadline = deadline  # mock interviews: shown as a countdown on every question
        self.clock = clock
        self.last_response = ""  # an open question's answer, shown again beside the key points
        self.pause = True  # wait for Enter after feedback on a terminal, so the next question does not scroll it away

    def _countdown(self) -> str:
        if self.deadline is None or self.clock is None:
            return ""
        left = max(0, int((self.deadline - self.clock()).total_seconds()))
        return " · " + self.words["time_left"].format(left=f"{left // 60:02d}:{left % 60:02d}")

    def _t(self, text) -> str:
        return localize(text, self.lang)

    def show_question(self, question: Question, order: Sequence[int], index: int, total: int) -> None:
        stars = "★" * question.difficulty + "☆" * (3 - question.difficulty)
        title = (f"{self.words['question']} {index}/{total} · {topics.label(question.topic, self.lang)} · "
                 f"{stars} · {self.words['types'][question.type]}{self._countdown()}")
        inner = self.console.width - 4  # inside the panel's border and padding
        parts: list = [para(self._t(question.prompt), inner)]
        if question.code:
            parts.append(Text(""))
            parts.append(code_view(question.code))
        if question.choices:
            parts.append(Text(""))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column()  # a wrapped choice keeps its indent under its own first word
            for position, choice_index in enumerate(order):
                grid.add_row(Text(f"  {session.LETTERS[position]})", style="key"),
                             para(self._t(question.choices[choice_index].text), inner - 5))
            parts.append(grid)
        self.console.print()
        controls = self.words["controls" if question.hints else "controls_no_hint"]
        self.console.print(Panel(Group(*parts), title=title, title_align="left", box=box.ROUNDED,
                                 subtitle=controls, subtitle_align="right"))

    def ask(self, question: Question) -> str:
        key = {"choice": "prompt_choice", "multi": "prompt_multi", "output": "prompt_output",
               "bug": "prompt_bug", "open": "prompt_open"}[question.type]
        close = "）" if self.lang == "zh" else ")"
        prompt = self.words[key] + (close if question.type in ("choice", "multi", "output", "open") else "")
        self.last_response = self.console.input(Text(f"{prompt} › ", style="accent"))
        return self.last_response

    def show_hint(self, question: Question, number: int) -> None:
        label = f"{self.words['hint']} {number}/{len(question.hints)}{self.words['colon']}"
        self.console.print(Text(label, style="warn")
                           + para(self._t(question.hints[number - 1]), self.console.width, cell_len(label)))

    def notice(self, what: str, *, controls: bool = False, hints: bool = True, **details: object) -> None:
        words = NOTICES.get(self.lang, NOTICES["en"])
        message = words[what].format(**details)
        if what not in ("no_more_hints", "no_hints"):
            shown = words["controls" if hints else "controls_no_hint"] if controls else ""
            message += shown + (words["end"] if self.lang == "en" or not controls else "")
        self.console.print(Text(message, style="muted"))

    def reveal_open(self, question: Question) -> None:
        """Your answer and the key points together, to mark which you covered; the model answer comes after
        the marking (show_feedback), so neither scrolls the other away."""
        width = self.console.width
        if self.last_response.strip():
            label = f"{self.words['your_answer']}{self.words['colon']}"
            self.console.print(_labelled(label, para(self.last_response.strip(), width, cell_len(label))))
        self.console.print(Text(self.words["key_points"], style="key"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column()
        for number, point in enumerate(question.key_points, 1):
            grid.add_row(Text(f"  {number}.", style="key"), para(self._t(point), width - 6))
        self.console.print(grid)

    def mock_intro(self, plan) -> None:
        """What the mock holds, and why it has no exercise when none fits in its time."""
        words = MOCK_WORDS.get(self.lang, MOCK_WORDS["en"])
        count = len(plan.questions)
        text = words["intro"].format(minutes=plan.minutes, questions=words["question" if count == 1 else
                                                                               "questions"].format(n=count))
        if plan.exercise is not None:
            exercise = plan.exercise
            text += words["then"].format(title=localize(exercise.short_title or exercise.title, self.lang),
                                         stars="★" * exercise.difficulty + "☆" * (3 - exercise.difficulty))
        elif plan.minutes_for_an_exercise is not None:
            text += words["no_fit"].format(minutes=plan.minutes, need=plan.minutes_for_an_exercise)
        text += words["rules"]
        self.console.print(Panel(para(text, self.console.width - 4), title=words["title"], title_align="left",
                                 box=box.ROUNDED))

    def mock_exercise(self, exercise, path, remaining) -> str | None:
        """The exercise with the clock ticking while the candidate edits the file; the reply, or None when the
        time ran out first (the file is then checked as it is)."""
        words = MOCK_WORDS.get(self.lang, MOCK_WORDS["en"])
        self.deadline = self.clock() + remaining if self.clock else None
        left = int(remaining.total_seconds())
        title = words["coding"].format(title=localize(exercise.short_title or exercise.title, self.lang),
                                       left=f"{left // 60:02d}:{left % 60:02d}")
        width = self.console.width - 4
        self.console.print(Panel(
            Group(para(_reflow(localize(exercise.summary, self.lang)), width), Text(""),
                  Text(words["file"], style="key") + Text(str(path), style="key", overflow="fold")),
            title=title, title_align="left", box=box.ROUNDED))
        reply = ticking_input(self.console, Text(words["wait"], style="accent"), self.deadline, self.clock)
        if reply is None:
            self.console.print(Text(words["time_up"], style="warn"))
        return reply

    def _multi_feedback(self, question: Question, order: Sequence[int], graded: Graded) -> list:
        """The right letters and yours on one line, then each right choice you missed and each choice you
        picked that is not right (with why), one a line: a near miss says exactly where it went wrong."""
        chosen = set(graded.chosen)
        letters = {index: session.LETTERS[position] for position, index in enumerate(order)}
        right = [letters[i] for i in order if question.choices[i].correct]
        mine = [letters[i] for i in order if i in chosen]
        sep = "、" if self.lang == "zh" else ", "
        head = _labelled(f"{self.words['correct_many']}{self.words['colon']}", Text(sep.join(right)))
        head.append(f" · {self.words['your_pick']}{self.words['colon']}{sep.join(mine)}", style="muted")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for index in order:
            choice = question.choices[index]
            if choice.correct and index not in chosen:
                label = f"  {self.words['missed']} {letters[index]})"
                grid.add_row(Text(label, style="bad"),
                             para(self._t(choice.text), self.console.width - cell_len(label) - 1))
            elif not choice.correct and index in chosen:
                label = f"  {self.words['wrongly']} {letters[index]})"
                body = para(self._t(choice.why or choice.text), self.console.width - cell_len(label) - 1)
                grid.add_row(Text(label, style="bad"), body)
        if 0 < graded.score < 1:
            return [head, grid, Text(self.words["partial"], style="warn")]
        return [head, grid]

    def skipped(self, question: Question) -> None:
        self.console.print(Text(self.words["skipped"], style="skip"))

    def ask_covered(self, question: Question) -> str:
        return self.console.input(Text(f"{self.words['covered']} › ", style="accent"))

    def show_feedback(self, question: Question, order: Sequence[int], graded: Graded) -> None:
        lines: list = []
        if question.type == "open":
            covered = len(graded.chosen)
            verdict = Text(f"{self.words['score']}{self.words['colon']}{covered}/{len(question.key_points)}",
                           style="ok" if graded.outcome == "right" else "bad")
        elif graded.outcome == "right":
            verdict = Text(f"✓ {self.words['right']}", style="ok")
        else:
            verdict = Text(f"✗ {self.words['wrong']}", style="bad")
        lines.append(verdict)
        if question.type == "open" and question.model_answer:
            lines.append(Panel(para(self._t(question.model_answer), self.console.width - 4),
                               title=self.words["model"], title_align="left", box=box.ROUNDED))
        if question.type == "multi" and graded.outcome == "wrong":
            lines += self._multi_feedback(question, order, graded)
        elif question.type != "open" and graded.outcome == "wrong":
            expected = session.expected_answer(question, order, self.lang)
            if "\n" in expected:
                lines.append(Text(f"{self.words['correct']}{self.words['colon'].strip()}", style="key"))
                lines.append(Panel(Text(expected), box=box.SQUARE, expand=False))
            else:
                lines.append(_labelled(f"{self.words['correct']}{self.words['colon']}", inline(expected)))
            for index in graded.chosen if question.type == "choice" else ():
                choice = question.choices[index]
                if not choice.correct and choice.why:
                    letter = session.LETTERS[list(order).index(index)]
                    label = f"{self.words['your_pick']} {letter}){self.words['colon']}"
                    lines.append(_labelled(label, para(self._t(choice.why), self.console.width, cell_len(label))))
        label = f"{self.words['explanation']}{self.words['colon']}"
        lines.append(_labelled(label, para(self._t(question.explanation), self.console.width, cell_len(label))))
        self.console.print(Group(*lines))
        if question.references:
            for line in references_block(f"{self.words['references']}{self.words['colon'].rstrip()}",
                                         question.references, self.console.width):
                self.console.print(line, soft_wrap=True)  # the terminal folds an address too long; rich would cut it
        if self.pause and self.console.is_terminal and sys.stdin.isatty():
            # The next question would scroll this feedback away before it is read.
            self.console.input(Text(self.words["next"], style="muted"))


def _points(score: float) -> str:
    # Open questions score fractions of a point; two decimals are plenty, whole numbers stay whole.
    return f"{score:.2f}".rstrip("0").rstrip(".")


def _title(prompt: str, width: int) -> str:
    """A question's prompt as a one-line title: its first sentence, cut at a word with an ellipsis."""
    first = re.split(r"(?<=[.?!。？！])\s", " ".join(prompt.split()), maxsplit=1)[0]
    return _shorten(first, max(20, width)) if cell_len(first) > width else first


def session_summary(console: Console, summary: Summary, lang: str = "en") -> None:
    console.print()
    if not summary.results:
        console.print(Text("No answers this time." if lang == "en" else "本次没有作答。", style="muted"))
        return
    table = Table(title="Session summary" if lang == "en" else "本次小结", box=box.SIMPLE_HEAD)
    table.add_column("Topic" if lang == "en" else "主题")
    table.add_column("Score" if lang == "en" else "得分", justify="right")
    for topic_slug, (score, answered) in sorted(summary.by_topic.items()):
        table.add_row(topics.label(topic_slug, lang), f"{_points(score)}/{answered}")
    table.add_row(Text("Total" if lang == "en" else "合计", style="key"),
                  Text(f"{_points(summary.score)}/{summary.answered}", style="key"))
    console.print(table)
    minutes, seconds = divmod(int(round(summary.duration_s)), 60)
    console.print(f"Time: {minutes}m {seconds:02d}s" if lang == "en" else f"用时：{minutes} 分 {seconds:02d} 秒")
    for outcome, label, style in (("wrong", "Missed" if lang == "en" else "答错", "bad"),
                                  ("skipped", "Skipped" if lang == "en" else "跳过", "skip")):
        questions = [r.question for r in summary.results if r.graded.outcome == outcome]
        if questions:
            console.print(Text(f"{label} ({len(questions)}){':' if lang == 'en' else '：'}", style=style))
            for question in questions:
                console.print(Text("  • ") + inline(_title(localize(question.prompt, lang), console.width - 5)))
    if summary.quit_early:
        console.print(Text("Stopped early: every answer given so far is saved." if lang == "en"
                           else "已提前结束：已作答的题目都已保存。", style="muted"))


def nothing_due(console: Console, next_due, now, lang: str = "en") -> None:
    if next_due is None:
        console.print(para("Nothing to review yet: answer some questions with `torchprep quiz` first." if lang == "en"
                           else "还没有可复习的题目：先用 `torchprep quiz` 答几道题。", console.width))
        return
    console.print(("Nothing is due. Next review: " if lang == "en" else "目前没有到期的复习。下一次复习：")
                  + f"{next_due.strftime('%Y-%m-%d %H:%M UTC')} ({_until(next_due - now, lang)}).")


DUE_TASK_WORDS = {
    "en": {"head": "Exercise tasks due for review: re-do each from a fresh starter.",
           "steps": "`torchprep reset {id}`, write {them} again, then `torchprep check {id}`",
           "it": "it", "them": "them", "sep": ", "},
    "zh": {"head": "到期复习的练习任务：从全新的初始文件重做。",
           "steps": "`torchprep reset {id}`，重新写一遍，再 `torchprep check {id}`",
           "it": "", "them": "", "sep": "、"},
}


def due_tasks_view(console: Console, tasks, lang: str = "en") -> None:
    """Exercise tasks due for review, by exercise, each with the commands that re-do it from a fresh starter."""
    if not tasks:
        return
    words = DUE_TASK_WORDS.get(lang, DUE_TASK_WORDS["en"])
    by_exercise: dict[str, list[str]] = {}
    for exercise_id, task in tasks:
        by_exercise.setdefault(exercise_id, []).append(task)
    console.print(Text(words["head"], style="key"))
    for exercise_id, names in by_exercise.items():
        # Padding keeps the indent on every wrapped line.
        names_line = exercise_id + ("：" if lang == "zh" else ": ") + words["sep"].join(f"`{name}`" for name in names)
        console.print(Padding(para(names_line, console.width - 2), (0, 0, 0, 2)))
        steps = words["steps"].format(id=exercise_id, them=words["it" if len(names) == 1 else "them"])
        console.print(Padding(para(steps, console.width - 4, style="muted"), (0, 0, 0, 4)))


def _until(delta, lang: str) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if lang == "zh":
        if days:
            return f"{days} 天 {hours} 小时后"
        return f"{hours} 小时 {minutes} 分钟后" if hours else f"{minutes} 分钟后"
    if days:
        return f"in {days} day{'s' * (days != 1)} {hours} h"
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"


# ---------------------------------------------------------------------------------------------------------
# Bank commands


def topics_table(console: Console, counts: Mapping[str, int], accuracy: Mapping[str, tuple[int, int]],
                 lang: str = "en") -> None:
    table = Table(box=box.SIMPLE_HEAD)
    headers = (("Topic", "Slug", "Questions", "Your accuracy") if lang == "en"
               else ("主题", "名称", "题数", "你的正确率"))
    table.add_column(headers[0])
    table.add_column(headers[1], style="muted")
    table.add_column(headers[2], justify="right")
    table.add_column(headers[3], justify="right")
    for slug, count in counts.items():
        right, answered = accuracy.get(slug, (0, 0))
        table.add_row(topics.label(slug, lang), slug, str(count),
                      f"{right / answered:.0%} ({right}/{answered})" if answered else "-")
    console.print(table)


def lint_result(console: Console, checked: int, problems: Sequence[BankProblem]) -> None:
    for problem in problems:
        console.print(Text(str(problem)), soft_wrap=True)
    if problems:
        files = len({p.file for p in problems})
        console.print(Text(f"{len(problems)} problem(s) in {files} file(s).", style="bad"))
    else:
        console.print(Text(f"✓ {checked} questions, no problems.", style="ok"))


def bank_stats(console: Console, stats: BankStats) -> None:
    console.print(Text(f"{stats.total} questions", style="key"))
    grid = Table.grid(padding=(0, 3))
    for _ in range(3):
        grid.add_column(vertical="top")
    by_topic = Table("Topic", "n", box=box.SIMPLE_HEAD)
    for slug, count in stats.by_topic.items():
        by_topic.add_row(slug, str(count))
    by_type = Table("Type", "n", box=box.SIMPLE_HEAD)
    for qtype, count in stats.by_type.items():
        by_type.add_row(qtype, str(count))
    by_type.add_row("with verify", str(stats.with_verify))
    if stats.checkable:
        by_type.add_row("proven key", f"{stats.proven}/{stats.checkable}")
    by_type.add_row("with hints", str(stats.with_hints))
    other = Table("Difficulty", "n", box=box.SIMPLE_HEAD)
    for level, count in stats.by_difficulty.items():
        other.add_row(f"{level} {DIFFICULTY[level]}", str(count))
    other.add_row("", "")
    other.add_row("Language", "coverage")
    for lang, share in stats.language_coverage.items():
        other.add_row(lang, f"{share:.0%}")
    grid.add_row(by_topic, by_type, other)
    console.print(grid)


def path_line(console: Console, label: str, path, style: str | None = None) -> None:
    """A label, then a path on a line of its own that is never wrapped or cut (so it can be copied)."""
    console.print(Text(label, style=style or ""))
    console.print(Text(f"  {path}"), soft_wrap=True)


# progress export / import / reset and reset: what they did, in each language.
CHANGE_WORDS = {
    "en": {"kinds": {"answers": "answers", "attempts": "attempts", "events": "events", "mocks": "mocks",
                     "settings": "settings"},
           "sep": ", ", "count": "{n} {kind}", "new": "{n} new {kind}",
           "wrote": "✓ Wrote {file}: {counts}", "imported": "✓ Imported {file}: {counts}",
           "all": "all your progress", "topic": "your progress on {topic}", "forget": "Forget {what}?",
           "forgot": "✓ Forgot {what} ({answers} answers, {attempts} exercise checks). A backup is at {backup} "
                     "(`torchprep progress import` brings it back).",
           "unchanged": "Nothing changed.", "replace": "Replace {path} with the starter?",
           "starter_back": "✓ The starter is back in:", "kept": "Your previous file is kept in:"},
    "zh": {"kinds": {"answers": "次作答", "attempts": "次练习检查", "events": "条练习记录", "mocks": "次模拟面试",
                     "settings": "项设置"},
           "sep": "、", "count": "{n} {kind}", "new": "{n} {kind}",
           "wrote": "✓ 已写入 {file}：{counts}", "imported": "✓ 已导入 {file}，新增：{counts}",
           "all": "你的全部进度", "topic": "你在 {topic} 上的进度", "forget": "确定清除{what}吗？",
           "forgot": "✓ 已清除{what}（{answers} 次作答，{attempts} 次练习检查）。备份在 {backup}"
                     "（用 `torchprep progress import` 可以恢复）。",
           "unchanged": "什么都没有改动。", "replace": "用初始代码替换 {path} 吗？",
           "starter_back": "✓ 初始代码已放回：", "kept": "你原来的文件保存在："},
}


def counted(counts: Mapping[str, int], lang: str, *, new: bool = False) -> str:
    """'3 answers, 0 attempts, ...' (or '3 new answers'), in ``lang``."""
    words = CHANGE_WORDS[lang]
    form = words["new" if new else "count"]
    return words["sep"].join(form.format(n=n, kind=words["kinds"].get(kind, kind)) for kind, n in counts.items())


def plain(console: Console, message: str, style: str | None = None) -> None:
    # Not wrapped by rich: these messages carry paths and commands that must stay copyable (`code` as code).
    console.print(inline(message, style=style), soft_wrap=True)


def markup(console: Console, message: str) -> None:
    console.print(message)




# ---------------------------------------------------------------------------------------------------------
# Exercises

STATE_STYLES = {"passed": "ok", "in progress": "warn", "not started": "muted"}


EXERCISE_WORDS = {
    "en": {"columns": ("#", "Exercise", "Title", "Level", "Status", "Best"),
           "states": {"not started": "not started", "in progress": "in progress", "passed": "passed"},
           "footer": "Start one with `torchprep start ID`, grade it with `torchprep check ID`.",
           "created": "✓ Created ", "exists": "Your file is already there (nothing overwritten): ",
           "next": "Implement: {tasks}. Then run `torchprep check {id}`; stuck? `torchprep hint {id}`.",
           "sep": ", "},
    "zh": {"columns": ("#", "练习", "标题", "难度", "状态", "最好"),
           "states": {"not started": "未开始", "in progress": "进行中", "passed": "已通过"},
           "footer": "用 `torchprep start ID` 开始一个练习，用 `torchprep check ID` 评分。",
           "created": "✓ 已创建 ", "exists": "你的文件已经存在（没有覆盖）：",
           "next": "要实现：{tasks}。然后运行 `torchprep check {id}`；卡住了？`torchprep hint {id}`。",
           "sep": "、"},
}


def _pager(console: Console):
    """The system pager, told to show colours (less -R) and to quit at the end, as git does when LESS is
    unset; a user's own LESS is left alone."""
    os.environ.setdefault("LESS", "FRX")
    return console.pager(styles=True)


def exercise_list(console: Console, statuses: Sequence, lang: str = "en") -> None:
    """One line an exercise, so that the list fits an 80x24 screen: its id, short title, level, status and
    best score."""
    words = EXERCISE_WORDS.get(lang, EXERCISE_WORDS["en"])
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    # Only the title gives way on a narrow screen (with an ellipsis): the id, the status and the score never do.
    bests = [f"{s.best_passed}/{s.best_total}" for s in statuses if s.best_total]
    widths = (None, max([len(s.exercise.id) for s in statuses] + [0]), None, None,
              max([cell_len(state) for state in words["states"].values()] + [0]), max([len(b) for b in bests] + [1]))
    for column, justify, width in zip(words["columns"], ("right", "left", "left", "left", "left", "right"), widths,
                                      strict=True):
        table.add_column(column, justify=justify, no_wrap=True, min_width=width)
    for position, status in enumerate(statuses, 1):  # the place in learning order, without the gaps of `order`
        exercise = status.exercise
        best = f"{status.best_passed}/{status.best_total}" if status.best_total else "-"
        short = localize(exercise.short_title or exercise.title, lang)
        table.add_row(str(position), Text(exercise.id, style="key"), Text(short, style="muted"),
                      "★" * exercise.difficulty, Text(words["states"].get(status.state, status.state),
                                                      style=STATE_STYLES[status.state]), best)
    # 40 exercises at 24 rows: through the pager (see show), so the top does not scroll away.
    show(console, Group(table, para(words["footer"], console.width, style="muted")))


def show(console: Console, renderable) -> None:
    """Print it; through the pager when it is taller than the terminal, so its top does not scroll away."""
    if console.is_terminal and len(console.render_lines(renderable, console.options, pad=False)) > console.height:
        with _pager(console):
            console.print(renderable)
    else:
        console.print(renderable)


def exercise_started(console: Console, exercise, path, created: bool, lang: str = "en") -> None:
    words = EXERCISE_WORDS.get(lang, EXERCISE_WORDS["en"])
    title = localize(exercise.title, lang)
    # soft_wrap: a long path is never folded mid-name by rich, so it can be copied whole.
    if created:
        console.print(Text(words["created"], style="ok") + Text(str(path)), soft_wrap=True)
    else:
        console.print(Text(words["exists"], style="warn") + Text(str(path)), soft_wrap=True)
    short = localize(exercise.short_title or exercise.title, lang)
    body = Group(Text(title, style="key"), Text(""), para(_reflow(localize(exercise.summary, lang)), console.width - 4))
    console.print(Panel(body, title=f"{exercise.id}: {short}", title_align="left", box=box.ROUNDED))
    console.print(para(words["next"].format(tasks=words["sep"].join(exercise.tasks), id=exercise.id),
                       console.width, style="muted"))


def _reflow(text: str) -> str:
    """YAML block text wrapped by its author: join the lines of each paragraph so rich can wrap to the
    terminal; blank lines and list items keep their breaks."""
    paragraphs = []
    for paragraph in text.strip().split("\n\n"):
        lines = [line.strip() for line in paragraph.splitlines()]
        merged: list[str] = []
        for line in lines:
            if merged and not line.startswith(("-", "*", "•")) and not line[:2].rstrip(".").isdigit():
                # Latin text needs the space back; Chinese runs on without one.
                merged[-1] += (" " if merged[-1][-1:].isascii() and line[:1].isascii() else "") + line
            else:
                merged.append(line)
        paragraphs.append("\n".join(merged))
    return "\n\n".join(paragraphs)


TEST_MARKS = {"pass": ("✓", "ok"), "fail": ("✗", "bad"), "error": ("!", "bad"), "skip": ("-", "skip")}


def _indented(text: str, width: int, indent: str = "    ") -> str:
    """Each line wrapped to the terminal with the indent on every wrapped line too, so a message stays
    under its test; words and numbers are never split."""
    import textwrap

    width = max(20, width - 1)
    out = []
    for line in text.splitlines():
        if has_cjk(line):  # textwrap counts characters, and a Chinese one takes two cells
            own = indent + line[:len(line) - len(line.lstrip())]
            out += [own + part for part in wrap_text(line.strip(), width - cell_len(own)).split("\n")]
        else:
            out.append(textwrap.fill(line, width=width, initial_indent=indent, subsequent_indent=indent,
                                     break_long_words=False, break_on_hyphens=False) or indent)
    return "\n".join(out)


def _test_line(test) -> Text:
    mark, style = TEST_MARKS.get(test.status, ("?", "warn"))
    line = Text(f"{mark} ", style=style) + Text(test.name)
    if test.task:
        line.append(f"  [{test.task}]", style="muted")
    return line


def _message(console: Console, test, lang: str = "en") -> None:
    if test.status != "pass" and test.message:
        console.print(Text(_indented(learner_message(test.message, lang).strip()[:1500], console.width),
                           style="muted" if test.status == "skip" else ""))


NOT_YET = "not implemented yet"  # how compare.py begins the message for a NotImplementedError
_NOT_YET_MESSAGE = re.compile(r"^not implemented yet: it still raises NotImplementedError"
                              r"(?: \(line (\d+) of your file(?:: (.*))?\))?$", re.S)


def learner_message(message: str, lang: str) -> str:
    """The judge's fixed phrases in the learner's language. The judge writes English (its messages carry the
    exercise's own labels); the phrase every learner meets first, an unimplemented task, reads in Chinese."""
    if lang != "zh":
        return message
    found = _NOT_YET_MESSAGE.match(message.strip())
    if found is None:
        return message
    line, code = found.groups()
    where = f"（你的文件第 {line} 行" + (f"：{code}" if code else "") + "）" if line else ""
    return f"还没有实现：仍然抛出 NotImplementedError{where}"
CHECK_WORDS = {
    "en": {
        "sandbox": "Sandbox: {how}", "all": "  {n}/{n} tests", "gpu": ", {k} more {verb} a CUDA GPU",
        "needs": "needs", "need": "need", "some": "  {p}/{n} tests passed",
        "more": "    +{k} more failing in {task} (--verbose shows them)",
        "pass": "PASS  {p}/{t} tests", "fail": "FAIL  {p}/{t} tests passed", "error": "ERROR  ",
        "not_here": "  ({t} of {all} checked; {k} {verb} a CUDA GPU and {was} not checked here)",
        "was": "was", "were": "were", "seconds": "  {s:.1f} s",
        "next_fail": "Next: fix {task} and check again; stuck? `torchprep hint {id}` shows the next hint.",
        "next_error": "Stuck? `torchprep hint {id}` shows the next hint.",
        "next_pass": "Next: `torchprep solution {id}` to compare with the reference, or `torchprep exercise "
                     "list` for the next exercise.",
        "watch_fail": "Next: fix {task} and save; h shows the next hint for it.",
        "watch_error": "Next: fix it and save; h shows the next hint.",
        "watch_pass": "All passed. q quits; then `torchprep solution {id}` compares with the reference.",
    },
    "zh": {
        "sandbox": "沙箱：{how}", "all": "  {n}/{n} 个测试", "gpu": "，另有 {k} 个需要 CUDA GPU",
        "needs": "", "need": "", "some": "  通过 {p}/{n} 个测试",
        "more": "    {task} 还有 {k} 个测试没通过（--verbose 全部列出）",
        "pass": "通过  {p}/{t} 个测试", "fail": "未通过  通过 {p}/{t} 个测试", "error": "出错  ",
        "not_here": "  （检查了 {all} 个中的 {t} 个；{k} 个需要 CUDA GPU，本机没有检查）",
        "was": "", "were": "", "seconds": "  {s:.1f} 秒",
        "next_fail": "下一步：修好 {task} 再检查一次；卡住了？`torchprep hint {id}` 给出下一条提示。",
        "next_error": "卡住了？`torchprep hint {id}` 给出下一条提示。",
        "next_pass": "下一步：`torchprep solution {id}` 对照参考答案，或用 `torchprep exercise list` 选下一个练习。",
        "watch_fail": "下一步：修好 {task} 并保存；按 h 看它的下一条提示。",
        "watch_error": "下一步：改好后保存；按 h 看下一条提示。",
        "watch_pass": "全部通过。按 q 退出，再用 `torchprep solution {id}` 对照参考答案。",
    },
}


def grade_result(console: Console, result, *, verbose: bool = False, lang: str = "en", watching: bool = False
                 ) -> None:
    """One screen: a line per task that passed, the first failure of each task that did not (in full), a
    summary line of every task and the next step. ``verbose``: every test and every message. ``watching``:
    the next step is said in `torchprep watch`'s keys."""
    words = CHECK_WORDS.get(lang, CHECK_WORDS["en"])
    for note in result.notes:
        console.print(Text("! " + note, style="warn"))
    if verbose and result.isolation:
        console.print(Text(words["sandbox"].format(how=result.isolation), style="muted"))
    groups = result.by_task()
    summary = []
    blocks: list[tuple[bool, list[Text], list[Text]]] = []  # per task: failing?, its full block, one line
    for task, tests in groups.items():
        checked = [t for t in tests if t.status != "skip"]
        wrong = [t for t in checked if t.status != "pass"]
        if verbose:
            for test in tests:
                console.print(_test_line(test))
                _message(console, test, lang)
        elif not wrong:
            line = Text("✓ ", style="ok") + Text(task) + Text(words["all"].format(n=len(checked)), style="muted")
            if len(checked) < len(tests):
                gpu_only = len(tests) - len(checked)
                line.append(words["gpu"].format(k=gpu_only, verb=words["needs" if gpu_only == 1 else "need"]),
                            style="muted")
            blocks.append((False, [line], [line]))
        else:
            first = wrong[0]
            head = (Text("✗ ", style="bad") + Text(task) +
                    Text(words["some"].format(p=len(checked) - len(wrong), n=len(checked)), style="muted"))
            full = [head.copy(), Text(_indented(first.name, console.width, "  "), style="muted")]
            if first.message:
                full.append(Text(_indented(learner_message(first.message, lang).strip()[:1500], console.width)))
            if len(wrong) > 1:
                full.append(Text(words["more"].format(k=len(wrong) - 1, task=task), style="muted"))
            gist = first.message.strip().splitlines()[0] if first.message.strip() else ""
            if gist.startswith(NOT_YET):
                gist = "还没有实现" if lang == "zh" else NOT_YET
            head.append(": " if lang == "en" else "：", style="muted")
            room = max(10, console.width - head.cell_len - 1)
            head.append(_shorten(gist, room) if cell_len(gist) > room else gist)
            blocks.append((True, full, [head]))
        if checked:
            summary.append((task, len(wrong)))
    # Every failing task in full while the screen has room; else the first in full and each other one a
    # line, so that the summary line and the next step stay on the screen.
    height = console.size.height if console.is_terminal else 24
    full_rows = sum(len(console.render_lines(line)) for _, full, _ in blocks for line in full)
    tight = full_rows + 7 > height
    shown_full = False
    for failing_block, full, short in blocks:
        lines = short if tight and failing_block and shown_full else full
        shown_full = shown_full or failing_block
        for line in lines:
            console.print(line)
    if len(summary) > 1 and any(wrong for _, wrong in summary):
        console.print()
        # Broken only between tasks, never between a task and its mark (rich would break at any space).
        line, used = Text(), 0
        for index, (task, wrong) in enumerate(summary):
            item = f"{task} ✓" if not wrong else f"{task} ✗ {wrong}"
            if index and used + 3 + cell_len(item) > console.width - 1:
                line.append(" ·\n", style="muted")
                used = 0
            elif index:
                line.append(" · ", style="muted")
                used += 3
            line.append(item, style="ok" if not wrong else "bad")
            used += cell_len(item)
        console.print(line)
    if result.status == "pass":
        verdict = Text(words["pass"].format(p=result.passed, t=result.total), style="ok")
    elif result.status == "fail":
        verdict = Text(words["fail"].format(p=result.passed, t=result.total), style="bad")
    else:
        verdict = Text(words["error"], style="bad") + Text(result.message)
    if result.skipped:
        one = result.skipped == 1
        verdict.append(words["not_here"].format(t=result.total, all=result.total + result.skipped, k=result.skipped,
                                                verb=words["needs" if one else "need"],
                                                was=words["was" if one else "were"]), style="muted")
    verdict.append(words["seconds"].format(s=result.duration_s), style="muted")
    console.print()
    console.print(verdict)
    failing = next((task for task, wrong in summary if wrong), None)
    prefix = "watch_" if watching else "next_"
    if result.status == "fail" and failing:
        step = words[prefix + "fail"].format(task=failing, id=result.exercise)
    elif result.status != "pass":
        step = words[prefix + "error"].format(id=result.exercise)
    else:
        step = words[prefix + "pass"].format(id=result.exercise)
    console.print(para(step, console.width, style="muted"))


WATCH_WORDS = {
    "en": {"header": "watch · {id} · {path}", "keys": "Save to check again · h hint · r re-check · q quit",
           "grading": "Checking {id} ...", "missing": "There is no file at {path} yet: `torchprep start {id}` "
           "creates it. Waiting for it (q quits).", "starting": "Starting the grader (torch loads once) ..."},
    "zh": {"header": "watch · {id} · {path}", "keys": "保存即重新检查 · h 提示 · r 再查一次 · q 退出",
           "grading": "正在检查 {id} ……", "missing": "{path} 还不存在：`torchprep start {id}` 会创建它。"
           "正在等待（按 q 退出）。", "starting": "正在启动评分进程（torch 只加载一次）……"},
}


class WatchView:
    """The watch screen: cleared and drawn again for every result, the keys always on its last line."""

    def __init__(self, console: Console, exercise, path, lang: str = "en", *, next_hint=None):
        self.console, self.exercise, self.path, self.lang = console, exercise, path, lang
        self.words = WATCH_WORDS.get(lang, WATCH_WORDS["en"])
        self.next_hint = next_hint  # () -> (number, task, last): picks and records the next hint
        self.last = None
        self.hints: list[tuple[int, str | None, bool]] = []

    def _say(self, key: str, style: str = "muted") -> None:
        self.console.print(Text(self.words[key].format(id=self.exercise.id, path=self.path), style=style))

    def starting(self) -> None:
        self._say("starting")

    def _draw(self) -> None:
        if self.console.is_terminal:
            self.console.clear()
        self._say("header", "accent")
        grade_result(self.console, self.last, lang=self.lang, watching=True)
        for number, task, last in self.hints:
            self.console.print()
            exercise_hint(self.console, self.exercise, number, task=task, last=last, lang=self.lang)
        self._say("keys", "key")

    def grading(self) -> None:
        self._say("grading")

    def missing(self) -> None:
        if self.console.is_terminal:
            self.console.clear()
        self._say("missing", "warn")

    def result(self, result) -> None:
        self.last, self.hints = result, []
        self._draw()

    def hint(self) -> None:
        if self.next_hint is not None and self.last is not None:
            self.hints = [self.next_hint()]
            self._draw()


@contextlib.contextmanager
def key_reader():
    """Yields ``read_key(timeout)``: one key from a terminal in cbreak mode (no Enter needed, restored on the
    way out), or the first letter of each line of piped input; "" once piped input has ended."""
    import select

    stream = sys.stdin
    if not stream.isatty():
        ended = False

        def read_line(timeout: float):
            nonlocal ended
            if ended:
                return ""
            ready, _, _ = select.select([stream], [], [], timeout)
            if not ready:
                return None
            line = stream.readline()
            if not line:
                ended = True
                return ""
            return line.strip()[:1].lower() or None

        yield read_line
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)

        def read_key(timeout: float):
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            key = os.read(fd, 32).decode("utf-8", "replace")
            return key[:1].lower() or None

        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def batch_progress(console: Console, total: int, label: str = "Grading"):
    """A progress bar on a terminal (nothing when output is piped); yields the callback that advances it."""
    if not console.is_terminal:
        yield lambda done, total, status: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("grading", total=total)
        yield lambda done, total, status: progress.update(task, completed=done)


def _shorten(text: str, limit: int) -> str:
    """At most ``limit`` terminal cells, cut at a space with an ellipsis, so no word is cut in half (Chinese,
    which has no spaces, is cut at any character)."""
    if cell_len(text) <= limit:
        return text
    cut, used = [], 0
    for character in text:
        used += cell_len(character)
        if used > limit - 1:
            break
        cut.append(character)
    kept = "".join(cut)
    if " " in kept and text[len(kept)] != " " and not _is_cjk(text[len(kept)]):
        kept = kept.rsplit(" ", 1)[0]
    return kept.rstrip(" ,;:，；：") + "…"


def _is_cjk(character: str) -> bool:
    return cell_len(character) == 2


def batch_table(console: Console, results, exercise_id: str) -> None:
    table = Table(box=box.SIMPLE_HEAD, title=f"{exercise_id}: {len(results)} submissions", title_justify="left")
    table.add_column("Submission", overflow="fold")
    table.add_column("Status")
    table.add_column("Tests", justify="right")
    table.add_column("First failure", overflow="fold")
    for result in results:
        mark, style = TEST_MARKS.get(result.status, ("?", "warn"))
        first = next((t for t in result.tests if t.status == "fail"), None)
        if result.status == "error":
            detail = result.message.splitlines()[0] if result.message else ""
        else:
            detail = first.message.splitlines()[0] if first and first.message else ""
        table.add_row(Path(result.submission).name, Text(f"{mark} {result.status}", style=style),
                      f"{result.passed}/{result.total}", _shorten(detail, 110))
    console.print(table)
    counts = {status: sum(r.status == status for r in results) for status in ("pass", "fail", "error")}
    console.print(Text(f"{counts['pass']} passed · {counts['fail']} failed · {counts['error']} errors", style="muted"))


def exercise_hint(console: Console, exercise, number: int, *, last: bool, task: str | None = None,
                  lang: str = "en") -> None:
    total = len(exercise.hints)
    if lang == "zh":
        about = f"，关于 {task}（上次检查中第一个没通过的任务）" if task else ""
        head = f"{exercise.id} 的提示 {number}/{total}{about}："
        tail = (f"这是 {task} 的最后一条提示。" if task else "这是最后一条提示。") + \
            f"`torchprep solution {exercise.id} --force` 可以直接看答案。"
    else:
        about = f", about {task} (the first task that failed in your last check)" if task else ""
        head = f"Hint {number}/{total} for {exercise.id}{about}: "
        tail = (f"That is the last hint for {task}. " if task else "That is the last hint. ") + \
            f"`torchprep solution {exercise.id} --force` shows the answer."
    console.print(Text(head, style="warn")
                  + para(localize(exercise.hints[number - 1], lang), console.width, first_offset=cell_len(head)))
    if last:
        console.print(para(tail, console.width, style="muted"))


SOLUTION_WORDS = {
    "en": {"title": "Reference solution: {id}",
           "diff": "Your code ({path}) against the reference, docstrings and comments left out: - yours, + the "
                   "reference's",
           "same": "Your code is the reference's, but for docstrings and comments.",
           "locked": "pass {id} first (`torchprep check {id}`), or see the solution now with "
                     "`torchprep solution {id} --force`"},
    "zh": {"title": "参考答案：{id}",
           "diff": "你的代码（{path}）与参考答案对比（不计文档字符串和注释）：- 是你的，+ 是参考答案的",
           "same": "除了文档字符串和注释，你的代码与参考答案相同。",
           "locked": "先通过 {id}（`torchprep check {id}`），或者用 `torchprep solution {id} --force` 现在就看答案"},
}


def solution_view(console: Console, exercise, user_file, lang: str = "en") -> None:
    """The reference, wrapped (never clipped) at the terminal's width, then your code against it with
    docstrings and comments left out on both sides; through a pager when it is longer than the screen."""
    from rich.syntax import Syntax

    from quiz import catalog

    words = SOLUTION_WORDS.get(lang, SOLUTION_WORDS["en"])
    reference = exercise.solution.read_text(encoding="utf-8")
    parts: list = [Text(words["title"].format(id=exercise.id), style="accent"),
                   Syntax(reference, "python", theme=SYNTAX_THEME, line_numbers=True, word_wrap=True,
                          background_color="default")]
    if user_file.is_file():
        rows = catalog.code_diff(user_file.read_text(encoding="utf-8"), reference)
        parts.append(Text())
        if rows:
            parts.append(Text(words["diff"].format(path=user_file), style="accent"))
            styles = {"@": "muted", "-": "bad", "+": "ok", " ": ""}
            for kind, line in rows:
                parts.append(Text(f"{kind} {line}", style=styles[kind]))
        else:
            parts.append(Text(words["same"], style="ok"))
    group = Group(*parts)
    # Measured only on a terminal: piped output is never paged, so it is rendered once.
    if console.is_terminal and len(console.render_lines(group, console.options, pad=False)) > console.height:
        with _pager(console):
            console.print(group)
    else:
        console.print(group)


# ---------------------------------------------------------------------------------------------------------
# The readiness report

BLOCKS = " ▁▂▃▄▅▆▇█"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def activity_chart(days: Sequence, rows: int = 4) -> list[str]:
    """Columns of block characters, one per day, `rows` lines high (answers and checks together)."""
    totals = [day.answers + day.attempts for day in days]
    top = max(totals + [1])
    lines = []
    for row in range(rows, 0, -1):
        line = ""
        for total in totals:
            eighths = round(total / top * rows * 8)
            line += BLOCKS[max(0, min(8, eighths - (row - 1) * 8))]
        lines.append(line)
    return lines


REPORT_WORDS = {
    "en": {"title": "Readiness report",
           "next": "Work on these next (weak topics you tried first, then untried ones)",
           "totals": "{answers} answers, {right} right · {due} reviews due · exercises {passed}/{total}",
           "columns": ("Topic", "Seen", "Right", "Recall", "Exercises", "Readiness"),
           "legend": "Seen: questions answered at least once, of the topic's. Right: share of your answers that "
                     "were right. Recall: the chance, predicted from your reviews, that you would get a seen "
                     "question right now (high just after any answer, right or wrong). Exercises: passed of "
                     "all (— none for this topic). Readiness: predicted recall {when} over all the topic's "
                     "questions and exercise tasks, unseen ones counting 0.",
           "now": "now", "on": "on {date} (your interview)",
           "calibration": "Predictions against your answers ({n} review{s} a day or more apart): {bins}; "
                          "log loss {log_loss:.3f} with {params}.",
           "bin": "said {predicted}, right {recalled}", "params_default": "FSRS's default parameters",
           "params_yours": "your fitted parameters",
           "fit": "Your fit: log loss {fitted:.3f} against {default:.3f} with the defaults (RMSE {fitted_rmse:.3f} "
                  "against {default_rmse:.3f}); {used}.", "fit_used": "in use", "fit_kept": "defaults kept",
           "fit_ready": "You have enough reviews to fit the scheduler to you: `torchprep fit`.",
           "activity": "Activity, last {days} days (answers and exercise checks per day, peak {peak})",
           "mocks": "Mock interviews", "mock": "{minutes} min  score {score}",
           "untried": "not started: 0 of {questions} questions seen", "tried": "{seen}/{questions} questions "
           "seen, {right} right", "due": ", {due} due for review", "reason": " ({})"},
    "zh": {"title": "备考情况", "next": "接下来重点练习（先是做过但薄弱的主题，再是还没做的）",
           "totals": "共作答 {answers} 次，答对 {right} · {due} 道题待复习 · 练习通过 "
           "{passed}/{total}", "columns": ("主题", "已做", "答对", "记忆", "练习", "准备度"),
           "legend": "已做：至少答过一次的题数 / 该主题题数。答对：你的作答中答对的比例。记忆：根据复习记录预测你现在"
                     "答对一道做过的题的概率（刚答完时无论对错都偏高）。练习：已通过 / 全部（— 表示该主题没有练习）。"
                     "准备度：{when}该主题全部题目和练习任务的平均预测记忆概率，没做过的按 0 计。",
           "now": "现在", "on": "在面试日 {date} ",
           "calibration": "预测与你的实际作答对比（间隔一天以上的 {n} 次复习）：{bins}；{params}下的对数损失 "
                          "{log_loss:.3f}。",
           "bin": "预测 {predicted}，实际答对 {recalled}", "params_default": "FSRS 默认参数",
           "params_yours": "你拟合的参数",
           "fit": "你的拟合：对数损失 {fitted:.3f}，默认参数为 {default:.3f}（RMSE {fitted_rmse:.3f}，默认 "
                  "{default_rmse:.3f}）；{used}。", "fit_used": "正在使用", "fit_kept": "仍用默认参数",
           "fit_ready": "你的复习次数已足够让调度器拟合你的记忆：`torchprep fit`。",
           "activity": "最近 {days} 天的活动（每天的作答和练习检查次数，最多 {peak} 次）",
           "mocks": "模拟面试", "mock": "{minutes} 分钟  得分 {score}",
           "untried": "还没开始：{questions} 道题一道都没做", "tried": "做过 {seen}/{questions} 道，答对 {right}",
           "due": "，{due} 道待复习", "reason": "（{}）"},
}


READINESS_BAR = 6  # cells: with " 100%" the column stays 11 wide, so the table fits 80 columns


def coarse_calibration(bins) -> list[tuple[str, int, float, float]]:
    """The report's calibration bins merged into three a terminal line can hold: (label, reviews, mean
    prediction, share recalled), empty groups left out."""
    groups = (("<70%", 0.0, 0.7), ("70–90%", 0.7, 0.9), ("≥90%", 0.9, 1.01))
    out = []
    for label, low, high in groups:
        inside = [b for b in bins if low <= b["low"] < high]
        count = sum(b["reviews"] for b in inside)
        if count:
            out.append((label, count, sum(b["predicted"] * b["reviews"] for b in inside) / count,
                        sum(b["recalled"] * b["reviews"] for b in inside) / count))
    return out


def prediction_lines(report, lang: str = "en") -> list[str]:
    """Under the report's table: how well predicted recall matched the answers, and the scheduler's fit."""
    words = REPORT_WORDS.get(lang, REPORT_WORDS["en"])
    lines = []
    if report.prediction:
        sep = "；" if lang == "zh" else " · "
        bins = sep.join(f"{label} " + words["bin"].format(predicted=_pct(predicted), recalled=_pct(recalled))
                        + (f"（{count} 次）" if lang == "zh" else f" ({count})")
                        for label, count, predicted, recalled in coarse_calibration(report.calibration))
        used = bool(report.fit and report.fit.get("adopted"))
        count = report.prediction["reviews"]
        lines.append(words["calibration"].format(n=count, s="s" * (count != 1), bins=bins,
                                                 log_loss=report.prediction["log_loss"],
                                                 params=words["params_yours" if used else "params_default"]))
    if report.fit:
        fitted, default = report.fit["fitted"], report.fit["default"]
        lines.append(words["fit"].format(fitted=fitted["log_loss"], default=default["log_loss"],
                                         fitted_rmse=fitted["rmse"], default_rmse=default["rmse"],
                                         used=words["fit_used" if report.fit.get("adopted") else "fit_kept"]))
    elif report.fit_ready:
        lines.append(words["fit_ready"])
    return lines


def report_view(console: Console, report, lang: str = "en") -> None:
    words = REPORT_WORDS.get(lang, REPORT_WORDS["en"])
    out: list = []
    if report.readiness_on:
        left = (report.readiness_on - report.generated_at.date()).days
        plan_words = PLAN_WORDS.get(lang, PLAN_WORDS["en"])
        countdown = plan_words["day" if left == 1 else "days"].format(days=left, date=report.readiness_on.isoformat())
        out.append(Text(countdown + ("。" if lang == "zh" else "."), style="accent"))
    out.append(Text(words["title"], style="accent"))
    out.append(Text(words["totals"].format(answers=report.answered, right=_pct(report.accuracy),
                                              due=report.due_now, passed=report.exercises_passed,
                                              total=report.exercises_total), style="muted"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in zip(words["columns"], ("left", "right", "right", "right", "right", "left"), strict=True):
        table.add_column(column, justify=justify, no_wrap=True)
    for line in report.topics:
        filled = int(round(line.readiness * READINESS_BAR))
        table.add_row(line.label, f"{line.seen}/{line.questions}", _pct(line.accuracy), _pct(line.recall),
                      f"{line.exercises_passed}/{line.exercises_total}" if line.exercises_total else "—",
                      Text("█" * filled, style="ok") + Text("░" * (READINESS_BAR - filled), style="muted")
                      + Text(f" {line.readiness:.0%}"))
    out.append(table)
    when = words["on"].format(date=report.readiness_on.isoformat()) if report.readiness_on else words["now"]
    out.append(para(words["legend"].format(when=when), console.width, style="muted"))
    for line in prediction_lines(report, lang):
        out.append(para(line, console.width, style="muted"))
    out.append(Text(""))
    out.append(Text(words["next"], style="key"))
    for suggestion in report.weakest:
        if suggestion.accuracy is None:
            reason = words["untried"].format(questions=suggestion.questions)
        else:
            reason = words["tried"].format(seen=suggestion.seen, questions=suggestion.questions,
                                           right=_pct(suggestion.accuracy))
            if suggestion.due:
                reason += words["due"].format(due=suggestion.due)
        out.append(Text(f"  {suggestion.label}", style="bad") + Text(words["reason"].format(reason), style="muted"))
        for command in suggestion.commands:
            out.append(Text(f"    {command}"))
    out.append(Text(""))
    days = report.activity
    out.append(Text(words["activity"].format(days=len(days),
                                                peak=max([d.answers + d.attempts for d in days] + [0])), style="key"))
    for line in activity_chart(days):
        out.append(Text("  " + line, style="accent"))
    first, last = days[0].day, days[-1].day
    out.append(Text(f"  {first:%m-%d}" + " " * max(1, len(days) - 10) + f"{last:%m-%d}", style="muted"))
    if report.mocks:
        out.append(Text(""))
        out.append(Text(words["mocks"], style="key"))
        for mock in report.mocks[-5:]:
            out.append(f"  {mock.started_at:%Y-%m-%d %H:%M}  " + words["mock"].format(minutes=mock.minutes,
                                                                                       score=f"{mock.score:.0%}"))
    show(console, Group(*out))



MOCK_WORDS = {
    "en": {"title": "Mock interview", "intro": "{minutes} minutes: {questions}",
           "question": "1 interview question", "questions": "{n} interview questions from different topics",
           "then": ", then the coding exercise “{title}” ({stars})",
           "no_fit": "; no coding exercise fits in {minutes} minutes (`--minutes {need}` has one)",
           "rules": ". Answer aloud or type, as in a real interview; the clock runs from your first question.",
           "coding": "Coding: {title} · ⏱ {left} left", "file": "Your file: ",
           "wait": "Edit the file, then press Enter to check it (q gives up) › ",
           "time_up": "Time is up: your file is checked as it is.",
           "result": "Mock interview result", "columns": ("Part", "Result", "Score"),
           "status": {"right": "right", "wrong": "not right", "skipped": "skipped", "not reached": "not reached",
                      "pass": "passed", "fail": "failed", "error": "error"},
           "tests": "{status}, {passed}/{total} tests", "overall": "Overall {score}",
           "took": " · {minutes}m {seconds:02d}s", "ran_out": " · time ran out",
           "moved": "Your mock code is now your workspace file (`torchprep check {id}` goes on from it):",
           "kept": "Your mock code stays here (your workspace file was not touched):",
           "saved": "Saved to your history: see `torchprep report`."},
    "zh": {"title": "模拟面试", "intro": "{minutes} 分钟：{questions}",
           "question": "1 道面试题", "questions": "来自不同主题的 {n} 道面试题",
           "then": "，然后是编程练习“{title}”（{stars}）",
           "no_fit": "；{minutes} 分钟里放不下编程练习（`--minutes {need}` 就会有一道）",
           "rules": "。像真实面试一样口头回答或打字作答；从第一道题开始计时。",
           "coding": "编程：{title} · ⏱ 还剩 {left}", "file": "你的文件：",
           "wait": "编辑文件，然后按回车检查（q 放弃）› ",
           "time_up": "时间到：按文件当前的内容检查。",
           "result": "模拟面试结果", "columns": ("部分", "结果", "得分"),
           "status": {"right": "答对", "wrong": "未答对", "skipped": "跳过", "not reached": "没来得及做",
                      "pass": "通过", "fail": "未通过", "error": "出错"},
           "tests": "{status}，{passed}/{total} 个测试", "overall": "总分 {score}",
           "took": " · 用时 {minutes} 分 {seconds:02d} 秒", "ran_out": " · 超时",
           "moved": "模拟面试的代码现在就是你的练习文件（`torchprep check {id}` 可以接着检查）：",
           "kept": "模拟面试的代码留在这里（你原来的练习文件没有改动）：",
           "saved": "已保存到你的记录：见 `torchprep report`。"},
}


def ticking_input(console: Console, prompt: Text, deadline, clock) -> str | None:
    """A line read with the time left ticking at its start once a second; None when the deadline passes first.
    Off a terminal (or without a deadline) a plain input."""
    if deadline is None or clock is None or not console.is_terminal or not sys.stdin.isatty():
        return console.input(prompt)
    import select

    def stamp() -> str:
        left = max(0, int((deadline - clock()).total_seconds()))
        return f"⏱ {left // 60:02d}:{left % 60:02d} "

    console.print(Text(stamp(), style="warn") + prompt, end="")
    console.file.flush()
    while True:
        if clock() >= deadline:
            console.print()
            return None
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready:
            return sys.stdin.readline().rstrip("\n")
        # Save the cursor, rewrite the clock at the line's start, come back: what the user typed stays.
        console.file.write("\x1b7\r" + stamp() + "\x1b8")
        console.file.flush()


def mock_summary(console: Console, outcome, lang: str = "en", *, code_note: tuple[str, str] | None = None) -> None:
    """The exercise's check as `torchprep check` shows it, then one row a part and the overall score.
    ``code_note``: ("moved" or "kept", path) — where the mock's code is now."""
    words = MOCK_WORDS.get(lang, MOCK_WORDS["en"])
    if outcome.grade is not None:
        console.print()
        grade_result(console, outcome.grade, lang=lang)
    titles = {q.id: localize(q.prompt, lang) for q in outcome.plan.questions}
    exercise = outcome.plan.exercise
    rows = []
    for part in outcome.parts():
        status = words["status"].get(part["status"], part["status"])
        if part["kind"] == "question":
            name = titles[part["id"]]
        else:
            name = localize(exercise.short_title or exercise.title, lang)
            if part["total"]:
                status = words["tests"].format(status=status, passed=part["passed"], total=part["total"])
        rows.append((name, status, f"{part['score']:.0%}"))
    # One line a part: the result and score whole, the title in what is left (cut with an ellipsis).
    widths = [max([cell_len(words["columns"][i])] + [cell_len(row[i]) for row in rows]) for i in range(1, 3)]
    title_width = max(12, console.width - sum(widths) - 2 * 3 - 4)  # padding, then edges and separators
    table = Table(title=words["result"], box=box.SIMPLE_HEAD)
    for index, (column, justify) in enumerate(zip(words["columns"], ("left", "left", "right"), strict=True)):
        table.add_column(column, justify=justify, no_wrap=True, overflow="ellipsis",
                         max_width=title_width if index == 0 else None)
    for name, *cells in rows:
        table.add_row(inline(_title(name, title_width)), *cells)
    console.print(table)
    minutes, seconds = divmod(int((outcome.ended_at - outcome.started_at).total_seconds()), 60)
    console.print(Text(words["overall"].format(score=f"{outcome.score:.0%}"), style="key")
                  + Text(words["took"].format(minutes=minutes, seconds=seconds)
                         + (words["ran_out"] if outcome.time_up else ""), style="muted"))
    if code_note is not None and exercise is not None:
        kind, path = code_note
        console.print(para(words[kind].format(id=exercise.id), console.width, style="muted"))
        console.print(Text("  " + str(path)), soft_wrap=True)  # a path on its own line, never broken
    console.print(para(words["saved"], console.width, style="muted"))


def verify_report(console: Console, run, found: Sequence, record: Mapping, *, not_run: int = 0,
                  as_json: bool = False) -> str | None:
    """`bank verify`'s result: under which torch, how many blocks ran, and each answer that differs there
    (expected, got). With ``as_json`` the same as a JSON document, returned for stdout."""
    import json

    ran = len(run.outcomes)
    checked = len({key.split(":")[1] for key in run.outcomes})
    recorded = record.get("torch", "unknown")
    if as_json:
        return json.dumps({"torch": run.torch, "cuda": run.cuda, "verified_with": dict(record), "blocks": ran,
                           "questions": checked, "not_run_without_gpu": not_run, "differences": [
                               {"id": d.question.id, "file": d.question.file, "line": d.question.line,
                                "what": d.what, "expected": d.expected, "got": d.got} for d in found]},
                          ensure_ascii=False, indent=2)
    console.print(Text(f"Ran {ran} blocks of {checked} questions under torch {run.torch}"
                       + (f" ({not_run} need a CUDA GPU and were not run here)" if not_run else "")
                       + f"; the bank's answers were verified on torch {recorded}.", style="muted"))
    if not found:
        console.print(Text(f"✓ Every answer holds under torch {run.torch}.", style="ok"))
        return None
    by_question: dict[str, list] = {}
    for difference in found:
        by_question.setdefault(difference.question.id, []).append(difference)
    console.print(Text(f"{len(by_question)} question(s) answer differently under torch {run.torch}:", style="bad"))
    for qid, items in by_question.items():
        question = items[0].question
        console.print()
        console.print(Text("• ", style="bad") + inline(_title(localize(question.prompt, "en"), console.width - 4))
                      + Text(f"  {qid} ({Path(question.file).name}:{question.line})", style="muted"))
        for item in items:
            console.print(Text(f"  {item.what}: ", style="key") + Text("expected ", style="muted")
                          + Text(_shorten(item.expected.replace(chr(10), " ⏎ "), 300)) + Text(", got ", style="muted")
                          + Text(_shorten(item.got.replace(chr(10), " ⏎ "), 300)))
    return None


# ---------------------------------------------------------------------------------------------------------
# The study plan (`torchprep plan`, `torchprep today`)

PLAN_WORDS = {
    "en": {"title": "Your plan to the interview", "days": "{days} days to your interview on {date}",
           "day": "1 day to your interview on {date}", "hours": " · {hours:g} h a day",
           "recall": "Predicted recall on the date: {with_plan} with this plan, {without} with no more study.",
           "unplanned": "{n} questions stay unseen: there is no time for them (more hours a day would fit more).",
           "columns": ("Day", "New", "Topics", "Reviews", "Exercises", "Min"), "interview": "interview",
           "more": " +{extra}",
           "today": "Today, {date}: {minutes:.0f} minutes planned", "reviews": "Reviews: {n}",
           "new": "New questions: {n}", "exercises": "Exercises: {ids}", "nothing": "Nothing is planned today.",
           "start": "Starting today's {n} questions now (q stops; every answer is saved).",
           "exercise_next": "Then the exercise: `torchprep start {id}`.", "sep": ", ",
           "redo": "re-do {n}", "tasks": "Exercise tasks to re-do: {n}"},
    "zh": {"title": "到面试日的备考计划", "days": "距离 {date} 的面试还有 {days} 天",
           "day": "距离 {date} 的面试还有 1 天", "hours": " · 每天 {hours:g} 小时",
           "recall": "预计面试当天的记忆率：按此计划 {with_plan}，不再复习 {without}。",
           "unplanned": "{n} 道题来不及做（每天多一些时间就能排进去）。",
           "columns": ("日期", "新题", "主题", "复习", "练习", "分钟"), "interview": "面试",
           "more": " 等 {total} 个",
           "today": "今天 {date}：计划 {minutes:.0f} 分钟", "reviews": "复习：{n} 道",
           "new": "新题：{n} 道", "exercises": "练习：{ids}", "nothing": "今天没有安排。",
           "start": "现在开始今天的 {n} 道题（q 退出；每个回答都会保存）。",
           "exercise_next": "然后做练习：`torchprep start {id}`。", "sep": "、",
           "redo": "重做 {n}", "tasks": "要重做的练习任务：{n} 个"},
}


def _new_by_topic(day, lang: str, words) -> str:
    parts = [f"{topics.label(topic, lang)} {len(ids)}" for topic, ids in day.new_questions.items() if ids]
    return words["sep"].join(parts)


def interview_countdown(console: Console, interview, now, lang: str = "en") -> None:
    """One line: how many days are left (shown at the start of a quiz and in the report)."""
    words = PLAN_WORDS.get(lang, PLAN_WORDS["en"])
    left = (interview - now.date()).days
    if left < 1:
        return
    text = words["day" if left == 1 else "days"].format(days=left, date=interview.isoformat())
    console.print(Text(text + ("。" if lang == "zh" else "."), style="accent"))


def plan_view(console: Console, plan, lang: str = "en", *, only_today: bool = False) -> None:
    words = PLAN_WORDS.get(lang, PLAN_WORDS["en"])
    days_left = len(plan.days) - 1
    head = words["day" if days_left == 1 else "days"].format(days=days_left, date=plan.interview.isoformat())
    console.print(Text(head + words["hours"].format(hours=plan.minutes_per_day / 60), style="accent"))
    if only_today:
        day = plan.today()
        console.print(Text(words["today"].format(date=day.date.isoformat(), minutes=day.minutes), style="key"))
        if not day.reviews and not day.new_count and not day.exercises and not day.task_reviews:
            console.print(Text(words["nothing"], style="muted"))
            return
        if day.reviews:
            console.print(Text("  " + words["reviews"].format(n=len(day.reviews))))
        if day.new_count:
            line = words["new"].format(n=day.new_count)
            console.print(Text("  " + line + (" · " + _new_by_topic(day, lang, words))))
        if day.exercises:
            console.print(Text("  " + words["exercises"].format(ids=words["sep"].join(day.exercises))))
        if day.task_reviews:
            console.print(Text("  " + words["tasks"].format(n=len(day.task_reviews))))
        count = len(day.reviews) + day.new_count
        if count:
            console.print(Text(words["start"].format(n=count), style="muted"))
        if day.exercises:
            console.print(para(words["exercise_next"].format(id=day.exercises[0]), console.width, style="muted"))
        if day.task_reviews:
            due_tasks_view(console, day.task_reviews, lang)
        return
    table = Table(title=words["title"], box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in zip(words["columns"], ("left", "right", "left", "right", "left", "right"), strict=True):
        table.add_column(column, justify=justify, no_wrap=True, overflow="ellipsis")
    for day in plan.days:
        if day.interview:
            table.add_row(day.date.strftime("%m-%d"), "", Text(words["interview"], style="accent"), "", "", "")
            continue
        learned = [topic for topic, ids in day.new_questions.items() if ids]
        first = topics.label(learned[0], lang) if learned else ""
        more = words["more"].format(extra=len(learned) - 1, total=len(learned)) if len(learned) > 1 else ""
        exercises = day.exercises[0] + (f" +{len(day.exercises) - 1}" if len(day.exercises) > 1 else "") \
            if day.exercises else ""
        if day.task_reviews:
            redo = words["redo"].format(n=len(day.task_reviews))
            exercises = f"{exercises} · {redo}" if exercises else redo
        table.add_row(day.date.strftime("%m-%d"), str(day.new_count), first + more, str(len(day.reviews)),
                      exercises, f"{day.minutes:.0f}")
    console.print(table)
    console.print(Text(words["recall"].format(with_plan=_pct(plan.recall_at_interview),
                                              without=_pct(plan.recall_without_plan)), style="muted"))
    if plan.unplanned:
        console.print(Text(words["unplanned"].format(n=plan.unplanned), style="muted"))


# ---------------------------------------------------------------------------------------------------------
# Fitting the scheduler and calibration

FIT_WORDS = {
    "en": {"busy": "Fitting FSRS to your {n} reviews (FSRS's optimizer, in a child process) ...",
           "columns": ("Parameters", "Log loss", "RMSE"), "default": "FSRS defaults", "yours": "Yours",
           "on": "Scored on your {n} reviews a day or more after the card's previous one (lower is better).",
           "adopted": "Using your parameters from now on: they predict your recall better. "
                      "`torchprep fit --defaults` goes back.",
           "kept": "Keeping FSRS's defaults: your parameters did not predict your recall better.",
           "defaults": "Back to FSRS's default parameters; the schedule is rebuilt."},
    "zh": {"busy": "正在用你的 {n} 次复习拟合 FSRS（FSRS 的优化器，在子进程中运行）……",
           "columns": ("参数", "对数损失", "RMSE"), "default": "FSRS 默认", "yours": "你的",
           "on": "在你的 {n} 次复习上评分（距该卡片上次复习一天或更久；越低越好）。",
           "adopted": "从现在起使用你的参数：它们对你记忆率的预测更准。`torchprep fit --defaults` 可改回默认。",
           "kept": "继续使用 FSRS 默认参数：你的参数没有预测得更准。",
           "defaults": "已改回 FSRS 默认参数，复习计划已重建。"},
}


@contextlib.contextmanager
def busy(console: Console, message: str):
    """A spinner with a message on a terminal (just the message when output is piped)."""
    if not console.is_terminal:
        console.print(Text(message, style="muted"))
        yield
        return
    with console.status(message):
        yield


def fit_words(lang: str) -> dict:
    return FIT_WORDS.get(lang, FIT_WORDS["en"])


def fit_view(console: Console, result, lang: str = "en") -> None:
    words = fit_words(lang)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in zip(words["columns"], ("left", "right", "right"), strict=True):
        table.add_column(column, justify=justify, no_wrap=True)
    for label, figures in ((words["default"], result.default), (words["yours"], result.fitted)):
        table.add_row(label, f"{figures.log_loss:.3f}", f"{figures.rmse:.3f}")
    console.print(table)
    console.print(para(words["on"].format(n=result.reviews), console.width, style="muted"))
    console.print(para(words["adopted" if result.adopted else "kept"], console.width,
                       style="key" if result.adopted else None))
