"""Forge one SDLS-authenticated telecommand with a given key, from a grader vantage.

Runs inside the vantage container (``python3 -m labctl.range.vantage.keyed``), on the
instance's rf network, with a plain UDP socket: it builds a PUS-C telecommand from the
mission database, puts it in a type-BD TC frame (no COP-1 sequence control, so FARM-1 is
left alone), applies SDLS with the key and SPI it is given and the anti-replay sequence
number ``--arsn`` (AES-GCM IV = that counter, as the ground station does), and transmits
the frame to the rf-link. Whether the spacecraft executed it is for the caller to find
out from ground truth. The last output line is JSON: ``{"sent": ..., "spi": ...}`` or
``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any, Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTc
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tc_frame import Bypass, TcFrame, frame_fingerprint, segment
from labctl.range import wiring
from labctl.range.hosts.catalog import BY_NAME, PLATFORM_APID

UPLINK_IN: Final = (wiring.RF_LINK, wiring.UPLINK_IN)
#: Packet sequence count of forged packets: far from mission control's counts.
FORGED_SEQ_COUNT: Final = 0x3FFF
#: PUS source id of the grader's forgeries (graders.checks.forgery.GRADER_SOURCE_IDS):
#: attack objectives leave them out, a grader's forgery never counts as the student's.
GRADER_SOURCE_ID: Final = 0xFE4B


def forged_frame(
    key: bytes,
    spi: int,
    scid: int,
    arsn: int,
    *,
    command: str = "PING",
    args: tuple[int, ...] = (),
    vcid: int = 0,
    map_id: int = 0,
) -> bytes:
    """A type-BD TC frame carrying ``command``, protected with ``key`` on SA ``spi``."""
    entry = BY_NAME.get(command)
    if entry is None:
        raise ValueError(f"no command {command!r} in the mission database")
    if arsn < 1:
        raise ValueError("the anti-replay sequence number starts at 1")
    packet = PusTc(
        PLATFORM_APID,
        entry.service,
        entry.subtype,
        entry.app_data(*args),
        FORGED_SEQ_COUNT,
        source_id=GRADER_SOURCE_ID,
    )
    clear = TcFrame(scid, vcid, segment(map_id, packet.encode()), 0, Bypass.TYPE_B)
    association = SecurityAssociation(spi, sequence_number=arsn - 1)
    engine = SdlsEngine.of([association], Keyring({0: key}))
    return engine.protect_tc(clear, spi).encode()


def transmit(frame: bytes, target: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame, target)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_keyed", description=__doc__)
    parser.add_argument("--key", required=True, help="AES key, hex (16, 24 or 32 octets)")
    parser.add_argument("--spi", type=int, required=True)
    parser.add_argument("--scid", type=int, required=True)
    parser.add_argument("--arsn", type=int, required=True, help="anti-replay sequence number")
    parser.add_argument("--command", default="PING", help="mission database name")
    parser.add_argument("--args", default="", help="command arguments, comma separated")
    parser.add_argument("--vcid", type=int, default=0)
    parser.add_argument("--host", default=UPLINK_IN[0])
    parser.add_argument("--port", type=int, default=UPLINK_IN[1])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: dict[str, Any]
    try:
        key = bytes.fromhex(args.key.strip())
        frame = forged_frame(
            key,
            args.spi,
            args.scid,
            args.arsn,
            command=args.command,
            args=_ints(args.args),
            vcid=args.vcid,
        )
        transmit(frame, (args.host, args.port))
    except (ValueError, ProtocolError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    result = {
        "sent": args.command,
        "spi": args.spi,
        "arsn": args.arsn,
        "octets": len(frame),
        "fingerprint": frame_fingerprint(frame),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
