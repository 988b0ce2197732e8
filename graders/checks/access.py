"""Checks on mission control's access control: who logs in, who may send hazardous commands,
and whether mission control keeps an audit trail of what they did.

Each check acts through mission control's HTTP API like a user would; the spacecraft's
ground truth (its executed-command log) only answers "did it execute". The graders never
fire the thruster to prove a point: an account that mission control lists as allowed to
send a hazardous command has already failed the check.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ClassVar, Final, Self

from pydantic import Field, field_validator, model_validator

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import login, truth_list, wait_for
from labctl.errors import CheckError, LabctlError
from labctl.range.hosts.catalog import BY_NAME, COMMANDS
from labctl.spec.params import wordlist
from labctl.spec.vocabulary import Args

HAZARDOUS: Final = tuple(c.name for c in COMMANDS if c.hazardous)
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,64}$"
#: Statuses of a refused login (401; 403/429 if a proxy or a lockout answers so).
REFUSED: Final = frozenset({401, 403, 429})
MAX_CANDIDATES: Final = 2000


def hazardous_name(name: str) -> str:
    if name not in HAZARDOUS:
        raise ValueError(f"{name!r} is not a hazardous command; expected one of {HAZARDOUS}")
    return name


def command_args(name: str, given: dict[str, int]) -> dict[str, int]:
    """``given``, or 1 for every argument the catalogue command takes."""
    return given or dict.fromkeys(BY_NAME[name].arg_names, 1)


def hazardous_since(truth: dict[str, Any], since: float, names: Iterable[str] = ()) -> list[Any]:
    """Hazardous telecommands the spacecraft completed at or after ``since`` (unix time;
    0 for the whole history ground truth holds)."""
    wanted = set(names) or set(HAZARDOUS)
    found = []
    for entry in truth_list(truth, "executed_commands"):
        if not entry.get("hazardous"):
            continue
        when = entry.get("time")
        recent = isinstance(when, int | float) and when >= since
        if recent and entry.get("name") in wanted and entry.get("result") == "completed":
            found.append(entry)
    return found


def answer_detail(body: Any) -> str:
    text = body.get("detail") if isinstance(body, dict) else body
    return str(text)[:160]


# --- attack: a hazardous command executed -------------------------------------------------


class HazardousCommandsArgs(Args):
    """Which hazardous commands a check looks at."""

    commands: list[str] = Field(
        default_factory=list,
        max_length=len(HAZARDOUS),
        description="hazardous catalogue commands to count (THRUSTER_FIRE, SAFE_MODE); none = any",
    )

    @field_validator("commands")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return [hazardous_name(name) for name in names]


class HazardousExecutedArgs(HazardousCommandsArgs):
    within: int = Field(
        default=30, ge=1, le=300, description="seconds to wait for the command to execute"
    )
    at_least: dict[str, int] = Field(
        default_factory=dict,
        max_length=8,
        description="count only commands whose arguments are at least these values"
        " (e.g. {duration_ms: 10000}: a burn longer than the limits allow)",
    )


def _at_least(entry: dict[str, Any], bounds: dict[str, int]) -> bool:
    args = entry.get("args")
    if not isinstance(args, dict):
        return not bounds
    return all(isinstance(args.get(k), int) and args[k] >= v for k, v in bounds.items())


class HazardousExecuted(Check[HazardousExecutedArgs]):
    name: ClassVar[str] = "hazardous_executed"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft executed a hazardous command (THRUSTER_FIRE,"
        " SAFE_MODE), according to its ground truth."
    )
    Args = HazardousExecutedArgs

    def observation(self, args: HazardousExecutedArgs) -> HazardousExecutedArgs:
        return args.model_copy(update={"within": 1})  # look once: the board comes back

    def judge(self, args: HazardousExecutedArgs, probe: Probe) -> CheckResult:
        def executed() -> list[Any]:
            found = hazardous_since(probe.truth(), 0.0, args.commands)
            return [e for e in found if _at_least(e, args.at_least)]

        found = wait_for(executed, args.within)
        what = ", ".join(args.commands) or "hazardous command"
        if args.at_least:
            what += " with " + ", ".join(f"{k} >= {v}" for k, v in args.at_least.items())
        if not found:
            return failed(
                f"no {what} executed on board",
                "Find an account that may send hazardous commands, then send one.",
            )
        entry = found[-1]
        return passed(
            f"the spacecraft executed {entry.get('name')} {entry.get('args') or {}}"
            f" ({len(found)} hazardous command(s) on record)"
        )


# --- remediation: weak passwords no longer log in -----------------------------------------


class LoginRefusedArgs(Args):
    username: str = Field(default="admin", pattern=USERNAME_PATTERN)
    passwords: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="passwords to try first (e.g. the injected one, rendered from params)",
    )
    wordlist: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="a shipped word list (labctl/data/wordlists/NAME.txt) to try after them",
    )

    @model_validator(mode="after")
    def _something_to_try(self) -> Self:
        if not self.passwords and self.wordlist is None:
            raise ValueError("give passwords, a wordlist, or both")
        return self


def _candidates(args: LoginRefusedArgs) -> list[str]:
    words: tuple[str, ...] = ()
    if args.wordlist is not None:
        try:
            words = wordlist(args.wordlist)
        except LabctlError as exc:
            raise CheckError("wordlist", str(exc)) from None
    return list(dict.fromkeys([*args.passwords, *words]))[:MAX_CANDIDATES]


def _masked(password: str) -> str:
    return password[:1] + "*" * max(0, len(password) - 1)


class LoginRefused(Check[LoginRefusedArgs]):
    name: ClassVar[str] = "login_refused"
    summary: ClassVar[str] = (
        "Weak or default passwords (a list and/or a shipped word list) no longer log in to"
        " mission control's account, tried through the API like an attacker."
    )
    Args = LoginRefusedArgs

    def judge(self, args: LoginRefusedArgs, probe: Probe) -> CheckResult:
        candidates = _candidates(args)
        if probe.credentials("operator")[0] != args.username:
            # A login that refuses everyone refuses weak passwords too: show that it still
            # lets the grader's own account in, or nothing tells the two apart.
            login(probe, "operator")
        for number, password in enumerate(candidates, 1):
            body = {"username": args.username, "password": password}
            status, answer = probe.api("POST", "/api/login", body)
            if status == 200:
                return failed(
                    f"{args.username!r} logs in with the weak password {_masked(password)!r}"
                    f" (candidate {number} of {len(candidates)})",
                    "Give the account a strong password, stored as a hash.",
                )
            if status not in REFUSED:
                return unobserved(
                    f"login as {args.username!r}: mission control answered HTTP {status}"
                    f" ({answer_detail(answer)}), neither in nor refused: cannot tell whether the"
                    f" weak password {_masked(password)!r} logs in"
                )
        return passed(f"none of {len(candidates)} weak password(s) logs in as {args.username!r}")


# --- remediation: a non-flight-director cannot send hazardous commands --------------------


class HazardousCommandArgs(Args):
    """A hazardous command a check sends, and how long it watches ground truth after."""

    command: str = Field(default="THRUSTER_FIRE", description="a hazardous catalogue command")
    args: dict[str, int] = Field(
        default_factory=dict, max_length=8, description="its arguments (default: 1 for each)"
    )
    settle: int = Field(default=5, ge=0, le=60, description="seconds to watch ground truth")

    @field_validator("command")
    @classmethod
    def _hazardous(cls, name: str) -> str:
        return hazardous_name(name)


class HazardousRefusedArgs(HazardousCommandArgs):
    role: str = Field(
        default="operator",
        pattern=r"^operator$",
        description="grader account to try with (when no username is given)",
    )
    username: str | None = Field(default=None, pattern=USERNAME_PATTERN)
    password: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _account(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("give username and password together")
        expected = set(BY_NAME[self.command].arg_names)
        if self.args and set(self.args) != expected:
            raise ValueError(f"{self.command} takes arguments {sorted(expected)}")
        return self


def _token(probe: Probe, username: str, password: str) -> str:
    status, body = probe.api("POST", "/api/login", {"username": username, "password": password})
    if status != 200 or not isinstance(body, dict) or "token" not in body:
        raise CheckError("login", f"{username!r} could not log in (HTTP {status})")
    return str(body["token"])


def command_entry(probe: Probe, token: str, name: str) -> dict[str, Any] | None:
    """``name``'s entry of GET /api/commands for this session (``allowed``,
    ``two_person``, ...), or None; CheckError when the listing cannot be read."""
    status, body = probe.api("GET", "/api/commands", None, token)
    commands = body.get("commands") if status == 200 and isinstance(body, dict) else None
    if not isinstance(commands, list):
        raise CheckError("commands", f"GET /api/commands answered HTTP {status}")
    return next((c for c in commands if isinstance(c, dict) and c.get("name") == name), None)


def _offered(probe: Probe, token: str, name: str) -> bool:
    """Whether GET /api/commands says this session may send ``name``."""
    entry = command_entry(probe, token, name)
    return entry is not None and bool(entry.get("allowed"))


class HazardousRefused(Check[HazardousRefusedArgs]):
    name: ClassVar[str] = "hazardous_refused"
    summary: ClassVar[str] = (
        "A non-flight-director account is not offered a hazardous command, is refused it"
        " (HTTP 403) when it tries, and nothing of the kind executes on board."
    )
    Args = HazardousRefusedArgs

    def judge(self, args: HazardousRefusedArgs, probe: Probe) -> CheckResult:
        if args.username is not None and args.password is not None:
            who, token = args.username, _token(probe, args.username, args.password)
        else:
            who, token = probe.credentials(args.role)[0], login(probe, args.role)
        if _offered(probe, token, args.command):
            return failed(
                f"mission control lists {args.command} as allowed for {who!r}"
                " (GET /api/commands); not sent",
                "Only flight directors may send hazardous commands (policy).",
            )
        sent_at = time.time()
        wanted = {"name": args.command, "args": command_args(args.command, args.args)}
        status, body = probe.api("POST", "/api/commands", wanted, token)
        if status == 201:
            return failed(
                f"mission control accepted {args.command} from {who!r}",
                "Only flight directors may send hazardous commands (policy).",
            )
        if status != 403:
            return unobserved(
                f"{args.command} from {who!r}: mission control answered HTTP {status}"
                f" ({answer_detail(body)}), neither accepted (201) nor refused by policy (403):"
                " cannot tell whether the policy holds"
            )
        ran = wait_for(lambda: hazardous_since(probe.truth(), sent_at, [args.command]), args.settle)
        if ran:
            return failed(f"{args.command} refused for {who!r}, yet one executed on board")
        return passed(
            f"{args.command} from {who!r} refused with HTTP 403 ({answer_detail(body)});"
            f" none executed on board within {args.settle} s"
        )


# --- remediation: actions reach the audit trail -------------------------------------------


class AuditRecordedArgs(Args):
    role: str = Field(
        default="operator", pattern=r"^operator$", description="the account that acts"
    )
    command: str = Field(default="PING", description="the catalogue command it sends")
    args: dict[str, int] = Field(default_factory=dict, max_length=8)
    within: int = Field(default=10, ge=1, le=120, description="seconds for the record to appear")

    @field_validator("command")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in BY_NAME:
            raise ValueError(f"no catalogue command {name!r}; expected one of {sorted(BY_NAME)}")
        return name


def _recorded(rows: Any, actor: str, command: str, since: float) -> dict[str, Any] | None:
    for row in rows if isinstance(rows, list) else []:
        detail = row.get("detail") if isinstance(row, dict) else None
        if not isinstance(detail, dict) or row.get("action") != "command.send":
            continue
        at = row.get("at")
        recent = isinstance(at, int | float) and at >= since
        if row.get("actor") == actor and detail.get("command") == command and recent:
            return dict(row)
    return None


class AuditRecorded(Check[AuditRecordedArgs]):
    name: ClassVar[str] = "audit_recorded"
    summary: ClassVar[str] = (
        "An operator's command attempt appears in mission control's audit trail, as a"
        " flight director reads it (GET /api/audit)."
    )
    Args = AuditRecordedArgs

    def judge(self, args: AuditRecordedArgs, probe: Probe) -> CheckResult:
        actor = probe.credentials(args.role)[0]
        token = login(probe, args.role)
        # Whole seconds: the grader's clock and mission control's may differ by a little.
        since = time.time() - 2.0
        wanted = {"name": args.command, "args": command_args(args.command, args.args)}
        sent, _ = probe.api("POST", "/api/commands", wanted, token)
        reader = login(probe, "flight-director")

        def find() -> dict[str, Any] | None:
            status, body = probe.api("GET", "/api/audit?limit=200", None, reader)
            if status != 200 or not isinstance(body, dict):
                raise CheckError("audit", f"the flight director cannot read it (HTTP {status})")
            return _recorded(body.get("audit"), actor, args.command, since)

        row = wait_for(find, args.within)
        if row is None:
            return failed(
                f"{actor!r} sent {args.command} (HTTP {sent}); no audit record of it"
                f" after {args.within} s",
                "Mission control must keep an audit trail of every command attempt.",
            )
        return passed(
            f"{actor!r} sent {args.command} (HTTP {sent}); audit record {row.get('id')}:"
            f" command.send {row.get('outcome')}"
        )
