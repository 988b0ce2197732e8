"""Observation helpers shared by checks: ground truth queries and mission control as an operator.

They fail closed: ground truth that lacks what a check reads (its executed commands, its
security associations, its frame counters), or a mission control answer that cannot be
read, raises :class:`CheckError`, which :meth:`Check.run` reports as an error (nothing
observed), never as an empty list that a check would take for "nothing happened".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from graders.checks.base import CheckResult, Probe, unobserved
from labctl.errors import CheckError, LabctlError
from labctl.range import wiring
from labctl.range.hosts.catalog import COMMANDS

T = TypeVar("T")
POLL_S: Final = 0.5


def wait_for(
    observe: Callable[[], T | None], seconds: float, poll: float = POLL_S, growth: float = 1.0
) -> T | None:
    """Call ``observe`` until it returns something truthy or ``seconds`` have passed; the
    last call is made at the deadline. Each pause is ``growth`` times the one before
    (``growth=2``: fewer calls when the answer is usually "not yet" for the whole time,
    each call being a ``docker exec``)."""
    deadline = time.monotonic() + seconds
    while True:
        value = observe()
        left = deadline - time.monotonic()
        if value or left <= 0:
            return value
        time.sleep(min(poll, left))
        poll *= growth


def command_name(service_subtype: str) -> str:
    """Mission control's name for the first catalogue command of ``service.subtype``."""
    service, subtype = (int(part) for part in service_subtype.split("."))
    for command in COMMANDS:
        if (command.service, command.subtype) == (service, subtype):
            return command.name
    raise CheckError("command", f"no catalogue command is PUS {service_subtype}")


