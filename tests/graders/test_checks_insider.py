"""The insider checks against a scripted mission control, spacecraft and log collector."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks import BUILTIN_CHECKS
from graders.checks.base import Status
from graders.checks.insider import (
    AuditConcealed,
    AuditConcealedArgs,
    AuditShipped,
    AuditShippedArgs,
    HazardousHeld,
    HazardousHeldArgs,
    shipped,
)
from labctl.errors import BackendError, CheckError
from labctl.range import wiring
from labctl.range.hosts.catalog import COMMANDS


@dataclass
class FakeInsiderRange:
    """Mission control with a two-person switch, an audit switch and shipping; commands
    it sends execute on board at once."""

    two_person: bool = False
    audit_enabled: bool = True
    shipping: bool = False
    audit_readable: bool = True
    audit: list[dict[str, Any]] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)
    store: list[str] = field(default_factory=list)
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: list[int] = field(default_factory=list)
    sends: int = 0
    since: float | None = None

    # -- what happens in the range ------------------------------------------------------------
    def record(self, actor: str, action: str, outcome: str, **detail: Any) -> None:
        if not self.audit_enabled:
            return
        row = {"id": len(self.audit) + 1, "at": time.time(), "actor": actor,
               "action": action, "outcome": outcome, "detail": detail}  # fmt: skip
        self.audit.append(row)
        if self.shipping:
            wrapped = {"received": time.time(), "from": "172.30.1.3", "record": row}
            self.store.append(json.dumps(wrapped))

    def execute(self, name: str, at: float | None = None) -> None:
        self.executed.append(
            {"name": name, "hazardous": True, "result": "completed", "time": at or time.time()}
        )

    # -- the Probe ---------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        return {"executed_commands": list(self.executed)}

    def credentials(self, role: str) -> tuple[str, str]:
        return {"operator": ("operator", "o"), "flight-director": ("flight", "f")}[role]

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        if host != wiring.LOG_SERVER or argv[0] != "tail":
            raise BackendError(f"exec {argv[0]} in {host}", "no such host")
        if not self.store:
            return 1, f"tail: cannot open '{argv[-1]}'"
        return 0, "\n".join(self.store)[-int(argv[2]) :]

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        user = token or ""
        if path == "/api/login":
            assert body is not None
            return 200, {"token": body["username"]}
        if path == "/api/commands" and method == "GET":
            listing = [
                {"name": c.name, "allowed": True, "two_person": c.hazardous and self.two_person}
                for c in COMMANDS
            ]
            return 200, {"commands": listing}
        if path == "/api/commands":
            assert body is not None
            return self._send(user, body)
        return self._other(method, path)

    def _send(self, user: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        self.sends += 1
        name = body["name"]
        hazardous = next(c.hazardous for c in COMMANDS if c.name == name)
        if hazardous and self.two_person:
            ident = len(self.pending) + 1
            self.pending[ident] = dict(body)
            self.record(user, "command.send", "pending", command=name)
            return 202, {"status": "pending", "pending_id": ident}
        self.record(user, "command.send", "ok", command=name)
        if hazardous:
            self.execute(name)
        return 201, {"id": self.sends, "status": "sent"}

    def _other(self, method: str, path: str) -> tuple[int, Any]:
        if path.startswith("/api/commands/pending/") and path.endswith("/reject"):
            ident = int(path.split("/")[4])
            self.pending.pop(ident)
            self.rejected.append(ident)
            return 200, {"id": ident}
        if path.startswith("/api/audit"):
            if not self.audit_readable:
                return 503, {"detail": "archive busy"}
            return 200, {"audit": list(reversed(self.audit))[:500]}
        raise AssertionError(f"unexpected {method} {path}")

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        raise BackendError("vantage", "not used by these checks")

    def restart(self, host: str) -> None:
        raise BackendError(f"restart {host}", "not used by these checks")


def test_the_checks_are_registered() -> None:
    names = {c.name for c in BUILTIN_CHECKS}
    assert {"audit_concealed", "hazardous_held", "audit_shipped"} <= names


# --- audit_concealed -------------------------------------------------------------------------


def concealed(probe: FakeInsiderRange) -> Any:
    return AuditConcealed().judge(AuditConcealedArgs(commands=["THRUSTER_FIRE"]), probe)


def test_a_recorded_hazardous_command_is_not_concealed() -> None:
    probe = FakeInsiderRange()
    probe.api("POST", "/api/commands", {"name": "THRUSTER_FIRE", "args": {}}, "student")
    result = concealed(probe)
    assert result.status is Status.FAIL
    assert "in mission control's audit trail" in result.evidence


def test_a_command_sent_while_the_trail_was_off_is_concealed() -> None:
    probe = FakeInsiderRange()
    probe.record("system", "server.stop", "ok")
    probe.audit_enabled = False
    probe.api("POST", "/api/commands", {"name": "THRUSTER_FIRE", "args": {}}, "student")
    probe.audit_enabled = True
    probe.record("system", "server.start", "ok")
    result = concealed(probe)
    assert result.status is Status.PASS
    assert "THRUSTER_FIRE" in result.evidence


def test_a_record_long_before_the_execution_does_not_cover_it() -> None:
    probe = FakeInsiderRange()
    probe.record("student", "command.send", "ok", command="THRUSTER_FIRE")
    probe.audit[0]["at"] -= 600  # an old, unrelated firing
    probe.execute("THRUSTER_FIRE")
    assert concealed(probe).status is Status.PASS


def test_nothing_executed_is_nothing_concealed() -> None:
    result = concealed(FakeInsiderRange())
    assert result.status is Status.FAIL
    assert "no THRUSTER_FIRE executed" in result.evidence


def test_a_trail_too_long_to_read_whole_is_an_error_not_a_pass() -> None:
    probe = FakeInsiderRange()
    probe.api("POST", "/api/commands", {"name": "THRUSTER_FIRE", "args": {}}, "student")
    for _ in range(600):  # a flood after the firing: the record is deep in the trail
        probe.record("nobody", "login", "refused")
    with pytest.raises(CheckError, match="not all read"):
        concealed(probe)


def test_an_unreadable_trail_is_an_error_not_a_pass() -> None:
    probe = FakeInsiderRange(audit_readable=False)
    probe.execute("THRUSTER_FIRE")
    with pytest.raises(CheckError):
        concealed(probe)


# --- hazardous_held --------------------------------------------------------------------------


def held(probe: FakeInsiderRange, **args: Any) -> Any:
    return HazardousHeld().judge(HazardousHeldArgs(**args), probe)


def test_without_the_rule_nothing_is_sent_and_the_check_fails() -> None:
    probe = FakeInsiderRange(two_person=False)
    result = held(probe, settle=0)
    assert result.status is Status.FAIL
    assert probe.sends == 0
    assert probe.executed == []


def test_under_the_rule_the_command_is_held_and_withdrawn() -> None:
    probe = FakeInsiderRange(two_person=True)
    result = held(probe, settle=1, args={"duration_ms": 100})
    assert result.status is Status.PASS, result.evidence
    assert probe.rejected == [1]
    assert probe.pending == {}
    assert probe.executed == []


def test_a_listing_that_lies_is_caught_when_the_command_goes_out() -> None:
    class Liar(FakeInsiderRange):
        def api(self, method: str, path: str, body: Any = None, token: Any = None) -> Any:
            if method == "GET" and path == "/api/commands":
                self.two_person = True
                answer = super().api(method, path, body, token)
                self.two_person = False
                return answer
            return super().api(method, path, body, token)

    probe = Liar()
    assert held(probe, settle=0).status is Status.FAIL


def test_held_needs_a_hazardous_command() -> None:
    with pytest.raises(ValidationError):
        HazardousHeldArgs(command="PING")


# --- audit_shipped ---------------------------------------------------------------------------


def test_a_shipped_record_is_found_on_the_collector() -> None:
    probe = FakeInsiderRange(shipping=True)
    result = AuditShipped().judge(AuditShippedArgs(within=1), probe)
    assert result.status is Status.PASS, result.evidence
    assert "172.30.1.3" in result.evidence


def test_nothing_shipped_fails() -> None:
    probe = FakeInsiderRange(shipping=False)
    result = AuditShipped().judge(AuditShippedArgs(within=1), probe)
    assert result.status is Status.FAIL
    assert "no record of it reached" in result.evidence


def test_only_mission_controls_own_record_counts() -> None:
    row = {"id": 41, "at": 1000.25, "actor": "operator", "action": "command.send",
           "detail": {"command": "PING"}}  # fmt: skip
    forged = {**row, "at": 1000.0}  # a line written to the collector by hand
    other_id = {**row, "id": 40}
    text = "\n".join(json.dumps({"record": r}) for r in (forged, other_id))
    assert shipped(text, row) is None
    assert shipped('cut line"}\n' + json.dumps({"record": row}), row) is not None


def test_a_forged_line_on_the_collector_does_not_pass() -> None:
    probe = FakeInsiderRange(shipping=False)
    forged = {"action": "command.send", "actor": "operator", "at": time.time() + 1,
              "id": 999, "detail": {"command": "PING"}}  # fmt: skip
    probe.store.append(json.dumps({"received": 0, "from": "x", "record": forged}))
    assert AuditShipped().judge(AuditShippedArgs(within=1), probe).status is Status.FAIL


def test_nothing_recorded_is_nothing_shipped() -> None:
    probe = FakeInsiderRange(shipping=True, audit_enabled=False)
    result = AuditShipped().judge(AuditShippedArgs(within=1), probe)
    assert result.status is Status.FAIL
    assert "own audit trail has no record" in result.evidence


def test_the_collector_host_and_store_are_checked_arguments() -> None:
    with pytest.raises(ValidationError):
        AuditShippedArgs(path="relative/store.jsonl")
    with pytest.raises(ValidationError):
        AuditShippedArgs(command="NO_SUCH_COMMAND")
