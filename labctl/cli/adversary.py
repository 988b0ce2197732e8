"""``labctl adversary log INSTANCE``: what the scripted adversary did, from its own log.

Register in ``labctl.cli.app`` with ``app.add_typer(adversary.app, name="adversary")``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import environment
from labctl.cli.params import InstanceArg

app = typer.Typer(help="The scripted adversary of a defence lab.", no_args_is_help=True)
SUCCESS = {True: "[red]yes[/red]", False: "[green]no[/green]", None: "-"}


@app.command("log")
def log(
    ctx: typer.Context,
    instance: InstanceArg,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the adversary's log: every action it ran, its outcome and whether it succeeded."""
    env = environment(ctx)
    entries = env.core.instances.adversary_log(instance)
    if as_json:
        env.write("".join(json.dumps(entry) + "\n" for entry in entries))
        return
    if not entries:
        env.err.print("The adversary has not run any action yet.")
        return
    table = Table()
    for column in ("time (UTC)", "offset", "step", "action", "outcome", "success"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail")
    for e in entries:
        clock = str(e["t"])[11:19]
        step = f"{e['step']}" + (f".{e['repeat']}" if e.get("repeat") else "")
        offset = e.get("offset")
        table.add_row(
            clock,
            f"{offset:.1f} s" if isinstance(offset, int | float) else "?",
            step,
            escape(str(e["action"])),
            escape(str(e["outcome"])),
            SUCCESS.get(e.get("success"), "?"),
            escape(str(e.get("detail", ""))[:160]),
        )
    env.out.print(table)
