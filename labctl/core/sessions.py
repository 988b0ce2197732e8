"""Class sessions, for the edges: start a class from a roster, watch it, reset a student,
stop it, write the handouts, grade it and export the grades."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from graders.classreport import ClassSummary, StudentRecord
from graders.live.classgrade import (
    DEFAULT_WORKERS,
    Checks,
    ClassGrade,
    StudentOutcome,
    all_checks,
    export_text,
    grade_class,
    grade_student,
    load_graded,
)
from graders.score.files import write_text
from labctl.core.events import Event, Kind, OnEvent, ignore, note, progress_of
from labctl.core.instances import ATTACKER, STUDENT_USER, InstancesApi
from labctl.errors import LabctlError, NotFoundError
from labctl.instances.ids import slug
from labctl.instances.leases import SESSION_IDLE_S, SESSION_LIFETIME_S, Lease
from labctl.instances.plan import host_roles
from labctl.instances.restart import HostRestart, restart_host
from labctl.sessions import Sessions, read_roster
from labctl.sessions.grading import class_members
from labctl.sessions.members import (
    Member,
    MemberStatus,
    StartReport,
    StopReport,
    check_name,
)
from labctl.sessions.reaper import Caps, GcReport, collect
from labctl.sessions.store import SessionRecord
from labctl.spec import LoadedLab

#: Default folders, below the current one: grades/<session>, handouts/<session>.
GRADES_DIR: Final = Path("grades")
HANDOUTS_DIR: Final = Path("handouts")


@dataclass(frozen=True)
class SessionView:
    """A session's rows as ``session status`` shows them."""

    record: SessionRecord
    loaded: LoadedLab
    rows: list[MemberStatus]


