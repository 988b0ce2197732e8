"""PUS-C telecommand and telemetry packets, ECSS-E-ST-70-41C §7.4.

A PUS packet is a Space Packet (CCSDS 133.0-B-2) with the secondary header flag set, a
PUS secondary header, application/source data and the packet error control (CRC-16-CCITT,
§7.4.3.1 and annex B). TM packets carry a CDS short time (CCSDS 301.0-B-4 §3.3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.crc import CRC16_SIZE, append_crc16, check_crc16
from labctl.protocols.fields import Bits, Layout
from labctl.protocols.spacepacket import (
    MAX_DATA_SIZE,
    PRIMARY_HEADER,
    PRIMARY_HEADER_SIZE,
    PacketType,
    SequenceFlags,
)

PUS_VERSION_C: Final = 2
TC_SECONDARY_HEADER_SIZE: Final = 5
TM_SECONDARY_HEADER_SIZE: Final = 7  # without the time field
CDS_SHORT_SIZE: Final = 7
CDS_SHORT_PFIELD: Final = 0x40  # time code id 100 (CDS), epoch 1958, 16-bit days, 16-bit ms
CCSDS_EPOCH: Final = dt.datetime(1958, 1, 1, tzinfo=dt.UTC)
MS_PER_DAY: Final = 86_400_000
ACK_ALL: Final = 0b1111  # acceptance, start, progress, completion (§7.4.3.1.e)

TC_SECONDARY_HEADER: Final = Layout(
    "PusTc",
    "ECSS-E-ST-70-41C §7.4.3.1",
    (
        Bits("pus_version", 4, PUS_VERSION_C, doc="TC packet PUS version number, 2 = PUS-C"),
        Bits(
            "ack_flags", 4, ACK_ALL, hex=True, doc="acknowledgement flags (acc, start, prog, compl)"
        ),
        Bits("service", 8, 17, doc="service type id"),
        Bits("subtype", 8, 1, doc="message subtype id"),
        Bits("source_id", 16, 0, doc="source identifier"),
    ),
)

TM_SECONDARY_HEADER: Final = Layout(
    "PusTm",
    "ECSS-E-ST-70-41C §7.4.3.2",
    (
        Bits("pus_version", 4, PUS_VERSION_C, doc="TM packet PUS version number, 2 = PUS-C"),
        Bits("time_ref", 4, 0, doc="spacecraft time reference status"),
        Bits("service", 8, 17, doc="service type id"),
        Bits("subtype", 8, 2, doc="message subtype id"),
        Bits("msg_counter", 16, 0, doc="message type counter"),
        Bits("dest_id", 16, 0, doc="destination identifier"),
    ),
)

CDS_SHORT: Final = Layout(
    "CdsShortTime",
    "CCSDS 301.0-B-4 §3.3",
    (
        Bits("pfield", 8, CDS_SHORT_PFIELD, hex=True, doc="P-field: CDS, 1958 epoch, 16-bit day"),
        Bits("days", 16, 0, doc="days since 1958-01-01"),
        Bits("ms_of_day", 32, 0, doc="milliseconds of day"),
    ),
)


@dataclass(frozen=True, slots=True)
class CdsShortTime:
    """CDS short time code with its P-field, 7 octets (CCSDS 301.0-B-4 §3.3)."""

    days: int = 0
    ms_of_day: int = 0

    def encode(self) -> bytes:
        return CDS_SHORT.pack((CDS_SHORT_PFIELD, self.days, self.ms_of_day))

    @classmethod
    def decode(cls, buf: bytes) -> CdsShortTime:
        pfield, days, ms = CDS_SHORT.unpack(buf)
        if pfield != CDS_SHORT_PFIELD or len(buf) != CDS_SHORT_SIZE:
            raise ProtocolError(f"not a CDS short time: {bytes(buf).hex()}")
        return cls(days, ms)

    @classmethod
    def from_datetime(cls, when: dt.datetime) -> CdsShortTime:
        delta = when.astimezone(dt.UTC) - CCSDS_EPOCH
        ms = delta.days * MS_PER_DAY + delta.seconds * 1000 + delta.microseconds // 1000
        return cls(*divmod(ms, MS_PER_DAY))

    def to_datetime(self) -> dt.datetime:
        return CCSDS_EPOCH + dt.timedelta(days=self.days, milliseconds=self.ms_of_day)


def _packet(ptype: int, apid: int, flags: int, count: int, body: bytes) -> bytes:
    """Primary header + body + CRC; the data length covers the CRC."""
    if len(body) + CRC16_SIZE > MAX_DATA_SIZE:
        raise ProtocolError("PUS packet too long")
    length = len(body) + CRC16_SIZE - 1
    return append_crc16(PRIMARY_HEADER.pack((0, ptype, 1, apid, flags, count, length)) + body)


def _checked_body(buf: bytes, ptype: int, minimum: int) -> tuple[int, ...]:
    """Validate the primary header and CRC of a whole PUS packet; return the header fields."""
    fields = PRIMARY_HEADER.unpack(buf)
    if len(buf) != PRIMARY_HEADER_SIZE + fields[6] + 1:
        raise ProtocolError(f"PUS packet length field says {fields[6] + 7}, got {len(buf)}")
    if fields[1] != ptype or not fields[2]:
        raise ProtocolError("not a PUS packet of that type (packet type / secondary header flag)")
    if len(buf) < PRIMARY_HEADER_SIZE + minimum + CRC16_SIZE:
        raise ProtocolError("PUS packet shorter than its secondary header and CRC")
    check_crc16(buf, "PUS packet error control")
    return fields


@dataclass(frozen=True, slots=True)
class PusTc:
    """A PUS-C telecommand packet (ECSS-E-ST-70-41C §7.4.3.1) with packet error control."""

    apid: int
    service: int
    subtype: int
    app_data: bytes = b""
    seq_count: int = 0
    source_id: int = 0
    ack_flags: int = ACK_ALL
    seq_flags: int = SequenceFlags.UNSEGMENTED
    pus_version: int = PUS_VERSION_C

    def encode(self) -> bytes:
        sec = TC_SECONDARY_HEADER.pack(
            (self.pus_version, self.ack_flags, self.service, self.subtype, self.source_id)
        )
        body = sec + self.app_data
        return _packet(PacketType.TC, self.apid, self.seq_flags, self.seq_count, body)

    @classmethod
    def decode(cls, buf: bytes) -> PusTc:
        """One whole packet; CRC, type and lengths are checked."""
        _, _, _, apid, flags, count, _ = _checked_body(buf, PacketType.TC, TC_SECONDARY_HEADER_SIZE)
        version, ack, service, subtype, source = TC_SECONDARY_HEADER.unpack(
            buf, PRIMARY_HEADER_SIZE
        )
        app = bytes(buf[PRIMARY_HEADER_SIZE + TC_SECONDARY_HEADER_SIZE : -CRC16_SIZE])
        return cls(apid, service, subtype, app, count, source, ack, flags, version)


@dataclass(frozen=True, slots=True)
class PusTm:
    """A PUS-C telemetry packet (ECSS-E-ST-70-41C §7.4.3.2) with CDS short time and PEC."""

    apid: int
    service: int
    subtype: int
    source_data: bytes = b""
    seq_count: int = 0
    msg_counter: int = 0
    dest_id: int = 0
    time: bytes = CdsShortTime().encode()
    time_ref: int = 0
    seq_flags: int = SequenceFlags.UNSEGMENTED
    pus_version: int = PUS_VERSION_C

    def encode(self) -> bytes:
        sec = TM_SECONDARY_HEADER.pack(
            (
                self.pus_version,
                self.time_ref,
                self.service,
                self.subtype,
                self.msg_counter,
                self.dest_id,
            )
        )
        body = sec + self.time + self.source_data
        return _packet(PacketType.TM, self.apid, self.seq_flags, self.seq_count, body)

    @classmethod
    def decode(cls, buf: bytes, time_length: int = CDS_SHORT_SIZE) -> PusTm:
        """One whole packet whose time field is ``time_length`` octets (mission constant)."""
        minimum = TM_SECONDARY_HEADER_SIZE + time_length
        _, _, _, apid, flags, count, _ = _checked_body(buf, PacketType.TM, minimum)
        version, ref, service, subtype, counter, dest = TM_SECONDARY_HEADER.unpack(
            buf, PRIMARY_HEADER_SIZE
        )
        time_start = PRIMARY_HEADER_SIZE + TM_SECONDARY_HEADER_SIZE
        data_start = time_start + time_length
        time = bytes(buf[time_start:data_start])
        data = bytes(buf[data_start:-CRC16_SIZE])
        return cls(apid, service, subtype, data, count, counter, dest, time, ref, flags, version)

    @property
    def cds_time(self) -> CdsShortTime:
        return CdsShortTime.decode(self.time)
