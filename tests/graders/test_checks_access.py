"""The access-control checks against a scripted mission control and spacecraft (no containers)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks import BUILTIN_CHECKS
from graders.checks import access as access_module
from graders.checks.access import (
    AuditRecorded,
    AuditRecordedArgs,
    HazardousExecuted,
    HazardousExecutedArgs,
    HazardousRefused,
    HazardousRefusedArgs,
    LoginRefused,
    LoginRefusedArgs,
    hazardous_since,
)
from graders.checks.base import Status
from labctl.errors import BackendError, CheckError
from labctl.range.hosts.catalog import BY_NAME, COMMANDS

ROLES = {"viewer": 1, "operator": 2, "flight-director": 3}
#: The grader's own account, which login_refused logs in with first (it must get in).
OPERATOR = {"operator": ("operator", "operator")}


@dataclass
class FakeMissionControl:
    """Mission control with a policy and an audit switch; commands execute on board at once."""

    users: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "admin": ("admin", "flight-director"),
            "flight": ("flight-director-example", "flight-director"),
            "operator": ("operator", "operator"),
        }
    )
    hazardous_requires: str = "flight-director"
    audit_enabled: bool = True
    #: Whether the server's answer to POST /api/commands ignores its own GET /api/commands.
    inconsistent: bool = False
    log: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    unreachable: bool = False
    tokens: dict[str, str] = field(default_factory=dict)

    # -- the Probe ---------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        if self.unreachable:
            raise BackendError("exec cat in spacecraft", "no such container")
        return {"executed_commands": list(self.log)}

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        raise BackendError("vantage", "not used by these checks")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError(f"exec {argv[0]} in {host}", "not used by these checks")

    def credentials(self, role: str) -> tuple[str, str]:
        accounts = {"operator": ("operator", "operator"), "flight-director": ("flight", "x")}
        if role not in accounts:
            raise CheckError("credentials", role)
        user = accounts[role][0]
        return user, self.users[user][0] if user in self.users else "x"

    def restart(self, host: str) -> None:
        raise BackendError(f"restart {host}", "not used by these checks")

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        if self.unreachable:
            raise BackendError("mission control", "connection refused")
        body = body or {}
        if path == "/api/login":
            return self._login(str(body["username"]), str(body["password"]))
        user = self.tokens.get(token or "")
        if user is None:
            return 401, {"detail": "log in first"}
        if path == "/api/commands":
            return self._commands(user, method, body)
        if path.startswith("/api/audit"):
            if ROLES[self.users[user][1]] < 3:
                return 403, {"detail": "this needs role flight-director"}
            return 200, {"audit": list(reversed(self.audit)), "count": len(self.audit)}
        return 404, {"detail": "no such path"}

    def _record(self, actor: str, action: str, outcome: str, **detail: Any) -> None:
        if self.audit_enabled:
            row = {"id": len(self.audit) + 1, "at": time.time(), "actor": actor}
            self.audit.append({**row, "action": action, "outcome": outcome, "detail": detail})

    def _login(self, user: str, password: str) -> tuple[int, Any]:
        self.logins.append(password)
        if user in self.users and self.users[user][0] == password:
            self.tokens[f"t-{user}"] = user
            self._record(user, "login", "ok")
            return 200, {"token": f"t-{user}"}
        self._record(user, "login", "refused")
        return 401, {"detail": "wrong user name or password"}

    def _commands(self, user: str, method: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        if method == "GET":
            listed = [{"name": c.name, "allowed": self._may(user, c.name)} for c in COMMANDS]
            return 200, {"commands": listed}
        return self._command(user, str(body["name"]), dict(body.get("args") or {}))

    def _may(self, user: str, name: str) -> bool:
        role = ROLES[self.users[user][1]]
        return not BY_NAME[name].hazardous or role >= ROLES[self.hazardous_requires]

    def _command(self, user: str, name: str, args: dict[str, int]) -> tuple[int, Any]:
        if not self._may(user, name) and not self.inconsistent:
            self._record(user, "command.send", "refused", command=name)
            return 403, {"detail": f"hazardous command needs role {self.hazardous_requires}"}
        self._record(user, "command.send", "ok", command=name)
        self.execute(name, args)
        return 201, {"id": len(self.log), "status": "sent"}

    def execute(self, name: str, args: dict[str, int], when: float | None = None) -> None:
        command = BY_NAME[name]
        self.log.append(
            {
                "time": time.time() if when is None else when,
                "service": command.service,
                "subtype": command.subtype,
                "name": name,
                "args": args,
                "hazardous": command.hazardous,
                "spi": 1,
                "sequence_number": len(self.log),
                "result": "completed",
            }
        )


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_module, "wait_for", lambda observe, seconds, poll=0.0: observe())


def test_the_checks_are_registered() -> None:
    names = {check.name for check in BUILTIN_CHECKS}
    assert {"hazardous_executed", "login_refused", "hazardous_refused", "audit_recorded"} <= names


# --- hazardous_executed -------------------------------------------------------------------


def test_hazardous_executed_passes_on_a_thruster_fire_on_record() -> None:
    mc = FakeMissionControl()
    mc.execute("THRUSTER_FIRE", {"duration_ms": 500}, when=time.time() - 3600)
    result = HazardousExecuted().run(HazardousExecutedArgs(), mc)
    assert result.status is Status.PASS, result.evidence
    assert "THRUSTER_FIRE {'duration_ms': 500}" in result.evidence


def test_hazardous_executed_ignores_harmless_and_failed_commands() -> None:
    mc = FakeMissionControl()
    mc.execute("PING", {})
    mc.execute("THRUSTER_FIRE", {"duration_ms": 1})
    mc.log[-1]["result"] = "failed: BAD_ARGUMENTS"
    result = HazardousExecuted().run(HazardousExecutedArgs(within=1), mc)
    assert result.status is Status.FAIL
    assert "no hazardous command executed on board" in result.evidence


def test_hazardous_executed_filters_by_name() -> None:
    mc = FakeMissionControl()
    mc.execute("SAFE_MODE", {})
    assert HazardousExecuted().run(HazardousExecutedArgs(), mc).passed
    only_thruster = HazardousExecutedArgs(commands=["THRUSTER_FIRE"])
    assert not HazardousExecuted().run(only_thruster, mc).passed


def test_hazardous_executed_names_only_hazardous_commands() -> None:
    with pytest.raises(ValidationError, match="not a hazardous command"):
        HazardousExecutedArgs(commands=["PING"])


def test_hazardous_since_skips_malformed_entries() -> None:
    truth = {"executed_commands": [None, {"hazardous": True, "name": "SAFE_MODE", "time": "x"}]}
    assert hazardous_since(truth, 0.0) == []


# --- login_refused ------------------------------------------------------------------------


def test_login_refused_fails_when_a_word_of_the_list_logs_in() -> None:
    mc = FakeMissionControl(users={"admin": ("dragon", "flight-director"), **OPERATOR})
    result = LoginRefused().run(LoginRefusedArgs(wordlist="weak-passwords"), mc)
    assert result.status is Status.FAIL
    assert "'d*****'" in result.evidence
    assert "dragon" not in result.evidence
    assert mc.logins[-1] == "dragon"  # it stops at the first success


def test_login_refused_tries_the_given_passwords_first_then_passes() -> None:
    mc = FakeMissionControl(
        users={"admin": ("Xk3-long-and-random-9q", "flight-director"), **OPERATOR}
    )
    args = LoginRefusedArgs(passwords=["summer2024", "admin"], wordlist="weak-passwords")
    result = LoginRefused().run(args, mc)
    assert result.status is Status.PASS, result.evidence
    assert mc.logins[:3] == ["operator", "summer2024", "admin"]
    tried = mc.logins[1:]  # after the grader's own login
    assert len(tried) == len(set(tried))  # "admin" is in the list too: tried once


def test_login_refused_passes_when_the_account_is_gone() -> None:
    mc = FakeMissionControl(users={"flight": ("strong", "flight-director"), **OPERATOR})
    assert LoginRefused().run(LoginRefusedArgs(passwords=["admin"]), mc).passed


def test_login_refused_is_an_error_when_mission_control_refuses_everyone() -> None:
    # A login that lets nobody in refuses weak passwords too: nothing tells the two apart.
    mc = FakeMissionControl(users={})
    result = LoginRefused().run(LoginRefusedArgs(passwords=["admin"]), mc)
    assert result.status is Status.ERROR
    assert "could not log in" in result.evidence
    assert len(mc.logins) == 1  # the grader's own login; not one candidate tried


def test_login_refused_is_an_error_on_an_answer_that_is_neither_in_nor_refused() -> None:
    mc = FakeMissionControl()
    original = mc._login

    def broken(user: str, password: str) -> tuple[int, Any]:
        return (500, {"detail": "database locked"}) if user == "admin" else original(user, password)

    mc._login = broken  # type: ignore[method-assign]
    result = LoginRefused().run(LoginRefusedArgs(passwords=["nope"]), mc)
    assert result.status is Status.ERROR
    assert "HTTP 500" in result.evidence
    assert "cannot tell" in result.evidence


def test_login_refused_needs_something_to_try_and_a_known_list() -> None:
    with pytest.raises(ValidationError, match="give passwords, a wordlist"):
        LoginRefusedArgs()
    result = LoginRefused().run(LoginRefusedArgs(wordlist="no-such-list"), FakeMissionControl())
    assert result.status is Status.ERROR
    assert "no-such-list" in result.evidence


# --- hazardous_refused --------------------------------------------------------------------


def test_hazardous_refused_fails_without_firing_when_an_operator_may_fire() -> None:
    mc = FakeMissionControl(hazardous_requires="operator")
    result = HazardousRefused().run(HazardousRefusedArgs(settle=0), mc)
    assert result.status is Status.FAIL
    assert "lists THRUSTER_FIRE as allowed for 'operator'" in result.evidence
    assert mc.log == []  # the graders do not fire the thruster to prove it


def test_hazardous_refused_fails_when_the_server_accepts_what_it_does_not_offer() -> None:
    mc = FakeMissionControl(inconsistent=True)
    result = HazardousRefused().run(HazardousRefusedArgs(settle=0), mc)
    assert result.status is Status.FAIL
    assert "accepted THRUSTER_FIRE from 'operator'" in result.evidence
    assert mc.log[-1]["args"] == {"duration_ms": 1}


def test_hazardous_refused_passes_on_403_with_nothing_on_board() -> None:
    mc = FakeMissionControl()
    result = HazardousRefused().run(HazardousRefusedArgs(command="SAFE_MODE", settle=0), mc)
    assert result.status is Status.PASS, result.evidence
    assert "HTTP 403" in result.evidence
    assert mc.log == []


def test_hazardous_refused_fails_when_something_executes_anyway() -> None:
    mc = FakeMissionControl()
    original = mc._command

    def refused_but_executed(user: str, name: str, args: dict[str, int]) -> tuple[int, Any]:
        mc.execute(name, args)  # another path to the spacecraft
        return original(user, name, args)

    mc._command = refused_but_executed  # type: ignore[method-assign]
    result = HazardousRefused().run(HazardousRefusedArgs(), mc)
    assert result.status is Status.FAIL
    assert "yet one executed on board" in result.evidence


def test_hazardous_refused_with_an_explicit_account() -> None:
    mc = FakeMissionControl(hazardous_requires="viewer")
    mc.users["guest"] = ("guest", "viewer")
    args = HazardousRefusedArgs(username="guest", password="guest")
    assert not HazardousRefused().run(args, mc).passed
    wrong = HazardousRefusedArgs(username="guest", password="nope")
    result = HazardousRefused().run(wrong, FakeMissionControl())
    assert result.status is Status.ERROR
    assert "could not log in" in result.evidence


def test_hazardous_refused_is_an_error_on_an_answer_that_is_not_a_policy_refusal() -> None:
    mc = FakeMissionControl()
    mc._command = lambda user, name, args: (502, {"detail": "ground link down"})  # type: ignore[method-assign]
    result = HazardousRefused().run(HazardousRefusedArgs(settle=0), mc)
    assert result.status is Status.ERROR
    assert "HTTP 502" in result.evidence
    assert "cannot tell whether the policy holds" in result.evidence


def test_hazardous_refused_args_are_checked() -> None:
    with pytest.raises(ValidationError, match="together"):
        HazardousRefusedArgs(username="guest")
    with pytest.raises(ValidationError, match="not a hazardous command"):
        HazardousRefusedArgs(command="PING")
    with pytest.raises(ValidationError, match="takes arguments"):
        HazardousRefusedArgs(args={"mode": 1})


# --- audit_recorded -----------------------------------------------------------------------


def test_audit_recorded_passes_when_the_trail_holds_the_command() -> None:
    result = AuditRecorded().run(AuditRecordedArgs(), FakeMissionControl())
    assert result.status is Status.PASS, result.evidence
    assert "command.send ok" in result.evidence


def test_audit_recorded_fails_without_an_audit_trail() -> None:
    mc = FakeMissionControl(audit_enabled=False)
    result = AuditRecorded().run(AuditRecordedArgs(command="THRUSTER_FIRE", within=1), mc)
    assert result.status is Status.FAIL
    assert "no audit record" in result.evidence


def test_audit_recorded_is_an_error_when_the_flight_director_cannot_read_it() -> None:
    mc = FakeMissionControl()
    mc.users["flight"] = ("flight-director-example", "operator")
    result = AuditRecorded().run(AuditRecordedArgs(), mc)
    assert result.status is Status.ERROR
    assert "cannot read it (HTTP 403)" in result.evidence


@pytest.mark.parametrize(
    ("check", "args"),
    [
        (HazardousExecuted(), HazardousExecutedArgs()),
        (LoginRefused(), LoginRefusedArgs(passwords=["admin"])),
        (HazardousRefused(), HazardousRefusedArgs()),
        (AuditRecorded(), AuditRecordedArgs()),
    ],
)
def test_unreachable_instance_is_an_error_not_a_verdict(check: Any, args: Any) -> None:
    result = check.run(args, FakeMissionControl(unreachable=True))
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


def test_ground_truth_without_its_command_log_is_an_error() -> None:
    mc = FakeMissionControl()
    mc.truth = lambda: {"schema": 1}  # type: ignore[method-assign]
    for check, args in [
        (HazardousExecuted(), HazardousExecutedArgs(within=1)),
        (HazardousRefused(), HazardousRefusedArgs(settle=0)),
    ]:
        result = check.run(args, mc)
        assert result.status is Status.ERROR, result.evidence
        assert "no executed_commands list" in result.evidence
