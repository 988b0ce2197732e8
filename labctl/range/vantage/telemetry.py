"""Transmit one malformed telemetry packet on the downlink, from a grader vantage.

Runs inside the vantage container (``python3 -m labctl.range.vantage.telemetry``), on the
instance's rf network, with a plain UDP socket: it builds a TM transfer frame of the
spacecraft (``--scid``, virtual channel 0, no OCF, a good FECF) whose data field is one
PUS-C event report (5,1) without its event id (one octet of data where the report needs
two), and transmits it to the rf-link's downlink input, as anyone with a radio on the RF
segment can. A ground station that accepts clear telemetry forwards the packet to mission
control; whether mission control's telemetry processing survives it is for the caller to
find out (``GET /api/health``). The packet's sequence count is the grader's
(:data:`GRADER_SEQ_COUNT`), so a halt it causes is told apart from the student's.

The last output line is JSON: ``{"sent": ..., "octets": ...}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTm
from labctl.protocols.tm_frame import TmFrame
from labctl.range import wiring
from labctl.range.hosts.catalog import PLATFORM_APID

DOWNLINK_IN: Final = (wiring.RF_LINK, wiring.DOWNLINK_IN)
#: Packet sequence count of the grader's malformed packet. Mission control names the
#: count in each halt it records, and the spacecraft never sends a malformed packet, so a
#: halt under this count is the grader's (graders.checks.ingest leaves it out).
GRADER_SEQ_COUNT: Final = 0x3FFF
#: What the packet is, for the output and the check's evidence.
WHAT: Final = "a PUS 5,1 event report without its event id"


def malformed_event_frame(scid: int, seq_count: int = GRADER_SEQ_COUNT) -> bytes:
    """A well-formed TM frame carrying a well-formed Space Packet whose PUS content is
    malformed: an event report with one octet of data (the event id needs two)."""
    packet = PusTm(PLATFORM_APID, 5, 1, b"\x01", seq_count=seq_count).encode()
    return TmFrame(scid, 0, packet, fhp=0).encode()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_telemetry", description=__doc__)
    parser.add_argument("--scid", type=int, required=True, help="the spacecraft id")
    parser.add_argument("--host", default=DOWNLINK_IN[0])
    parser.add_argument("--port", type=int, default=DOWNLINK_IN[1])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        frame = malformed_event_frame(args.scid)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (args.host, args.port))
    except (ValueError, ProtocolError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps({"sent": WHAT, "octets": len(frame), "seq_count": GRADER_SEQ_COUNT}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