class SessionsApi:
    def __init__(
        self, sessions: Sessions, instances: InstancesApi, caps: Caps | None = None
    ) -> None:
        self.sessions = sessions
        self.instances = instances
        #: Instances running at once, on the machine and per student (the settings').
        self.caps = caps or Caps()
        #: How each instance's objectives are checked when a class is graded.
        self.checks: Checks = all_checks

    def all(self) -> list[SessionRecord]:
        return self.sessions.all()

    def get(self, name: str) -> SessionRecord:
        return self.sessions.get(name)

    def members(self, name: str) -> list[Member]:
        return self.sessions.members(name)

    def member(self, name: str, student: str) -> Member:
        return self.sessions.member(name, student)

    def only(self, name: str | None) -> str:
        """``name``, or the only session recorded here."""
        if name is not None:
            return name
        records = self.sessions.all()
        if len(records) != 1:
            known = ", ".join(r.name for r in records) or "none"
            raise LabctlError(f"name a SESSION (recorded: {known})")
        return records[0].name

    def lab(self, name: str) -> LoadedLab:
        return self.instances.labs.get(self.sessions.get(name).lab)

    def start(
        self,
        lab_id: str,
        roster: Path,
        *,
        name: str | None = None,
        teams: int | None = None,
        parallel: int = 4,
        on_event: OnEvent = ignore,
        lifetime: int | None = None,
        idle: int | None = None,
        caps: Caps | None = None,
    ) -> StartReport:
        """Start a class (or complete a partly started one): an instance per student or
        team. The session is named after the roster file unless ``name`` is given.
        ``lifetime`` and ``idle`` (seconds, 0: none) are its instances' lease: a new
        session gets SESSION_LIFETIME_S and SESSION_IDLE_S unless told, a started one keeps
        its own. Members beyond ``caps`` (the settings' when None) are queued."""
        students = read_roster(roster)
        session = check_name(name if name is not None else slug(roster.stem)[:16].strip("-"))
        loaded = self.instances.labs.get(lab_id)
        self.sessions.instances.store.check_writable()  # before images are built
        self.instances.prepare_images(set(host_roles(loaded).values()), on_event)
        note(on_event, f"session {session}: lab {loaded.id}, {len(students.students)} student(s)")
        stored = self.sessions.db.get(session)
        lease = (
            lifetime
            if lifetime is not None
            else (stored.lifetime if stored else SESSION_LIFETIME_S),
            idle if idle is not None else (stored.idle if stored else SESSION_IDLE_S),
        )
        return self.sessions.start(
            loaded,
            students,
            name=session,
            teams=teams,
            parallel=parallel,
            progress=progress_of(on_event),
            caps=caps or self.caps,
            lease=lease,
        )

    def renew(
        self, name: str, student: str | None = None, seconds: int | None = None
    ) -> dict[str, Lease]:
        """Push the end of the student's instance (every member's, without ``student``)
        to ``seconds`` (the session's lifetime when None) from now; unit → lease."""
        members = [self.member(name, student)] if student else self.members(name)
        renewed: dict[str, Lease] = {}
        for member in members:
            if member.unit not in renewed and self.sessions.instances.store.get(member.instance):
                renewed[member.unit] = self.instances.renew(member.instance, seconds)
        return renewed

    def gc(self, *, dry_run: bool = False, on_event: OnEvent = ignore) -> GcReport:
        """One pass of the lease keeper: expired instances removed, idle ones stopped,
        queued members started while they fit (labctl.sessions.reaper)."""
        if not dry_run:
            self.sessions.instances.store.check_writable()
        return collect(
            self.sessions,
            self.caps,
            self.instances.labs.get,
            dry_run=dry_run,
            progress=progress_of(on_event),
        )

    def status(self, name: str | None = None, *, checks: bool = False) -> SessionView:
        session = self.only(name)
        loaded = self.lab(session)
        rows = self.sessions.status(session, loaded, checks=checks)
        return SessionView(self.sessions.get(session), loaded, rows)

    def reset(self, name: str, student: str, on_event: OnEvent = ignore) -> Member:
        """A fresh instance for the student, with the same parameters and password."""
        return self.sessions.reset(name, student, self.lab(name), progress_of(on_event))

    def shell_argv(self, name: str, student: str, host: str = ATTACKER) -> list[str]:
        instance = self.sessions.member(name, student).instance
        user = STUDENT_USER if host == ATTACKER else None
        return self.instances.backend.shell_argv(instance, host, user=user)

    def restart(
        self, name: str, student: str, host: str = ATTACKER, *, hard: bool = False
    ) -> HostRestart:
        instance = self.sessions.member(name, student).instance
        return restart_host(self.sessions.instances, instance, host, hard=hard)

    def open_phase(self, name: str, phase: str, on_event: OnEvent = ignore) -> dict[str, str]:
        """Open ``phase`` for every running student of the class; student → what happened
        ("opened", "already open", or why not). One student's failure stops no other."""
        lab = self.lab(name).spec
        if lab.phase(phase) is None:
            known = ", ".join(p.id for p in lab.phases) or "none"
            raise NotFoundError("phase", phase, hint=f"the lab's phases: {known}")
        outcome: dict[str, str] = {}
        for member in self.members(name):
            try:
                opened = self.instances.open_phase(member.instance, phase, on_event)
            except LabctlError as exc:
                outcome[member.student] = f"not opened: {exc}"
            else:
                outcome[member.student] = "opened" if opened else "already open"
            note(on_event, f"{member.student}: {outcome[member.student]}")
        return outcome

    def stop(self, name: str, on_event: OnEvent = ignore) -> StopReport:
        return self.sessions.stop(name, progress_of(on_event))

    def handout(
        self, name: str, output: Path | None = None, portal: str | None = None
    ) -> tuple[list[Path], dict[str, str]]:
        """One sheet per student (mode 0600: they hold passwords); the students skipped
        (no running instance) with their state. With ``portal`` (the class portal's URL)
        the sheets give it and the student's login instead of the instance's ports."""
        return self.sessions.handout(name, self.lab(name), output or HANDOUTS_DIR / name, portal)

    def grade(
        self,
        name: str,
        *,
        reports: Path | None = None,
        output: Path | None = None,
        parallel: int = DEFAULT_WORKERS,
        on_event: OnEvent = ignore,
        quizzes: Mapping[str, dict[str, Any]] | None = None,
    ) -> ClassGrade:
        """Grade every student: score reports, class.html, grades.csv and grades.json
        (``quizzes``: student → the quiz they took, added to their score report)."""
        loaded = self.lab(name)
        members = class_members(self.sessions, name, loaded)
        note(on_event, f"grading {len(members)} student(s) of {name}, {parallel} at a time")

        def graded(outcome: StudentOutcome) -> None:
            on_event(Event(outcome.member.student, "graded", Kind.RESULT, outcome))

        return grade_class(
            self.instances.backend,
            loaded,
            members,
            session=name,
            output=output or GRADES_DIR / name,
            reports_dir=reports,
            workers=parallel,
            progress=graded,
            checks=self.checks,
            quizzes=quizzes,
        )

    def grade_student(
        self,
        name: str,
        student: str,
        *,
        reports: Path | None = None,
        output: Path | None = None,
        quiz: dict[str, Any] | None = None,
    ) -> StudentOutcome:
        """Grade one student of the session again (their instance, their report in
        ``reports``, copy detection against the whole class) into the class's folder; a
        graded class's exports then carry the new score."""
        loaded = self.lab(name)
        self.member(name, student)  # a one-line error for a student not in the session
        members = class_members(self.sessions, name, loaded)
        return grade_student(
            self.instances.backend,
            loaded,
            members,
            student,
            output=output or GRADES_DIR / name,
            reports_dir=reports,
            checks=self.checks,
            quiz=quiz,
        )

    def export(
        self, name: str, grades: Path | None = None, fmt: str = "csv", output: Path | None = None
    ) -> tuple[str, ClassSummary, list[StudentRecord]]:
        """A graded session (with any student graded again since) as CSV, JSON or the
        class HTML report; written to ``output`` when given."""
        summary, records = load_graded(grades or GRADES_DIR / name)
        text = export_text(summary, records, fmt)
        if output is not None:
            write_text(output, text)
        return text, summary, records
