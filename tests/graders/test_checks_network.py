"""port_closed / port_open: verdicts from the probe script's output, which really runs.

The connect program runs on this machine against 127.0.0.1 (an open or a closed port);
the endings a lab network gives that loopback cannot (a filtered port, a host that is
down, a name that does not resolve) are the program's own output lines, as it prints them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from graders.checks.base import Status
from graders.checks.network import (
    ARP_TABLE,
    PortClosed,
    PortClosedArgs,
    PortOpen,
    PortOpenArgs,
    complete_neighbours,
    ending,
    parse_outcome,
)
from labctl.errors import CheckError

STATION_RF = "10.0.1.3"
ARP_HEADER = "IP address       HW type     Flags       HW address            Mask     Device\n"


def arp(*rows: tuple[str, str]) -> str:
    """A /proc/net/arp table: (address, flags) rows."""
    lines = [
        f"{ip:<16} 0x1         {flags:<11} 02:42:0a:00:01:03     *        eth0"
        for ip, flags in rows
    ]
    return ARP_HEADER + "".join(f"{line}\n" for line in lines)


def printed(is_open: bool, detail: str) -> str:
    """The connect program's output line."""
    return json.dumps({"open": is_open, "detail": detail}) + "\n"


class LocalProbe:
    """Runs the probe scripts on this machine: every "host" is 127.0.0.1.

    ``networks``: what the engine says of each host (its networks and addresses), as
    ``Probe.host_networks``; a host missing there is not part of the instance.
    ``connect``: the connect program's output instead of running it; ``arp``: the
    vantage's neighbour table."""

    def __init__(
        self,
        networks: dict[str, dict[str, str]] | None = None,
        connect: str | None = None,
        arp: str = ARP_HEADER,
    ) -> None:
        self.where: list[str] = []
        self.argvs: list[list[str]] = []
        self.networks = (
            {"ground-station": {"rf": STATION_RF, "ground": "10.0.2.3"}}
            if networks is None
            else networks
        )
        self.connect = connect
        self.arp = arp

    def _run(self, argv: Sequence[str]) -> tuple[int, str]:
        self.argvs.append(list(argv))
        if list(argv) == ["cat", ARP_TABLE]:
            return 0, self.arp
        if self.connect is not None:
            return 0, self.connect
        args = list(argv)
        args[3] = "127.0.0.1"
        done = subprocess.run(
            [sys.executable, *args[1:]], capture_output=True, text=True, timeout=20, check=False
        )
        return done.returncode, done.stdout + done.stderr

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        self.where.append("vantage")
        return self._run(argv)

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        self.where.append(host)
        return self._run(argv)

    def host_networks(self, host: str) -> dict[str, str]:
        if host not in self.networks:
            raise CheckError("networks", f"net-abc has no host {host!r}")
        return dict(self.networks[host])


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed(port: int = 10025, host: str = "ground-station") -> PortClosedArgs:
    return PortClosedArgs(host=host, port=port)


def test_an_open_port_fails_port_closed(listening: int) -> None:
    probe: Any = LocalProbe()
    result = PortClosed().run(closed(listening), probe)
    assert result.status is Status.FAIL
    assert "open" in result.evidence
    assert result.hint
    assert probe.where == ["vantage"]


def test_a_refused_connection_passes_port_closed() -> None:
    result = PortClosed().run(closed(free_port()), LocalProbe())
    assert result.status is Status.PASS
    assert "ConnectionRefusedError" in result.evidence


def test_port_open_runs_from_the_source_host(listening: int) -> None:
    probe: Any = LocalProbe()
    args = PortOpenArgs(host="ground-station", port=listening, source="mission-control")
    assert PortOpen().run(args, probe).status is Status.PASS
    assert probe.where == ["mission-control"]
    shut = PortOpenArgs(host="ground-station", port=free_port(), source="mission-control")
    result = PortOpen().run(shut, probe)
    assert result.status is Status.FAIL
    assert "went too far" in result.hint


@pytest.mark.parametrize(
    ("code", "output"),
    [(1, '{"open": true}'), (0, ""), (0, "{not json"), (0, '{"open": "yes"}'), (0, "[1]")],
)
def test_unusable_probe_output_is_not_a_verdict(code: int, output: str) -> None:
    assert parse_outcome(code, output) is None


def test_a_probe_that_did_not_run_is_an_error() -> None:
    class Broken(LocalProbe):
        def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
            return 127, "python3: not found"

    result = PortClosed().run(closed(22), Broken())
    assert result.status is Status.ERROR
    assert "python3: not found" in result.evidence


# --- what port_closed cannot observe: errors, never a pass ---------------------------------


def test_a_host_that_does_not_exist_is_an_error_not_a_closed_port() -> None:
    # The issue: port_closed on `groundstation` (for ground-station) passed as "closed:
    # name resolution failed", free remediation points.
    probe = LocalProbe(connect=printed(False, "gaierror: [Errno -2] Name or service not known"))
    result = PortClosed().run(closed(host="groundstation"), probe)
    assert result.status is Status.ERROR
    assert "no such host" in result.evidence
    assert "'groundstation'" in result.evidence
    assert probe.argvs == []  # the engine said so first: nothing was run


