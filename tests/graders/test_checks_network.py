"""port_closed / port_open: verdicts from the probe script's output, which really runs."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from graders.checks.base import Status
from graders.checks.network import PortClosed, PortClosedArgs, PortOpen, PortOpenArgs, parse_outcome


class LocalProbe:
    """Runs the probe scripts on this machine: every "host" is 127.0.0.1."""

    def __init__(self) -> None:
        self.where: list[str] = []

    def _run(self, argv: Sequence[str]) -> tuple[int, str]:
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


def test_an_open_port_fails_port_closed(listening: int) -> None:
    probe: Any = LocalProbe()
    result = PortClosed().run(PortClosedArgs(host="ground-station", port=listening), probe)
    assert result.status is Status.FAIL
    assert "open" in result.evidence
    assert result.hint
    assert probe.where == ["vantage"]


def test_a_closed_port_passes_port_closed() -> None:
    result = PortClosed().run(PortClosedArgs(host="ground-station", port=free_port()), LocalProbe())
    assert result.status is Status.PASS
    assert "ConnectionRefusedError" in result.evidence


def test_port_open_runs_from_the_source_host(listening: int) -> None:
    probe: Any = LocalProbe()
    args = PortOpenArgs(host="ground-station", port=listening, source="mission-control")
    assert PortOpen().run(args, probe).status is Status.PASS
    assert probe.where == ["mission-control"]
    closed = PortOpenArgs(host="ground-station", port=free_port(), source="mission-control")
    result = PortOpen().run(closed, probe)
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

    result = PortClosed().run(PortClosedArgs(host="ground-station", port=22), Broken())
    assert result.status is Status.ERROR
    assert "python3: not found" in result.evidence
