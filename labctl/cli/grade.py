"""``labctl grade INSTANCE`` (the score report), ``labctl check INSTANCE`` (the student's
self-check) and ``labctl solve INSTANCE`` (the lab's reference solution, for instructors)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from graders.score import ObjectiveScore
from labctl.cli.context import Environment, environment
from labctl.cli.params import InstanceArg, path_option
from labctl.core.events import Event, Kind


def _shown(env: Environment) -> Callable[[Event], None]:
    """Progress on standard error: a note as it is, each objective's verdict as it comes."""

    def show(event: Event) -> None:
        if event.kind is Kind.RESULT:
            env.err.print(f"  {escape(event.subject)}: {event.message}")
        elif event.kind is Kind.NOTE and event.message.startswith("warning:"):
            env.err.print(f"[yellow]{escape(event.message)}[/]")
        elif event.kind is Kind.NOTE:
            env.err.print(escape(event.message))

    return show


def grade(
    ctx: typer.Context,
    instance: InstanceArg,
    report: Annotated[
        Path | None,
        path_option("--report", "-r", help="The student's audit report (Markdown).", folder=False),
    ] = None,
    output: Annotated[
        Path | None,
        path_option(
            "--output", "-o", help="Folder for score.json, score.md, score.html.", folder=True
        ),
    ] = None,
) -> None:
    """Grade an instance (and its audit report): JSON, Markdown and HTML score reports."""
    env = environment(ctx)
    graded = env.core.instances.grade(instance, report, output, _shown(env))
    result = graded.score
    env.out.print(_objectives_table(result.objectives, "Score"))
    env.out.print(
        f"[bold]{result.points:g} / {result.points_possible} points[/]"
        f" ({result.percent:.0f} %) for {escape(graded.record.student)}"
    )
    for path in graded.files:
        env.out.print(f"  {escape(str(path))}")


def check(ctx: typer.Context, instance: InstanceArg) -> None:
    """Self-check: which objectives hold now, with hints (hidden objectives are not shown)."""
    env = environment(ctx)
    outcome = env.core.instances.check(instance, _shown(env))
    env.out.print(_objectives_table(outcome.objectives, "Self-check"))
    env.out.print(f"{outcome.holding} of {len(outcome.objectives)} objective(s) hold")
    for phase in outcome.opened:
        env.out.print(
            f"phase {escape(phase)} is now open: `labctl briefing {escape(instance)}` says what"
            " it gives you"
        )


def _objectives_table(results: tuple[ObjectiveScore, ...], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("objective", "kind", "verdict", "points", "evidence / hint"):
        table.add_column(column, overflow="fold")
    for r in results:
        verdict = {"pass": "[green]pass[/]", "fail": "[red]fail[/]"}.get(
            r.verdict.value, f"[yellow]{r.verdict.value}[/]"
        )
        if r.gated_by:
            verdict += f"\n[yellow]needs {escape(', '.join(r.gated_by))}[/]"
        detail = escape(r.evidence) + (f"\n[cyan]hint:[/] {escape(r.hint)}" if r.hint else "")
        points = f"{r.points:g} / {r.points_possible}"
        table.add_row(escape(r.title), r.kind, verdict, points, detail)
    return table


def solve(
    ctx: typer.Context,
    instance: InstanceArg,
    attack: Annotated[
        bool, typer.Option("--attack/--no-attack", help="Run the reference attack.")
    ] = True,
    remediate: Annotated[
        bool, typer.Option("--remediate/--no-remediate", help="Apply the reference fix.")
    ] = True,
) -> None:
    """Run the lab's reference attack and/or remediation on a running instance (instructors)."""
    env = environment(ctx)
    runs = env.core.instances.solve(
        instance, attack=attack, remediate=remediate, on_event=_shown(env)
    )
    failed = 0
    for run in runs:
        mark = "[green]exit 0[/]" if run.exit_code == 0 else f"[red]exit {run.exit_code}[/]"
        extra = f" [{escape(run.operator)}]" if run.operator else ""
        env.out.print(f"{escape(run.script)} on {run.host}: {mark}: {escape(run.last_line)}{extra}")
        failed += run.exit_code != 0
    if failed:
        raise typer.Exit(1)
