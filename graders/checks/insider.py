"""Checks for the insider: one flight director alone sends a hazardous command and hides
it, against the two-person rule and an audit trail kept where they cannot reach it.

``audit_concealed`` (attack) compares the spacecraft's ground truth with mission control's
own audit trail: a hazardous command executed on board with no record of it sent. The
remediation checks act through mission control's HTTP API as the graders' own accounts:
``hazardous_held`` sends a hazardous command only when mission control lists it as held
for a second person (the graders never fire the thruster to prove a point) and withdraws
it afterwards; ``audit_shipped`` finds mission control's own audit record of an
operator's command (same id and time) in the remote collector's store, read on the
collector host, where no student has an account. Anyone on mission control's server can
write lines to the collector; a forged line cannot know the id and time the record will
have, so it cannot stand in for the shipped one.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar, Final

from pydantic import Field, field_validator

from graders.checks.access import (
    HazardousCommandArgs,
    HazardousCommandsArgs,
    answer_detail,
    command_args,
    command_entry,
    hazardous_since,
)
from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import login, wait_for
from labctl.errors import CheckError
from labctl.range import wiring
from labctl.range.hosts.catalog import BY_NAME
from labctl.spec.vocabulary import Args, HostName

#: Rows of mission control's audit trail read at most (pages of 500, newest first).
MAX_AUDIT_ROWS: Final = 5000
AUDIT_PAGE: Final = 500
#: Seconds between an audit record of a command and its execution on board that still
#: match (the command waits in the ground station's queue, a pass may be needed).
MATCH_S: Final = 120.0
#: Octets of the collector's store read (its end: the newest records).
STORE_TAIL: Final = 1024 * 1024
#: The user the collector runs as (containers/runtime/Dockerfile), who owns the store.
STORE_USER: Final = "labctl"


# --- attack: a hazardous command executed with no record of it ----------------------------


class AuditConcealedArgs(HazardousCommandsArgs):
    """The hazardous commands to look at (none = any)."""


def audit_rows(probe: Probe, token: str, oldest: float) -> list[dict[str, Any]]:
    """Mission control's audit rows, newest first, back to ``oldest`` (unix time);
    CheckError when the trail cannot be read, or is longer than :data:`MAX_AUDIT_ROWS`
    since then (a verdict on part of it could miss the record it looks for)."""
    rows: list[dict[str, Any]] = []
    before = ""
    while True:
        if len(rows) >= MAX_AUDIT_ROWS:
            raise CheckError(
                "audit", f"more than {MAX_AUDIT_ROWS} audit records since then: not all read"
            )
        status, body = probe.api("GET", f"/api/audit?limit={AUDIT_PAGE}{before}", None, token)
        page = body.get("audit") if status == 200 and isinstance(body, dict) else None
        if not isinstance(page, list):
            raise CheckError("audit", f"GET /api/audit answered HTTP {status}: cannot read it")
        rows += [row for row in page if isinstance(row, dict)]
        ids = [int(row["id"]) for row in rows if isinstance(row.get("id"), int)]
        times = [float(row["at"]) for row in rows if isinstance(row.get("at"), int | float)]
        if len(page) < AUDIT_PAGE or not ids or not times or min(times) < oldest:
            break
        before = f"&before={min(ids)}"
    return rows


def _records_command(row: dict[str, Any], name: str, executed_at: float) -> bool:
    """Whether ``row`` records ``name`` being sent (or approved) near ``executed_at``."""
    detail = row.get("detail")
    at = row.get("at")
    if not isinstance(detail, dict) or not isinstance(at, int | float):
        return False
    sent = row.get("action") in {"command.send", "command.approve"} and row.get("outcome") == "ok"
    return sent and detail.get("command") == name and executed_at - MATCH_S <= at <= executed_at + 5


class AuditConcealed(Check[AuditConcealedArgs]):
    name: ClassVar[str] = "audit_concealed"
    summary: ClassVar[str] = (
        "Attack objective: a hazardous command executed on board (ground truth) and mission"
        " control's audit trail holds no record of it being sent."
    )
    Args = AuditConcealedArgs

    def judge(self, args: AuditConcealedArgs, probe: Probe) -> CheckResult:
        executed = hazardous_since(probe.truth(), 0.0, args.commands)
        what = ", ".join(args.commands) or "hazardous command"
        if not executed:
            return failed(
                f"no {what} executed on board",
                "The spacecraft must execute the command before there is anything to hide.",
            )
        times = [float(e["time"]) for e in executed]
        rows = audit_rows(probe, login(probe, "flight-director"), min(times) - MATCH_S)
        for entry, when in zip(executed, times, strict=True):
            name = str(entry.get("name"))
            if not any(_records_command(row, name, when) for row in rows):
                return passed(
                    f"{name} {entry.get('args') or {}} executed on board at {when:.0f}; none"
                    f" of {len(rows)} audit record(s) read says it was sent"
                )
        return failed(
            f"all {len(executed)} {what}(s) executed on board are in mission control's"
            f" audit trail ({len(rows)} record(s) read)",
            "What decides whether mission control records anything, and who may change it?",
        )


# --- remediation: a hazardous command waits for a second person ---------------------------


class HazardousHeldArgs(HazardousCommandArgs):
    """The hazardous command to send, its arguments, the seconds to watch ground truth."""


class HazardousHeld(Check[HazardousHeldArgs]):
    name: ClassVar[str] = "hazardous_held"
    summary: ClassVar[str] = (
        "Two-person rule: a flight director's hazardous command is held for a second"
        " person (HTTP 202), and nothing executes on board; the graders withdraw it."
    )
    Args = HazardousHeldArgs

    def judge(self, args: HazardousHeldArgs, probe: Probe) -> CheckResult:
        who = probe.credentials("flight-director")[0]
        token = login(probe, "flight-director")
        entry = command_entry(probe, token, args.command)
        if entry is None or not entry.get("allowed"):
            return unobserved(
                f"mission control does not offer {args.command} to the flight director"
                f" {who!r}: cannot tell whether one person alone could send it"
            )
        if not entry.get("two_person"):
            return failed(
                f"mission control would send {args.command} from {who!r} alone at once"
                " (GET /api/commands: two_person false); not sent",
                "A hazardous command should need a second person's approval.",
            )
        sent_at = time.time()
        wanted = {"name": args.command, "args": command_args(args.command, args.args)}
        status, body = probe.api("POST", "/api/commands", wanted, token)
        pending = body.get("pending_id") if isinstance(body, dict) else None
        if status == 201:
            return failed(f"mission control sent {args.command} from {who!r} alone")
        if status != 202 or not isinstance(pending, int):
            return unobserved(
                f"{args.command} from {who!r}: mission control answered HTTP {status}"
                f" ({answer_detail(body)}), neither held (202) nor sent (201)"
            )
        try:
            ran = wait_for(
                lambda: hazardous_since(probe.truth(), sent_at, [args.command]), args.settle
            )
        finally:
            # Withdraw it: the grader's request must not wait for a real flight director.
            probe.api("POST", f"/api/commands/pending/{pending}/reject", {}, token)
        if ran:
            return failed(f"{args.command} was held for a second person, yet one executed")
        return passed(
            f"{args.command} from {who!r} held for a second person (HTTP 202, pending"
            f" {pending}); none executed within {args.settle} s; withdrawn"
        )


# --- remediation: the audit trail reaches the remote collector ---------------------------


class AuditShippedArgs(Args):
    host: HostName = Field(default=wiring.LOG_SERVER, description="the log collector host")
    path: str = Field(
        default=wiring.LOG_SERVER_STORE,
        pattern=r"^/[A-Za-z0-9._/-]{1,200}$",
        description="its store (JSON lines, as the log-server role writes them)",
    )
    command: str = Field(default="PING", description="the catalogue command an operator sends")
    within: int = Field(default=15, ge=1, le=120, description="seconds for the record to arrive")

    @field_validator("command")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in BY_NAME:
            raise ValueError(f"no catalogue command {name!r}; expected one of {sorted(BY_NAME)}")
        return name


def shipped(text: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The stored line (the collector's wrapper) whose record is mission control's audit
    row ``row`` (same id, time, actor, action and command), or None."""
    detail = row["detail"] if isinstance(row.get("detail"), dict) else {}
    for line in reversed(text.splitlines()):
        try:
            stored = json.loads(line)
        except ValueError:
            continue  # the first line of a tail may be cut
        record = stored.get("record") if isinstance(stored, dict) else None
        if not isinstance(record, dict) or not isinstance(record.get("detail"), dict):
            continue
        same = all(record.get(key) == row.get(key) for key in ("id", "at", "actor", "action"))
        if same and record["detail"].get("command") == detail.get("command"):
            return dict(stored)
    return None


