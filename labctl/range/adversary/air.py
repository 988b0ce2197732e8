"""What the adversary hears on the rf segment and what it puts on it.

Plain UDP, as a student's radio: the rf-link broadcasts the uplink air on UDP 5101 and the
downlink air on UDP 5103, and anyone on the rf network transmits by sending to
rf-link:5100. Every datagram heard is hostile: it is length-checked and decoded inside
``try``; what does not decode is ignored.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.tc_frame import TC_MAX_FRAME_SIZE, FrameKind, TcFrame
from labctl.protocols.tm_frame import TmFrame

MAX_DATAGRAM: Final = 2048
SEGMENT_HEADER: Final = 1
SPI_OCTETS: Final = 2
#: The mission's baseline SDLS layout on the uplink (authenticated encryption, AES-GCM):
#: the 12-octet IV after the SPI carries the anti-replay sequence number.
BASELINE_IV: Final = 12


@dataclass(frozen=True)
class Heard:
    """A well-formed TC frame heard on the uplink air."""

    raw: bytes
    frame: TcFrame


def tc_frame(datagram: bytes) -> TcFrame | None:
    """The TC frame in ``datagram``, or None for anything else (noise, truncation)."""
    if not 6 <= len(datagram) <= TC_MAX_FRAME_SIZE:
        return None
    try:
        return TcFrame.decode(datagram)
    except (ProtocolError, ValueError, IndexError):
        return None


def tm_scid(datagram: bytes) -> int | None:
    """The spacecraft id of a TM frame heard on the downlink air, if it is one."""
    if len(datagram) > MAX_DATAGRAM:
        return None
    try:
        return TmFrame.decode(datagram).scid
    except (ProtocolError, ValueError, IndexError):
        return None


def sdls_facts(frame: TcFrame) -> tuple[int | None, int | None]:
    """(SPI, sequence number) read from a frame's clear SDLS header, baseline layout.

    The security header follows the segment header; the SPI is always its first two
    octets. The sequence number is the 12-octet IV of the baseline SA. A frame too short
    to hold them gives None."""
    data = frame.data
    spi_end = SEGMENT_HEADER + SPI_OCTETS
    if frame.kind is not FrameKind.AD or len(data) < spi_end:
        return None, None
    spi = int.from_bytes(data[SEGMENT_HEADER:spi_end], "big")
    if len(data) < spi_end + BASELINE_IV:
        return spi, None
    return spi, int.from_bytes(data[spi_end : spi_end + BASELINE_IV], "big")


@contextlib.contextmanager
def listening(*ports: int, host: str = "0.0.0.0") -> Iterator[list[socket.socket]]:
    """UDP sockets bound to the air ports (SO_REUSEADDR: other listeners hear too)."""
    socks: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def receive(
    socks: list[socket.socket], deadline: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[tuple[socket.socket, bytes]]:
    """Datagrams from any of ``socks`` until ``deadline`` (on ``clock``)."""
    while (left := deadline - clock()) > 0:
        ready, _, _ = select.select(socks, [], [], left)
        for sock in ready:
            try:
                datagram = sock.recv(MAX_DATAGRAM + 1)
            except OSError:
                continue
            yield sock, datagram


def capture_ad(
    port: int,
    count: int,
    timeout: float,
    host: str = "0.0.0.0",
    ignore: Callable[[bytes], bool] = lambda datagram: False,
) -> list[Heard]:
    """Up to ``count`` distinct type-AD frames heard on the uplink air within ``timeout``,
    leaving out those ``ignore`` names (the adversary's own transmissions, relayed back)."""
    heard: list[Heard] = []
    seen: set[bytes] = set()
    with listening(port, host=host) as socks:
        for _, datagram in receive(socks, time.monotonic() + timeout):
            frame = tc_frame(datagram)
            if frame is None or frame.kind is not FrameKind.AD or datagram in seen:
                continue
            if ignore(datagram):
                continue
            seen.add(datagram)
            heard.append(Heard(datagram, frame))
            if len(heard) >= count:
                break
    return heard


def learn_link(
    uplink_port: int, downlink_port: int, timeout: float, host: str = "0.0.0.0"
) -> tuple[int, int] | None:
    """(SCID, TC VCID) from the first frame heard on either air within ``timeout``.

    An uplink frame gives both; a downlink frame gives the SCID (VC 0 assumed)."""
    with listening(uplink_port, downlink_port, host=host) as socks:
        uplink = socks[0]
        for sock, datagram in receive(socks, time.monotonic() + timeout):
            if sock is uplink:
                frame = tc_frame(datagram)
                if frame is not None:
                    return frame.scid, frame.vcid
            else:
                scid = tm_scid(datagram)
                if scid is not None:
                    return scid, 0
    return None


def watch_downlink(
    port: int,
    heard: Callable[[float], None],
    stop: Callable[[], bool],
    clock: Callable[[], float],
    host: str = "0.0.0.0",
) -> None:
    """Call ``heard(clock())`` for every TM frame on the downlink air until ``stop()``."""
    with listening(port, host=host) as socks:
        while not stop():
            for _, datagram in receive(socks, time.monotonic() + 0.5):
                if tm_scid(datagram) is not None:
                    heard(clock())
                if stop():
                    return
