"""The grader vantage's COP-1 directive sender: clear BC frames, exactly the codecs' octets,
in the order given; bad arguments are one JSON line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from labctl.protocols.tc_frame import (
    FrameKind,
    TcFrame,
    decode_control_command,
    set_vr_frame,
    unlock_frame,
)
from labctl.range.vantage import directive as vantage_directive

SCID = 321


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        yield sock


def test_main_transmits_the_directives_in_order(
    receiver: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    port = receiver.getsockname()[1]
    argv = ["--scid", str(SCID), "--set-vr", "7", "--unlock", "--frame-seq", "0xf3"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--gap", "0"]
    assert vantage_directive.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"sent": ["set_vr 7", "unlock"], "frame_seq": 243}
    heard = [receiver.recv(2048) for _ in range(2)]
    assert heard == [set_vr_frame(SCID, 0, 7, 243).encode(), unlock_frame(SCID, 0, 243).encode()]
    frame = TcFrame.decode(heard[0])
    assert (frame.kind, frame.seq) == (FrameKind.BC, 243)
    assert decode_control_command(frame.data)[1] == 7


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --scid"),
        (["--scid", "5"], "nothing to send"),
        (["--scid", "5", "--set-vr", "256"], "V(R) 256 outside 0..255"),
        (["--scid", "5", "--set-vr", "x"], "'x' is not an integer"),
        (["--scid", "2000", "--unlock"], "--scid 2000 outside"),
        (["--scid", "5", "--unlock", "--frame-seq", "300"], "--frame-seq 300 outside"),
        (["--scid", "5", "--unlock", "--gap", "9"], "outside 0..5 s"),
        (["--scid", "5", *["--unlock"] * 9], "at most 8 directives"),
        (["--scid", "5", "--unlock", "--extra"], "unrecognized arguments: --extra"),
    ],
)
def test_bad_arguments_are_one_json_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vantage_directive.main(argv) == 2
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1
    assert out.err == ""
    assert message in json.loads(lines[0])["error"]
