"""Checks on telecommand forgery: commands that ran without the uplink's authentication.

An uplink security association authenticates a frame when its service is authentication
or authenticated encryption; a plaintext SA, or an uplink without SDLS, lets anyone on the
rf segment command the spacecraft. ``forged_command_executed`` reads that from ground
truth (the attack objective); ``unauthenticated_rejected`` forges frames from the grader
vantage (``python3 -m labctl.range.vantage.forge``) and judges from ground truth that
none executed (the remediation objective).

The vantage marks its own forgeries with a source id in GRADER_SOURCE_IDS, which the attack
objective leaves out: a grader's forgery never counts as the student's.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Final

from pydantic import Field, StringConstraints, model_validator

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import delivery_problem, truth_list, wait_for
from graders.checks.replay import vantage_json
from labctl.errors import CheckError
from labctl.range import wiring
from labctl.range.hosts.catalog import BY_NAME, COMMANDS, Command
from labctl.spec.vocabulary import Args

VANTAGE: Final = wiring.vantage_program("forge")
#: Source ids the grader's forgeries carry (0xFE00..0xFEFF).
GRADER_SOURCE_IDS: Final = range(0xFE00, 0xFF00)
AUTHENTICATING: Final = frozenset({"AUTHENTICATION", "AUTHENTICATED_ENCRYPTION"})
#: How long a forged frame has to show up in ground truth.
SETTLE_S: Final = 5.0
COMMAND_PATTERN: Final = r"^\d{1,3}\.\d{1,3}$"
#: A PUS service.subtype, or a catalogue command's name (DOWNLINK_ROUTE: one function of 8,1).
COMMAND_OR_NAME: Final = r"^(\d{1,3}\.\d{1,3}|[A-Z][A-Z0-9_]{1,31})$"
#: A parameter reference, rendered to an integer before the check runs.
TEMPLATE_PATTERN: Final = r"^\{\{.*\}\}$"
HINT: Final = (
    "Every uplink frame must be authenticated: retire plaintext security associations and"
    " keep SDLS on the uplink."
)


def authenticated_spis(truth: dict[str, Any]) -> set[int]:
    """SPIs of the operational uplink SAs that authenticate their frames."""
    return {
        int(sa["spi"])
        for sa in truth_list(truth, "security_associations")
        if sa.get("direction") == "uplink"
        and sa.get("service") in AUTHENTICATING
        and sa.get("state") == "OPERATIONAL"
    }


def telecommands(truth: dict[str, Any], service_subtype: str | None) -> list[dict[str, Any]]:
    """Executed PUS telecommands (COP-1 directives left out), optionally of one service.subtype."""
    entries: Iterable[Any] = truth_list(truth, "executed_commands")
    found = [e for e in entries if e.get("service") is not None]
    if service_subtype is None:
        return found
    service, subtype = (int(part) for part in service_subtype.split("."))
    return [e for e in found if (e.get("service"), e.get("subtype")) == (service, subtype)]


def forged_commands(truth: dict[str, Any], service_subtype: str | None) -> list[dict[str, Any]]:
    """Executed telecommands that did not come through an authenticating uplink SA
    (a plaintext SA, or no security header at all), the grader's own left out."""
    trusted = authenticated_spis(truth)
    return [
        e
        for e in telecommands(truth, service_subtype)
        if e.get("spi") not in trusted and e.get("source_id") not in GRADER_SOURCE_IDS
    ]


def describe(entry: dict[str, Any]) -> str:
    """``THRUSTER_FIRE (8,1) via SPI 17``, or ``... without SDLS``."""
    how = "without SDLS" if entry.get("spi") is None else f"via SPI {entry.get('spi')}"
    kind = ", bypass frame" if entry.get("bypass") else ""
    what = f"{entry.get('name')} ({entry.get('service')},{entry.get('subtype')})"
    return f"{what} {how}{kind}, result {entry.get('result')}"


class ForgedCommandExecutedArgs(Args):
    command: str | None = Field(
        default=None,
        pattern=COMMAND_PATTERN,
        description="only count this PUS service.subtype; none = any command",
    )


class ForgedCommandExecuted(Check[ForgedCommandExecutedArgs]):
    name: ClassVar[str] = "forged_command_executed"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft executed a telecommand that did not come through an"
        " authenticating uplink security association (plaintext SA or no SDLS)."
    )
    Args = ForgedCommandExecutedArgs

    def judge(self, args: ForgedCommandExecutedArgs, probe: Probe) -> CheckResult:
        truth = probe.truth()
        forged = forged_commands(truth, args.command)
        what = f"PUS {args.command}" if args.command else "any command"
        trusted = ", ".join(str(spi) for spi in sorted(authenticated_spis(truth))) or "none"
        if not forged:
            return failed(
                f"every executed telecommand ({what}) came through an authenticating SA"
                f" (SPI {trusted})",
                "Find a way to command the spacecraft that does not need the uplink key.",
            )
        return passed(
            f"{len(forged)} forged telecommand(s) executed, e.g. {describe(forged[0])};"
            f" the authenticating SA is SPI {trusted}"
        )


