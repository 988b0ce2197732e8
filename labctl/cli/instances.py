"""``labctl up``, ``down``, ``status``, ``shell`` and ``logs``: one student's lab instance.

The backend is ``$LABCTL_BACKEND`` (default ``docker``); state lives in
``$LABCTL_HOME/labctl.db``.
"""

from __future__ import annotations

import getpass
import os
import shutil
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labctl.backends.base import Backend, get_backend
from labctl.cli.context import err, out, state
from labctl.cli.images import BUILD_DONE, SubjectProgress
from labctl.cli.params import MAX_TAIL, SEED_MAX, HostArg, InstanceArg, LabArg, given
from labctl.errors import BackendError, LabctlError
from labctl.instances import InstanceRecord, Instances, InstanceStore, connection_lines
from labctl.instances.ids import instance_id
from labctl.instances.plan import host_roles
from labctl.instances.restart import HostRestart, restart_host
from labctl.spec import LoadedLab, lab_by_id

#: Steps of a host shown by `up`: container created, started, healthy.
UP_STEPS = 3
ATTACKER = "attacker"


def _backend() -> Backend:
    return get_backend(os.environ.get("LABCTL_BACKEND", "docker"))


def _instances(backend: Backend | None = None) -> Instances:
    return Instances(backend or _backend(), InstanceStore())


def _default_student() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "student"


def up(
    ctx: typer.Context,
    lab_id: LabArg,
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
) -> None:
    """Bring up your instance of a lab: builds missing images, starts every host."""
    loaded = lab_by_id(state(ctx).labs(), lab_id)
    backend = _backend()
    who = student if student is not None else _default_student()
    instance_id(loaded.id, who)  # a name that makes no id fails before images are built
    manager = _instances(backend)
    manager.store.check_writable()  # before images are built (up checks too)
    if backend.name == "docker":
        _build_missing_images(loaded)
    done = ("healthy", "network created", "network removed")
    with SubjectProgress(err, done, steps=UP_STEPS) as progress:
        record = manager.up(loaded, who, seed, progress)
    _print_connection(record)


def _build_missing_images(loaded: LoadedLab) -> None:
    from labctl.backends.docker.baseimage import docker_client
    from labctl.backends.docker.hostguard import GUARD_ROLE
    from labctl.backends.docker.images import build_images, missing_images

    client = docker_client()
    # The host guard runs nft from the ground-station image (labctl.backends.docker.hostguard).
    roles = {*host_roles(loaded).values(), GUARD_ROLE}
    missing = missing_images(client, sorted(roles))
    if missing:
        err.print(f"building missing images: {', '.join(missing)}")
        with SubjectProgress(err, BUILD_DONE) as progress:
            build_images(client, progress, roles=missing)


def _print_connection(record: InstanceRecord) -> None:
    out.print(f"[bold green]instance {record.id} is up[/] (lab {record.lab}, seed {record.seed})")
    for what, how in connection_lines(record).items():
        out.print(f"  {what:<24} {escape(how)}")
    if record.access.get("password"):
        out.print(f"  {'student password':<24} {escape(record.access['password'])}")
    out.print(f"  {'shell on the attacker':<24} labctl shell {record.id}")


def down(
    instance: Annotated[
        str | None,
        typer.Argument(
            metavar="INSTANCE",
            help="Instance id (see labctl status).",
            callback=given("INSTANCE", "an instance id (see labctl status)"),
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
    manager = _instances()
    manager.store.check_writable()  # before the progress display (down checks too)
    with SubjectProgress(err, ("removed", "network removed")) as progress:
        if all_instances:
            reports = manager.down_all(progress)
        else:
            assert instance is not None
            reports = {instance: manager.down(instance, progress)}
    for ident, report in reports.items():
        out.print(
            f"removed {ident}: {report.containers} container(s), "
            f"{report.networks} network(s), {report.volumes} volume(s)"
        )
    if not reports:
        out.print("no instance to remove")


def status(
    instance: Annotated[
        str | None,
        typer.Argument(
            metavar="INSTANCE",
            help="Only this instance.",
            callback=given("INSTANCE", "an instance id, or nothing for every instance"),
        ),
    ] = None,
) -> None:
    """Show instances and their hosts: state, health, ports, uptime."""
    views = _instances().status(instance)
    table = Table(caption="ports: 127.0.0.1:PORT → the host's port", caption_justify="left")
    for column in ("instance", "host", "state", "health", "ports", "uptime"):
        table.add_column(column, overflow="fold")
    for view in views:
        recorded = view.record.status if view.record else "[yellow]not recorded[/]"
        name = f"{view.id} ({view.state})" if view.state in {"starting", "interrupted"} else view.id
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
        out.print("no instance (start one with: labctl up LAB)")
        return
    out.print(table)
    for view in views:
        if view.explanation:
            out.print(f"  {view.id}: {escape(view.explanation)}")


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
    instance: InstanceArg,
    host: HostArg = ATTACKER,
) -> None:
    """Open an interactive shell on a host (the attacker, as `student`, by default)."""
    backend = _backend()
    if backend.name != "docker":
        raise LabctlError(f"labctl shell needs the docker backend, not {backend.name}")
    from labctl.backends.docker import DockerBackend

    assert isinstance(backend, DockerBackend)
    container = backend.container(instance, host)
    docker = shutil.which("docker")
    if docker is None:
        raise BackendError(
            "open a shell", "the docker command is not installed", hint="apt-get install docker.io"
        )
    user = ["--user", "student", "--workdir", "/home/student"] if host == ATTACKER else []
    # The SDK has no interactive attach with a terminal; exec'ing the docker CLI hands it ours.
    os.execvp(docker, ["docker", "exec", "-it", *user, str(container.name), "bash", "-l"])


def logs(
    instance: InstanceArg,
    host: HostArg,
    tail: Annotated[
        int, typer.Option("--tail", "-n", help="Number of lines.", min=1, max=MAX_TAIL)
    ] = 200,
) -> None:
    """Print the last lines a host's program wrote."""
    typer.echo(_backend().logs(instance, host, tail=tail), nl=False)


HardOption = Annotated[
    bool,
    typer.Option(
        "--hard", help="Restart the container at once (empties its tmpfs mounts: the home, /tmp)."
    ),
]


def restart(instance: InstanceArg, host: HostArg = ATTACKER, hard: HardOption = False) -> None:
    """Recover a host whose processes ran away (a fork bomb): end its users' processes in
    place, keeping their files; restart the container only if that fails."""
    print_restart(restart_host(_instances(), instance, host, hard=hard))


def print_restart(outcome: HostRestart) -> None:
    """One line: recovered in place (green), or the container restarted (yellow)."""
    colour = "yellow" if outcome.restarted else "green"
    where = f"{outcome.host} of {outcome.instance}"
    out.print(f"[{colour}]{escape(where)}[/]: {escape(outcome.summary)}")
    out.print(f"  {outcome.host}: {outcome.status.state}, {outcome.status.health}")
