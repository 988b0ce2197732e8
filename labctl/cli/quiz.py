"""``labctl quiz LAB``: the lab's CISSP/CISM practice questions in the terminal, scored per
domain, each explanation shown after the answers (docs/lab-format.md, "Quiz").

Register in ``labctl.cli.app`` with ``app.command()(quiz.quiz)``.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from graders.quiz import QuizAnswerError, QuizResult, score_quiz
from labctl.cli.context import Environment, environment
from labctl.cli.params import LabArg
from labctl.errors import InputError
from labctl.spec.models import Quiz

LETTERS = string.ascii_lowercase


def quiz(
    ctx: typer.Context,
    lab: LabArg,
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="A YAML file of answers (question id: letter, e.g. 'freshness: b'), "
            "instead of asking on the terminal.",
        ),
    ] = None,
) -> None:
    """Take the lab's quiz: CISSP/CISM-style questions about what the lab practises; the
    score per domain and every explanation come after the last answer."""
    env = environment(ctx)
    questions = env.core.labs.quiz(lab)
    if answers is not None:
        given = _answers_file(answers, questions)
    elif _interactive():
        given = _ask(env, questions)
    else:
        raise InputError("the quiz asks on a terminal: run it in one, or give --answers FILE")
    try:
        result = score_quiz(questions, given)
    except QuizAnswerError as exc:
        raise InputError(f"{answers}: {exc}") from None
    _show(env, result)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _letter(index: int) -> str:
    return LETTERS[index]


def _ask(env: Environment, questions: Quiz) -> dict[str, int | None]:
    given: dict[str, int | None] = {}
    total = len(questions.questions)
    for number, question in enumerate(questions.questions, 1):
        env.out.print(f"\n[bold]{number}/{total}.[/] {escape(question.prompt)}")
        for index, choice in enumerate(question.choices):
            env.out.print(f"   {_letter(index)}) {escape(choice)}")
        valid = LETTERS[: len(question.choices)]
        while True:
            reply = typer.prompt(f"your answer ({valid[0]}–{valid[-1]})").strip().lower()
            if len(reply) == 1 and reply in valid:
                given[question.id] = valid.index(reply)
                break
            env.err.print(f"[yellow]give one letter, {valid[0]} to {valid[-1]}[/]")
    return given


def _answers_file(path: Path, questions: Quiz) -> dict[str, int | None]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: give a mapping of question id to letter, e.g. 'freshness: b'")
    choices = {q.id: len(q.choices) for q in questions.questions}
    given: dict[str, int | None] = {}
    for ident, letter in data.items():
        if ident not in choices:
            known = ", ".join(choices)
            raise InputError(f"{path}: no question {ident!r} in this quiz (its ids: {known})")
        text = str(letter).strip().lower()
        if len(text) != 1 or text not in LETTERS[: choices[ident]]:
            last = _letter(choices[ident] - 1)
            raise InputError(f"{path}: {ident}: give a letter from a to {last}, not {letter!r}")
        given[str(ident)] = LETTERS.index(text)
    return given


def _show(env: Environment, result: QuizResult) -> None:
    env.out.print()
    for number, answer in enumerate(result.answers, 1):
        q = answer.question
        mark = "[green]right[/]" if answer.correct else "[red]wrong[/]"
        yours = "no answer" if answer.given is None else _letter(answer.given)
        env.out.print(
            f"[bold]{number}.[/] {mark}: you gave {yours}, the answer is"
            f" {_letter(q.answer)}) {escape(q.choices[q.answer])}"
        )
        if q.explanation:
            env.out.print(f"   {escape(q.explanation)}")
    table = Table(title="Score per domain", title_justify="left")
    for column in ("domain", "right", "asked", "%"):
        table.add_column(column)
    for row in result.domains():
        table.add_row(
            f"{row.framework} {row.domain} {row.name}",
            str(row.right),
            str(row.asked),
            f"{row.percent:.0f}",
        )
    env.out.print(table)
    env.out.print(f"{result.right} of {result.asked} right ({result.percent:.0f} %)")
