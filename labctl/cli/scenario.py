"""``labctl briefing``: what a student reads first, with their own parameters.

Register in ``labctl.cli.app`` with ``app.command()(scenario.briefing)``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markdown import Markdown

from labctl.cli.context import out, state
from labctl.cli.params import given
from labctl.errors import NotFoundError
from labctl.instances import InstanceStore
from labctl.scenario import render_briefing
from labctl.spec import lab_by_id


def briefing(
    ctx: typer.Context,
    instance: Annotated[
        str,
        typer.Argument(
            metavar="INSTANCE",
            help="Instance id, e.g. tc-replay-ana-lima.",
            callback=given("INSTANCE", "an instance id (see labctl status)"),
        ),
    ],
    raw: Annotated[bool, typer.Option("--raw", help="Print the Markdown as it is.")] = False,
) -> None:
    """Print the lab's briefing for the instance's student (public parameters only)."""
    record = InstanceStore().get(instance)
    if record is None:
        raise NotFoundError("instance", instance, hint="see `labctl status`")
    loaded = lab_by_id(state(ctx).labs(), record.lab)
    text = render_briefing(loaded, record.student, record.seed, record.id)
    if raw:
        out.print(text, markup=False, highlight=False, end="")
    else:
        out.print(Markdown(text), soft_wrap=False)  # Markdown wraps itself; soft wrap cuts lines
