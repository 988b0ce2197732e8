"""Listen on the downlink air from a grader vantage and say what anyone there can read.

Runs inside the vantage container (``python3 -m labctl.range.vantage.downlink listen``),
on the instance's rf network, with a plain UDP socket (no capability needed): the rf-link
puts every downlink frame on the rf network's broadcast address, UDP 5103, so binding that
port hears the whole downlink, as the ground station does.

Every datagram is hostile: it is counted as a TM transfer frame only when it decodes as one
(version 00, FECF right), and of the expected spacecraft when ``--scid`` is given. A data
frame (not an idle/OID frame) is *clear* when its data field is nothing but whole Space
Packets (plus at most a few fill octets), as the spacecraft builds it without SDLS;
otherwise it is *protected* and its first two octets are the SPI of its security header.
The secret (``--secret``, UTF-8) is looked for in the octets of every counted frame.

The last output line is one JSON object: datagrams and frames heard, idle, clear and
protected frames (by SPI), housekeeping reports read in the clear, and in how many frames
the secret appears (never the secret itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTm
from labctl.protocols.spacepacket import PRIMARY_HEADER_SIZE, PacketType, SpacePacket
from labctl.protocols.stream import packets_in
from labctl.protocols.tm_frame import FHP_IDLE, IDLE_VCID, TmFrame
from labctl.range import wiring
from labctl.range.adversary import air

DOWNLINK_AIR: Final = wiring.DOWNLINK_AIR
#: Fill after the last packet of a clear frame: too short for a packet header.
MAX_FILL: Final = PRIMARY_HEADER_SIZE
FILL_OCTET: Final = 0xFF
SPI_SIZE: Final = 2
HK_SERVICE: Final = (3, 25)


@dataclass
class Tally:
    """What was heard; ``add`` takes any datagram and never raises."""

    secret: bytes = b""
    scid: int | None = None
    datagrams: int = 0
    frames: int = 0
    foreign: int = 0
    garbage: int = 0
    idle: int = 0
    clear: int = 0
    protected: Counter[int] = field(default_factory=Counter)
    housekeeping: int = 0
    secret_frames: int = 0

    def add(self, datagram: bytes) -> None:
        self.datagrams += 1
        frame = tm_frame(datagram)
        if frame is None:
            self.garbage += 1
            return
        if self.scid is not None and frame.scid != self.scid:
            self.foreign += 1
            return
        self.frames += 1
        if self.secret and self.secret in datagram:
            self.secret_frames += 1
        if frame.vcid == IDLE_VCID or frame.fhp == FHP_IDLE:
            self.idle += 1
            return
        packets = clear_packets(frame.data)
        if packets is None:
            if len(frame.data) >= SPI_SIZE:
                self.protected[int.from_bytes(frame.data[:SPI_SIZE], "big")] += 1
            else:
                self.garbage += 1
            return
        self.clear += 1
        self.housekeeping += sum(is_housekeeping(packet) for packet in packets)

    def as_dict(self, seconds: float) -> dict[str, Any]:
        return {
            "seconds": seconds,
            "datagrams": self.datagrams,
            "frames": self.frames,
            "foreign_frames": self.foreign,
            "garbage": self.garbage,
            "idle_frames": self.idle,
            "data_frames": self.clear + sum(self.protected.values()),
            "clear_frames": self.clear,
            "protected_frames": {str(spi): n for spi, n in sorted(self.protected.items())},
            "housekeeping_reports": self.housekeeping,
            "secret_frames": self.secret_frames,
            "secret_found": self.secret_frames > 0,
        }


def tm_frame(datagram: bytes) -> TmFrame | None:
    """The datagram as one TM transfer frame (version 00, FECF checked), else None."""
    try:
        frame = TmFrame.decode(datagram)
    except (ProtocolError, ValueError):
        return None
    return frame if frame.version == 0 else None


def clear_packets(data: bytes) -> list[SpacePacket] | None:
    """The Space Packets filling a clear data field, or None when it is not one."""
    try:
        packets, rest = packets_in(data)
    except (ProtocolError, ValueError):
        return None
    if not packets or any(p.version != 0 or p.packet_type != PacketType.TM for p in packets):
        return None
    if len(rest) >= MAX_FILL or any(octet != FILL_OCTET for octet in rest):
        return None
    return packets


def is_housekeeping(packet: SpacePacket) -> bool:
    if not packet.sec_header_flag:
        return False
    try:
        report = PusTm.decode(packet.encode())
    except (ProtocolError, ValueError):
        return False
    return (report.service, report.subtype) == HK_SERVICE


def listen(port: int, seconds: float, tally: Tally) -> Tally:
    """Count every datagram heard on UDP ``port`` for ``seconds``."""
    with air.listening(port) as socks:
        print("listening", flush=True)
        for _, datagram in air.receive(socks, time.monotonic() + seconds):
            tally.add(datagram)
    return tally


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_downlink", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    hear = sub.add_parser("listen")
    hear.add_argument("--port", type=int, default=DOWNLINK_AIR)
    hear.add_argument("--seconds", type=float, default=10.0)
    hear.add_argument("--secret", default="", help="text to look for in every frame")
    hear.add_argument("--scid", type=int, default=None, help="count only this spacecraft")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tally = Tally(secret=args.secret.encode("utf-8"), scid=args.scid)
    try:
        listen(args.port, args.seconds, tally)
    except (OSError, OverflowError) as exc:
        print(json.dumps({"error": f"cannot listen on UDP {args.port}: {exc}"}))
        return 2
    print(json.dumps(tally.as_dict(args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
