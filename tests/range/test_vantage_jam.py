"""The grader's jammer: noise that is never a frame, at the rate asked for."""

from __future__ import annotations

import json
import socket

import pytest

from labctl.protocols.crc import crc16_ok
from labctl.range.hosts.rflink.channel import is_noise
from labctl.range.vantage import jam


def test_a_burst_is_always_noise_to_the_rf_link() -> None:
    for _ in range(2000):
        data = jam.burst()
        assert jam.BURST[0] <= len(data) <= jam.BURST[1]
        assert not crc16_ok(data)
        assert is_noise(data)


def test_the_jammer_sends_its_rate_for_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        port = sink.getsockname()[1]
        code = jam.main(
            ["--host", "127.0.0.1", "--port", str(port), "--rate", "500", "--duration", "0.4"]
        )
        sink.settimeout(0.2)
        received = 0
        while True:
            try:
                sink.recv(4096)
            except TimeoutError:
                break
            received += 1
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "jamming"
    sent = json.loads(lines[-1])["sent"]
    assert 150 <= sent <= 201
    assert received == sent


def test_out_of_range_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert jam.main(["--rate", "0"]) == 2
    assert "rate 1..20000" in json.loads(capsys.readouterr().out)["error"]
