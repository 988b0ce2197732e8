"""Space Packet primary header and idle packets, CCSDS 133.0-B-2 §4.1.

Field layout first (:data:`PRIMARY_HEADER`), codec next, helpers last.
The scapy rendering of the same table lives in :mod:`labctl.protocols.layers.packets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.fields import Bits, Layout

PRIMARY_HEADER_SIZE: Final = 6
MAX_DATA_SIZE: Final = 65536  # data length field is octets - 1 over 16 bits (§4.1.3.5.3)
MAX_PACKET_SIZE: Final = PRIMARY_HEADER_SIZE + MAX_DATA_SIZE
APID_MASK: Final = 0x7FF
SEQ_COUNT_MASK: Final = 0x3FFF
IDLE_APID: Final = 0x7FF  # §4.1.3.3.4.4
IDLE_FILL: Final = 0xFF


class PacketType(IntEnum):
    """§4.1.3.3.2: 0 telemetry (reporting), 1 telecommand (request)."""

    TM = 0
    TC = 1


class SequenceFlags(IntEnum):
    """§4.1.3.4.2.2."""

    CONTINUATION = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


PRIMARY_HEADER: Final = Layout(
    "SpacePacket",
    "CCSDS 133.0-B-2 §4.1.3",
    (
        Bits("version", 3, 0, doc="packet version number, 000 (§4.1.3.2)"),
        Bits("packet_type", 1, 0, PacketType, doc="0 TM, 1 TC (§4.1.3.3.2)"),
        Bits("sec_header_flag", 1, 0, doc="secondary header present (§4.1.3.3.3)"),
        Bits("apid", 11, 0, hex=True, doc="application process id, 0x7FF idle (§4.1.3.3.4)"),
        Bits("seq_flags", 2, 3, SequenceFlags, doc="segmentation (§4.1.3.4.2)"),
        Bits("seq_count", 14, 0, doc="packet sequence count (§4.1.3.4.3)"),
        Bits("data_length", 16, None, doc="data field octets - 1 (§4.1.3.5)"),
    ),
)


@dataclass(frozen=True, slots=True)
class SpacePacket:
    """One Space Packet: primary header fields plus the packet data field.

    The data length field is derived from ``data`` on encode and used to bound
    ``data`` on decode, so it is not stored.
    """

    apid: int = 0
    packet_type: int = PacketType.TM
    sec_header_flag: int = 0
    seq_flags: int = SequenceFlags.UNSEGMENTED
    seq_count: int = 0
    data: bytes = b"\x00"
    version: int = 0

    def header(self) -> bytes:
        """The 6-octet primary header."""
        if not 1 <= len(self.data) <= MAX_DATA_SIZE:
            raise ProtocolError(f"packet data field must be 1..{MAX_DATA_SIZE} octets")
        return PRIMARY_HEADER.pack(
            (
                self.version,
                self.packet_type,
                self.sec_header_flag,
                self.apid,
                self.seq_flags,
                self.seq_count,
                len(self.data) - 1,
            )
        )

    def encode(self) -> bytes:
        return self.header() + self.data

    @classmethod
    def decode(cls, buf: bytes) -> SpacePacket:
        """Exactly one packet; trailing octets are an error."""
        packet, end = cls.decode_prefix(buf)
        if end != len(buf):
            raise ProtocolError(f"{len(buf) - end} trailing octets after the space packet")
        return packet

    @classmethod
    def decode_prefix(cls, buf: bytes, offset: int = 0) -> tuple[SpacePacket, int]:
        """The packet starting at ``offset`` and the offset just after it."""
        version, ptype, shf, apid, flags, count, length = PRIMARY_HEADER.unpack(buf, offset)
        start = offset + PRIMARY_HEADER_SIZE
        end = start + length + 1
        if end > len(buf):
            raise ProtocolError(
                f"space packet needs {end - offset} octets, got {len(buf) - offset}"
            )
        return cls(apid, ptype, shf, flags, count, bytes(buf[start:end]), version), end

    @property
    def is_idle(self) -> bool:
        return self.apid == IDLE_APID

    def __len__(self) -> int:
        return PRIMARY_HEADER_SIZE + len(self.data)


def packet_length_at(buf: bytes | bytearray, offset: int = 0) -> int | None:
    """Total length of the packet whose header starts at ``offset``; None if the header is cut."""
    if len(buf) < offset + PRIMARY_HEADER_SIZE:
        return None
    return PRIMARY_HEADER_SIZE + int.from_bytes(buf[offset + 4 : offset + 6], "big") + 1


def idle_packet(total_length: int, packet_type: int = PacketType.TM, seq_count: int = 0) -> bytes:
    """An idle packet (APID 0x7FF) of ``total_length`` octets filled with 0xFF (§4.1.3.3.4.4)."""
    if not PRIMARY_HEADER_SIZE + 1 <= total_length <= MAX_PACKET_SIZE:
        raise ProtocolError(f"idle packet length {total_length} outside 7..{MAX_PACKET_SIZE}")
    fill = bytes([IDLE_FILL]) * (total_length - PRIMARY_HEADER_SIZE)
    return SpacePacket(
        IDLE_APID, packet_type, 0, SequenceFlags.UNSEGMENTED, seq_count, fill
    ).encode()
