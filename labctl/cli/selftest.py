"""``labctl selftest LAB``: run the lab's reference solution against fresh instances."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from graders.live.selftest import Step
from labctl.cli.context import environment
from labctl.core.events import Event, Kind


def _table(steps: list[Step]) -> Table:
    table = Table(title="selftest")
    for column in ("seed", "step", "expected", "observed", "ok"):
        table.add_column(column, overflow="fold")
    for s in steps:
        ok = "[green]yes[/]" if s.ok else "[red]NO[/]"
        table.add_row(str(s.seed), escape(s.step), s.expected, escape(s.observed), ok)
    return table


def selftest(
    ctx: typer.Context,
    lab_id: Annotated[str, typer.Argument(metavar="LAB", help="Lab id, e.g. tc-replay.")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=20, help="Fresh instances.")] = 1,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            min=1,
            max=4,
            help="Seeds at a time (for a lab whose checks mostly wait, e.g. for a pass).",
        ),
    ] = 1,
) -> None:
    """Run the lab's reference attack and remediation on fresh instances; exit 1 on a surprise."""
    env = environment(ctx)

    def show(event: Event) -> None:
        if event.kind is Kind.RESULT and isinstance(event.data, Step):
            step = event.data
            mark = "[green]ok[/]" if step.ok else "[red]SURPRISE[/]"
            env.err.print(f"seed {step.seed}  {escape(step.step)}: {mark}")
        elif event.kind is not Kind.RESULT:
            where = f"{escape(event.subject)}: " if event.subject else ""
            env.err.print(where + escape(event.message))

    outcome = env.core.instances.selftest(lab_id, seeds, show, parallel=parallel)
    env.out.print(_table(outcome.steps))
    env.out.print(
        f"{len(outcome.seeds)} seed(s), {len(outcome.steps)} steps, "
        f"{outcome.surprises} surprise(s), {outcome.seconds:.0f} s"
    )
    if outcome.surprises:
        raise typer.Exit(1)
