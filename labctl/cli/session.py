"""``labctl session``: a class of students, one instance each (start, list, status, reset,
shell, restart, stop, handout). The work is done by :class:`labctl.sessions.Sessions`.

Register in ``labctl.cli.app`` with ``app.add_typer(session.app, name="session")``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders.live.classgrade import DEFAULT_WORKERS, EXPORT_FORMATS, StudentOutcome
from labctl.cli.context import environment
from labctl.cli.images import SubjectProgress
from labctl.cli.instances import HardOption, print_restart
from labctl.cli.params import (
    MAX_GRADE_PARALLEL,
    MAX_PARALLEL,
    MAX_STUDENTS,
    HostArg,
    IdleOption,
    LabArg,
    LifetimeOption,
    SessionArg,
    StudentArg,
    argument,
    duration_option,
    given,
    path_option,
)
from labctl.core.events import Event, Kind
from labctl.errors import InputError
from labctl.instances.leases import summary
from labctl.sessions.members import UNIT_DONE, MemberStatus
from labctl.sessions.reaper import Caps

app = typer.Typer(
    help="Class sessions: one instance per student of a roster.", no_args_is_help=True
)

STATE_COLOUR = {
    "running": "green",
    "starting": "yellow",
    "pending": "yellow",
    "queued": "yellow",
    "stopped": "yellow",
}
#: The largest cap a command takes (instances at once).
MAX_CAP = 10_000


@app.command()
def renew(
    ctx: typer.Context,
    session: SessionArg,
    student: Annotated[
        str | None,
        typer.Option(
            "--student",
            help="Only this student's instance (default: every member's).",
            callback=given("--student", "a student id of the roster, or leave it out"),
        ),
    ] = None,
    seconds: Annotated[
        int | None,
        duration_option("--for", help="From now (default: the session's lifetime), e.g. 2h."),
    ] = None,
) -> None:
    """Give a class (or one student) more time: each instance's end set to its lifetime
    (or --for) from now."""
    env = environment(ctx)
    renewed = env.core.sessions.renew(session, student, seconds)
    for unit, lease in renewed.items():
        env.out.print(f"renewed {escape(unit)}: {summary(lease)}")
    if not renewed:
        env.out.print("no instance to renew")


@app.command()
def start(
    ctx: typer.Context,
    lab_id: LabArg,
    *,
    roster: Annotated[
        Path,
        path_option("--roster", "-r", help="CSV with columns id,name,email[,team].", folder=False),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Session name (default: the roster file's name).",
            callback=given("--name", "a session name such as sec-101, or leave the option out"),
        ),
    ] = None,
    teams: Annotated[
        int | None,
        typer.Option(
            "--teams",
            min=1,
            max=MAX_STUDENTS,
            help="Deal the students into N teams, one instance each.",
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel", "-j", min=1, max=MAX_PARALLEL, help="Instances started at once."
        ),
    ] = 4,
    lifetime: LifetimeOption = None,
    idle: IdleOption = None,
    max_running: Annotated[
        int | None,
        typer.Option(
            "--max-running",
            min=0,
            max=MAX_CAP,
            help="Instances running at once on this machine; the others wait in a queue"
            " (default: $LABCTL_MAX_RUNNING, else no cap).",
        ),
    ] = None,
    per_student: Annotated[
        int | None,
        typer.Option(
            "--per-student",
            min=0,
            max=MAX_CAP,
            help="Instances running at once per student, over every session"
            " (default: $LABCTL_MAX_PER_STUDENT, else no cap).",
        ),
    ] = None,
) -> None:
    """Start a class: one instance per student (or team). Running it again completes a
    partly started session, starts stopped or expired instances again and repairs what
    an interrupted run left. Instances get a lifetime (default 4h) and an idle stop
    (default 1h); beyond the caps, students are queued and `labctl gc` starts them."""
    env = environment(ctx)
    sessions = env.core.sessions
    caps = Caps(
        sessions.caps.max_running if max_running is None else max_running,
        sessions.caps.per_student if per_student is None else per_student,
    )
    with SubjectProgress(env.err, UNIT_DONE) as progress:
        report = sessions.start(
            lab_id,
            roster,
            name=name,
            teams=teams,
            parallel=parallel,
            on_event=progress.event,
            lifetime=lifetime,
            idle=idle,
            caps=caps,
        )
    out, session = env.out, report.session
    queued = f", {len(report.queued)} queued" if report.queued else ""
    out.print(
        f"[bold]session {session}[/]: {len(report.started)} started, {len(report.kept)} kept"
        f" running, {len(report.repaired)} repaired, {len(report.failed)} failed{queued}"
        f" ({report.seconds:.0f} s)"
    )
    for unit, why in report.failed.items():
        out.print(f"  [red]{escape(unit)}[/]: {escape(why)}")
    if report.queued:
        out.print(
            f"  queued: {escape(', '.join(report.queued))}; they start when there is room"
            " (`labctl gc`, or `labctl serve` every minute)"
        )
    out.print(f"  next: labctl session status {session}; labctl session handout {session}")
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the recorded sessions."""
    env = environment(ctx)
    sessions = env.core.sessions
    records = sessions.all()
    if not records:
        env.out.print("no session (start one with: labctl session start LAB --roster FILE)")
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
    env.out.print(table)


