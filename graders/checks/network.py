"""Reachability checks: a port closed from where an attacker sits, still open from the
host that needs it.

``port_closed`` connects from the grader vantage (on the instance's rf and corp
networks, where the attacker's workstation and radio are). ``port_open`` connects from
one of the instance's own hosts (out of band: the command runs there through the
container engine), e.g. mission control reaching the ground station's packet service.
Both run one TCP connect with a short timeout (:mod:`labctl.range.vantage.connect`, from
labctl's wheel in every lab image) and judge from how it ended, which the program
reports as the exception the connect raised:

============================  ==============================  =====================
the connect                   port_closed                     port_open
============================  ==============================  =====================
accepted                      fail: open                      pass
refused (RST, REJECT)         pass: closed                    fail
timed out, or no route, and   pass: filtered (a firewall      fail
the host answers ARP          drops or rejects it)
timed out, or no route, and   error: the host is down or      fail
no ARP answer                 unreachable, nothing observed
the name does not resolve     error                           error
anything else                 error                           fail
============================  ==============================  =====================

Checks fail closed: what ``port_closed`` cannot observe is an error, never a pass. A
connect that times out (or meets "no route to host", which a ``REJECT --reject-with
icmp-host-prohibited`` rule also gives) shows the port unreachable only if the host is
otherwise there: so the check then reads the vantage's neighbour table
(``/proc/net/arp``, no privilege needed) for the host's address on the vantage's
networks, as the container engine reports it. A complete entry means the host answered
ARP on that link, so its network stack is up and something dropped the SYN: a firewall,
which is a fix. No entry means nothing answered: the host is down, or its interface is,
and whether the port is closed is unknown. Before connecting, ``port_closed`` asks the
engine whether the instance has the host at all and on which networks
(``Probe.host_networks``): a host that is not there, or on none of the vantage's
networks, is an error too. ``labs validate`` already refuses a host name that is not in
the lab's topology, or for ``port_closed`` on none of those networks
(:class:`~labctl.spec.vocabulary.HostRef`).
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Collection, Mapping
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field

from graders.checks.base import (
    VANTAGE_NETWORKS,
    Check,
    CheckResult,
    Probe,
    failed,
    passed,
    unobserved,
)
from labctl.errors import LabctlError
from labctl.range import wiring
from labctl.spec.vocabulary import Args, HostName, HostRef, PortNumber

CONNECT_TIMEOUT_S: Final = 3.0
#: The neighbour (ARP) table of the vantage's network namespace.
ARP_TABLE: Final = "/proc/net/arp"
#: ATF_COM: the entry is complete (the neighbour answered).
ARP_COMPLETE: Final = 0x2
UNREACHABLE_ERRNOS: Final = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})

#: How a connect ended, from the exception the connect program reports.
Ending = Literal["open", "refused", "timeout", "unreachable", "unresolved", "other"]

#: A host the grader vantage must reach: on one of its networks.
VantageHost = Annotated[HostName, HostRef(on=VANTAGE_NETWORKS, seen_from="the grader's vantage")]


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


def ending(is_open: bool, detail: str) -> Ending:
    """Classify the connect: the program's detail starts with the exception's class name
    (``ConnectionRefusedError: ...``, ``gaierror: ...``, ``OSError: [Errno 113] ...``)."""
    if is_open:
        return "open"
    kind = detail.split(":", 1)[0].strip()
    if kind == "ConnectionRefusedError":
        return "refused"
    if kind in {"TimeoutError", "timeout"}:
        return "timeout"
    if kind == "gaierror":
        return "unresolved"
    number = re.search(r"\[Errno (\d+)\]", detail)
    if number is not None and int(number.group(1)) in UNREACHABLE_ERRNOS:
        return "unreachable"
    return "other"


def not_run(where: str, output: str) -> CheckResult:
    return unobserved(f"{where}: the probe did not run ({output.strip()[-200:]})")


def _argv(host: str, port: int) -> list[str]:
    """The connect program (labctl.range.vantage.connect) for ``host:port``."""
    return list(wiring.vantage_program("connect", host, str(port), str(CONNECT_TIMEOUT_S)))


def complete_neighbours(table: str) -> set[str]:
    """Addresses with a complete entry in a ``/proc/net/arp`` table."""
    found = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 3:
            continue
        try:
            flags = int(fields[2], 16)
        except ValueError:
            continue
        if flags & ARP_COMPLETE:
            found.add(fields[0])
    return found


def _answers_arp(probe: Probe, addresses: Collection[str]) -> bool | None:
    """Whether one of ``addresses`` has a complete entry in the vantage's neighbour table;
    None when the table could not be read."""
    code, table = probe.vantage_exec(["cat", ARP_TABLE], 10.0)
    if code != 0 or not table.startswith("IP address"):
        return None
    return bool(complete_neighbours(table) & set(addresses))


def _vantage_addresses(probe: Probe, host: str, where: str) -> dict[str, str] | CheckResult:
    """The host's addresses on the vantage's networks, as the engine reports them, or the
    error result that says why there are none."""
    try:
        networks: Mapping[str, str] = probe.host_networks(host)
    except LabctlError as exc:
        return unobserved(f"{where}: cannot observe, the instance has no such host ({exc})")
    seen = {net: address for net, address in networks.items() if net in VANTAGE_NETWORKS}
    if not seen:
        nets = ", ".join(sorted(networks)) or "none"
        return unobserved(
            f"{where}: cannot observe, {host} is on none of the vantage's networks"
            f" ({', '.join(VANTAGE_NETWORKS)}; its networks: {nets})"
        )
    up = {net: address for net, address in seen.items() if address}
    if not up:
        return unobserved(
            f"{where}: cannot observe, {host} has no address on the vantage's networks"
            " (the container engine reports it not running)"
        )
    return up


class PortClosedArgs(Args):
    host: VantageHost = Field(description="the instance host whose port must be unreachable")
    port: PortNumber


class PortClosed(Check[PortClosedArgs]):
    name: ClassVar[str] = "port_closed"
    summary: ClassVar[str] = (
        "A host's TCP port cannot be reached from the attacker's side (the grader vantage);"
        " a host that cannot be observed there (no such host, down, not resolving) is an error."
    )
    Args = PortClosedArgs

    def judge(self, args: PortClosedArgs, probe: Probe) -> CheckResult:
        where = f"{args.host}:{args.port}/tcp from the attacker's networks"
        addresses = _vantage_addresses(probe, args.host, where)
        if isinstance(addresses, CheckResult):
            return addresses
        code, output = probe.vantage_exec(_argv(args.host, args.port), CONNECT_TIMEOUT_S + 10)
        outcome = parse_outcome(code, output)
        if outcome is None:
            return not_run(where, output)
        is_open, detail = outcome
        how = ending(is_open, detail)
        if how in {"timeout", "unreachable"}:
            return _filtered_or_down(probe, where, args.host, addresses, detail)
        return _answered(args, where, how, detail)


def _answered(args: PortClosedArgs, where: str, how: Ending, detail: str) -> CheckResult:
    """The verdict on a connect that got an answer (or a name that did not resolve)."""
    if how == "open":
        return failed(
            f"{where}: open ({detail})",
            f"Restrict who can reach port {args.port} on {args.host} (firewall, listen address"
            " or allowed clients).",
        )
    if how == "refused":
        return passed(f"{where}: closed, the connection is refused ({detail})")
    if how == "unresolved":
        return unobserved(
            f"{where}: cannot observe, the name {args.host!r} does not resolve there ({detail})"
        )
    return unobserved(f"{where}: cannot tell whether it is closed ({detail})")


def _filtered_or_down(
    probe: Probe, where: str, host: str, addresses: Mapping[str, str], detail: str
) -> CheckResult:
    """A connect that got no answer (or "no route"): closed by a firewall when the host
    otherwise answers on the link (ARP), else nothing was observed."""
    answers = _answers_arp(probe, addresses.values())
    shown = ", ".join(f"{address} on {net}" for net, address in sorted(addresses.items()))
    if answers is None:
        return unobserved(
            f"{where}: {detail}, and the vantage's neighbour table could not be read to tell a"
            " firewall from a host that is down"
        )
    if answers:
        return passed(
            f"{where}: closed, filtered ({detail}); {host} answers ARP ({shown}), so a firewall"
            " drops or rejects the connection"
        )
    return unobserved(
        f"{where}: cannot observe ({detail}), and {host} does not answer ARP ({shown}): the host"
        " or its network interface is down, so whether the port is closed is unknown"
    )


class PortOpenArgs(Args):
    host: HostName = Field(description="the host whose port must stay reachable")
    port: PortNumber
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
        how = ending(is_open, detail)
        if how == "open":
            return passed(f"{where}: open ({detail})")
        if how == "unresolved":
            return unobserved(
                f"{where}: cannot observe, the name {args.host!r} does not resolve on"
                f" {args.source} ({detail}): no such host, or no network in common"
            )
        return failed(
            f"{where}: unreachable ({detail})",
            f"{args.source} needs port {args.port} on {args.host}: the fix went too far.",
        )
