"""``labctl nodes``: the machines of a multi-node backend (swarm), with their instances
and load. The work is :meth:`labctl.core.api.Core.nodes`."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import environment


def nodes(ctx: typer.Context) -> None:
    """List the swarm's nodes: role, state, availability, architecture, engine, instances
    and load."""
    env = environment(ctx)
    found = env.core.nodes()
    table = Table("node", "role", "state", "availability", "arch", "engine", "load", "instances")
    for node in found:
        memory = f"{node.memory_bytes / (1 << 30):.1f} GiB" if node.memory_bytes else "?"
        table.add_row(
            escape(f"{node.hostname} {node.id[:12]}"),
            node.role,
            node.state,
            node.availability,
            escape(node.arch or "?"),
            escape(node.engine or "this engine"),
            f"{len(node.instances)} on {node.cpus:g} CPUs, {memory}",
            escape(", ".join(node.instances) or "-"),
        )
    env.out.print(table)
    usable = sum(1 for node in found if node.usable)
    env.out.print(f"{len(found)} node(s), {usable} taking new instances")