class UnauthenticatedRejectedArgs(Args):
    command: str = Field(
        default="17.1",
        pattern=COMMAND_OR_NAME,
        description="PUS service.subtype to forge (its first catalogue command), or a"
        " catalogue command's name; its arguments are all 0",
    )
    spis: list[int | Annotated[str, StringConstraints(pattern=TEMPLATE_PATTERN)]] = Field(
        default_factory=list,
        max_length=15,
        description="SPIs to try behind a clear SDLS header (no MAC); an SPI may be a"
        ' parameter, e.g. "{{ params.plaintext_spi }}" (rendered before the check runs)',
    )
    without_sdls: bool = Field(default=True, description="also a frame with no security header")

    @model_validator(mode="after")
    def _something_to_try(self) -> UnauthenticatedRejectedArgs:
        if not self.spis and not self.without_sdls:
            raise ValueError("nothing to forge: give spis or set without_sdls: true")
        if any(isinstance(spi, int) and not 0 <= spi <= 0xFFFF for spi in self.spis):
            raise ValueError("spis are 0..65535")
        return self

    def spi_values(self) -> list[int]:
        """The SPIs as integers: templates must have been rendered to numbers by now."""
        values = []
        for spi in self.spis:
            if isinstance(spi, str):
                raise CheckError("spis", f"{spi!r} was not rendered to an SPI number")
            values.append(spi)
        return values


class UnauthenticatedRejected(Check[UnauthenticatedRejectedArgs]):
    name: ClassVar[str] = "unauthenticated_rejected"
    summary: ClassVar[str] = (
        "Frames forged without authentication (clear SDLS header on the given SPIs, no"
        " security header) are not executed (spacecraft ground truth)."
    )
    Args = UnauthenticatedRejectedArgs

    def judge(self, args: UnauthenticatedRejectedArgs, probe: Probe) -> CheckResult:
        truth = probe.truth()
        marker = random.choice(GRADER_SOURCE_IDS)  # a tag, not a secret
        argv = forge_argv(truth, args, marker)
        code, output = probe.vantage_exec(argv, 60.0)
        report = vantage_json(output)
        if code != 0 or report is None or not isinstance(report.get("sent"), list):
            why = (report or {}).get("error") or output.strip()[-300:] or f"exit status {code}"
            return unobserved(f"the vantage could not transmit the forged frames: {why}")
        tried = "; ".join(_tried(item) for item in report["sent"])
        before = _rejections(truth)

        def ran() -> list[dict[str, Any]]:
            return [e for e in telecommands(probe.truth(), None) if e.get("source_id") == marker]

        executed = wait_for(ran, SETTLE_S)
        if executed:
            done = "; ".join(describe(e) for e in executed)
            return failed(f"forged PUS {args.command} ({tried}) executed: {done}", HINT)
        after = probe.truth()
        lost = delivery_problem(truth, after, f"forged PUS {args.command} ({tried})")
        if lost is not None:
            return lost
        reasons = _rejections(after) - before
        why = ", ".join(f"{k} x{n}" for k, n in sorted(reasons.items())) or "none recorded"
        return passed(f"forged PUS {args.command} ({tried}): none executed; rejections: {why}")


def forge_argv(truth: dict[str, Any], args: UnauthenticatedRejectedArgs, marker: int) -> list[str]:
    """The vantage command: this spacecraft's SCID and VC, the strongest sequence numbers.

    An SA with anti-replay accepts only a number above its last one, so each SPI is tried
    with the SA's last accepted number + 1 (from ground truth): the check plays an attacker
    who knows the counter, and only a retired SA or one that authenticates stops it.
    """
    command = _catalogue(args.command)
    scid = truth.get("scid")
    if not isinstance(scid, int):
        raise CheckError("truth", "the ground truth names no spacecraft id")
    vcid = (truth.get("farm") or {}).get("vcid", 0)
    last = {sa.get("spi"): sa.get("sequence_number") or 0 for sa in _uplink_sas(truth)}
    argv = [*VANTAGE, "--scid", str(scid), "--vcid", str(vcid), "--source-id", str(marker)]
    argv += ["--service", str(command.service), "--subtype", str(command.subtype)]
    argv += ["--app-data", command.app_data(*[0] * len(command.arg_names)).hex()]
    for spi in args.spi_values():
        argv += ["--spi", f"{spi}:{int(last.get(spi, 0)) + 1}"]
    return [*argv, "--clear"] if args.without_sdls else argv


def _catalogue(service_subtype: str) -> Command:
    if service_subtype in BY_NAME:
        return BY_NAME[service_subtype]
    if "." not in service_subtype:
        raise CheckError("command", f"no catalogue command named {service_subtype}")
    service, subtype = (int(part) for part in service_subtype.split("."))
    for command in COMMANDS:
        if (command.service, command.subtype) == (service, subtype):
            return command
    raise CheckError("command", f"no catalogue command is PUS {service_subtype}")


def _uplink_sas(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        sa for sa in truth_list(truth, "security_associations") if sa.get("direction") == "uplink"
    ]


def _rejections(truth: dict[str, Any]) -> Counter[str]:
    counts = (truth.get("counters") or {}).get("rejected_by_reason") or {}
    return Counter({str(k): int(v) for k, v in counts.items() if isinstance(v, int)})


def _tried(item: Any) -> str:
    if not isinstance(item, dict) or item.get("spi") is None:
        return "no security header"
    return f"clear header SPI {item.get('spi')} ARSN {item.get('arsn')}"
