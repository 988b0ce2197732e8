"""The JSON API under /api: login, telemetry, events, commands, audit, health.

Errors are ``{"detail": "<one line>"}`` with a 4xx status. Lists are newest first and
bounded; ``before`` (an id) pages back to older entries. Every integer a client sends is
bounded here, at the edge (ids to SQLite's signed 64 bits), so a wild value is a 422.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from labctl.range.hosts import catalog
from labctl.range.hosts.missioncontrol.auth import LoginRefused
from labctl.range.hosts.missioncontrol.commanding import (
    CommandError,
    CommandRequest,
    DirectiveRequest,
    describe,
    public,
)
from labctl.range.hosts.missioncontrol.limits import MAX_ID
from labctl.range.hosts.missioncontrol.settings import (
    MAX_PASSWORD_LENGTH,
    Role,
    notes_for,
    upcoming_passes,
)
from labctl.range.hosts.missioncontrol.webauth import Caller, api_caller, mission, remote

MAX_LIMIT: Final = 500
#: Command arguments are unsigned fields of at most 32 bits; the catalog checks each one.
MIN_ARG: Final = -(2**31)
MAX_ARG: Final = 2**32 - 1
router = APIRouter(prefix="/api")

Viewer = Annotated[Caller, Depends(api_caller(Role.VIEWER))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Before = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="page: only entries with a smaller id")
]
CommandId = Annotated[int, Path(ge=1, le=MAX_ID)]
_HEX_TEXT: Final = re.compile(r"[0-9A-Fa-f: ]{0,256}")


def _argument(value: object) -> int | str:
    """A number, or octets as hex text (the commands' octet arguments, e.g. KEY_OTAR's):
    one error message for both, not one per kind."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not MIN_ARG <= value <= MAX_ARG:
            raise PydanticCustomError("range", f"numbers go from {MIN_ARG} to {MAX_ARG}")
        return value
    if isinstance(value, str) and _HEX_TEXT.fullmatch(value):
        return value
    raise PydanticCustomError("argument", "Input should be a valid integer, or octets as hex text")


Argument = Annotated[
    int | str,
    PlainValidator(_argument),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": MIN_ARG, "maximum": MAX_ARG},
                {"type": "string", "pattern": "^[0-9A-Fa-f: ]{0,256}$"},
            ]
        }
    ),
]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    args: dict[Annotated[str, Field(max_length=64)], Argument] = Field(
        default_factory=dict, max_length=16
    )


def parse_time(text: str | None, name: str) -> float | None:
    """Unix seconds or ISO 8601 (UTC if no zone); None when absent."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(text[:40])
        except ValueError:
            raise HTTPException(422, f"{name}: expected unix seconds or ISO 8601") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        value = when.timestamp()
    if not math.isfinite(value):
        raise HTTPException(422, f"{name}: expected a finite time")
    return value


@router.post("/login")
async def login(body: LoginBody, request: Request) -> dict[str, Any]:
    mc = mission(request)
    try:
        user = await mc.login(body.username, body.password)
    except LoginRefused as exc:
        mc.audit.record(
            body.username, "login", "refused", remote(request), via="api", reason=exc.reason
        )
        raise HTTPException(401, "wrong user name or password") from None
    token, session = mc.sessions.create(user)
    mc.audit.record(user.name, "login", "ok", remote(request), via="api")
    return {
        "token": token,
        "token_type": "bearer",
        "expires_at": session.expires_at,
        "username": user.name,
        "role": user.role.label,
        "notes": notes_for(mc.settings, user.role),
    }


@router.post("/logout")
async def logout(caller: Viewer, request: Request) -> dict[str, str]:
    mc = mission(request)
    mc.sessions.revoke(caller.token)
    mc.audit.record(caller.session.username, "logout", "ok", remote(request), via="api")
    return {"status": "logged out"}


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return mission(request).health()


@router.get("/telemetry/latest")
async def telemetry_latest(_: Viewer, request: Request) -> dict[str, Any]:
    return mission(request).snapshot()


@router.get("/telemetry")
async def telemetry(
    _: Viewer,
    request: Request,
    since: str | None = Query(None, max_length=40),
    until: str | None = Query(None, max_length=40),
    before: Before = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    rows = mission(request).archive.telemetry(
        parse_time(since, "since"), parse_time(until, "until"), before, limit
    )
    for row in rows:
        row["payload_on"] = bool(row["payload_on"])
    return {"telemetry": rows, "count": len(rows)}


@router.get("/events")
async def events(_: Viewer, request: Request, before: Before = None, limit: Limit = 100) -> Any:
    rows = mission(request).archive.events(before, limit)
    return {"events": rows, "count": len(rows)}


@router.get("/commands")
async def commands(caller: Viewer, request: Request) -> dict[str, Any]:
    commander = mission(request).commander
    return {
        "commands": [
            {
                **describe(c),
                "allowed": commander.allowed(caller.session, c),
                "two_person": commander.held(c),
            }
            for c in catalog.COMMANDS
        ]
    }


@router.post("/commands", status_code=201)
async def send_command(
    caller: Viewer, body: CommandBody, request: Request, response: Response
) -> dict[str, Any]:
    """Send a telecommand (201). Under the two-person rule a hazardous one is held for a
    second person's approval instead (202, with ``pending_id``)."""
    mc = mission(request)
    wanted = CommandRequest(caller.session, body.name, dict(body.args), remote(request))
    try:
        row = await mc.commander.send(wanted)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    if row["status"] == "pending":
        response.status_code = 202
        return {"id": None, "status": "pending", "pending_id": row["pending_id"], "seq_count": None}
    return {"id": row["id"], "status": row["status"], "seq_count": row["seq_count"]}