def truth_list(truth: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The ground truth's list ``key`` (its mappings); CheckError when the document has no
    such list: a check must not read a missing log as an empty one."""
    value = truth.get(key)
    if not isinstance(value, list):
        raise CheckError("truth", f"the spacecraft's ground truth has no {key} list")
    return [entry for entry in value if isinstance(entry, dict)]


def frames_received(truth: dict[str, Any]) -> int:
    """The spacecraft's count of uplink datagrams received (any, well formed or not)."""
    counters = truth.get("counters")
    value = counters.get("frames_received") if isinstance(counters, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise CheckError("truth", "the spacecraft's ground truth has no frames_received counter")
    return value


def delivery_problem(
    before: dict[str, Any], after: dict[str, Any], what: str
) -> CheckResult | None:
    """An error result when the spacecraft received no uplink datagram between two ground
    truth reads around a transmission (its ``frames_received`` did not grow, or it
    restarted in between), else None. A frame that never arrived was not rejected: a
    check that passes on "not executed" needs this evidence that it was heard."""
    first, last = frames_received(before), frames_received(after)
    if last > first and before.get("boot_time") == after.get("boot_time"):
        return None
    return unobserved(
        f"{what}: cannot observe, the spacecraft received no uplink frame while the check"
        f" transmitted (frames_received {first} then {last}): the frames did not reach it,"
        " so nothing says whether it would have executed them"
    )


def executed(truth: dict[str, Any], service_subtype: str | None = None) -> list[dict[str, Any]]:
    """Executed telecommands (COP-1 directives left out), optionally of one service.subtype."""
    entries: Iterable[dict[str, Any]] = truth_list(truth, "executed_commands")
    found = [e for e in entries if e.get("service") is not None and e.get("spi") is not None]
    if service_subtype is None:
        return found
    service, subtype = (int(part) for part in service_subtype.split("."))
    return [e for e in found if (e.get("service"), e.get("subtype")) == (service, subtype)]


def login(probe: Probe, role: str) -> str:
    """A bearer token for mission control's ``role`` account."""
    user, password = probe.credentials(role)
    status, body = probe.api("POST", "/api/login", {"username": user, "password": password})
    if status != 200 or not isinstance(body, dict) or "token" not in body:
        raise CheckError("login", f"{role} {user!r} could not log in (HTTP {status})")
    return str(body["token"])


def send_command(probe: Probe, token: str, name: str) -> int:
    """Send ``name`` through mission control; the id of the sent command."""
    status, body = probe.api("POST", "/api/commands", {"name": name, "args": {}}, token)
    if status != 201 or not isinstance(body, dict):
        raise CheckError("command", f"mission control refused {name} (HTTP {status}: {body})")
    return int(body["id"])


def uplink_state(probe: Probe) -> str:
    """What the ground station says of its uplink, for evidence: "" when it cannot be read.

    Read out of band from the station's status document; it explains a failure (a FOP-1
    alert and since when) but never decides a verdict (students may own the station).
    """
    try:
        code, output = probe.host_exec(
            wiring.GROUND_STATION, ["cat", wiring.GROUND_STATION_STATUS], user="nobody"
        )
        uplink = json.loads(output)["uplink"] if code == 0 else None
    except (ValueError, KeyError, TypeError, LabctlError):
        return ""
    if not isinstance(uplink, dict):
        return ""
    where = f"V(S) {uplink.get('vs')}, {uplink.get('outstanding')} frame(s) unacknowledged"
    alert = uplink.get("alert")
    if alert:
        since = str(uplink.get("alert_since") or "?").replace("+00:00", "Z")
        return f"the ground station's uplink is in FOP-1 alert '{alert}' since {since} ({where})"
    return f"the ground station's uplink is {str(uplink.get('fop_state', '?')).lower()} ({where})"


def verification(probe: Probe, token: str, ident: int, within: float) -> str:
    """The sent command's final status (completed, failed) or its status when time ran
    out; CheckError when mission control does not say (its answer unreadable)."""

    def read() -> tuple[int, str | None]:
        code, body = probe.api("GET", f"/api/commands/sent/{ident}", None, token)
        state = body.get("status") if code == 200 and isinstance(body, dict) else None
        return code, state if isinstance(state, str) else None

    def final() -> str | None:
        state = read()[1]  # an unreadable answer on the way: read again
        return state if state in {"completed", "failed"} else None

    def status() -> str:
        code, state = read()
        if state is None:
            raise CheckError(
                "command",
                f"mission control does not say what became of command {ident}"
                f" (GET /api/commands/sent/{ident}: HTTP {code})",
            )
        return state

    result = wait_for(final, within)
    return status() if result is None else result


#: What an availability check needs of a pass beyond its own wait: the ground station's
#: COP-1 and the first housekeeping report of the pass.
PASS_SETTLE_S: Final = 6.0
#: The longest a check waits for the next pass.
PASS_WAIT_S: Final = 1800.0


def rf_link_status(probe: Probe, link: str = wiring.RF_LINK) -> dict[str, Any]:
    """``link``'s status document (an rf-link host), read out of band: students cannot own
    an rf-link. CheckError when there is none to read."""
    code, text = probe.host_exec(link, ["cat", wiring.RF_LINK_STATUS])
    try:
        status = json.loads(text) if code == 0 else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise CheckError("rf-link status", f"{link}: no status document ({text.strip()[-200:]})")
    return status


def link_passes(probe: Probe) -> list[tuple[float, float]] | None:
    """The pass under way and the next ones as (AOS, LOS) on the wall clock, from the
    rf-link's status file (read out of band: students cannot own the rf-link); None when
    the link has no passes (always in contact) or its status cannot be read (then the
    check judges what it sees, out of a pass too: a failure, never a pass)."""
    try:
        status = rf_link_status(probe)
    except LabctlError:
        return None
    passes = status.get("passes")
    if not isinstance(passes, list) or not passes:
        return None
    windows = []
    for entry in passes:
        if not isinstance(entry, dict):
            continue
        aos, los = entry.get("aos"), entry.get("los")
        if isinstance(aos, int | float) and isinstance(los, int | float) and los > aos:
            windows.append((float(aos), float(los)))
    return sorted(windows) or None


def wait_for_pass(probe: Probe, needed: float, sleep: Callable[[float], None] = time.sleep) -> str:
    """On a link with passes, wait until one is under way with ``needed`` seconds left (an
    availability objective is judged over a pass: outside one nothing is delivered, by
    design). Returns what the evidence should say ("" on a link without passes); raises
    :class:`CheckError` when no pass long enough comes within :data:`PASS_WAIT_S`."""
    windows = link_passes(probe)
    if windows is None:
        return ""
    now = time.time()
    for aos, los in windows:
        start = max(now, aos + PASS_SETTLE_S)
        if los - start >= needed and start - now <= PASS_WAIT_S:
            if start > now:
                sleep(start - now)
            left = los - time.time()
            return f"judged during a pass (LOS in {left:.0f} s)"
    raise CheckError(
        "pass",
        f"no pass with {needed:.0f} s of contact within {PASS_WAIT_S:.0f} s"
        f" (the next ones: {', '.join(f'{los - aos:.0f} s' for aos, los in windows)})",
    )
