"""Record one uplink frame off the air and transmit it again, from a grader vantage.

Runs inside the vantage container (``python3 -m labctl.range.vantage.replay``), on the
instance's rf network, with plain UDP sockets (no capability needed): the uplink air is the
rf network's broadcast address, so binding UDP 5101 hears every uplink frame.

``capture``: print the first type-AD frame heard as JSON ``{"frame": hex, "seq": N(S), ...}``.
``resync``: COP-1 Unlock and Set V(R) in the clear, as a ground station initialises its
link after a spacecraft reboot (FARM-1 restarts at V(R) = 0; FOP-1 is still at V(S)).
``replay``: transmit it ``--times`` times to the rf-link. Each time, a clear-text COP-1
Unlock and Set V(R) = N(S) first, so FARM-1 takes the frame in sequence (even in Lockout,
where a spacecraft that just restarted may be while the ground station's retransmissions
arrive out of its window, and where a Set V(R) alone is ignored) and only SDLS
anti-replay stands in the way; afterwards Set V(R) = ``--after`` (the V(R) the grader read
from the spacecraft just before the replay: where the ground station's FOP-1 has got to,
also when it sent more frames after the recorded one), or N(S) + 1 without it. The last
output line is JSON either way.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.tc_frame import (
    FrameKind,
    TcFrame,
    set_vr_frame,
    unlock_frame,
)
from labctl.range import wiring
from labctl.range.adversary import air

UPLINK_AIR: Final = wiring.UPLINK_AIR
UPLINK_IN: Final = (wiring.RF_LINK, wiring.UPLINK_IN)
MODULUS: Final = 256


def capture(port: int, timeout: float) -> dict[str, Any] | None:
    """The first well-formed type-AD TC frame heard on UDP ``port`` within ``timeout``."""
    with air.listening(port) as socks:
        print("listening", flush=True)
        for _, datagram in air.receive(socks, time.monotonic() + timeout):
            frame = _ad_frame(datagram)
            if frame is not None:
                return {"frame": datagram.hex(), "seq": frame.seq, "scid": frame.scid}
    return None


def _ad_frame(datagram: bytes) -> TcFrame | None:
    try:
        frame = TcFrame.decode(datagram)
    except ProtocolError:
        return None
    return frame if frame.kind is FrameKind.AD else None


def replay(
    raw: bytes, target: tuple[str, int], times: int, gap: float, after: int | None = None
) -> dict[str, Any]:
    """Transmit ``raw`` ``times`` times to ``target``, each in sequence for FARM-1; then
    FARM-1's V(R) to ``after`` (None: one past the frame)."""
    frame = TcFrame.decode(raw)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(times):
            _send(sock, unlock_frame(frame.scid, frame.vcid).encode(), target, gap)
            _send(sock, set_vr_frame(frame.scid, frame.vcid, frame.seq).encode(), target, gap)
            _send(sock, raw, target, gap)
        vr = (frame.seq + 1 if after is None else after) % MODULUS
        _send(sock, set_vr_frame(frame.scid, frame.vcid, vr).encode(), target, gap)
    return {"sent": times, "seq": frame.seq}


def resync(scid: int, vcid: int, vr: int, target: tuple[str, int], gap: float) -> dict[str, Any]:
    """Unlock FARM-1, then set its V(R) to ``vr``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        _send(sock, unlock_frame(scid, vcid).encode(), target, gap)
        _send(sock, set_vr_frame(scid, vcid, vr % MODULUS).encode(), target, gap)
    return {"vr": vr % MODULUS}


def _send(sock: socket.socket, datagram: bytes, target: tuple[str, int], gap: float) -> None:
    sock.sendto(datagram, target)
    time.sleep(gap)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_replay", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    listen = sub.add_parser("capture")
    listen.add_argument("--port", type=int, default=UPLINK_AIR)
    listen.add_argument("--timeout", type=float, default=20.0)
    send = sub.add_parser("replay")
    send.add_argument("--frame", required=True, help="the frame, hex")
    send.add_argument("--host", default=UPLINK_IN[0])
    send.add_argument("--port", type=int, default=UPLINK_IN[1])
    send.add_argument("--times", type=int, default=1)
    send.add_argument("--gap", type=float, default=0.3, help="seconds between datagrams")
    send.add_argument("--after", type=int, help="FARM-1's V(R) afterwards (default: N(S) + 1)")
    sync = sub.add_parser("resync")
    for name in ("--scid", "--vcid", "--vr"):
        sync.add_argument(name, type=int, required=True)
    sync.add_argument("--host", default=UPLINK_IN[0])
    sync.add_argument("--port", type=int, default=UPLINK_IN[1])
    sync.add_argument("--gap", type=float, default=0.3)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action == "capture":
        heard = capture(args.port, args.timeout)
        print(json.dumps(heard or {"error": f"no type-AD frame within {args.timeout} s"}))
        return 0 if heard else 2
    target = (args.host, args.port)
    try:
        if args.action == "resync":
            print(json.dumps(resync(args.scid, args.vcid, args.vr, target, args.gap)))
        else:
            frame = bytes.fromhex(args.frame)
            print(json.dumps(replay(frame, target, args.times, args.gap, args.after)))
    except (ValueError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