@app.command()
def status(
    ctx: typer.Context,
    session: Annotated[
        str | None,
        argument(
            "SESSION",
            "Session (default: the only one).",
            give="a session name, or nothing for the only one",
        ),
    ] = None,
    checks: Annotated[
        bool,
        typer.Option("--checks", help="Run each instance's self-check (slow): objectives holding."),
    ] = False,
    show_seed: Annotated[
        bool,
        typer.Option(
            "--show-seed",
            help="Show the session's seed (instructors only: every student's secrets derive "
            "from it).",
        ),
    ] = False,
) -> None:
    """One row per student: state, hosts' health, how to connect, objectives, adversary."""
    env = environment(ctx)
    if checks:
        env.err.print("running the self-check on every running instance …")
    view = env.core.sessions.status(session, checks=checks)
    record, loaded, rows, name = view.record, view.loaded, view.rows, view.record.name
    about = f"lab {record.lab}" + (f", seed {record.seed}" if show_seed else "")
    table = Table(
        title=f"session {name} ({about})",
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
    env.out.print(table)
    for row in rows:
        if row.explanation:
            env.out.print(f"  {escape(row.member.student)}: {escape(row.explanation)}")


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
    env = environment(ctx)
    with SubjectProgress(env.err, UNIT_DONE) as progress:
        member = env.core.sessions.reset(session, student, progress.event)
    env.out.print(f"[bold green]{escape(member.student)}[/]: fresh instance {member.instance}")


@app.command()
def shell(
    ctx: typer.Context,
    session: SessionArg,
    student: StudentArg,
    host: HostArg = "attacker",
) -> None:
    """Open a shell on a host of the student's instance (the attacker by default)."""
    env = environment(ctx)
    env.exec_program(env.core.sessions.shell_argv(session, student, host))


@app.command()
def restart(
    ctx: typer.Context,
    session: SessionArg,
    student: StudentArg,
    host: HostArg = "attacker",
    hard: HardOption = False,
) -> None:
    """Recover a host of the student's instance (the attacker by default) in place: end
    the runaway processes, keep the student's files; restart the container only if needed."""
    env = environment(ctx)
    print_restart(env.out, env.core.sessions.restart(session, student, host, hard=hard))


@app.command("open-phase")
def open_phase(
    ctx: typer.Context,
    session: SessionArg,
    phase: Annotated[str, typer.Argument(help="The lab's phase to open (lab.yaml `phases`).")],
) -> None:
    """Open a phase of the lab for every student of the session (e.g. the defence phase,
    once the attack time is over)."""
    env = environment(ctx)
    outcome = env.core.sessions.open_phase(session, phase)
    for student, what in outcome.items():
        env.out.print(f"{escape(student)}: {escape(what)}")
    failed = sum(what.startswith("not opened") for what in outcome.values())
    if failed:
        raise typer.Exit(1)


@app.command()
def stop(ctx: typer.Context, session: SessionArg) -> None:
    """Remove every instance of the session, then the session itself."""
    env = environment(ctx)
    with SubjectProgress(env.err, UNIT_DONE) as progress:
        report = env.core.sessions.stop(session, progress.event)
    env.out.print(
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
        path_option("--output", "-o", help="Folder (default: handouts/SESSION).", folder=True),
    ] = None,
    portal: Annotated[
        str | None,
        typer.Option(
            help="The class portal's URL (default: https://THIS-HOST:8443/, as labctl serve"
            " prints it)."
        ),
    ] = None,
    ports: Annotated[
        bool,
        typer.Option(
            "--ports", help="Give each instance's own SSH port and URL instead of the portal."
        ),
    ] = False,
) -> None:
    """Write one sheet per student: the class portal's address, their login and password,
    and the briefing (``--ports``: the instance's own SSH port and URL instead)."""
    env = environment(ctx)
    out = env.out
    url = None if ports else (portal or f"https://{socket.gethostname()}:8443/")
    if url is not None and (
        not url.startswith(("https://", "http://")) or any(c in url for c in " `|<>")
    ):
        raise InputError(f"--portal {url!r}: give the URL labctl serve prints (https://...)")
    paths, skipped = env.core.sessions.handout(session, output, url)
    out.print(f"wrote {len(paths)} handout(s) (they hold passwords: mode 0600):")
    for path in paths:
        out.print(f"  {escape(str(path))}")
    for student, status in skipped.items():
        out.print(f"  [yellow]skipped {escape(student)}[/]: no running instance ({status})")
    if skipped:
        out.print(f"  run `labctl session start` (or `session status {session}`) first")
        raise typer.Exit(1)