def _sent_row(probe: Probe, actor: str, command: str, since: float) -> dict[str, Any] | None:
    """Mission control's own audit row of ``actor`` sending ``command`` at or after
    ``since`` (read as the grader's flight director), or None."""
    for row in audit_rows(probe, login(probe, "flight-director"), since):
        detail, at = row.get("detail"), row.get("at")
        if (
            row.get("action") == "command.send"
            and row.get("actor") == actor
            and isinstance(detail, dict)
            and detail.get("command") == command
            and isinstance(at, int | float)
            and at >= since
        ):
            return row
    return None


class AuditShipped(Check[AuditShippedArgs]):
    name: ClassVar[str] = "audit_shipped"
    summary: ClassVar[str] = (
        "An operator's command reaches the remote log collector's append-only store (read"
        " on the collector host), not only mission control's own trail."
    )
    Args = AuditShippedArgs

    def judge(self, args: AuditShippedArgs, probe: Probe) -> CheckResult:
        actor = probe.credentials("operator")[0]
        token = login(probe, "operator")
        since = time.time() - 2.0  # mission control's clock and the grader's may differ
        wanted = {"name": args.command, "args": {}}
        sent, _ = probe.api("POST", "/api/commands", wanted, token)

        # The record to look for is the one mission control itself wrote: its id and time
        # come from its own trail, so a line forged into the collector cannot stand in.
        row = wait_for(lambda: _sent_row(probe, actor, args.command, since), 5)
        if row is None:
            return failed(
                f"{actor!r} sent {args.command} (HTTP {sent}); mission control's own audit"
                " trail has no record of it, so there is nothing to ship",
                "Keep mission control's audit trail on (audit_log.enabled).",
            )

        def find() -> dict[str, Any] | None:
            # As the collector's own user: the store is its file (0640), and the hosts'
            # root holds no capability to read other users' files.
            argv = ["tail", "-c", str(STORE_TAIL), args.path]
            code, text = probe.host_exec(args.host, argv, user=STORE_USER)
            return shipped(text, row) if code == 0 else None

        stored = wait_for(find, args.within, growth=1.5)
        if stored is None:
            return failed(
                f"{actor!r} sent {args.command} (HTTP {sent}); no record of it reached"
                f" {args.host}:{args.path} within {args.within} s",
                "Ship mission control's audit trail to the remote collector"
                " (audit_log.remote in its configuration).",
            )
        return passed(
            f"{actor!r} sent {args.command} (HTTP {sent}); {args.host} stored mission"
            f" control's audit record {row.get('id')} of it, received from {stored.get('from')}"
        )
