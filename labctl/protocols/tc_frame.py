"""TC Space Data Link Protocol transfer frames, CCSDS 232.0-B-4.

Primary header (§4.1.2), optional segment header (§4.1.3.2, a managed parameter of the
virtual channel: the frame does not say whether it is there), frame data field and the
frame error control field (§4.1.4, CRC-16-CCITT). Control commands of COP-1 are defined in
CCSDS 232.1-B-2 §5.4 (Unlock, Set V(R)).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from labctl.errors import ProtocolError
from labctl.protocols.crc import CRC16_SIZE, append_crc16, check_crc16
from labctl.protocols.fields import Bits, Layout

TC_HEADER_SIZE: Final = 5
TC_MAX_FRAME_SIZE: Final = 1024  # §4.1.2.7.3
SEGMENT_HEADER_SIZE: Final = 1
UNLOCK: Final = b"\x00"  # 232.1-B-2 §5.4.2
SET_VR_PREFIX: Final = b"\x82\x00"  # 232.1-B-2 §5.4.3, followed by V*(R)
SET_VR_SIZE: Final = 3


class Bypass(IntEnum):
    """§4.1.2.3: type A (sequence controlled by FARM-1) or type B (bypass)."""

    TYPE_A = 0
    TYPE_B = 1


class FrameKind(Enum):
    """AD, BD or BC from the bypass and control command flags (232.1-B-2 §2.2)."""

    AD = "AD"
    BD = "BD"
    BC = "BC"
    ILLEGAL = "illegal"  # bypass 0 with control command 1


class SegmentFlags(IntEnum):
    """§4.1.3.2.2, same meaning as the Space Packet sequence flags."""

    CONTINUATION = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


class ControlCommand(Enum):
    UNLOCK = "unlock"
    SET_VR = "set_vr"


TC_PRIMARY_HEADER: Final = Layout(
    "TCFrame",
    "CCSDS 232.0-B-4 §4.1.2",
    (
        Bits("version", 2, 0, doc="transfer frame version number, 00 (§4.1.2.2)"),
        Bits("bypass", 1, 0, Bypass, doc="0 type A (AD), 1 type B (BD/BC) (§4.1.2.3)"),
        Bits("ctrl_cmd", 1, 0, doc="0 data, 1 control command (§4.1.2.4)"),
        Bits("spare", 2, 0, doc="reserved spare, 00 (§4.1.2.5)"),
        Bits("scid", 10, 0, hex=True, doc="spacecraft id (§4.1.2.6)"),
        Bits("vcid", 6, 0, doc="virtual channel id (§4.1.2.7.2)"),
        Bits("length", 10, None, doc="frame length - 1, octets (§4.1.2.7.3)"),
        Bits("seq", 8, 0, doc="frame sequence number N(S) (§4.1.2.8)"),
    ),
)

UNLOCK_COMMAND: Final = Layout(
    "TCUnlock",
    "CCSDS 232.1-B-2 §5.4.2",
    (Bits("directive", 8, 0x00, hex=True, doc="Unlock, 0x00"),),
)

SET_VR_COMMAND: Final = Layout(
    "TCSetVR",
    "CCSDS 232.1-B-2 §5.4.3",
    (
        Bits("directive", 16, 0x8200, hex=True, doc="Set V(R), 0x8200"),
        Bits("vr", 8, 0, doc="the new V(R), V*(R)"),
    ),
)

SEGMENT_HEADER: Final = Layout(
    "TCSegment",
    "CCSDS 232.0-B-4 §4.1.3.2",
    (
        Bits("seq_flags", 2, 3, SegmentFlags, doc="sequence flags, 11 unsegmented"),
        Bits("map_id", 6, 0, doc="multiplexer access point id"),
    ),
)


@dataclass(frozen=True, slots=True)
class TcFrame:
    """A TC transfer frame. ``data`` is the whole frame data field (segment header,
    SDLS header/trailer and user data included); the length field and FECF are derived."""

    scid: int
    vcid: int
    data: bytes
    seq: int = 0
    bypass: int = Bypass.TYPE_A
    ctrl_cmd: int = 0
    spare: int = 0
    version: int = 0

    def header(self, has_fecf: bool = True) -> bytes:
        total = TC_HEADER_SIZE + len(self.data) + (CRC16_SIZE if has_fecf else 0)
        if total > TC_MAX_FRAME_SIZE or not self.data:
            raise ProtocolError(f"TC frame of {total} octets outside 6..{TC_MAX_FRAME_SIZE}")
        return TC_PRIMARY_HEADER.pack(
            (
                self.version,
                self.bypass,
                self.ctrl_cmd,
                self.spare,
                self.scid,
                self.vcid,
                total - 1,
                self.seq,
            )
        )

    def encode(self, has_fecf: bool = True) -> bytes:
        raw = self.header(has_fecf) + self.data
        return append_crc16(raw) if has_fecf else raw

    @classmethod
    def decode(cls, buf: bytes, has_fecf: bool = True) -> TcFrame:
        """Exactly one frame; the FECF is checked."""
        frame, end = cls.decode_prefix(buf, 0, has_fecf)
        if end != len(buf):
            raise ProtocolError(f"{len(buf) - end} trailing octets after the TC frame")
        return frame

    @classmethod
    def decode_prefix(
        cls, buf: bytes, offset: int = 0, has_fecf: bool = True
    ) -> tuple[TcFrame, int]:
        """The frame at ``offset`` and the offset after it."""
        version, bypass, ctrl, spare, scid, vcid, length, seq = TC_PRIMARY_HEADER.unpack(
            buf, offset
        )
        end = offset + length + 1
        trailer = CRC16_SIZE if has_fecf else 0
        if length + 1 < TC_HEADER_SIZE + 1 + trailer:
            raise ProtocolError(f"TC frame length field {length} too small")
        if end > len(buf):
            raise ProtocolError(f"TC frame needs {length + 1} octets, got {len(buf) - offset}")
        if has_fecf:
            check_crc16(memoryview(buf)[offset:end], "TC frame FECF")
        data = bytes(buf[offset + TC_HEADER_SIZE : end - trailer])
        return cls(scid, vcid, data, seq, bypass, ctrl, spare, version), end

    @property
    def kind(self) -> FrameKind:
        return frame_kind(self.bypass, self.ctrl_cmd)

    def __len__(self) -> int:
        return TC_HEADER_SIZE + len(self.data) + CRC16_SIZE


def frame_kind(bypass: int, ctrl_cmd: int) -> FrameKind:
    if ctrl_cmd:
        return FrameKind.BC if bypass else FrameKind.ILLEGAL
    return FrameKind.BD if bypass else FrameKind.AD


def segment(map_id: int, data: bytes, seq_flags: int = SegmentFlags.UNSEGMENTED) -> bytes:
    """Segment header + data (§4.1.3.2)."""
    return SEGMENT_HEADER.pack((seq_flags, map_id)) + data


def unsegment(data: bytes) -> tuple[int, int, bytes]:
    """(seq_flags, map_id, rest) of a frame data field that starts with a segment header."""
    seq_flags, map_id = SEGMENT_HEADER.unpack(data)
    return seq_flags, map_id, bytes(data[SEGMENT_HEADER_SIZE:])


def unlock_frame(scid: int, vcid: int, seq: int = 0) -> TcFrame:
    """BC frame carrying the Unlock directive (232.1-B-2 §5.4.2)."""
    return TcFrame(scid, vcid, UNLOCK, seq, Bypass.TYPE_B, 1)


def set_vr_frame(scid: int, vcid: int, vr: int, seq: int = 0) -> TcFrame:
    """BC frame carrying Set V(R) to ``vr`` (232.1-B-2 §5.4.3)."""
    if not 0 <= vr <= 0xFF:
        raise ProtocolError(f"V(R) {vr} outside 0..255")
    data = SET_VR_COMMAND.pack((int.from_bytes(SET_VR_PREFIX, "big"), vr))
    return TcFrame(scid, vcid, data, seq, Bypass.TYPE_B, 1)


def decode_control_command(data: bytes) -> tuple[ControlCommand, int | None]:
    """Decode a BC frame data field: (UNLOCK, None) or (SET_VR, V*(R))."""
    if data == UNLOCK:
        return ControlCommand.UNLOCK, None
    if len(data) == SET_VR_SIZE and data[:2] == SET_VR_PREFIX:
        return ControlCommand.SET_VR, data[2]
    raise ProtocolError(f"unknown control command {bytes(data[:8]).hex()}")


def frame_fingerprint(datagram: bytes) -> str:
    """The first 16 hex digits of a frame's SHA-256: how the spacecraft's ground truth names
    one transmission, and how a grader matches a frame it heard on the air (a
    retransmission under another SDLS sequence number has another fingerprint)."""
    return hashlib.sha256(datagram).hexdigest()[:16]
