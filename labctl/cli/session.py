"""``labctl session``: a class of students, one instance each (start, list, status, reset,
shell, restart, stop, handout). The work is done by :class:`labctl.sessions.Sessions`.

Register in ``labctl.cli.app`` with ``app.add_typer(session.app, name="session")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from graders.live.classgrade import (
    DEFAULT_WORKERS,
    EXPORT_FORMATS,
    ClassMember,
    StudentOutcome,
    export_text,
    grade_class,
    load_graded,
    write_text,
)
from graders.live.grade import GradeTarget
from labctl.cli.context import err, out, state
from labctl.cli.images import SubjectProgress
from labctl.cli.instances import HardOption, _backend, _build_missing_images, print_restart
from labctl.cli.instances import shell as instance_shell
from labctl.cli.params import (
    MAX_PARALLEL,
    MAX_STUDENTS,
    HostArg,
    LabArg,
    SessionArg,
    StudentArg,
    given,
    path_parser,
)
from labctl.errors import LabctlError
from labctl.instances import InstanceStore
from labctl.instances.ids import slug
from labctl.instances.restart import restart_host
from labctl.sessions import Sessions, read_roster
from labctl.sessions.manager import UNIT_DONE, Member, MemberStatus, check_name
from labctl.spec import LoadedLab, lab_by_id

app = typer.Typer(
    help="Class sessions: one instance per student of a roster.", no_args_is_help=True
)

STATE_COLOUR = {"running": "green", "starting": "yellow", "pending": "yellow"}


def _sessions() -> Sessions:
    return Sessions(_backend(), InstanceStore())


@app.command()
def start(
    ctx: typer.Context,
    lab_id: LabArg,
    *,
    roster: Annotated[
        Path,
        typer.Option(
            "--roster",
            "-r",
            help="CSV with columns id,name,email[,team].",
            parser=path_parser("--roster", folder=False),
        ),
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
) -> None:
    """Start a class: one instance per student (or team). Running it again completes a
    partly started session and repairs what an interrupted run left."""
    students = read_roster(roster)
    session = check_name(name if name is not None else slug(roster.stem)[:16].strip("-"))
    loaded = lab_by_id(state(ctx).labs(), lab_id)
    sessions = _sessions()
    sessions.instances.store.check_writable()  # before images are built (start checks too)
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
        str | None,
        typer.Argument(
            metavar="SESSION",
            help="Session (default: the only one).",
            callback=given("SESSION", "a session name, or nothing for the only one"),
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
    sessions = _sessions()
    name = _only_session(sessions, session)
    record = sessions.get(name)
    loaded = lab_by_id(state(ctx).labs(), record.lab)
    if checks:
        err.print("running the self-check on every running instance …")
    rows = sessions.status(name, loaded, checks=checks)
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
    host: HostArg = "attacker",
) -> None:
    """Open a shell on a host of the student's instance (the attacker by default)."""
    instance_shell(_sessions().member(session, student).instance, host)


@app.command()
def restart(
    session: SessionArg,
    student: StudentArg,
    host: HostArg = "attacker",
    hard: HardOption = False,
) -> None:
    """Recover a host of the student's instance (the attacker by default) in place: end
    the runaway processes, keep the student's files; restart the container only if needed."""
    sessions = _sessions()
    instance = sessions.member(session, student).instance
    print_restart(restart_host(sessions.instances, instance, host, hard=hard))


@app.command()
def stop(session: SessionArg) -> None:
    """Remove every instance of the session, then the session itself."""
    with SubjectProgress(err, UNIT_DONE) as progress:
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
        typer.Option(
            "--output",
            "-o",
            help="Folder (default: handouts/SESSION).",
            parser=path_parser("--output", folder=True),
        ),
    ] = None,
) -> None:
    """Write one sheet per student: how to connect (SSH, password, URL) and the briefing."""
    sessions = _sessions()
    loaded = lab_by_id(state(ctx).labs(), sessions.get(session).lab)
    paths, skipped = sessions.handout(session, loaded, output or Path("handouts") / session)
    out.print(f"wrote {len(paths)} handout(s) (they hold passwords: mode 0600):")
    for path in paths:
        out.print(f"  {escape(str(path))}")
    for student, status in skipped.items():
        out.print(f"  [yellow]skipped {escape(student)}[/]: no running instance ({status})")
    if skipped:
        out.print(f"  run `labctl session start` (or `session status {session}`) first")
        raise typer.Exit(1)


def _class_member(sessions: Sessions, member: Member, loaded: LoadedLab) -> ClassMember:
    """The member as class grading sees it; without a running instance, absent (the
    report is still searched for copied secrets, and theirs in the others')."""
    absent = ""
    try:
        target = sessions.target(member, loaded)
    except LabctlError:
        target = GradeTarget(member.instance, member.unit, member.seed, "", {})
        why = f": {member.error}" if member.error else ""
        absent = f"no running instance ({member.status}{why})"
    return ClassMember(
        member.student,
        target,
        member.name,
        member.email,
        member.team,
        member.slot,
        absent=absent,
    )


def _graded(outcome: StudentOutcome) -> None:
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
        typer.Option(
            "--reports",
            "-r",
            help="Folder of audit reports, <student id>.md.",
            parser=path_parser("--reports", folder=True),
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder (default: grades/SESSION).",
            parser=path_parser("--output", folder=True),
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option("--parallel", "-j", min=1, max=MAX_PARALLEL, help="Instances graded at once."),
    ] = DEFAULT_WORKERS,
) -> None:
    """Grade every student: score reports, class.html, grades.csv and grades.json."""
    sessions = _sessions()
    loaded = lab_by_id(state(ctx).labs(), sessions.get(session).lab)
    members = [_class_member(sessions, m, loaded) for m in sessions.members(session)]
    folder = output or Path("grades") / session
    err.print(f"grading {len(members)} student(s) of {session}, {parallel} instance(s) at a time")
    graded = grade_class(
        _backend(),
        loaded,
        members,
        session=session,
        output=folder,
        reports_dir=reports,
        workers=parallel,
        progress=_graded,
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
    session: SessionArg,
    grades: Annotated[
        Path | None,
        typer.Option(
            "--grades",
            "-g",
            help="The graded folder (default: grades/SESSION).",
            parser=path_parser("--grades", folder=True),
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
    summary, records = load_graded(grades or Path("grades") / session)
    text = export_text(summary, records, fmt)
    if output is None:
        typer.echo(text, nl=False)
        return
    write_text(output, text)
    err.print(f"wrote {escape(str(output))} ({len(records)} student(s))")
