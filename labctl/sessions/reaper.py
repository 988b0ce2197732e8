"""Caps on running instances, and ``labctl gc``: what a lease says is due, and the queue.

A machine runs at most ``Caps.max_running`` instances at once and a student at most
``Caps.per_student`` (0: no cap). ``session start`` starts the members that fit and
queues the others (member status ``queued``) instead of failing them. One pass of
:func:`collect` (``labctl gc``; the portal runs one every minute):

1. removes every instance whose lifetime ended (``expired``: the record, lease and the
   student's home are kept, so the next start brings the home back);
2. stops every running instance idle for its whole idle period (``stopped``);
3. starts queued members, oldest session first and in roster order, while they fit.

A member whose session another labctl holds (a ``session start``, say) is left for the
next pass, as is an instance another labctl is starting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from labctl.errors import LabctlError
from labctl.instances import InstanceRecord
from labctl.instances.leases import LIVE, utcnow
from labctl.instances.lifecycle import STOPPED
from labctl.sessions.members import (
    UnitProgress,
    by_instance,
    no_unit_progress,
    one_line,
    unit_key,
)
from labctl.sessions.store import QUEUED, SessionBusyError
from labctl.spec import LoadedLab

if TYPE_CHECKING:
    from labctl.sessions.manager import Sessions

#: Record statuses that hold a machine's resources.
HOLDING: Final = frozenset({"running", "starting"})


@dataclass(frozen=True)
class Caps:
    """How many instances may run at once: on this machine, and per student (0: no cap)."""

    max_running: int = 0
    per_student: int = 0

    def refusal(self, running: list[InstanceRecord], student: str) -> str:
        """Why one more instance of ``student`` does not fit now ("" when it does)."""
        if self.max_running and len(running) >= self.max_running:
            return f"the machine runs {len(running)} instance(s), its cap is {self.max_running}"
        mine = sum(1 for r in running if r.student == student)
        if self.per_student and mine >= self.per_student:
            return f"{student} runs {mine} instance(s), the cap per student is {self.per_student}"
        return ""


def holding(records: list[InstanceRecord]) -> list[InstanceRecord]:
    return [r for r in records if r.status in HOLDING]


@dataclass
class GcReport:
    """What one pass did (instance ids and unit keys)."""

    expired: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    #: instance → why it was left alone this pass (busy, home too large)
    left: dict[str, str] = field(default_factory=dict)
    #: unit key → why it failed to start from the queue
    failed: dict[str, str] = field(default_factory=dict)
    #: members still queued after the pass
    queued: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.expired or self.stopped or self.started or self.failed)


def collect(
    sessions: Sessions,
    caps: Caps,
    lab_of: Callable[[str], LoadedLab],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: UnitProgress = no_unit_progress,
) -> GcReport:
    """One pass (see the module docstring). ``dry_run``: say what is due, change nothing."""
    moment = now or utcnow()
    report = GcReport()
    instances = sessions.instances
    for lease in instances.leases.all():
        record = instances.store.get(lease.instance)
        if record is None:  # removed by a command that did not know leases
            if not dry_run:
                instances.leases.forget(lease.instance)
            continue
        try:
            if record.status in {"running", STOPPED} and lease.expired(moment):
                progress(record.id, "lifetime ended: removing (the home is kept)")
                if not dry_run:
                    instances.expire(record.id)
                report.expired.append(record.id)
            elif record.status == "running" and lease.state == LIVE and lease.idle_since(moment):
                progress(record.id, "idle: stopping (the home is kept)")
                if not dry_run:
                    instances.stop_idle(record.id)
                report.stopped.append(record.id)
        except LabctlError as exc:  # busy, a home too large to keep, an engine error
            report.left[record.id] = one_line(exc)
            progress(record.id, f"left running: {one_line(exc)}")
    _start_queued(sessions, caps, lab_of, report, dry_run=dry_run, progress=progress)
    return report


def _start_queued(
    sessions: Sessions,
    caps: Caps,
    lab_of: Callable[[str], LoadedLab],
    report: GcReport,
    *,
    dry_run: bool,
    progress: UnitProgress,
) -> None:
    for session in sessions.all():
        queued = [m for m in sessions.db.members(session.name) if m.status == QUEUED]
        if not queued:
            continue
        try:
            with sessions.db.lock(session.name):
                loaded = lab_of(session.lab)
                for instance, members in by_instance(queued).items():
                    running = holding(sessions.instances.store.all())
                    key = unit_key(session, members[0])
                    if caps.refusal(running, key) or dry_run:
                        report.queued += 1
                        continue
                    progress(key, "room now: starting from the queue")
                    started = sessions.launch_unit(loaded, session, instance, members, progress)
                    if started:
                        report.started.append(key)
                    else:
                        report.failed[key] = sessions.db_error(session.name, instance)
        except SessionBusyError as exc:
            report.queued += len(by_instance(queued))
            progress(session.name, f"queue left for the next pass: {one_line(exc)}")
        except LabctlError as exc:  # the session's lab cannot be loaded any more
            report.queued += len(by_instance(queued))
            progress(session.name, f"queue not served: {one_line(exc)}")
