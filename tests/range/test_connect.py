"""The reachability probe (labctl.range.vantage.connect): open, refused, bad usage."""

from __future__ import annotations

import json
import socket

import pytest

from labctl.range import wiring
from labctl.range.vantage import agent, connect


def test_an_accepted_connect_is_open_and_a_refused_one_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert connect.main(["127.0.0.1", str(port), "2"]) == 0
        assert json.loads(capsys.readouterr().out) == {
            "open": True,
            "detail": "connection accepted",
        }
    assert connect.main(["127.0.0.1", str(port), "2"]) == 0  # nobody listens any more
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["open"] is False
    assert "ConnectionRefusedError" in outcome["detail"]


def test_bad_usage_is_exit_2_and_prints_no_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    assert connect.main(["host"]) == 2
    assert connect.main(["host", "port", "2"]) == 2
    assert capsys.readouterr().out == ""


def test_the_checks_command_line_runs_in_the_vantage_agent() -> None:
    argv = wiring.vantage_program("connect", "rf-link", "5100", "3")
    assert argv[:3] == ("python3", "-m", "labctl.range.vantage.connect")
    assert agent.in_process_module(argv) == "labctl.range.vantage.connect"
