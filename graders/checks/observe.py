"""Observation helpers shared by checks: ground truth queries and mission control as an operator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from graders.checks.base import Probe
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


def executed(truth: dict[str, Any], service_subtype: str | None = None) -> list[dict[str, Any]]:
    """Executed telecommands (COP-1 directives left out), optionally of one service.subtype."""
    entries: Iterable[dict[str, Any]] = truth.get("executed_commands") or []
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
    """The sent command's final status (completed, failed) or its status when time ran out."""

    def final() -> str | None:
        status, body = probe.api("GET", f"/api/commands/sent/{ident}", None, token)
        state = str(body.get("status")) if status == 200 and isinstance(body, dict) else "unknown"
        return state if state in {"completed", "failed"} else None

    result = wait_for(final, within)
    if result is None:
        _, body = probe.api("GET", f"/api/commands/sent/{ident}", None, token)
        return str(body.get("status", "unknown")) if isinstance(body, dict) else "unknown"
    return result
