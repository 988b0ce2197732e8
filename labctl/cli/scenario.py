"""``labctl briefing``: what a student reads first, with their own parameters.

Register in ``labctl.cli.app`` with ``app.command()(scenario.briefing)``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markdown import Markdown

from labctl.cli.context import environment
from labctl.cli.params import argument


def briefing(
    ctx: typer.Context,
    instance: Annotated[
        str,
        argument(
            "INSTANCE",
            "Instance id, e.g. tc-replay-ana-lima.",
            give="an instance id (see labctl status)",
        ),
    ],
    raw: Annotated[bool, typer.Option("--raw", help="Print the Markdown as it is.")] = False,
) -> None:
    """Print the lab's briefing for the instance's student (public parameters only)."""
    env = environment(ctx)
    text = env.core.instances.briefing(instance)
    if raw:
        env.write(text)
    else:
        env.out.print(
            Markdown(text), soft_wrap=False
        )  # Markdown wraps itself; soft wrap cuts lines