@router.get("/commands/pending")
async def pending_commands(_: Viewer, request: Request) -> dict[str, Any]:
    """Hazardous commands waiting for a second person's approval (two-person rule)."""
    return {"pending": mission(request).commander.pending()}


@router.post("/commands/pending/{pending_id}/approve", status_code=201)
async def approve_command(
    caller: Viewer, pending_id: CommandId, request: Request
) -> dict[str, Any]:
    """A second person approves a held hazardous command: it is sent (201)."""
    try:
        row = await mission(request).commander.approve(pending_id, caller.session, remote(request))
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {"id": row["id"], "status": row["status"], "seq_count": row["seq_count"]}


@router.post("/commands/pending/{pending_id}/reject")
async def reject_command(caller: Viewer, pending_id: CommandId, request: Request) -> dict[str, Any]:
    """Reject a held hazardous command (its requester may withdraw it): it is never sent."""
    try:
        held = mission(request).commander.reject(pending_id, caller.session, remote(request))
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {"rejected": held}


@router.get("/passes")
async def passes(_: Viewer, request: Request) -> dict[str, Any]:
    """The pass under way and the next ones (empty without a pass plan: always in
    contact), from the spacecraft's orbit and the station's coordinates."""
    return {"passes": upcoming_passes(mission(request).settings, time.time())}


@router.get("/parameters")
async def parameters(_: Viewer, request: Request) -> dict[str, Any]:
    """The spacecraft's last parameter report (send REPORT_PARAMETERS for a new one)."""
    return mission(request).parameters()


@router.get("/sdls/replies")
async def sdls_replies(_: Viewer, request: Request) -> dict[str, Any]:
    """The spacecraft's latest SDLS extended-procedure replies, newest first: SA_READ_ARSN,
    SA_STATUS, KEY_INVENTORY and KEY_VERIFY answer with one."""
    return mission(request).sdls_replies()


class DirectiveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directive: str = Field(pattern=r"^(unlock|set_vr)$")
    vr: int | None = Field(default=None, ge=0, le=255)


@router.post("/station/directives", status_code=202)
async def station_directive(
    caller: Viewer, body: DirectiveBody, request: Request
) -> dict[str, Any]:
    """A COP-1 directive to the ground station (Unlock; Set V(R) with ``vr``)."""
    wanted = DirectiveRequest(caller.session, body.directive, body.vr, remote(request))
    try:
        await mission(request).commander.directive(wanted)
    except CommandError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {"directive": body.directive, "vr": body.vr, "status": "sent"}


@router.get("/commands/sent")
async def sent_commands(_: Viewer, request: Request, limit: Limit = 50) -> dict[str, Any]:
    rows = mission(request).archive.commands(limit)
    return {"commands": [public(row) for row in rows]}


@router.get("/commands/sent/{command_id}")
async def sent_command(_: Viewer, command_id: CommandId, request: Request) -> dict[str, Any]:
    row = mission(request).archive.command(command_id)
    if row is None:
        raise HTTPException(404, f"no sent command with id {command_id}")
    return public(row)


@router.get("/audit")
async def audit(
    caller: Annotated[Caller, Depends(api_caller(lambda policy: policy.audit_requires))],
    request: Request,
    before: Before = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    rows = mission(request).archive.audit(before, limit)
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return {"audit": rows, "count": len(rows)}
