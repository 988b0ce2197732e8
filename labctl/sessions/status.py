"""``session status``: every member as the session, its instance record and the engine
see it, with what it means and what to do."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Final

from graders.live.grade import check_instance
from labctl.backends.base import HostStatus
from labctl.errors import LabctlError
from labctl.instances import InstanceRecord, connection_lines
from labctl.instances.adversary import adversary_log
from labctl.instances.lifecycle import EXPIRED_STATUS, STOPPED, with_live_ports
from labctl.instances.locks import starting_state
from labctl.sessions.members import PORTS_MOVED, Member, MemberStatus, member_of, sick
from labctl.sessions.store import FAILED, PENDING, QUEUED, RUNNING, STARTING
from labctl.spec import LoadedLab

if TYPE_CHECKING:
    from labctl.sessions.manager import Sessions


def session_status(
    sessions: Sessions, name: str, loaded: LoadedLab, checks: bool = False
) -> list[MemberStatus]:
    """Every member, explained; ``checks`` runs the self-check on each running unit."""
    session = sessions.get(name)
    holder = sessions.db.holder(name)
    result: list[MemberStatus] = []
    cache: dict[str, tuple[list[str] | None, int, int | None]] = {}
    for row in sessions.db.members(name):
        member = member_of(row, session)
        record = sessions.instances.store.get(member.instance)
        hosts = sessions.backend.status(member.instance)
        state, why = _explain(member, record, hosts, holder)
        if record is not None and hosts:
            shown = with_live_ports(record, hosts)
            if shown.ports != record.ports:
                why = "; ".join(filter(None, (why, PORTS_MOVED)))
            record = shown
        if member.instance not in cache:
            cache[member.instance] = _observe(sessions, loaded, member, state, checks)
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
    sessions: Sessions, loaded: LoadedLab, member: Member, state: str, checks: bool
) -> tuple[list[str] | None, int, int | None]:
    if state != RUNNING:
        return None, 0, None
    adversary = None
    if loaded.spec.adversary:
        adversary = 0
        with suppress(LabctlError):
            adversary = len(adversary_log(sessions.backend, member.instance))
    if not checks:
        return None, 0, adversary
    scores = check_instance(sessions.backend, loaded, sessions.target(member, loaded))
    return [s.id for s in scores if s.holds], len(scores), adversary


#: What the lease did to a running member's instance, and how it comes back.
_LEASED: Final = {
    STOPPED: (
        "stopped for idleness (home kept); the student's Start again in the portal,"
        " or `labctl session start`, starts it"
    ),
    EXPIRED_STATUS: (
        "removed at the end of its lifetime (home kept); `labctl session start` makes it"
        " anew, or the student's Start again in the portal"
    ),
}


def _explain(
    member: Member, record: InstanceRecord | None, hosts: list[HostStatus], holder: str | None
) -> tuple[str, str]:
    """(state, what it means and what to do) of one member."""
    if member.status != RUNNING:
        return _not_running(member, holder)
    if record is not None and record.status in _LEASED:
        return record.status, _LEASED[record.status]
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
    if member.status == QUEUED:
        return QUEUED, (
            f"waiting for room ({member.error}); `labctl gc` or the portal starts it"
            if member.error
            else "waiting for room; `labctl gc` or the portal starts it"
        )
    return PENDING, "waiting for its turn" if busy else "not started; run `labctl session start`"


def ssh_line(record: InstanceRecord) -> str:
    lines = connection_lines(record)
    return next((v for k, v in lines.items() if "(ssh)" in k), record.id)
