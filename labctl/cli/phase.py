"""``labctl phase list|open``: the later phases of a lab on one instance (lab-format.md).

Register in ``labctl.cli.app`` with ``app.add_typer(phase.app, name="phase")``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import environment
from labctl.cli.params import InstanceArg
from labctl.core.events import Event

app = typer.Typer(
    help="A lab's later phases (access a student gets once the attack is done).",
    no_args_is_help=True,
)
PhaseArg = Annotated[str, typer.Argument(help="The phase's id (see `labctl phase list`).")]


@app.command("list")
def list_phases(ctx: typer.Context, instance: InstanceArg) -> None:
    """The lab's phases on the instance: open or not, and what opens each."""
    env = environment(ctx)
    phases = env.core.instances.phases(instance)
    if not phases:
        env.err.print("This lab has no phases: everything is open from the start.")
        return
    table = Table()
    for column in ("phase", "title", "opens after", "state"):
        table.add_column(column)
    for p in phases:
        after = ", ".join(p.after) or "the instructor"
        state = "[green]open[/]" if p.open else "closed"
        table.add_row(escape(p.id), escape(p.title), escape(after), state)
    env.out.print(table)


@app.command("open")
def open_phase(ctx: typer.Context, instance: InstanceArg, phase: PhaseArg) -> None:
    """Open a phase now (its injects are applied to the running instance)."""
    env = environment(ctx)

    def show(event: Event) -> None:
        env.err.print(f"{escape(event.subject)}: {escape(event.message)}")

    opened = env.core.instances.open_phase(instance, phase, show)
    env.out.print(
        f"phase {escape(phase)} {'opened' if opened else 'was already open'} on"
        f" {escape(instance)}; `labctl briefing {escape(instance)}` shows what it gives"
    )
