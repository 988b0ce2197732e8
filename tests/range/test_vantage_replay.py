"""The grader vantage's replay: each copy goes in after a COP-1 Unlock and Set V(R) = N(S),
so a FARM-1 in Lockout (a spacecraft just restarted) takes it, and FARM-1 is left at
N(S) + 1 afterwards."""

from __future__ import annotations

import socket

from labctl.protocols.tc_frame import TcFrame, segment, set_vr_frame, unlock_frame
from labctl.range.vantage.replay import replay


def test_each_copy_follows_an_unlock_and_a_set_vr() -> None:
    frame = TcFrame(321, 0, segment(0, b"\x18\x64\xc0\x00\x00\x01\x2f\x08"), 37).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(2.0)
        result = replay(frame, sink.getsockname(), times=2, gap=0.0)
        heard = [sink.recv(2048) for _ in range(7)]
    unlock = unlock_frame(321, 0).encode()
    assert result == {"sent": 2, "seq": 37}
    assert heard == [
        unlock,
        set_vr_frame(321, 0, 37).encode(),
        frame,
        unlock,
        set_vr_frame(321, 0, 37).encode(),
        frame,
        set_vr_frame(321, 0, 38).encode(),
    ]
