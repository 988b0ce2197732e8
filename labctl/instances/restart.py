"""``labctl restart``: give a student back a host whose processes ran away.

A fork bomb held by the pids limit harms nobody else, but it leaves the student's own
shell unusable. The host is recovered in place first (the backend's ``recover``: every
process of its login users ended, the host's programs and what the student wrote in its
tmpfs mounts kept); only when that does not make it ready again is the container
restarted, which empties those mounts, and the outcome says so. ``hard`` skips straight
to the container restart. Each restart is one entry in the instance's events table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from labctl.backends.base import HostStatus, Recovery
from labctl.errors import LabctlError
from labctl.instances.lifecycle import Instances
from labctl.instances.store import Event

#: The host ``labctl restart`` recovers when none is named: the student's workstation.
DEFAULT_HOST: Final = "attacker"
EVENT_KIND: Final = "restart"


@dataclass(frozen=True)
class HostRestart:
    """What ``restart_host`` did: recovered in place, or restarted the container."""

    instance: str
    host: str
    #: What the in-place recovery found (None with ``hard``).
    recovery: Recovery | None
    #: The container was restarted (its tmpfs mounts are empty again).
    restarted: bool
    status: HostStatus
    #: One line for the events table and the CLI.
    summary: str


def restart_host(
    instances: Instances, ident: str, host: str = DEFAULT_HOST, *, hard: bool = False
) -> HostRestart:
    """Recover ``host`` of the running instance ``ident`` in place; restart its
    container only if that fails (or at once with ``hard``). Recorded as an event."""
    instances.store.check_writable()  # the restart is recorded: refuse before acting
    record = instances.get(ident)
    if record.status != "running":
        raise LabctlError(
            f"instance {ident!r} is {record.status}, not running: nothing to restart "
            f"(`labctl status {ident}` says what to do)"
        )
    recovery = None if hard else instances.backend.recover(ident, host)
    if recovery is not None and recovery.ready:
        status = next(s for s in instances.backend.status(ident) if s.host == host)
        outcome = HostRestart(ident, host, recovery, False, status, _in_place(recovery))
    else:
        why = _why_restart(recovery)
        try:
            status = instances.backend.restart(ident, host)
        except LabctlError as exc:
            _remember(instances, ident, host, f"{why}; the container restart failed: {exc}")
            raise
        outcome = HostRestart(ident, host, recovery, True, status, f"{why}; {_lost(recovery)}")
    _remember(instances, ident, host, outcome.summary)
    return outcome


def _in_place(recovery: Recovery) -> str:
    counts = ""
    if recovery.pids_before is not None and recovery.pids_after is not None:
        of = f", limit {recovery.pids_limit}" if recovery.pids_limit else ""
        counts = f" ({recovery.pids_before} → {recovery.pids_after} processes{of})"
    if not recovery.users:
        return f"ready, nothing to end: the host has no login users{counts}"
    whose = ", ".join(recovery.users)
    return f"recovered in place: ended every process of {whose}{counts}; files kept"


def _why_restart(recovery: Recovery | None) -> str:
    if recovery is None:
        return "container restarted on request (--hard)"
    return f"not recovered in place ({recovery.detail}): container restarted"


def _lost(recovery: Recovery | None) -> str:
    if recovery is None or not recovery.tmpfs:
        return "what its tmpfs mounts held is gone"
    return f"what {', '.join(recovery.tmpfs)} held is gone"


def _remember(instances: Instances, ident: str, host: str, summary: str) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    instances.store.add_event(Event(ident, now, EVENT_KIND, host, summary, True))
