"""SDLS extended procedures (CCSDS 355.1-B-1): the PDUs that manage security associations.

A PDU is a tag octet (bit 7 type: 0 command, 1 reply; bit 6 user flag; bits 5-4 service
group; bits 3-0 procedure id), a 16-bit length of the data field *in bits*, and the data.
The service groups and procedure ids are the standard's (the same numbers CryptoLib uses).
labctl carries PDUs as the application data of a PUS telecommand (mission service 129,
subtype 1) and replies as telemetry 129,2; see :mod:`labctl.range.hosts.catalog`.

Procedures implemented on the spacecraft (SA management): Start, Stop, Expire, Set ARSN,
Set ARSN window, Read ARSN, SA status. Every PDU read from the network is hostile:
:func:`decode` bounds and checks every field and raises ProtocolError, nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from labctl.errors import ProtocolError

HEADER: Final = struct.Struct(">BH")
#: Longest data field accepted (the SA management PDUs here carry a few octets).
MAX_DATA: Final = 256


class ServiceGroup(IntEnum):
    KEY_MANAGEMENT = 0b00
    SA_MANAGEMENT = 0b01
    MONITORING_CONTROL = 0b11


class SaProcedure(IntEnum):
    """Procedure ids of the SA management service group (355.1-B-1 §3.4)."""

    READ_ARSN = 0b0000
    CREATE = 0b0001
    DELETE = 0b0100
    SET_ARSNW = 0b0101
    REKEY = 0b0110
    EXPIRE = 0b1001
    SET_ARSN = 0b1010
    START = 0b1011
    STOP = 0b1110
    STATUS = 0b1111


@dataclass(frozen=True)
class EpPdu:
    """One extended-procedure PDU."""

    group: int
    procedure: int
    data: bytes = b""
    reply: bool = False
    user: bool = False

    def encode(self) -> bytes:
        if not 0 <= self.group <= 3 or not 0 <= self.procedure <= 15:
            raise ProtocolError(f"service group {self.group} / procedure {self.procedure}")
        if len(self.data) > MAX_DATA:
            raise ProtocolError(f"PDU data of {len(self.data)} octets; at most {MAX_DATA}")
        tag = (self.reply << 7) | (self.user << 6) | (self.group << 4) | self.procedure
        return HEADER.pack(tag, len(self.data) * 8) + self.data

    @property
    def tag(self) -> tuple[int, int]:
        return self.group, self.procedure


def decode(raw: bytes) -> EpPdu:
    """Parse one PDU that fills ``raw`` exactly. Raises ProtocolError on anything else."""
    if len(raw) < HEADER.size:
        raise ProtocolError(f"SDLS EP PDU of {len(raw)} octets; the header needs 3")
    tag, bits = HEADER.unpack_from(raw)
    if bits % 8:
        raise ProtocolError(f"SDLS EP PDU length of {bits} bits is not whole octets")
    data = raw[HEADER.size :]
    if bits // 8 != len(data) or len(data) > MAX_DATA:
        raise ProtocolError(f"SDLS EP PDU says {bits // 8} data octets, carries {len(data)}")
    return EpPdu(
        group=(tag >> 4) & 0b11,
        procedure=tag & 0b1111,
        data=data,
        reply=bool(tag & 0x80),
        user=bool(tag & 0x40),
    )
