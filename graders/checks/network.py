"""Reachability checks: a port closed from where an attacker sits, still open from the
host that needs it.

``port_closed`` connects from the grader vantage (on the instance's rf and corp
networks, where the attacker's workstation and radio are). ``port_open`` connects from
one of the instance's own hosts (out of band: the command runs there through the
container engine), e.g. mission control reaching the ground station's packet service.
Both run one TCP connect with a short timeout (:mod:`labctl.range.vantage.connect`, from
labctl's wheel in every lab image): a refused or timed-out connect is "closed", an
accepted one "open".
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Final

from pydantic import Field, StringConstraints

from graders.checks.base import Check, CheckResult, Probe, Status, failed, passed
from labctl.range import wiring
from labctl.spec.vocabulary import Args

HostName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
CONNECT_TIMEOUT_S: Final = 3.0


def parse_outcome(code: int, output: str) -> tuple[bool, str] | None:
    """(open, detail) from the probe script's last line; None when it did not run."""
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        return None
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("open"), bool):
        return None
    return value["open"], str(value.get("detail", ""))[:200]


def not_run(where: str, output: str) -> CheckResult:
    return CheckResult(Status.ERROR, f"{where}: the probe did not run ({output.strip()[-200:]})")


def _argv(host: str, port: int) -> list[str]:
    """The connect program (labctl.range.vantage.connect) for ``host:port``."""
    return list(wiring.vantage_program("connect", host, str(port), str(CONNECT_TIMEOUT_S)))


class PortClosedArgs(Args):
    host: HostName = Field(description="the instance host whose port must be unreachable")
    port: int = Field(ge=1, le=65535)


class PortClosed(Check[PortClosedArgs]):
    name: ClassVar[str] = "port_closed"
    summary: ClassVar[str] = (
        "A host's TCP port cannot be reached from the attacker's side (the grader vantage)."
    )
    Args = PortClosedArgs

    def judge(self, args: PortClosedArgs, probe: Probe) -> CheckResult:
        code, output = probe.vantage_exec(_argv(args.host, args.port), CONNECT_TIMEOUT_S + 10)
        outcome = parse_outcome(code, output)
        where = f"{args.host}:{args.port}/tcp from the attacker's networks"
        if outcome is None:
            return not_run(where, output)
        is_open, detail = outcome
        if is_open:
            return failed(
                f"{where}: open ({detail})",
                f"Restrict who can reach port {args.port} on {args.host} (firewall, listen address"
                " or allowed clients).",
            )
        return passed(f"{where}: closed ({detail})")


class PortOpenArgs(Args):
    host: HostName = Field(description="the host whose port must stay reachable")
    port: int = Field(ge=1, le=65535)
    source: HostName = Field(description="the instance host that must still reach it")


class PortOpen(Check[PortOpenArgs]):
    name: ClassVar[str] = "port_open"
    summary: ClassVar[str] = (
        "A host's TCP port is still reachable from the host that needs it (e.g. mission control)."
    )
    Args = PortOpenArgs

    def judge(self, args: PortOpenArgs, probe: Probe) -> CheckResult:
        code, output = probe.host_exec(args.source, _argv(args.host, args.port), user="nobody")
        outcome = parse_outcome(code, output)
        where = f"{args.host}:{args.port}/tcp from {args.source}"
        if outcome is None:
            return not_run(where, output)
        is_open, detail = outcome
        if not is_open:
            return failed(
                f"{where}: unreachable ({detail})",
                f"{args.source} needs port {args.port} on {args.host}: the fix went too far.",
            )
        return passed(f"{where}: open ({detail})")
