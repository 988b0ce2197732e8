"""Class sessions: one isolated instance per student (or team) of a roster, run together.

API (what the ``labctl session`` commands are built on; a command that grades or exports
a session starts from :meth:`Sessions.members`)::

    sessions = Sessions(backend, InstanceStore())
    sessions.all() -> list[SessionRecord]           # name, lab, seed, created, teams, roster
    sessions.get(name) -> SessionRecord             # NotFoundError naming the known ones
    sessions.members(name) -> list[Member]          # roster order
    sessions.start(loaded, roster, name=..., teams=None, parallel=4, progress=...) -> StartReport
    sessions.status(name, loaded, checks=False) -> list[MemberStatus]
    sessions.reset(name, student, loaded, progress=...) -> Member
    sessions.stop(name, progress=...) -> StopReport  # progress: (unit, message)
    sessions.handout(name, loaded, folder) -> (files, skipped students)
    sessions.target(member, loaded) -> GradeTarget  # what graders.live grades

A :class:`Member` is one roster student: ``student`` (roster id), ``name``, ``email``,
``team`` (empty without teams), ``slot`` (the unit's roster slot), ``instance`` (instance
id, shared by a team), ``seed`` (the session's seed: every instance derives its
parameters from it, the unit's key and the slot), ``status`` (pending, starting, running,
failed) and ``error`` (why it failed). The instance's ``student`` (what parameters and
report grading key on) is the unit key: the student id slugged, or the team's.

Instance ids are ``<lab>-<session>-<unit>``, known before anything is created, so a
session's objects on the engine are exactly its members' instances. ``start``, ``reset``
and ``stop`` hold the session's lock (:meth:`SessionStore.lock`). ``start`` first
reconciles: an instance that is recorded running with every host up is kept; anything
else of a member's instance (a ``starting`` record left by a killed labctl, containers
without a record) is removed and started again. A failed start is retried once, then
reported, without stopping the others.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from graders.live.grade import check_instance
from graders.live.target import GradeTarget, target_of
from labctl.backends.base import Backend, HostStatus, Progress, no_progress
from labctl.errors import LabctlError, NotFoundError
from labctl.instances import InstanceRecord, Instances, InstanceStore, connection_lines
from labctl.instances.adversary import adversary_log
from labctl.instances.ids import MAX_ID_LENGTH, slug
from labctl.instances.lifecycle import SEED_LIMIT, with_live_ports
from labctl.instances.locks import starting_state
from labctl.scenario.briefing import render_briefing
from labctl.sessions.handout import sheet
from labctl.sessions.roster import Roster, Unit, units
from labctl.sessions.store import (
    FAILED,
    PENDING,
    RUNNING,
    STARTING,
    MemberRecord,
    SessionRecord,
    SessionStore,
)
from labctl.spec import LoadedLab

MAX_NAME: Final = 16
_NAME: Final = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
#: Retries after a failed start (then the member is reported failed).
RETRIES: Final = 1
#: (unit key, message) — the unit's progress line; a unit's last message starts with a
#: word of UNIT_DONE.
UnitProgress = Callable[[str, str], None]
UNIT_DONE: Final = ("ready", "kept", "FAILED", "removed")


@dataclass(frozen=True)
class Member:
    """One roster student of a session (see the module docstring)."""

    student: str
    name: str
    email: str
    team: str
    slot: int
    instance: str
    seed: int
    status: str
    error: str = ""
    unit: str = ""


@dataclass(frozen=True)
class MemberStatus:
    """A member as the session, the instance record and the engine see it."""

    member: Member
    #: running, starting (another labctl is on it), interrupted, degraded, failed, pending
    state: str
    explanation: str
    hosts: list[HostStatus]
    connection: dict[str, str]
    password: str
    #: objectives holding now (None when not checked or not running)
    holding: list[str] | None = None
    objectives: int = 0
    #: the adversary's log entries (None when the lab has no adversary)
    adversary: int | None = None


@dataclass
class StartReport:
    session: str
    started: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    #: unit key → one-line reason
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class StopReport:
    session: str
    instances: int
    containers: int
    networks: int
    volumes: int


#: Said when the engine's ports differ from the recorded ones (an engine restart started
#: the hosts again on new ports): the handouts printed before are wrong.
PORTS_MOVED: Final = (
    "its hosts were restarted (by the engine?) and publish new ports: "
    "`labctl session handout` again"
)


def _no_unit_progress(unit: str, message: str) -> None:
    del unit, message


def check_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > MAX_NAME:
        raise LabctlError(
            f"session name {name!r}: use up to {MAX_NAME} lower-case letters, digits and "
            "hyphens (it becomes part of host names)"
        )
    return name


def session_instance_id(lab: str, session: str, unit: str) -> str:
    ident = f"{slug(lab)}-{session}-{unit}"
    if len(ident) > MAX_ID_LENGTH:
        raise LabctlError(
            f"instance id {ident!r} is longer than {MAX_ID_LENGTH} characters; "
            "use a shorter session name (--name) or shorter student ids"
        )
    return ident


def sick(hosts: list[HostStatus]) -> list[str]:
    """Hosts that are not running, or whose health check fails (``starting`` is not sick:
    a health check settles for a few seconds after a start or restart)."""
    return [h.host for h in hosts if h.state != "running" or h.health == "unhealthy"]


def healthy(hosts: list[HostStatus]) -> bool:
    return bool(hosts) and not sick(hosts)


class Sessions:
    def __init__(self, backend: Backend, store: InstanceStore) -> None:
        self.backend = backend
        self.instances = Instances(backend, store)
        self.db = SessionStore(store)

    # -- reading -------------------------------------------------------------------------

    def all(self) -> list[SessionRecord]:
        return self.db.all()

    def get(self, name: str) -> SessionRecord:
        record = self.db.get(name)
        if record is None:
            known = [s.name for s in self.db.all()]
            hint = f"known sessions: {', '.join(known)}" if known else "no session is recorded"
            raise NotFoundError("session", name, hint=hint)
        return record

    def members(self, name: str) -> list[Member]:
        session = self.get(name)
        return [_member(m, session) for m in self.db.members(name)]

    def member(self, name: str, student: str) -> Member:
        members = self.members(name)
        for member in members:
            if student in {member.student, slug(member.student)}:
                return member
        raise NotFoundError(
            "student", student, hint=f"session {name} has {', '.join(m.student for m in members)}"
        )

    def target(self, member: Member, loaded: LoadedLab) -> GradeTarget:
        """The member's running instance as grading reaches it (the ports it publishes
        now: an engine restart changes them)."""
        return target_of(loaded, self.instances.current(member.instance))

    # -- start ---------------------------------------------------------------------------

    def start(
        self,
        loaded: LoadedLab,
        roster: Roster,
        *,
        name: str,
        teams: int | None = None,
        parallel: int = 4,
        progress: UnitProgress = _no_unit_progress,
    ) -> StartReport:
        """Start (or complete) the session: every member's instance running, or reported."""
        check_name(name)
        if parallel < 1:
            raise LabctlError("--parallel must be at least 1")
        began = datetime.now(UTC)
        self.instances.store.check_writable()
        with self.db.lock(name):
            session = self._open(loaded, roster, name, teams)
            report = StartReport(name)
            todo = self._reconcile(session, report, progress)
            stop = threading.Event()

            def run(unit: tuple[str, list[MemberRecord]]) -> None:
                if not stop.is_set():
                    self._launch(
                        loaded,
                        session=session,
                        instance=unit[0],
                        members=unit[1],
                        report=report,
                        progress=progress,
                    )

            pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="session")
            try:
                for future in [pool.submit(run, unit) for unit in todo]:
                    future.result()
            except BaseException:
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        report.seconds = (datetime.now(UTC) - began).total_seconds()
        return report

    def _open(
        self, loaded: LoadedLab, roster: Roster, name: str, teams: int | None
    ) -> SessionRecord:
        """The stored session, checked against the roster; created on the first start."""
        grouped = units(roster, teams)
        wanted = _member_rows(loaded.id, name, grouped, teams is not None)
        session = self.db.get(name)
        if session is None:
            session = SessionRecord(
                name,
                loaded.id,
                secrets.randbelow(SEED_LIMIT),
                datetime.now(UTC).isoformat(timespec="seconds"),
                teams or 0,
                roster.path,
            )
            self.db.create(session, wanted)
            return session
        if session.lab != loaded.id:
            raise LabctlError(
                f"session {name!r} runs lab {session.lab}, not {loaded.id}; "
                "choose another --name for a new session"
            )
        stored = {(m.student, m.team, m.slot) for m in self.db.members(name)}
        if stored != {(m.student, m.team, m.slot) for m in wanted}:
            raise LabctlError(
                f"{roster.path} is not the roster session {name!r} was started with "
                f"({session.roster}); start a new session with another --name"
            )
        return session

    def _reconcile(
        self, session: SessionRecord, report: StartReport, progress: UnitProgress
    ) -> list[tuple[str, list[MemberRecord]]]:
        """Units to launch; running ones kept, leftovers of interrupted runs removed."""
        todo = []
        for instance, members in _by_instance(self.db.members(session.name)).items():
            unit = members[0]
            key = _unit_key(session, unit)
            record = self.instances.store.get(instance)
            hosts = self.backend.status(instance)
            if (
                unit.status == RUNNING
                and record is not None
                and record.status == "running"
                and healthy(hosts)
            ):
                report.kept.append(key)
                moved = self.instances.current(instance).ports != record.ports
                progress(key, "kept: already running" + (f"; {PORTS_MOVED}" if moved else ""))
                continue
            if record is not None or hosts:
                progress(key, "removing what an interrupted start left")
                self._remove(instance)
                report.repaired.append(key)
            self.db.set_status(session.name, instance, PENDING)
            todo.append((instance, members))
        return todo

    def _launch(
        self,
        loaded: LoadedLab,
        *,
        session: SessionRecord,
        instance: str,
        members: list[MemberRecord],
        report: StartReport,
        progress: UnitProgress,
        password: str | None = None,
    ) -> None:
        unit = members[0]
        key = _unit_key(session, unit)

        hosts = _prefixed(progress, key)
        error = ""
        for attempt in range(RETRIES + 1):
            self.db.set_status(session.name, instance, STARTING, attempt=True)
            progress(key, "starting" if attempt == 0 else f"retrying after: {error}")
            try:
                record = self.instances.up(
                    loaded,
                    key,
                    session.seed,
                    hosts,
                    slot=unit.slot,
                    ident=instance,
                    password=password,
                )
            except Exception as exc:  # one student's failure stops no other
                error = _one_line(exc)
                with suppress(LabctlError):
                    self._remove(instance)
                continue
            self.db.set_status(session.name, instance, RUNNING)
            report.started.append(key)
            progress(key, f"ready: {_ssh_line(record)}")
            return
        self.db.set_status(session.name, instance, FAILED, error)
        report.failed[key] = error
        progress(key, f"FAILED: {error}")

    def _remove(self, instance: str, progress: Progress = no_progress) -> tuple[int, int, int]:
        """Everything of ``instance`` on the engine, then its record; never raises NotFound."""
        down = self.backend.down(instance, progress)
        self.instances.store.delete(instance)
        return down.containers, down.networks, down.volumes

    # -- status --------------------------------------------------------------------------

    def status(self, name: str, loaded: LoadedLab, checks: bool = False) -> list[MemberStatus]:
        """Every member, explained; ``checks`` runs the self-check on each running unit."""
        session = self.get(name)
        holder = self.db.holder(name)
        result: list[MemberStatus] = []
        cache: dict[str, tuple[list[str] | None, int, int | None]] = {}
        for row in self.db.members(name):
            member = _member(row, session)
            record = self.instances.store.get(member.instance)
            hosts = self.backend.status(member.instance)
            state, why = _explain(member, record, hosts, holder)
            if record is not None and hosts:
                shown = with_live_ports(record, hosts)
                if shown.ports != record.ports:
                    why = "; ".join(filter(None, (why, PORTS_MOVED)))
                record = shown
            if member.instance not in cache:
                cache[member.instance] = self._observe(loaded, member, state, checks)
            holding, total, adversary = cache[member.instance]
            result.append(
                MemberStatus(
                    member,
                    state,
                    why,
                    hosts,
                    dict(connection_lines(record)) if record else {},
                    record.access.get("password", "") if record else "",
                    holding,
                    total,
                    adversary,
                )
            )
        return result

    def _observe(
        self, loaded: LoadedLab, member: Member, state: str, checks: bool
    ) -> tuple[list[str] | None, int, int | None]:
        if state != RUNNING:
            return None, 0, None
        adversary = None
        if loaded.spec.adversary:
            adversary = 0
            with suppress(LabctlError):
                adversary = len(adversary_log(self.backend, member.instance))
        if not checks:
            return None, 0, adversary
        scores = check_instance(self.backend, loaded, self.target(member, loaded))
        return [s.id for s in scores if s.holds], len(scores), adversary

    # -- reset, stop, handout -------------------------------------------------------------

    def reset(
        self,
        name: str,
        student: str,
        loaded: LoadedLab,
        progress: UnitProgress = _no_unit_progress,
    ) -> Member:
        """A fresh instance for the student's unit: same parameters, same password."""
        self.instances.store.check_writable()
        with self.db.lock(name):
            session = self.get(name)
            member = self.member(name, student)
            if session.lab != loaded.id:
                raise LabctlError(f"session {name!r} runs lab {session.lab}, not {loaded.id}")
            old = self.instances.store.get(member.instance)
            password = old.access.get("password") if old else None
            progress(member.unit, "removing the old instance")
            self._remove(member.instance)
            rows = [m for m in self.db.members(name) if m.instance == member.instance]
            report = StartReport(name)
            self._launch(
                loaded,
                session=session,
                instance=member.instance,
                members=rows,
                report=report,
                progress=progress,
                password=password,
            )
            if report.failed:
                raise LabctlError(f"reset of {member.unit} failed: {report.failed[member.unit]}")
            return self.member(name, student)

    def stop(self, name: str, progress: UnitProgress = _no_unit_progress) -> StopReport:
        """Remove every member's instance (containers, networks, volumes, records), then
        the session. Safe to run again after an interruption."""
        self.instances.store.check_writable()
        with self.db.lock(name):
            session = self.get(name)
            counts = [0, 0, 0]
            grouped = _by_instance(self.db.members(name))
            for instance, members in grouped.items():
                key = _unit_key(session, members[0])
                removed = self._remove(instance, _prefixed(progress, key))
                progress(
                    key, "removed: {} container(s), {} network(s), {} volume(s)".format(*removed)
                )
                for i, count in enumerate(removed):
                    counts[i] += count
            self.db.delete(name)
        return StopReport(name, len(grouped), *counts)

    def handout(
        self, name: str, loaded: LoadedLab, folder: Path
    ) -> tuple[list[Path], dict[str, str]]:
        """One Markdown file per student (mode 0600: it holds the password): how to
        connect, then the lab's briefing rendered for the student's unit. Returns the
        files written and the students skipped (student → status: no running instance)."""
        session = self.get(name)
        members = self.members(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabctlError(f"cannot create {folder}: {exc.strerror or exc}") from None
        written, skipped = [], {}
        for member in members:
            record = self.instances.store.get(member.instance)
            if record is None or member.status != RUNNING:
                skipped[member.student] = member.status
                continue
            record = with_live_ports(record, self.backend.status(member.instance))
            text = sheet(session, member, record) + render_briefing(
                loaded, record.student, record.seed, record.id, record.slot
            )
            path = folder / f"{slug(member.student)}.md"
            try:
                fd = path.open("w", encoding="utf-8")
                path.chmod(0o600)
                with fd:
                    fd.write(text)
            except OSError as exc:
                raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from None
            written.append(path)
        return written, skipped


def _member_rows(lab: str, session: str, grouped: list[Unit], dealt: bool) -> list[MemberRecord]:
    rows = []
    for unit in grouped:
        instance = session_instance_id(lab, session, unit.key)
        for student in unit.students:
            team = unit.key if dealt else student.team
            rows.append(
                MemberRecord(
                    session,
                    student.id,
                    student.name,
                    student.email,
                    team,
                    unit.slot,
                    instance,
                    PENDING,
                )
            )
    return rows


def _prefixed(progress: UnitProgress, key: str) -> Progress:
    """The backend's (subject, message) as one line of the unit ``key``."""

    def report(subject: str, message: str) -> None:
        progress(key, f"{subject}: {message}")

    return report


def _by_instance(rows: list[MemberRecord]) -> dict[str, list[MemberRecord]]:
    grouped: dict[str, list[MemberRecord]] = {}
    for row in rows:
        grouped.setdefault(row.instance, []).append(row)
    return grouped


def _unit_key(session: SessionRecord, row: MemberRecord) -> str:
    """The instance's student: the last part of ``<lab>-<session>-<unit>``."""
    return row.instance.removeprefix(f"{slug(session.lab)}-{session.name}-")


def _member(row: MemberRecord, session: SessionRecord) -> Member:
    return Member(
        row.student,
        row.name,
        row.email,
        row.team,
        row.slot,
        row.instance,
        session.seed,
        row.status,
        row.error,
        _unit_key(session, row),
    )


def _explain(
    member: Member, record: InstanceRecord | None, hosts: list[HostStatus], holder: str | None
) -> tuple[str, str]:
    """(state, what it means and what to do) of one member."""
    if member.status != RUNNING:
        return _not_running(member, holder)
    if record is None or not hosts:
        return "degraded", "its instance is gone; `labctl session reset` gives a fresh one"
    bad = sick(hosts)
    if bad:
        return "degraded", f"not healthy: {', '.join(bad)}; `labctl session reset` if it stays"
    settling = [h.host for h in hosts if h.health == "starting"]
    if settling:
        return RUNNING, f"health checks still settling: {', '.join(settling)}"
    return RUNNING, ""


def _not_running(member: Member, holder: str | None) -> tuple[str, str]:
    busy = holder is not None
    if member.status == STARTING:
        repair = "`labctl session start` finishes it, `labctl session stop` removes it"
        return starting_state(holder, repair)
    if member.status == FAILED:
        return FAILED, member.error or "the start failed twice"
    return PENDING, "waiting for its turn" if busy else "not started; run `labctl session start`"


def _ssh_line(record: InstanceRecord) -> str:
    lines = connection_lines(record)
    return next((v for k, v in lines.items() if "(ssh)" in k), record.id)


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, LabctlError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]
