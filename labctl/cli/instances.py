"""``labctl up``, ``down``, ``status``, ``shell``, ``restart`` and ``logs``: one student's
lab instance. The work is :class:`labctl.core.instances.InstancesApi`'s.

The backend is ``$LABCTL_BACKEND`` (default ``docker``); state lives in
``$LABCTL_HOME/labctl.db``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import environment
from labctl.cli.images import SubjectProgress
from labctl.cli.params import (
    MAX_TAIL,
    SEED_MAX,
    HostArg,
    IdleOption,
    InstanceArg,
    LabArg,
    LifetimeOption,
    argument,
    given,
)
from labctl.core.instances import ATTACKER, Connection
from labctl.instances.leases import summary
from labctl.instances.restart import HostRestart

#: Steps of a host shown by `up`: container created, started, healthy.
UP_STEPS = 3
#: The words that end a subject's line in the progress display.
UP_DONE = ("healthy", "network created", "network removed")


def up(
    ctx: typer.Context,
    lab_id: LabArg,
    *,
    student: Annotated[
        str | None,
        typer.Option(
            "--student",
            help="Whose instance (default: your user name).",
            callback=given("--student", "a name such as ana-lima, or leave the option out"),
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, max=SEED_MAX, help="Seed of the per-student parameters."),
    ] = None,
    keep_on_failure: Annotated[
        bool,
        typer.Option(
            "--keep-on-failure",
            help="When a host does not come up, keep the instance to look at it"
            " (labctl logs, labctl shell) instead of removing it; labctl down removes it.",
        ),
    ] = False,
    lifetime: LifetimeOption = None,
    idle: IdleOption = None,
) -> None:
    """Bring up your instance of a lab: builds missing images, starts every host."""
    env = environment(ctx)
    with SubjectProgress(env.err, UP_DONE, steps=UP_STEPS) as progress:
        connection = env.core.instances.up(
            lab_id,
            student,
            seed,
            progress.event,
            keep_on_failure=keep_on_failure,
            lifetime=lifetime or 0,
            idle=idle or 0,
        )
    print_connection(env.out, connection)
    if lifetime or idle:
        lease = env.core.instances.lease(connection.record.id)
        env.out.print(f"  {'lease':<24} {summary(lease)}")


def print_connection(out: Console, connection: Connection) -> None:
    record = connection.record
    out.print(f"[bold green]instance {record.id} is up[/] (lab {record.lab}, seed {record.seed})")
    for what, how in connection.lines.items():
        out.print(f"  {what:<24} {escape(how)}")
    if connection.password:
        out.print(f"  {'student password':<24} {escape(connection.password)}")
    out.print(f"  {'shell on the attacker':<24} labctl shell {record.id}")


def down(
    ctx: typer.Context,
    instance: Annotated[
        str | None,
        argument(
            "INSTANCE",
            "Instance id (see labctl status).",
            give="an instance id (see labctl status)",
        ),
    ] = None,
    all_instances: Annotated[
        bool,
        typer.Option(
            "--all", help="Remove every instance recorded here (not others' on the engine)."
        ),
    ] = False,
) -> None:
    """Remove an instance: its containers, networks, volumes and record."""
    if (instance is None) == (not all_instances):
        raise typer.BadParameter("give an INSTANCE or --all (not both)")
    env = environment(ctx)
    instances = env.core.instances
    instances.instances.store.check_writable()  # before the progress display (down checks too)
    with SubjectProgress(env.err, ("removed", "network removed")) as progress:
        if instance is None:
            reports = instances.down_all(progress.event)
        else:
            reports = {instance: instances.down(instance, progress.event)}
    for ident, report in reports.items():
        env.out.print(
            f"removed {ident}: {report.containers} container(s), "
            f"{report.networks} network(s), {report.volumes} volume(s)"
        )
    if not reports:
        env.out.print("no instance to remove")


def status(
    ctx: typer.Context,
    instance: Annotated[
        str | None,
        argument(
            "INSTANCE", "Only this instance.", give="an instance id, or nothing for every instance"
        ),
    ] = None,
) -> None:
    """Show instances and their hosts: state, health, ports, uptime."""
    env = environment(ctx)
    views = env.core.instances.status(instance)
    table = Table(caption="ports: 127.0.0.1:PORT → the host's port", caption_justify="left")
    for column in ("instance", "host", "state", "health", "ports", "uptime"):
        table.add_column(column, overflow="fold")
    for view in views:
        recorded = view.record.status if view.record else "[yellow]not recorded[/]"
        labelled = {"starting", "interrupted", "failed", "stopped", "expired"}
        name = f"{view.id} ({view.state})" if view.state in labelled else view.id
        if not view.hosts:
            table.add_row(name, "-", recorded, "-", "-", "-")
        for host in view.hosts:
            ports = ", ".join(
                f"{p}→{c.removesuffix('/tcp')}" for c, p in sorted(host.ports.items())
            )
            table.add_row(
                name,
                host.host,
                _coloured(host.state),
                _coloured(host.health),
                ports or "-",
                _duration(host.uptime_s),
            )
    if not views:
        env.out.print("no instance (start one with: labctl up LAB)")
        return
    env.out.print(table)
    for view in views:
        if view.explanation:
            env.out.print(f"  {view.id}: {escape(view.explanation)}")
        leased = summary(env.core.instances.lease(view.id)) if view.record else ""
        if leased and view.state == "running":
            env.out.print(f"  {view.id}: {leased}")


def _coloured(word: str) -> str:
    colour = {"running": "green", "healthy": "green", "starting": "yellow"}.get(word, "red")
    return word if word == "none" else f"[{colour}]{word}[/]"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def shell(
    ctx: typer.Context,
    instance: InstanceArg,
    host: HostArg = ATTACKER,
) -> None:
    """Open an interactive shell on a host (the attacker, as `student`, by default)."""
    env = environment(ctx)
    env.exec_program(env.core.instances.shell_argv(instance, host))


def logs(
    ctx: typer.Context,
    instance: InstanceArg,
    host: HostArg,
    tail: Annotated[
        int, typer.Option("--tail", "-n", help="Number of lines.", min=1, max=MAX_TAIL)
    ] = 200,
) -> None:
    """Print the last lines a host's program wrote."""
    env = environment(ctx)
    env.write(env.core.instances.logs(instance, host, tail=tail))


HardOption = Annotated[
    bool,
    typer.Option(
        "--hard", help="Restart the container at once (empties its tmpfs mounts: the home, /tmp)."
    ),
]


def restart(
    ctx: typer.Context, instance: InstanceArg, host: HostArg = ATTACKER, hard: HardOption = False
) -> None:
    """Recover a host whose processes ran away (a fork bomb): end its users' processes in
    place, keeping their files; restart the container only if that fails."""
    env = environment(ctx)
    print_restart(env.out, env.core.instances.restart(instance, host, hard=hard))


def print_restart(out: Console, outcome: HostRestart) -> None:
    """One line: recovered in place (green), or the container restarted (yellow)."""
    colour = "yellow" if outcome.restarted else "green"
    where = f"{outcome.host} of {outcome.instance}"
    out.print(f"[{colour}]{escape(where)}[/]: {escape(outcome.summary)}")
    out.print(f"  {outcome.host}: {outcome.status.state}, {outcome.status.health}")
