"""Split byte streams and datagrams into packets and frames, skipping and reporting garbage.

Every reader is bounded (it never buffers more than one maximum-size unit plus the chunk
being fed) and total (hostile octets become :class:`Garbage` reports, never exceptions).
Resynchronisation is by validation: a candidate unit must have a plausible header and,
where the format has one, a good CRC; otherwise one octet is skipped and the scan goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from labctl.errors import ProtocolError
from labctl.protocols.crc import crc16_ok
from labctl.protocols.pus import PUS_VERSION_C
from labctl.protocols.spacepacket import (
    APID_MASK,
    IDLE_APID,
    MAX_PACKET_SIZE,
    PRIMARY_HEADER_SIZE,
    PacketType,
    SpacePacket,
    packet_length_at,
)
from labctl.protocols.tc_frame import TC_HEADER_SIZE, TC_MAX_FRAME_SIZE, TcFrame
from labctl.protocols.tm_frame import TM_MAX_FRAME_SIZE, TmFrame

ASM: Final = bytes.fromhex("1ACFFC1D")  # attached sync marker, CCSDS 131.0-B §9
GARBAGE_SAMPLE: Final = 32
#: Streams cap packets well below the 65542-octet maximum: a forged length field then
#: costs a bounded wait and bounded CRC work before the scanner moves on.
STREAM_MAX_PACKET: Final = 4096

T = TypeVar("T")


class NeedMore(Exception):
    """Internal: the candidate at this offset is not complete yet."""


@dataclass(frozen=True, slots=True)
class Garbage:
    """A run of skipped octets: where it started (stream offset), how long, why, a sample."""

    offset: int
    length: int
    reason: str
    sample: bytes


Decoder = Callable[[bytes, int], tuple[T, int]]


@dataclass
class Scanner(Generic[T]):
    """Incremental scanner: ``feed`` octets, get decoded units and garbage reports back."""

    decode_at: Decoder[T]
    max_unit: int
    _buf: bytearray = field(default_factory=bytearray)
    _base: int = 0  # stream offset of _buf[0]
    _junk_start: int | None = None
    _junk_reason: str = ""
    _junk_sample: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes) -> tuple[list[T], list[Garbage]]:
        """Add octets; return the units completed and the garbage runs closed by them."""
        self._buf += chunk
        return self._scan(final=False)

    def close(self) -> tuple[list[T], list[Garbage]]:
        """End of stream: a unit still waiting for octets is garbage after all, so rescan
        past it; the remaining tail is reported as garbage."""
        units, garbage = self._scan(final=True)
        if self._buf:
            self._skip(bytes(self._buf), 0, "truncated at end of stream")
            self._base += len(self._buf)
            self._buf.clear()
        self._flush_junk(garbage, self._base)
        return units, garbage

    def _scan(self, final: bool) -> tuple[list[T], list[Garbage]]:
        units: list[T] = []
        garbage: list[Garbage] = []
        data = bytes(self._buf)
        pos = 0
        while pos < len(data):
            try:
                unit, end = self.decode_at(data, pos)
            except NeedMore:
                if not final and len(data) - pos < self.max_unit:
                    break
                self._skip(data, pos, "declared length never completed")
                pos += 1
                continue
            except ProtocolError as exc:
                self._skip(data, pos, str(exc))
                pos += 1
                continue
            self._flush_junk(garbage, self._base + pos)
            units.append(unit)
            pos = end
        del self._buf[:pos]
        self._base += pos
        return units, garbage

    def _skip(self, data: bytes, pos: int, reason: str) -> None:
        if self._junk_start is None:
            self._junk_start, self._junk_reason = self._base + pos, reason
            self._junk_sample = bytearray()
        if len(self._junk_sample) < GARBAGE_SAMPLE:
            self._junk_sample.append(data[pos])

    def _flush_junk(self, garbage: list[Garbage], upto: int) -> None:
        if self._junk_start is None:
            return
        length = upto - self._junk_start
        garbage.append(
            Garbage(self._junk_start, length, self._junk_reason, bytes(self._junk_sample))
        )
        self._junk_start = None


def space_packet_at(
    apids: frozenset[int] | None = None,
    max_size: int = MAX_PACKET_SIZE,
    check_pec: bool = False,
    packet_type: PacketType | None = None,
    pus: bool = False,
) -> Decoder[SpacePacket]:
    """Decoder for a Space Packet at an offset: version 0, optional APID allow-list and
    packet type, bounded length, and (``check_pec``) a good CRC for packets with a
    secondary header. ``pus`` requires a PUS-C secondary header (idle packets excepted),
    so every accepted packet has a CRC to check.

    Everything the header can tell is judged before the decoder waits for the declared
    length: junk rarely passes these tests, so a forged length seldom stalls a stream.
    """

    def decode(buf: bytes, pos: int) -> tuple[SpacePacket, int]:
        _judge_header(buf, pos, apids, packet_type, pus)
        size = packet_length_at(buf, pos)
        if size is None:
            raise NeedMore
        if size > max_size:
            raise ProtocolError(f"packet length {size} above {max_size}")
        if pos + size > len(buf):
            raise NeedMore
        packet, end = SpacePacket.decode_prefix(buf, pos)
        if check_pec and packet.sec_header_flag and not crc16_ok(buf[pos:end]):
            raise ProtocolError("packet error control mismatch")
        return packet, end

    return decode


def _judge_header(
    buf: bytes, pos: int, apids: frozenset[int] | None, packet_type: int | None, pus: bool
) -> None:
    """Reject a candidate on its first octets alone (as many as are there yet)."""
    if len(buf) - pos < 2:
        return
    first = int.from_bytes(buf[pos : pos + 2], "big")
    apid = first & APID_MASK
    if first >> 13 != 0:
        raise ProtocolError("packet version is not 000")
    if apids is not None and apid not in apids:
        raise ProtocolError(f"APID {apid:#x} not expected")
    if apid == IDLE_APID:
        return
    if packet_type is not None and (first >> 12) & 1 != packet_type:
        raise ProtocolError(f"not a {PacketType(packet_type).name} packet")
    if pus and not (first >> 11) & 1:
        raise ProtocolError("no secondary header (not a PUS packet)")
    version_at = pos + PRIMARY_HEADER_SIZE
    if pus and version_at < len(buf) and buf[version_at] >> 4 != PUS_VERSION_C:
        raise ProtocolError("not a PUS-C secondary header")


def tc_frame_at(scids: frozenset[int] | None = None, has_fecf: bool = True) -> Decoder[TcFrame]:
    """Decoder for a TC frame at an offset: version 00, spare 00, known SCID, good FECF."""

    def decode(buf: bytes, pos: int) -> tuple[TcFrame, int]:
        if len(buf) - pos < TC_HEADER_SIZE:
            raise NeedMore
        if buf[pos] & 0xCC:  # version bits and spare bits
            raise ProtocolError("TC frame version/spare bits not zero")
        size = (int.from_bytes(buf[pos + 2 : pos + 4], "big") & 0x3FF) + 1
        if pos + size > len(buf):
            raise NeedMore
        frame, end = TcFrame.decode_prefix(buf, pos, has_fecf)
        if scids is not None and frame.scid not in scids:
            raise ProtocolError(f"SCID {frame.scid:#x} not ours")
        return frame, end

    return decode


def tm_frame_at(frame_length: int, has_fecf: bool = True, asm: bool = False) -> Decoder[TmFrame]:
    """Decoder for fixed-length TM frames, optionally each preceded by the ASM."""
    if not TC_HEADER_SIZE < frame_length <= TM_MAX_FRAME_SIZE:
        raise ValueError("TM frame length out of range")
    prefix = ASM if asm else b""

    def decode(buf: bytes, pos: int) -> tuple[TmFrame, int]:
        end = pos + len(prefix) + frame_length
        if end > len(buf):
            raise NeedMore
        if prefix and buf[pos : pos + len(prefix)] != prefix:
            raise ProtocolError("no attached sync marker")
        if buf[pos + len(prefix)] >> 6 != 0:
            raise ProtocolError("TM frame version is not 00")
        return TmFrame.decode(buf[pos + len(prefix) : end], has_fecf), end

    return decode


def packet_stream(
    apids: frozenset[int] | None = None,
    max_size: int = STREAM_MAX_PACKET,
    check_pec: bool = False,
    packet_type: PacketType | None = None,
    pus: bool = False,
) -> Scanner[SpacePacket]:
    """A :class:`Scanner` for Space Packets (see :func:`space_packet_at`)."""
    return Scanner(space_packet_at(apids, max_size, check_pec, packet_type, pus), max_size)


def tc_frame_stream(scids: frozenset[int] | None = None, has_fecf: bool = True) -> Scanner[TcFrame]:
    return Scanner(tc_frame_at(scids, has_fecf), TC_MAX_FRAME_SIZE)


def tm_frame_stream(
    frame_length: int, has_fecf: bool = True, asm: bool = False
) -> Scanner[TmFrame]:
    return Scanner(tm_frame_at(frame_length, has_fecf, asm), frame_length + len(ASM))


def split_datagram(decoder: Decoder[T], datagram: bytes) -> tuple[list[T], list[Garbage]]:
    """All units in one datagram (several may be concatenated) plus garbage reports."""
    scanner: Scanner[T] = Scanner(decoder, len(datagram) + 1)
    units, garbage = scanner.feed(datagram)
    more, tail = scanner.close()
    return units + more, garbage + tail


def packets_in(data: bytes) -> tuple[list[SpacePacket], bytes]:
    """Complete packets at the start of a frame data field, and the cut-off rest."""
    packets: list[SpacePacket] = []
    pos = 0
    while len(data) - pos >= PRIMARY_HEADER_SIZE:
        size = packet_length_at(data, pos)
        if size is None or pos + size > len(data):
            break
        packets.append(SpacePacket.decode_prefix(data, pos)[0])
        pos += size
    return packets, bytes(data[pos:])
