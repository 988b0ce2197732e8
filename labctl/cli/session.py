"""``labctl session``: a class of students, one instance each (start, list, status, reset,
shell, stop, handout). The work is done by :class:`labctl.sessions.Sessions`.

Register in ``labctl.cli.app`` with ``app.add_typer(session.app, name="session")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from labctl.cli.context import err, out, state
from labctl.cli.images import SubjectProgress
from labctl.cli.instances import _backend, _build_missing_images
from labctl.cli.instances import shell as instance_shell
from labctl.errors import LabctlError
from labctl.instances import InstanceStore
from labctl.instances.ids import slug
from labctl.sessions import Sessions, read_roster
from labctl.sessions.manager import UNIT_DONE, MemberStatus, check_name
from labctl.spec import lab_by_id

app = typer.Typer(
    help="Class sessions: one instance per student of a roster.", no_args_is_help=True
)

SessionArg = Annotated[str, typer.Argument(metavar="SESSION", help="Session name.")]
StudentArg = Annotated[str, typer.Argument(metavar="STUDENT", help="Student id (roster).")]
STATE_COLOUR = {"running": "green", "starting": "yellow", "pending": "yellow"}


def _sessions() -> Sessions:
    return Sessions(_backend(), InstanceStore())


@app.command()
def start(
    ctx: typer.Context,
    lab_id: Annotated[str, typer.Argument(metavar="LAB", help="Lab id, e.g. tc-replay.")],
    *,
    roster: Annotated[
        Path,
        typer.Option("--roster", "-r", help="CSV with columns id,name,email[,team]."),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Session name (default: the roster file's name)."),
    ] = None,
    teams: Annotated[
        int | None,
        typer.Option("--teams", min=1, help="Deal the students into N teams, one instance each."),
    ] = None,
    parallel: Annotated[
        int, typer.Option("--parallel", "-j", min=1, max=16, help="Instances started at once.")
    ] = 4,
) -> None:
    """Start a class: one instance per student (or team). Running it again completes a
    partly started session and repairs what an interrupted run left."""
    students = read_roster(roster)
    session = check_name(name if name is not None else slug(roster.stem)[:16].strip("-"))
    loaded = lab_by_id(state(ctx).labs(), lab_id)
    sessions = _sessions()
    if sessions.backend.name == "docker":
        _build_missing_images(loaded)
    err.print(f"session {session}: lab {loaded.id}, {len(students.students)} student(s)")
    with SubjectProgress(err, UNIT_DONE) as progress:
        report = sessions.start(
            loaded, students, name=session, teams=teams, parallel=parallel, progress=progress
        )
    out.print(
        f"[bold]session {session}[/]: {len(report.started)} started, {len(report.kept)} kept"
        f" running, {len(report.repaired)} repaired, {len(report.failed)} failed"
        f" ({report.seconds:.0f} s)"
    )
    for unit, why in report.failed.items():
        out.print(f"  [red]{escape(unit)}[/]: {escape(why)}")
    out.print(f"  next: labctl session status {session}; labctl session handout {session}")
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_command() -> None:
    """List the recorded sessions."""
    sessions = _sessions()
    records = sessions.all()
    if not records:
        out.print("no session (start one with: labctl session start LAB --roster FILE)")
        return
    table = Table("session", "lab", "members", "running", "created", "roster")
    for record in records:
        members = sessions.members(record.name)
        running = sum(m.status == "running" for m in members)
        table.add_row(
            record.name,
            record.lab,
            str(len(members)),
            f"{running}/{len(members)}",
            record.created,
            escape(record.roster),
        )
    out.print(table)


def _only_session(sessions: Sessions, name: str | None) -> str:
    if name is not None:
        return name
    records = sessions.all()
    if len(records) != 1:
        known = ", ".join(r.name for r in records) or "none"
        raise LabctlError(f"name a SESSION (recorded: {known})")
    return records[0].name


@app.command()
def status(
    ctx: typer.Context,
    session: Annotated[
        str | None, typer.Argument(metavar="SESSION", help="Session (default: the only one).")
    ] = None,
    checks: Annotated[
        bool,
        typer.Option("--checks", help="Run each instance's self-check (slow): objectives holding."),
    ] = False,
) -> None:
    """One row per student: state, hosts' health, how to connect, objectives, adversary."""
    sessions = _sessions()
    name = _only_session(sessions, session)
    record = sessions.get(name)
    loaded = lab_by_id(state(ctx).labs(), record.lab)
    if checks:
        err.print("running the self-check on every running instance …")
    rows = sessions.status(name, loaded, checks=checks)
    table = Table(
        title=f"session {name} (lab {record.lab}, seed {record.seed})",
        title_justify="left",
        caption="ports are on 127.0.0.1 of this machine",
        caption_justify="left",
    )
    columns = ["student", "name", "team", "state", "hosts", "ssh", "web"]
    columns += ["objectives holding"] if checks else []
    columns += ["adversary"] if loaded.spec.adversary else []
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row, checks, bool(loaded.spec.adversary)))
    out.print(table)
    for row in rows:
        if row.explanation:
            out.print(f"  {escape(row.member.student)}: {escape(row.explanation)}")