def test_a_name_that_does_not_resolve_is_an_error() -> None:
    probe = LocalProbe(connect=printed(False, "gaierror: [Errno -3] Temporary failure"))
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.ERROR
    assert "does not resolve" in result.evidence


def test_a_host_on_none_of_the_vantages_networks_is_an_error() -> None:
    probe = LocalProbe(networks={"archive": {"ground": "10.0.2.9"}})
    result = PortClosed().run(closed(host="archive"), probe)
    assert result.status is Status.ERROR
    assert "none of the vantage's networks" in result.evidence
    assert "its networks: ground" in result.evidence


def test_a_host_the_engine_gives_no_address_is_an_error() -> None:
    probe = LocalProbe(networks={"ground-station": {"rf": "", "ground": ""}})
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.ERROR
    assert "not running" in result.evidence


@pytest.mark.parametrize(
    "detail",
    ["TimeoutError: timed out", "OSError: [Errno 113] No route to host"],
)
def test_no_answer_from_a_host_that_answers_arp_is_a_firewall(detail: str) -> None:
    # A DROP rule (timeout) or REJECT --reject-with icmp-host-prohibited (no route): the
    # host is up on the link, so the port is closed to the attacker.
    probe = LocalProbe(connect=printed(False, detail), arp=arp((STATION_RF, "0x2")))
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.PASS, result.evidence
    assert "filtered" in result.evidence
    assert f"{STATION_RF} on rf" in result.evidence
    assert probe.argvs[-1] == ["cat", ARP_TABLE]


@pytest.mark.parametrize(
    "detail",
    [
        "TimeoutError: timed out",
        "OSError: [Errno 113] No route to host",
        "OSError: [Errno 101] Network is unreachable",
    ],
)
@pytest.mark.parametrize("table", [ARP_HEADER, arp((STATION_RF, "0x0")), arp(("10.0.1.9", "0x2"))])
def test_no_answer_from_a_host_that_is_down_is_an_error(detail: str, table: str) -> None:
    probe = LocalProbe(connect=printed(False, detail), arp=table)
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.ERROR, result.evidence
    assert "does not answer ARP" in result.evidence
    assert "unknown" in result.evidence


def test_an_unreadable_neighbour_table_is_an_error() -> None:
    probe = LocalProbe(connect=printed(False, "TimeoutError: timed out"), arp="cat: denied")
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.ERROR
    assert "neighbour table could not be read" in result.evidence


def test_an_unknown_ending_is_an_error() -> None:
    probe = LocalProbe(connect=printed(False, "PermissionError: [Errno 1] Operation not permitted"))
    result = PortClosed().run(closed(), probe)
    assert result.status is Status.ERROR
    assert "cannot tell" in result.evidence


def test_a_vantage_that_fails_is_an_error() -> None:
    class Gone(LocalProbe):
        def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
            raise CheckError("vantage agent", "the vantage agent ended")

    result = PortClosed().run(closed(), Gone())
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


def test_port_open_on_a_name_that_does_not_resolve_is_an_error() -> None:
    probe = LocalProbe(connect=printed(False, "gaierror: [Errno -2] Name or service not known"))
    args = PortOpenArgs(host="groundstation", port=10025, source="mission-control")
    result = PortOpen().run(args, probe)
    assert result.status is Status.ERROR
    assert "does not resolve on mission-control" in result.evidence


def test_port_open_judges_a_timeout_from_the_source_as_unreachable() -> None:
    probe = LocalProbe(connect=printed(False, "TimeoutError: timed out"))
    args = PortOpenArgs(host="ground-station", port=10025, source="mission-control")
    result = PortOpen().run(args, probe)
    assert result.status is Status.FAIL
    assert "unreachable" in result.evidence


@pytest.mark.parametrize(
    ("is_open", "detail", "expected"),
    [
        (True, "connection accepted", "open"),
        (False, "ConnectionRefusedError: [Errno 111] Connection refused", "refused"),
        (False, "TimeoutError: timed out", "timeout"),
        (False, "timeout: timed out", "timeout"),
        (False, "gaierror: [Errno -2] Name or service not known", "unresolved"),
        (False, "OSError: [Errno 113] No route to host", "unreachable"),
        (False, "OSError: [Errno 101] Network is unreachable", "unreachable"),
        (False, "OSError: [Errno 112] Host is down", "unreachable"),
        (False, "ConnectionResetError: [Errno 104] reset", "other"),
        (False, "", "other"),
    ],
)
def test_endings(is_open: bool, detail: str, expected: str) -> None:
    assert ending(is_open, detail) == expected


def test_complete_neighbours_reads_only_complete_entries() -> None:
    table = arp(("10.0.1.3", "0x2"), ("10.0.1.4", "0x0"), ("10.0.1.5", "0x6")) + "junk\n"
    assert complete_neighbours(table) == {"10.0.1.3", "10.0.1.5"}