def _graded(err: Console, outcome: StudentOutcome) -> None:
    who = escape(outcome.member.student)
    if outcome.score is None:
        err.print(f"  [red]{who}[/]: {escape('; '.join(outcome.notes))}")
        return
    s = outcome.score
    report = "report" if outcome.report is not None else "no report"
    flags = f", [red]{len(outcome.cheating)} cheating flag(s)[/]" if outcome.cheating else ""
    err.print(f"  {who}: {s.points:g} / {s.points_possible} ({report}{flags})")


@app.command()
def grade(
    ctx: typer.Context,
    session: SessionArg,
    reports: Annotated[
        Path | None,
        path_option(
            "--reports", "-r", help="Folder of audit reports, <student id>.md.", folder=True
        ),
    ] = None,
    output: Annotated[
        Path | None,
        path_option("--output", "-o", help="Folder (default: grades/SESSION).", folder=True),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel", "-j", min=1, max=MAX_GRADE_PARALLEL, help="Instances graded at once."
        ),
    ] = DEFAULT_WORKERS,
) -> None:
    """Grade every student: score reports, class.html, grades.csv and grades.json."""
    env = environment(ctx)
    out = env.out

    def show(event: Event) -> None:
        if event.kind is Kind.RESULT and isinstance(event.data, StudentOutcome):
            _graded(env.err, event.data)
        elif event.kind is Kind.NOTE:
            env.err.print(escape(event.message))

    graded = env.core.sessions.grade(
        session, reports=reports, output=output, parallel=parallel, on_event=show
    )
    s = graded.summary
    mean = f", mean {s.mean_percent:.0f} %" if s.mean_percent is not None else ""
    out.print(
        f"[bold]{s.graded} of {s.students} graded[/]{mean} in {graded.seconds:.0f} s; "
        f"{len(s.cheating)} cheating signal(s)"
    )
    for signal in s.cheating:
        out.print(
            f"  [red]{escape(signal.student)}[/]'s report holds {escape(signal.other_student)}'s "
            f"{escape(signal.secret)} ({escape(signal.where)})"
        )
    for path in graded.unmatched_reports:
        out.print(f"  [yellow]report of no student in the session:[/] {escape(str(path))}")
    for path in graded.files:
        out.print(f"  {escape(str(path))}")


@app.command()
def export(
    ctx: typer.Context,
    session: SessionArg,
    grades: Annotated[
        Path | None,
        path_option(
            "--grades", "-g", help="The graded folder (default: grades/SESSION).", folder=True
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"One of {', '.join(EXPORT_FORMATS)}.",
            callback=given("--format", f"one of {', '.join(EXPORT_FORMATS)}"),
        ),
    ] = "csv",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write (default: standard output).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Export a graded session (CSV for an LMS, JSON, or the class HTML report), with any
    student graded again since (``labctl grade -o grades/SESSION/students/ID``)."""
    env = environment(ctx)
    text, _, records = env.core.sessions.export(session, grades, fmt, output)
    if output is None:
        env.write(text)
        return
    env.err.print(f"wrote {escape(str(output))} ({len(records)} student(s))")
