"""``labctl adversary log INSTANCE``: what the scripted adversary did, from its own log.

Register in ``labctl.cli.app`` with ``app.add_typer(adversary.app, name="adversary")``.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labctl.backends.base import get_backend
from labctl.cli.context import err, out
from labctl.cli.params import InstanceArg
from labctl.errors import LabctlError, NotFoundError
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH
from labctl.range.adversary.logfile import parse_log

app = typer.Typer(help="The scripted adversary of a defence lab.", no_args_is_help=True)
SUCCESS = {True: "[red]yes[/red]", False: "[green]no[/green]", None: "-"}


@app.command("log")
def log(
    instance: InstanceArg,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the adversary's log: every action it ran, its outcome and whether it succeeded."""
    backend = get_backend(os.environ.get("LABCTL_BACKEND", "docker"))
    try:
        result = backend.exec(instance, ADVERSARY_HOST, ["cat", LOG_PATH])
    except NotFoundError:
        raise LabctlError(
            f"instance {instance!r} has no scripted adversary (is it up? does its lab have "
            "an adversary: timeline?)"
        ) from None
    entries = parse_log(result.output) if result.exit_code == 0 else []
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry))
        return
    if not entries:
        err.print("The adversary has not run any action yet.")
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
    out.print(table)
