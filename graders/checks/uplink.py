"""Checks on the telecommand uplink and the telemetry downlink.

The availability checks (``command_round_trip``, ``telemetry_fresh``) judge what mission
control answers; one that cannot ask it (mission control unreachable, the grader's
account refused, an answer it cannot read) is an error that says what failed, not a
verdict on the student's fix.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from pydantic import Field

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import (
    command_name,
    executed,
    login,
    uplink_state,
    verification,
    wait_for_pass,
)
from graders.checks.replay import replay_outcome
from labctl.spec.vocabulary import Args


class ReplayRejectedArgs(Args):
    command: str = Field(
        default="17.1", pattern=r"^\d{1,3}\.\d{1,3}$", description="PUS service.subtype to record"
    )
    after_restart: bool = Field(
        default=False,
        description="also replay after restarting the spacecraft (sequence numbers persisted?)",
    )
    attempts: int = Field(default=3, ge=1, le=50)


class ReplayRejected(Check[ReplayRejectedArgs]):
    name: ClassVar[str] = "replay_rejected"
    summary: ClassVar[str] = (
        "A recorded uplink frame, transmitted again, is not executed (spacecraft ground truth)."
    )
    Args = ReplayRejectedArgs

    def judge(self, args: ReplayRejectedArgs, probe: Probe) -> CheckResult:
        return replay_outcome(probe, args.command, args.attempts, args.after_restart)


class CommandRoundTripArgs(Args):
    command: str = Field(default="17.1", pattern=r"^\d{1,3}\.\d{1,3}$")
    role: str = Field(default="operator", pattern=r"^(operator|flight-director)$")
    within: int = Field(default=20, ge=1, le=300, description="seconds for the acceptance report")


class CommandRoundTrip(Check[CommandRoundTripArgs]):
    name: ClassVar[str] = "command_round_trip"
    summary: ClassVar[str] = (
        "An operator's command goes mission control → ground station → spacecraft and is verified."
    )
    Args = CommandRoundTripArgs

    def judge(self, args: CommandRoundTripArgs, probe: Probe) -> CheckResult:
        name = command_name(args.command)
        during = wait_for_pass(probe, args.within)
        token = login(probe, args.role)
        sent, body = probe.api("POST", "/api/commands", {"name": name, "args": {}}, token)
        ident = body.get("id") if sent == 201 and isinstance(body, dict) else None
        if not isinstance(ident, int):
            return failed(
                f"{args.role} could not send {name}: mission control answered HTTP {sent}"
                f" ({str(body)[:160]})",
                HINT,
            )
        status = verification(probe, token, ident, args.within)
        if status == "completed":
            return passed(
                f"{args.role} sent {name}; the spacecraft reported completion"
                + (f" ({during})" if during else "")
            )
        uplink = uplink_state(probe)
        return failed(
            f"{args.role} sent {name}; after {args.within} s its status is {status!r}"
            + (f"; {uplink}" if uplink else ""),
            HINT,
        )


HINT = "Hardening that stops mission control from commanding earns nothing."


class TelemetryFreshArgs(Args):
    max_age: int = Field(default=15, ge=1, le=600, description="seconds")


class TelemetryFresh(Check[TelemetryFreshArgs]):
    name: ClassVar[str] = "telemetry_fresh"
    summary: ClassVar[str] = "Mission control shows housekeeping telemetry newer than max_age."
    Args = TelemetryFreshArgs

    def judge(self, args: TelemetryFreshArgs, probe: Probe) -> CheckResult:
        during = wait_for_pass(probe, 1.0)
        token = login(probe, "operator")
        status, body = probe.api("GET", "/api/telemetry/latest", None, token)
        if status != 200 or not isinstance(body, dict):
            return unobserved(
                f"cannot observe: mission control answered HTTP {status} to GET"
                f" /api/telemetry/latest ({str(body)[:160]})"
            )
        age = body.get("age_seconds")
        if not isinstance(age, int | float) or isinstance(age, bool):
            return failed("mission control has received no housekeeping telemetry")
        if age <= args.max_age:
            return passed(
                f"latest housekeeping is {age:.1f} s old (limit {args.max_age} s)"
                + (f", {during}" if during else "")
            )
        return failed(f"latest housekeeping is {age:.1f} s old (limit {args.max_age} s)")


class ReplayExecutedArgs(Args):
    command: str | None = Field(
        default=None,
        pattern=r"^\d{1,3}\.\d{1,3}$",
        description="only count this PUS service.subtype; none = any command",
    )


class ReplayExecuted(Check[ReplayExecutedArgs]):
    name: ClassVar[str] = "replay_executed"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft executed one uplink frame (same SPI and sequence"
        " number) more than once."
    )
    Args = ReplayExecutedArgs

    def judge(self, args: ReplayExecutedArgs, probe: Probe) -> CheckResult:
        truth = probe.truth()
        twice = replayed_frames(truth, args.command)
        what = f"PUS {args.command}" if args.command else "any command"
        if not twice:
            other = replayed_frames(truth, None) if args.command else []
            if other:
                return failed(
                    f"a frame of another command (PUS {_command_of(truth, other[0])}) executed"
                    f" more than once; this objective counts {what} only",
                    f"Replay a frame that carries PUS {args.command}.",
                )
            return failed(f"no frame ({what}) executed more than once", "Capture, then replay.")
        spi, seq = twice[0]
        return passed(f"frame SPI {spi} sequence number {seq} ({what}) executed more than once")


def _command_of(truth: dict[str, Any], frame: tuple[int, int]) -> str:
    """ "service.subtype" of the executed command of (SPI, sequence number) ``frame``."""
    for entry in executed(truth):
        if (entry["spi"], entry["sequence_number"]) == frame:
            return f"{entry['service']}.{entry['subtype']}"
    return "?"


def replayed_frames(truth: dict[str, Any], command: str | None) -> list[tuple[int, int]]:
    """(SPI, sequence number) pairs that executed more than once, in log order."""
    counts = Counter((e["spi"], e["sequence_number"]) for e in executed(truth, command))
    return [pair for pair, n in counts.items() if n > 1]
