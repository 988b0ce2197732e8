"""Checks on a shared ground station's customer access (packet_service.access).

The grader vantage plays a customer of the station (or a stranger with no access
request): it connects to the packet service from the networks customers come from, sends
the customer's rolling password for now and a PING marked with its own source id, and
the verdict rests on the spacecraft's ground truth (did that PING execute?) and on
whether the station ended the connection, never on the station's own word: students may
administer it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final

from pydantic import Field, StringConstraints

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.forgery import TEMPLATE_PATTERN
from graders.checks.observe import executed, wait_for
from graders.checks.replay import vantage_json
from labctl.errors import CheckError
from labctl.range import wiring
from labctl.range.vantage.customer import SOURCE_ID
from labctl.spec.vocabulary import Args, HostName, PortNumber

CUSTOMER_VANTAGE: Final = wiring.vantage_program("customer")
#: Seconds the PING has to execute once it was sent.
SETTLE_S: Final = 6.0
CUSTOMER = r"^([A-Za-z0-9_-]{1,32}|\{\{.*\}\})$"
SECRET = r"^\s*([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64}|\{\{.*\}\})\s*$"


class StationAccessRefusedArgs(Args):
    host: HostName = "ground-station"
    port: PortNumber = 10025
    customer: Annotated[str, StringConstraints(pattern=CUSTOMER)] | None = Field(
        default=None, description="the customer to play (none: a client with no access request)"
    )
    secret: Annotated[str, StringConstraints(pattern=SECRET)] | None = Field(
        default=None, description="that customer's secret, hex (e.g. '{{ params.partner_secret }}')"
    )
    period: float | Annotated[str, StringConstraints(pattern=TEMPLATE_PATTERN)] = Field(
        default=60.0, description="the station's rolling period, seconds"
    )


class StationAccessRefused(Check[StationAccessRefusedArgs]):
    name: ClassVar[str] = "station_access_refused"
    summary: ClassVar[str] = (
        "A shared station refuses a customer (or a stranger) with these credentials: the"
        " grader vantage connects, proves the rolling password, sends a PING; the station"
        " ends the connection and the PING does not execute (spacecraft ground truth)."
    )
    Args = StationAccessRefusedArgs

    def judge(self, args: StationAccessRefusedArgs, probe: Probe) -> CheckResult:
        _check_rendered(args)
        who = f"customer {args.customer}" if args.customer else "a client with no access request"
        where = f"{args.host}:{args.port}"
        before = len(_probe_pings(probe.truth()))
        argv = [*CUSTOMER_VANTAGE, args.host, str(args.port)]
        if args.customer is not None and args.secret is not None:
            argv += ["--customer", args.customer, "--secret", args.secret.strip()]
            argv += ["--period", str(args.period)]
        report = _vantage_report(probe, argv, f"play {who} at {where}")
        detail = str(report.get("detail", ""))
        if not report.get("connected"):
            if detail.startswith("ConnectionRefusedError"):
                return passed(f"{where} refuses every connection, {who}'s too ({detail})")
            return unobserved(f"cannot reach {where} from the vantage: {detail}")
        ran = wait_for(lambda: len(_probe_pings(probe.truth())) > before, SETTLE_S)
        if ran:
            return failed(
                f"{who} was let in at {where}: its PING executed on board",
                "Revoke what must not use the station; give the rest secrets nobody else has.",
            )
        if report.get("closed"):
            return passed(f"{where} ended the connection of {who} ({detail}); its PING never ran")
        return unobserved(
            f"{where} kept the connection of {who} open but its PING did not execute: cannot"
            " tell a refusal from an uplink that does not work"
        )


def _check_rendered(args: StationAccessRefusedArgs) -> None:
    if any("{" in str(v) for v in (args.customer, args.secret, args.period)):
        raise CheckError("station_access_refused", "arguments were not rendered")
    if (args.customer is None) != (args.secret is None):
        raise CheckError("station_access_refused", "give both customer and secret, or neither")


def _vantage_report(probe: Probe, argv: list[str], what: str) -> dict[str, Any]:
    code, output = probe.vantage_exec(argv, 30.0)
    report = vantage_json(output)
    if code != 0 or report is None or "error" in report:
        detail = (report or {}).get("error") or output.strip()[-300:] or f"exit {code}"
        raise CheckError("vantage", f"could not {what}: {detail}")
    return report


def _probe_pings(truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in executed(truth, "17.1") if e.get("source_id") == SOURCE_ID]
