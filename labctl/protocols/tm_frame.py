"""TM Space Data Link Protocol transfer frames, CCSDS 132.0-B-3.

Primary header with data field status (§4.1.2), optional secondary header (§4.1.3),
data field, operational control field (§4.1.5) and FECF (§4.1.6). The OCF carries a
CLCW (type 0, CCSDS 232.0-B-4 §4.2) or an SDLS Frame Security Report (type 1,
CCSDS 355.0-B-2 §4.2.4 / 355.1-B-1). TM frames have a fixed length per physical channel
(a managed parameter), so a decoder is given exactly one frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.crc import CRC16_SIZE, append_crc16, check_crc16
from labctl.protocols.fields import Bits, Layout

TM_HEADER_SIZE: Final = 6
TM_MAX_FRAME_SIZE: Final = 2048  # 132.0-B-3 §4.1.1 upper bound used by spacepackets, too
OCF_SIZE: Final = 4
FHP_NO_PACKET_START: Final = 0x7FF  # §4.1.2.7.2
FHP_IDLE: Final = 0x7FE  # only idle data in the frame
IDLE_VCID: Final = 7
IDLE_FILL: Final = 0x55
SECONDARY_HEADER_MAX_DATA: Final = 63

TM_PRIMARY_HEADER: Final = Layout(
    "TMFrame",
    "CCSDS 132.0-B-3 §4.1.2",
    (
        Bits("version", 2, 0, doc="transfer frame version number, 00 (§4.1.2.2.2)"),
        Bits("scid", 10, 0, hex=True, doc="spacecraft id (§4.1.2.2.3)"),
        Bits("vcid", 3, 0, doc="virtual channel id (§4.1.2.3)"),
        Bits("ocf_flag", 1, None, doc="OCF present (§4.1.2.4)"),
        Bits("mc_count", 8, 0, doc="master channel frame count (§4.1.2.5)"),
        Bits("vc_count", 8, 0, doc="virtual channel frame count (§4.1.2.6)"),
        Bits("sec_header_flag", 1, None, doc="secondary header present (§4.1.2.7.2)"),
        Bits("sync_flag", 1, 0, doc="0 packets / VCA_SDU octet-synchronised (§4.1.2.7.3)"),
        Bits("packet_order", 1, 0, doc="packet order flag, 0 (§4.1.2.7.4)"),
        Bits("segment_length_id", 2, 3, doc="segment length id, 11 (§4.1.2.7.5)"),
        Bits("fhp", 11, 0, hex=True, doc="first header pointer, 0x7FF none, 0x7FE idle"),
    ),
)

CLCW: Final = Layout(
    "CLCW",
    "CCSDS 232.0-B-4 §4.2.1",
    (
        Bits("type", 1, 0, doc="control word type, 0 = CLCW"),
        Bits("version", 2, 0, doc="CLCW version number, 00"),
        Bits("status", 3, 0, doc="mission-specific status field"),
        Bits("cop", 2, 1, doc="COP in effect, 01 = COP-1"),
        Bits("vcid", 6, 0, doc="virtual channel id the report is about"),
        Bits("spare", 2, 0, doc="reserved spare"),
        Bits("no_rf", 1, 0, doc="no RF available"),
        Bits("no_bitlock", 1, 0, doc="no bit lock"),
        Bits("lockout", 1, 0, doc="FARM-1 in lockout"),
        Bits("wait", 1, 0, doc="FARM-1 cannot accept frames (wait)"),
        Bits("retransmit", 1, 0, doc="retransmission requested"),
        Bits("farm_b_counter", 2, 0, doc="2 LSBs of the FARM-B counter"),
        Bits("spare2", 1, 0, doc="reserved spare"),
        Bits("report", 8, 0, doc="report value N(R) = V(R)"),
    ),
)

FSR: Final = Layout(
    "FSR",
    "CCSDS 355.0-B-2 §4.2.4, 355.1-B-1 §3.2.4",
    (
        Bits("type", 1, 1, doc="control word type, 1 = not a CLCW"),
        Bits("version", 3, 0b100, doc="FSR version number, 100"),
        Bits("alarm", 1, 0, doc="alarm flag: a frame was rejected since the last report"),
        Bits("bad_sn", 1, 0, doc="bad sequence number flag"),
        Bits("bad_mac", 1, 0, doc="bad MAC flag"),
        Bits("bad_sa", 1, 0, doc="bad / unknown / not operational SA flag"),
        Bits("spi", 16, 0, doc="last SPI used"),
        Bits("sn_lsb", 8, 0, doc="8 LSBs of the last sequence number"),
    ),
)


@dataclass(frozen=True, slots=True)
class Clcw:
    """Communications Link Control Word (232.0-B-4 §4.2)."""

    vcid: int = 0
    report: int = 0
    lockout: int = 0
    wait: int = 0
    retransmit: int = 0
    farm_b_counter: int = 0
    no_rf: int = 0
    no_bitlock: int = 0
    status: int = 0
    cop: int = 1
    version: int = 0
    spare: int = 0
    spare2: int = 0

    def encode(self) -> bytes:
        s = self
        head = (0, s.version, s.status, s.cop, s.vcid, s.spare, s.no_rf, s.no_bitlock)
        return CLCW.pack(
            (*head, s.lockout, s.wait, s.retransmit, s.farm_b_counter, s.spare2, s.report)
        )

    @classmethod
    def decode(cls, buf: bytes) -> Clcw:
        if len(buf) != OCF_SIZE:
            raise ProtocolError("a CLCW is 4 octets")
        t, ver, st, cop, vc, sp, rf, bl, lo, wt, rt, fb, sp2, rep = CLCW.unpack(buf)
        if t != 0:
            raise ProtocolError("control word type 1 is not a CLCW")
        return cls(vc, rep, lo, wt, rt, fb, rf, bl, st, cop, ver, sp, sp2)


@dataclass(frozen=True, slots=True)
class Fsr:
    """SDLS Frame Security Report carried in the OCF (355.0-B-2 §4.2.4)."""

    alarm: int = 0
    bad_sn: int = 0
    bad_mac: int = 0
    bad_sa: int = 0
    spi: int = 0
    sn_lsb: int = 0
    version: int = 0b100

    def encode(self) -> bytes:
        s = self
        return FSR.pack((1, s.version, s.alarm, s.bad_sn, s.bad_mac, s.bad_sa, s.spi, s.sn_lsb))

    @classmethod
    def decode(cls, buf: bytes) -> Fsr:
        if len(buf) != OCF_SIZE:
            raise ProtocolError("an FSR is 4 octets")
        t, ver, alarm, bad_sn, bad_mac, bad_sa, spi, sn = FSR.unpack(buf)
        if t != 1:
            raise ProtocolError("control word type 0 is a CLCW, not an FSR")
        return cls(alarm, bad_sn, bad_mac, bad_sa, spi, sn, ver)


def decode_ocf(buf: bytes) -> Clcw | Fsr:
    """The OCF content by its control word type bit."""
    if len(buf) != OCF_SIZE:
        raise ProtocolError("an OCF is 4 octets")
    return Fsr.decode(buf) if buf[0] & 0x80 else Clcw.decode(buf)


@dataclass(frozen=True, slots=True)
class TmFrame:
    """A TM transfer frame. Flags for OCF and secondary header follow from the fields."""

    scid: int
    vcid: int
    data: bytes
    mc_count: int = 0
    vc_count: int = 0
    fhp: int = 0
    ocf: bytes | None = None
    secondary_header: bytes | None = None
    sync_flag: int = 0
    packet_order: int = 0
    segment_length_id: int = 3
    version: int = 0

    def header(self) -> bytes:
        return TM_PRIMARY_HEADER.pack(
            (
                self.version,
                self.scid,
                self.vcid,
                self.ocf is not None,
                self.mc_count,
                self.vc_count,
                self.secondary_header is not None,
                self.sync_flag,
                self.packet_order,
                self.segment_length_id,
                self.fhp,
            )
        )

    def encode(self, has_fecf: bool = True) -> bytes:
        parts = [self.header()]
        if self.secondary_header is not None:
            parts.append(encode_secondary_header(self.secondary_header))
        parts.append(self.data)
        if self.ocf is not None:
            if len(self.ocf) != OCF_SIZE:
                raise ProtocolError("the OCF is 4 octets")
            parts.append(self.ocf)
        raw = b"".join(parts)
        if len(raw) + CRC16_SIZE * has_fecf > TM_MAX_FRAME_SIZE:
            raise ProtocolError(f"TM frame longer than {TM_MAX_FRAME_SIZE} octets")
        return append_crc16(raw) if has_fecf else raw

    @classmethod
    def decode(cls, buf: bytes, has_fecf: bool = True) -> TmFrame:
        """Exactly one frame (TM frames have a fixed, managed length)."""
        if len(buf) > TM_MAX_FRAME_SIZE:
            raise ProtocolError(f"TM frame longer than {TM_MAX_FRAME_SIZE} octets")
        ver, scid, vcid, ocf_flag, mc, vc, shf, sync, order, seglen, fhp = TM_PRIMARY_HEADER.unpack(
            buf
        )
        end = len(buf) - (CRC16_SIZE if has_fecf else 0) - (OCF_SIZE if ocf_flag else 0)
        start = TM_HEADER_SIZE
        secondary = None
        if shf:
            secondary, start = _decode_secondary_header(buf, start, end)
        if end < start:
            raise ProtocolError("TM frame too short for its header, OCF and FECF")
        if has_fecf:
            check_crc16(buf, "TM frame FECF")
        ocf = bytes(buf[end : end + OCF_SIZE]) if ocf_flag else None
        data = bytes(buf[start:end])
        return cls(scid, vcid, data, mc, vc, fhp, ocf, secondary, sync, order, seglen, ver)

    @property
    def is_idle(self) -> bool:
        return self.fhp == FHP_IDLE


def encode_secondary_header(data: bytes) -> bytes:
    """Secondary header ID (version 00, length = total - 1) + data (§4.1.3.2)."""
    if len(data) > SECONDARY_HEADER_MAX_DATA:
        raise ProtocolError("TM secondary header data is at most 63 octets")
    return bytes([len(data)]) + data


def _decode_secondary_header(buf: bytes, start: int, end: int) -> tuple[bytes, int]:
    if start >= end:
        raise ProtocolError("TM frame too short for its secondary header")
    length = buf[start] & 0x3F
    if buf[start] >> 6:
        raise ProtocolError("unknown TM secondary header version")
    stop = start + 1 + length
    if stop > end:
        raise ProtocolError("TM secondary header runs past the data field")
    return bytes(buf[start + 1 : stop]), stop


def idle_frame(
    scid: int, frame_length: int, mc_count: int = 0, ocf: bytes | None = None, has_fecf: bool = True
) -> bytes:
    """An OID frame: VC 7, first header pointer 0x7FE, idle fill (132.0-B-3 §4.1.4.2)."""
    overhead = TM_HEADER_SIZE + (OCF_SIZE if ocf is not None else 0) + CRC16_SIZE * has_fecf
    if not overhead < frame_length <= TM_MAX_FRAME_SIZE:
        raise ProtocolError(f"idle frame length {frame_length} impossible")
    fill = bytes([IDLE_FILL]) * (frame_length - overhead)
    frame = TmFrame(scid, IDLE_VCID, fill, mc_count, 0, FHP_IDLE, ocf)
    return frame.encode(has_fecf)
