"""The downlink: TM frames heard on the air (UDP) → CLCW for FOP-1, PUS TM packets for clients.

Every datagram is hostile: anyone on the radio segment can transmit on the downlink
air. A datagram must be exactly one TM frame with a good FECF and our SCID. Frames on
the idle virtual channel (VC 7) only carry an OCF (CLCW or Frame Security Report).
Frames on the configured data VC pass SDLS ProcessSecurity when a downlink SA is
configured (a rejected frame is dropped whole, OCF included, and counted); then the OCF
goes to FOP-1 and the packet zone to the :class:`PacketExtractor`.

The first header pointer is read relative to the clear (decrypted) data field: it is the
offset of the first packet header there, 0x7FF when a packet continues through the
whole frame, 0x7FE for idle data. Packets may span frames; a gap in the virtual channel
frame count drops the packet that was being reassembled. Octets after the last packet
that cannot start a header (version bits not 000, such as the spacecraft's 0xFF fill when
less room is left than an idle packet needs) are fill and ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, cast

from labctl.errors import ProtocolError
from labctl.protocols.crc import crc16_ok
from labctl.protocols.spacepacket import IDLE_APID, PRIMARY_HEADER_SIZE, packet_length_at
from labctl.protocols.stream import STREAM_MAX_PACKET
from labctl.protocols.tm_frame import (
    FHP_IDLE,
    FHP_NO_PACKET_START,
    IDLE_VCID,
    Clcw,
    Fsr,
    TmFrame,
    decode_ocf,
)
from labctl.range.hosts.groundstation.counters import Counters
from labctl.range.hosts.groundstation.settings import DownlinkSettings
from labctl.range.hosts.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

FRAME_COUNT_MODULUS: Final = 256


class PacketExtractor:
    """Reassembles Space Packets from the packet zones of consecutive frames of one VC."""

    def __init__(self, max_packet: int = STREAM_MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._partial: bytearray | None = None
        self._next_count: int | None = None
        self.octets_lost = 0
        self.broken = 0

    def push(self, vc_count: int, fhp: int, data: bytes) -> list[bytes]:
        """The packets completed by this frame's data field (idle packets included)."""
        if self._next_count is not None and vc_count != self._next_count:
            self._drop()  # a frame went missing: the packet in progress is incomplete
        self._next_count = (vc_count + 1) % FRAME_COUNT_MODULUS
        if fhp == FHP_IDLE:
            self._drop()
            return []
        if fhp == FHP_NO_PACKET_START:
            return self._extend(data)
        if fhp > len(data):
            self.broken += 1
            self._drop()
            return []
        packets = self._extend(data[:fhp])
        if self._partial is not None:  # a new packet starts before the old one ended
            self.broken += 1
            self._drop()
        return packets + self._split(data[fhp:])

    def _extend(self, chunk: bytes) -> list[bytes]:
        if self._partial is None:
            self.octets_lost += len(chunk)
            return []
        self._partial += chunk
        size = packet_length_at(self._partial)
        if size is None and len(self._partial) <= self.max_packet:
            return []
        if size is None or size > self.max_packet or len(self._partial) > size:
            self.broken += 1
            self._drop()
            return []
        if len(self._partial) < size:
            return []
        packet, self._partial = bytes(self._partial), None
        return [packet]

    def _split(self, zone: bytes) -> list[bytes]:
        packets: list[bytes] = []
        pos = 0
        while pos < len(zone):
            if zone[pos] >> 5:  # not a packet version: fill after the last packet
                return packets
            size = packet_length_at(zone, pos)
            if size is None or pos + size > len(zone):
                self._partial = bytearray(zone[pos:])
                return packets + self._extend(b"")
            packets.append(zone[pos : pos + size])
            pos += size
        return packets

    def _drop(self) -> None:
        if self._partial is not None:
            self.octets_lost += len(self._partial)
            self._partial = None


def valid_tm_packet(packet: bytes) -> bool:
    """Version 0, type TM, and a good packet error control when it has a secondary header."""
    if len(packet) <= PRIMARY_HEADER_SIZE or packet[0] >> 5 or packet[0] & 0x10:
        return False
    return not (packet[0] & 0x08) or crc16_ok(packet)


