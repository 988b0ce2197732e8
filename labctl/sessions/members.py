"""What a class session is made of: its members, their reports, the names it uses.

Shared by the session operations (:mod:`labctl.sessions.manager` starts, resets and stops;
:mod:`labctl.sessions.status` explains; :mod:`labctl.sessions.handout` writes sheets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from labctl.backends.base import HostStatus, Progress
from labctl.errors import LabctlError
from labctl.instances.ids import MAX_ID_LENGTH, slug
from labctl.sessions.roster import Unit
from labctl.sessions.store import PENDING, MemberRecord, SessionRecord

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
    #: no room under the caps: started later by `labctl gc` (or the portal)
    queued: list[str] = field(default_factory=list)
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


def no_unit_progress(unit: str, message: str) -> None:
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


def member_rows(lab: str, session: str, grouped: list[Unit], dealt: bool) -> list[MemberRecord]:
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


def prefixed(progress: UnitProgress, key: str) -> Progress:
    """The backend's (subject, message) as one line of the unit ``key``."""

    def report(subject: str, message: str) -> None:
        progress(key, f"{subject}: {message}")

    return report


def by_instance(rows: list[MemberRecord]) -> dict[str, list[MemberRecord]]:
    grouped: dict[str, list[MemberRecord]] = {}
    for row in rows:
        grouped.setdefault(row.instance, []).append(row)
    return grouped


def unit_key(session: SessionRecord, row: MemberRecord) -> str:
    """The instance's student: the last part of ``<lab>-<session>-<unit>``."""
    return row.instance.removeprefix(f"{slug(session.lab)}-{session.name}-")


def member_of(row: MemberRecord, session: SessionRecord) -> Member:
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
        unit_key(session, row),
    )


def one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, LabctlError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]
