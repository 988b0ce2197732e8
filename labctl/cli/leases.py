"""``labctl renew``, ``suspend``, ``resume`` and ``gc``: instance lifetimes, idle stops and
the queue (docs/instructor-guide.md, "Lifetimes, idle stops and caps"). The work is
:class:`labctl.core.instances.InstancesApi`'s and ``SessionsApi.gc``'s."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from labctl.cli.context import environment
from labctl.cli.images import SubjectProgress
from labctl.cli.instances import UP_DONE, UP_STEPS, print_connection
from labctl.cli.params import InstanceArg, duration_option
from labctl.instances.leases import summary
from labctl.sessions.reaper import GcReport

ForOption = Annotated[
    int | None,
    duration_option("--for", help="From now (default: the instance's own lifetime), e.g. 2h."),
]


def renew(ctx: typer.Context, instance: InstanceArg, seconds: ForOption = None) -> None:
    """Give an instance more time: its end set to its lifetime (or --for) from now."""
    env = environment(ctx)
    lease = env.core.instances.renew(instance, seconds)
    env.out.print(f"renewed {instance}: {summary(lease)}")


def suspend(ctx: typer.Context, instance: InstanceArg) -> None:
    """Stop an instance's hosts now, as an idle period would (the home is kept, nothing
    is removed); labctl resume starts it again."""
    env = environment(ctx)
    with SubjectProgress(env.err, ("stopped",)) as progress:
        stopped = env.core.instances.stop_idle(instance, progress.event)
    env.out.print(
        f"stopped {instance}: {stopped} host(s); start it again: labctl resume {instance}"
    )


def resume(ctx: typer.Context, instance: InstanceArg) -> None:
    """Start a stopped instance again, or make an expired one anew (same student,
    parameters and password; the home kept)."""
    env = environment(ctx)
    with SubjectProgress(env.err, UP_DONE, steps=UP_STEPS) as progress:
        connection = env.core.instances.resume(instance, progress.event)
    print_connection(env.out, connection)


def gc(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what is due; change nothing.")
    ] = False,
) -> None:
    """Remove instances whose lifetime ended, stop idle ones (homes kept), and start
    queued students while there is room. Run it from cron, or let `labctl serve` do it."""
    env = environment(ctx)
    with SubjectProgress(env.err, ("stopping", "removing", "ready", "FAILED")) as progress:
        report = env.core.sessions.gc(dry_run=dry_run, on_event=progress.event)
    print_gc(env.out, report, dry_run)


def print_gc(out: Console, report: GcReport, dry_run: bool = False) -> None:
    verb = (
        ("due for removal", "due to stop", "would start")
        if dry_run
        else ("removed", "stopped", "started")
    )
    out.print(
        f"{len(report.expired)} {verb[0]} (lifetime ended), {len(report.stopped)} {verb[1]}"
        f" (idle), {len(report.started)} {verb[2]} from the queue, {report.queued} still queued"
    )
    for label, items in (("expired", report.expired), ("idle", report.stopped)):
        for ident in items:
            out.print(f"  {label}: {escape(ident)}")
    for ident in report.started:
        out.print(f"  started: {escape(ident)}")
    for ident, why in report.left.items():
        out.print(f"  [yellow]left running[/] {escape(ident)}: {escape(why)}")
    for unit, why in report.failed.items():
        out.print(f"  [red]failed[/] {escape(unit)}: {escape(why)}")
