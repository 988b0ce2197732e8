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

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from graders.live.target import GradeTarget, target_of
from labctl.backends.base import Backend, Progress, no_progress
from labctl.errors import LabctlError, NotFoundError
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.instances.ids import slug
from labctl.instances.lifecycle import EXPIRED_STATUS, SEED_LIMIT, STOPPED
from labctl.sessions.handout import write_handouts
from labctl.sessions.members import (
    PORTS_MOVED,
    RETRIES,
    Member,
    MemberStatus,
    StartReport,
    StopReport,
    UnitProgress,
    by_instance,
    check_name,
    healthy,
    member_of,
    member_rows,
    no_unit_progress,
    one_line,
    prefixed,
    unit_key,
)
from labctl.sessions.reaper import Caps, holding
from labctl.sessions.roster import Roster, units
from labctl.sessions.status import session_status, ssh_line
from labctl.sessions.store import (
    FAILED,
    PENDING,
    QUEUED,
    RUNNING,
    STARTING,
    MemberRecord,
    SessionRecord,
    SessionStore,
)
from labctl.spec import LoadedLab

#: A unit to launch: its instance, its members, the password its students were given
#: (None for a new unit).
LaunchUnit = tuple[str, list[MemberRecord], str | None]


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
        return [member_of(m, session) for m in self.db.members(name)]

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
        progress: UnitProgress = no_unit_progress,
        caps: Caps | None = None,
        lease: tuple[int, int] | None = None,
    ) -> StartReport:
        """Start (or complete) the session: every member's instance running, queued (no
        room under ``caps``) or reported. ``lease``: (lifetime, idle) seconds for its
        instances from now on (a new session without it gets none)."""
        check_name(name)
        if parallel < 1:
            raise LabctlError("--parallel must be at least 1")
        began = datetime.now(UTC)
        self.instances.store.check_writable()
        with self.db.lock(name):
            session = self._open(loaded, roster, name, teams, lease)
            report = StartReport(name)
            found = self._reconcile(loaded, session, report, progress)
            todo = self._admit(session, found, caps, report)
            stop = threading.Event()

            def run(unit: LaunchUnit) -> None:
                if not stop.is_set():
                    self._launch(
                        loaded,
                        session=session,
                        instance=unit[0],
                        members=unit[1],
                        report=report,
                        progress=progress,
                        password=unit[2],
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
        self,
        loaded: LoadedLab,
        roster: Roster,
        name: str,
        teams: int | None,
        lease: tuple[int, int] | None = None,
    ) -> SessionRecord:
        """The stored session, checked against the roster; created on the first start
        (``lease`` updates a stored one's)."""
        grouped = units(roster, teams)
        wanted = member_rows(loaded.id, name, grouped, teams is not None)
        session = self.db.get(name)
        if session is None:
            session = SessionRecord(
                name,
                loaded.id,
                secrets.randbelow(SEED_LIMIT),
                datetime.now(UTC).isoformat(timespec="seconds"),
                teams or 0,
                roster.path,
                *(lease or (0, 0)),
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
        if lease is not None and lease != (session.lifetime, session.idle):
            self.db.set_lease(name, *lease)
            session = self.get(name)
        return session

    def _admit(
        self,
        session: SessionRecord,
        todo: list[LaunchUnit],
        caps: Caps | None,
        report: StartReport,
    ) -> list[LaunchUnit]:
        """The units that fit under ``caps`` now, in roster order; the others queued."""
        if caps is None or not (caps.max_running or caps.per_student):
            return todo
        running = holding(self.instances.store.all())
        admitted = []
        for instance, members, password in todo:
            key = unit_key(session, members[0])
            if caps.refusal(running, key):
                self.db.set_status(session.name, instance, QUEUED, caps.refusal(running, key))
                report.queued.append(key)
                continue
            admitted.append((instance, members, password))
            running.append(self._placeholder(instance, key))
        return admitted

    @staticmethod
    def _placeholder(instance: str, key: str) -> InstanceRecord:
        """An instance about to start, as the caps count it."""
        return InstanceRecord(instance, "", key, 0, "", STARTING)

    def _reconcile(
        self,
        loaded: LoadedLab,
        session: SessionRecord,
        report: StartReport,
        progress: UnitProgress,
    ) -> list[LaunchUnit]:
        """Units to launch, each with the password its students were given (None: a new
        one); running ones kept, stopped ones started again, leftovers of interrupted runs
        (or of a node taken away) removed. An expired unit (or a stopped one that would not
        start) is launched like a new one, made anew with its password and home."""
        todo = []
        for instance, members in by_instance(self.db.members(session.name)).items():
            unit = members[0]
            key = unit_key(session, unit)
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
            password = record.access.get("password") if record is not None else None
            if record is not None and record.status in {STOPPED, EXPIRED_STATUS}:
                progress(key, f"{record.status} by its lease: starting it again (home kept)")
                report.repaired.append(key)
                if record.status == STOPPED and self._resume(loaded, session, instance, progress):
                    continue
                # made anew by _launch (the record stays until then: it holds the password)
            elif record is not None or hosts:
                progress(key, "removing what an interrupted start left")
                self._remove(instance)
                report.repaired.append(key)
            self.db.set_status(session.name, instance, PENDING)
            todo.append((instance, members, password))
        return todo

    def _resume(
        self, loaded: LoadedLab, session: SessionRecord, instance: str, progress: UnitProgress
    ) -> bool:
        """A stopped instance started again, its members running; False when that failed
        (the caller makes it anew)."""
        key = unit_key(session, self._rows(session.name, instance)[0])
        try:
            self.instances.resume(loaded, instance, prefixed(progress, key))
        except LabctlError as exc:
            progress(key, f"could not start it again ({one_line(exc)}): making it anew")
            return False
        self.db.set_status(session.name, instance, RUNNING)
        progress(key, "ready: started again")
        return True

    def _rows(self, name: str, instance: str) -> list[MemberRecord]:
        return [m for m in self.db.members(name) if m.instance == instance]

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
        key = unit_key(session, unit)
        leased = self.instances.store.get(instance)
        if leased is not None and leased.status in {STOPPED, EXPIRED_STATUS}:
            # its lease took it down: made anew with the student's password (and home)
            password = password or leased.access.get("password") or None
            self._remove(instance)

        hosts = prefixed(progress, key)
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
                    lifetime=session.lifetime,
                    idle=session.idle,
                )
            except Exception as exc:  # one student's failure stops no other
                error = one_line(exc)
                with suppress(LabctlError):
                    self._remove(instance)
                continue
            self.db.set_status(session.name, instance, RUNNING)
            report.started.append(key)
            progress(key, f"ready: {ssh_line(record)}")
            return
        self.db.set_status(session.name, instance, FAILED, error)
        report.failed[key] = error
        progress(key, f"FAILED: {error}")

    def _remove(
        self, instance: str, progress: Progress = no_progress, *, forget: bool = False
    ) -> tuple[int, int, int]:
        """Everything of ``instance`` on the engine, then its record; never raises NotFound.
        ``forget``: its lease and the student's kept home too (a reset, a stop)."""
        down = self.backend.down(instance, progress)
        self.instances.store.delete(instance)
        if forget:
            self.instances.leases.forget(instance)
            self.instances.homes.forget(instance)
        return down.containers, down.networks, down.volumes

    # -- the queue (labctl.sessions.reaper) ----------------------------------------------

    def launch_unit(
        self,
        loaded: LoadedLab,
        session: SessionRecord,
        instance: str,
        members: list[MemberRecord],
        progress: UnitProgress = no_unit_progress,
    ) -> bool:
        """Start one queued unit (the caller holds the session's lock); whether it runs.
        A unit queued after its instance was stopped or expired (the student asked to
        start it again on a full machine) starts again with its home and password."""
        record = self.instances.store.get(instance)
        stopped = record is not None and record.status == STOPPED
        if stopped and self._resume(loaded, session, instance, progress):
            return True
        report = StartReport(session.name)
        self._launch(
            loaded,
            session=session,
            instance=instance,
            members=members,
            report=report,
            progress=progress,
        )
        return not report.failed

    def queue(self, name: str, instance: str, why: str) -> None:
        """Put a unit in the queue (``labctl gc`` starts it when it fits)."""
        self.db.set_status(name, instance, QUEUED, why)

    def db_error(self, name: str, instance: str) -> str:
        rows = self._rows(name, instance)
        return rows[0].error if rows else ""

    # -- status --------------------------------------------------------------------------

    def status(self, name: str, loaded: LoadedLab, checks: bool = False) -> list[MemberStatus]:
        """Every member, explained; ``checks`` runs the self-check on each running unit
        (:mod:`labctl.sessions.status`)."""
        return session_status(self, name, loaded, checks)

    # -- reset, stop, handout -------------------------------------------------------------

    def reset(
        self,
        name: str,
        student: str,
        loaded: LoadedLab,
        progress: UnitProgress = no_unit_progress,
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
            self._remove(member.instance, forget=True)
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

    def stop(self, name: str, progress: UnitProgress = no_unit_progress) -> StopReport:
        """Remove every member's instance (containers, networks, volumes, records), then
        the session. Safe to run again after an interruption."""
        self.instances.store.check_writable()
        with self.db.lock(name):
            session = self.get(name)
            counts = [0, 0, 0]
            grouped = by_instance(self.db.members(name))
            for instance, members in grouped.items():
                key = unit_key(session, members[0])
                removed = self._remove(instance, prefixed(progress, key), forget=True)
                progress(
                    key, "removed: {} container(s), {} network(s), {} volume(s)".format(*removed)
                )
                for i, count in enumerate(removed):
                    counts[i] += count
            self.db.delete(name)
        return StopReport(name, len(grouped), *counts)

    def handout(
        self, name: str, loaded: LoadedLab, folder: Path, portal: str | None = None
    ) -> tuple[list[Path], dict[str, str]]:
        """One sheet per student (:func:`labctl.sessions.handout.write_handouts`)."""
        return write_handouts(self, name, loaded, folder, portal)