def _cells(row: MemberStatus, checks: bool, adversary: bool) -> list[str]:
    colour = STATE_COLOUR.get(row.state, "red")
    healthy = [h for h in row.hosts if h.state == "running" and h.health in {"healthy", "none"}]
    others = [f"{h.host} {h.state}/{h.health}" for h in row.hosts if h not in healthy]
    hosts = f"{len(healthy)}/{len(row.hosts)} healthy" if row.hosts else "-"
    if others:
        hosts += "; " + ", ".join(others)
    ssh = next((v for k, v in row.connection.items() if "(ssh)" in k), "-")
    web = next((v for k, v in row.connection.items() if "(web)" in k), "-")
    cells = [
        escape(row.member.student),
        escape(row.member.name),
        escape(row.member.team) or "-",
        f"[{colour}]{row.state}[/]",
        escape(hosts),
        escape(ssh),
        escape(web),
    ]
    if checks:
        cells.append(
            "-"
            if row.holding is None
            else f"{len(row.holding)}/{row.objectives}: {', '.join(row.holding) or 'none'}"
        )
    if adversary:
        cells.append("-" if row.adversary is None else f"{row.adversary} action(s)")
    return cells


@app.command()
def reset(ctx: typer.Context, session: SessionArg, student: StudentArg) -> None:
    """Give a student a fresh instance with the same parameters and password."""
    sessions = _sessions()
    loaded = lab_by_id(state(ctx).labs(), sessions.get(session).lab)
    with SubjectProgress(err, UNIT_DONE) as progress:
        member = sessions.reset(session, student, loaded, progress)
    out.print(f"[bold green]{escape(member.student)}[/]: fresh instance {member.instance}")


@app.command()
def shell(
    session: SessionArg,
    student: StudentArg,
    host: Annotated[str, typer.Argument(metavar="HOST", help="Host name.")] = "attacker",
) -> None:
    """Open a shell on a host of the student's instance (the attacker by default)."""
    instance_shell(_sessions().member(session, student).instance, host)


@app.command()
def stop(session: SessionArg) -> None:
    """Remove every instance of the session, then the session itself."""
    with SubjectProgress(err, ("removed", "network removed")) as progress:
        report = _sessions().stop(session, progress)
    out.print(
        f"session {report.session} stopped: {report.instances} instance(s), "
        f"{report.containers} container(s), {report.networks} network(s), "
        f"{report.volumes} volume(s) removed"
    )


@app.command()
def handout(
    ctx: typer.Context,
    session: SessionArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder (default: handouts/SESSION).", file_okay=False),
    ] = None,
) -> None:
    """Write one sheet per student: how to connect (SSH, password, URL) and the briefing."""
    sessions = _sessions()
    loaded = lab_by_id(state(ctx).labs(), sessions.get(session).lab)
    paths = sessions.handout(session, loaded, output or Path("handouts") / session)
    out.print(f"wrote {len(paths)} handout(s) (they hold passwords: mode 0600):")
    for path in paths:
        out.print(f"  {escape(str(path))}")