class Downlink(asyncio.DatagramProtocol):
    """The UDP listener on the downlink air and everything done to what it hears."""

    def __init__(
        self,
        scid: int,
        settings: DownlinkSettings,
        counters: Counters,
        on_clcw: Callable[[Clcw], None],
        on_packet: Callable[[bytes], None],
    ) -> None:
        self.scid = scid
        self.settings = settings
        self._counters = counters
        self._on_clcw = on_clcw
        self._on_packet = on_packet
        self._engine = settings.sa.engine() if settings.sa else None
        self._extractor = PacketExtractor()
        self._transport: asyncio.DatagramTransport | None = None
        #: Anyone on the air can send: warnings about what they send are rate-limited.
        self.hostile = RateLimitedLog(log)
        self.last_clcw: Clcw | None = None
        self.last_fsr: Fsr | None = None

    async def start(self) -> None:
        if self.settings.sa is not None and self._engine is not None:
            self.settings.sa.restore(self._engine, "downlink.sa.sequence_file")
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.settings.address, self.settings.port)
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._transport is not None, "not started"
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.handle(data)

    def handle(self, datagram: bytes) -> None:
        """Process one datagram from the air (never raises on hostile octets)."""
        frame = self._decode(datagram)
        if frame is None:
            return
        if frame.vcid == IDLE_VCID and frame.is_idle:
            self._counters.frames_received += 1
            self._ocf(frame)
            return
        if frame.vcid != self.settings.vcid:
            self._counters.frames_other_vc += 1
            return
        data = self._verify(frame)
        if data is None:
            return
        self._counters.frames_received += 1
        self._ocf(frame)
        self._packets(frame, data)

    def _decode(self, datagram: bytes) -> TmFrame | None:
        try:
            frame = TmFrame.decode(datagram)
        except ProtocolError as exc:
            self._counters.frames_invalid += 1
            self.hostile.event(
                "downlink: invalid frames", "downlink: invalid frame: %s", exc, level=logging.INFO
            )
            return None
        if frame.scid != self.scid or frame.version != 0:
            self._counters.frames_invalid += 1
            self.hostile.event(
                "downlink: frames for another spacecraft",
                "downlink: frame for SCID %#x ignored",
                frame.scid,
                level=logging.INFO,
            )
            return None
        return frame

    def _verify(self, frame: TmFrame) -> bytes | None:
        if self._engine is None:
            return frame.data
        verdict = self._engine.verify_tm(frame)
        if verdict.accepted:
            if self.settings.sa is not None:
                self.settings.sa.persist(self._engine)
            return verdict.data
        reason = verdict.reason.name if verdict.reason is not None else "unknown"
        self.hostile.event(
            f"downlink: frames rejected by SDLS ({reason})",
            "downlink: SDLS rejected a frame (%s, SPI %s)",
            reason,
            verdict.spi,
        )
        self._counters.sdls_rejections += 1
        self._counters.sdls_by_reason[reason] += 1
        return None

    def _ocf(self, frame: TmFrame) -> None:
        if frame.ocf is None:
            return
        try:
            word = decode_ocf(frame.ocf)
        except ProtocolError:
            return
        if isinstance(word, Fsr):
            self.last_fsr = word
            return
        self.last_clcw = word
        self._on_clcw(word)

    def _packets(self, frame: TmFrame, data: bytes) -> None:
        extractor = self._extractor
        lost, broken = extractor.octets_lost, extractor.broken
        for packet in extractor.push(frame.vc_count, frame.fhp, data):
            if not valid_tm_packet(packet):
                self._counters.tm_packets_invalid += 1
            elif packet_apid(packet) != IDLE_APID:
                self._counters.tm_packets_forwarded += 1
                self._on_packet(packet)
        self._counters.tm_octets_lost += extractor.octets_lost - lost
        self._counters.tm_packets_invalid += extractor.broken - broken


def packet_apid(packet: bytes) -> int:
    return int.from_bytes(packet[:2], "big") & 0x7FF
