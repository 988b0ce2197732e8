"""Scapy layers for TC frames (232.0-B-4), TM frames (132.0-B-3), CLCW, FSR and SDLS (355.0-B-2).

Rendered from the field tables in :mod:`labctl.protocols.tc_frame`,
:mod:`labctl.protocols.tm_frame` and :mod:`labctl.protocols.sdls`. Trailers (FECF, OCF,
SDLS MAC) are appended by ``post_build`` and split off by ``post_dissect``; a FECF left
as None is computed on build and every dissected FECF is checked (``frame.fecf_ok``).
"""

from __future__ import annotations

from typing import Any

from scapy.fields import BitField, ConditionalField, StrLenField, XShortField, XStrLenField
from scapy.packet import Packet, Raw

from labctl.protocols.crc import CRC16_SIZE, append_crc16, crc16_ok
from labctl.protocols.layers.common import (
    CONFIG,
    TrailerPlaceholder,
    VarIntField,
    scapy_fields,
)
from labctl.protocols.layers.packets import SpacePacket
from labctl.protocols.tc_frame import (
    SEGMENT_HEADER,
    SET_VR_COMMAND,
    SET_VR_PREFIX,
    SET_VR_SIZE,
    TC_HEADER_SIZE,
    TC_PRIMARY_HEADER,
    UNLOCK,
    UNLOCK_COMMAND,
    SegmentFlags,
)
from labctl.protocols.tm_frame import CLCW as CLCW_LAYOUT
from labctl.protocols.tm_frame import FHP_IDLE, OCF_SIZE, TM_HEADER_SIZE, TM_PRIMARY_HEADER
from labctl.protocols.tm_frame import FSR as FSR_LAYOUT


class _Framed(Packet):
    """Common trailer handling for frames.

    Scapy puts every layer's padding at the very end of the built packet; inside a frame
    that would land after the FECF. So a frame folds the padding of its inner layers (the
    second and later packets of the data field) into its body before the trailer, and
    keeps octets after its own end as ``trailing`` (re-emitted by :meth:`build_padding`).
    """

    fecf_ok: bool | None = None
    truncated: bool = False
    trailing: bytes = b""
    _body_len: int | None = None

    def extract_padding(self, s: bytes) -> tuple[bytes, None]:
        if self._body_len is None:
            return s, None
        self.trailing = s[self._body_len :]
        return s[: self._body_len], None

    def build_padding(self) -> bytes:
        return self.trailing


class TCFrame(_Framed):
    """TC transfer frame primary header (232.0-B-4 §4.1.2) with FECF trailer."""

    name = "TCFrame"
    fields_desc = [*scapy_fields(TC_PRIMARY_HEADER), TrailerPlaceholder("fecf")]  # noqa: RUF012

    def _has_fecf(self) -> bool:
        return CONFIG.tc_channel(self.vcid).fecf

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        pay += self.payload.build_padding()
        fecf = self._has_fecf()
        if self.length is None:
            total = len(p) + len(pay) + CRC16_SIZE * fecf
            word = int.from_bytes(p[2:4], "big") & 0xFC00 | (total - 1) & 0x3FF
            p = p[:2] + word.to_bytes(2, "big") + p[4:]
        if not fecf:
            return p + pay
        if self.fecf is None:
            return append_crc16(p + pay)
        return p + pay + (self.fecf & 0xFFFF).to_bytes(2, "big")

    def post_dissect(self, s: bytes) -> bytes:
        header = self.raw_packet_cache or b""
        trailer = CRC16_SIZE if self._has_fecf() else 0
        body = self.length + 1 - TC_HEADER_SIZE - trailer
        if body < 0 or body + trailer > len(s):
            self.truncated, self.fecf_ok = True, False
            return s
        self._body_len = body
        if trailer:
            self.fecf_ok = crc16_ok(header + s[: body + trailer])
            self.fecf = int.from_bytes(s[body : body + trailer], "big")
        self.raw_packet_cache = None
        return s[:body] + s[body + trailer :]

    def guess_payload_class(self, payload: bytes) -> Any:
        if self.ctrl_cmd:
            if payload == UNLOCK:
                return TCUnlock
            return TCSetVR if payload[:2] == SET_VR_PREFIX and len(payload) == SET_VR_SIZE else Raw
        channel = CONFIG.tc_channel(self.vcid)
        if channel.segment_header:
            return TCSegment
        return SDLSHeader if channel.sdls else SpacePacket

    def mysummary(self) -> str:
        kind = "BC" if self.ctrl_cmd else ("BD" if self.bypass else "AD")
        return str(self.sprintf(f"TC {kind} scid=%scid% vc=%vcid% N(S)=%seq%"))


class TCSegment(Packet):
    """TC segment header (232.0-B-4 §4.1.3.2): sequence flags and MAP id."""

    name = "TCSegment"
    fields_desc = scapy_fields(SEGMENT_HEADER)

    def guess_payload_class(self, payload: bytes) -> Any:
        frame = self.underlayer
        if isinstance(frame, TCFrame) and CONFIG.tc_channel(frame.vcid).sdls:
            return SDLSHeader
        starts = self.seq_flags in (SegmentFlags.UNSEGMENTED, SegmentFlags.FIRST)
        return SpacePacket if starts else Raw


class TCUnlock(Packet):
    """COP-1 Unlock control command (232.1-B-2 §5.4.2)."""

    name = "TCUnlock"
    fields_desc = scapy_fields(UNLOCK_COMMAND)


class TCSetVR(Packet):
    """COP-1 Set V(R) control command (232.1-B-2 §5.4.3)."""

    name = "TCSetVR"
    fields_desc = scapy_fields(SET_VR_COMMAND)


class TMFrame(_Framed):
    """TM transfer frame (132.0-B-3 §4.1): header, optional secondary header, OCF and FECF."""

    name = "TMFrame"
    fields_desc = [  # noqa: RUF012 - scapy's API is a class-level list
        *scapy_fields(TM_PRIMARY_HEADER, sec_header_flag=0),
        ConditionalField(BitField("sh_version", 0, 2), lambda p: p.sec_header_flag),
        ConditionalField(BitField("sh_length", None, 6), lambda p: p.sec_header_flag),
        ConditionalField(
            StrLenField("sh_data", b"", length_from=lambda p: p.sh_length),
            lambda p: p.sec_header_flag,
        ),
        TrailerPlaceholder("ocf"),
        TrailerPlaceholder("fecf"),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        pay += self.payload.build_padding()
        if self.ocf_flag is None:
            word = p[1] & 0xFE | (self.ocf is not None)
            p = p[:1] + bytes([word]) + p[2:]
        if self.sec_header_flag and self.sh_length is None:
            sh_id = p[TM_HEADER_SIZE] & 0xC0 | len(self.sh_data) & 0x3F
            p = p[:TM_HEADER_SIZE] + bytes([sh_id]) + p[TM_HEADER_SIZE + 1 :]
        raw = p + pay + (bytes(self.ocf) if self.ocf is not None else b"")
        if not CONFIG.tm_channel(self.vcid).fecf:
            return raw
        if self.fecf is None:
            return append_crc16(raw)
        return raw + (self.fecf & 0xFFFF).to_bytes(2, "big")

    def post_dissect(self, s: bytes) -> bytes:
        header = self.raw_packet_cache or b""
        fecf = CRC16_SIZE if CONFIG.tm_channel(self.vcid).fecf else 0
        ocf = OCF_SIZE if self.ocf_flag else 0
        body = len(s) - fecf - ocf
        if body < 0:
            self.truncated, self.fecf_ok = True, False
            return s
        self._body_len = body
        if fecf:
            self.fecf_ok = crc16_ok(header + s)
            self.fecf = int.from_bytes(s[-fecf:], "big")
        if ocf:
            self.ocf = bytes(s[body : body + ocf])
        self.raw_packet_cache = None
        return s[:body]

    def guess_payload_class(self, payload: bytes) -> Any:
        if CONFIG.tm_channel(self.vcid).sdls:
            return SDLSHeader
        return SpacePacket if self.fhp == 0 else Raw

    def ocf_layer(self) -> Packet | None:
        """The OCF dissected as CLCW (type 0) or FSR (type 1)."""
        if self.ocf is None or len(self.ocf) != OCF_SIZE:
            return None
        return FSR(self.ocf) if self.ocf[0] & 0x80 else CLCW(self.ocf)

    def mysummary(self) -> str:
        idle = " idle" if self.fhp == FHP_IDLE else ""
        return str(self.sprintf(f"TM scid=%scid% vc=%vcid% mc=%mc_count%{idle}"))


class CLCW(Packet):
    """Communications Link Control Word (232.0-B-4 §4.2), 4 octets of the TM OCF."""

    name = "CLCW"
    fields_desc = scapy_fields(CLCW_LAYOUT)


class FSR(Packet):
    """SDLS Frame Security Report (355.0-B-2 §4.2.4), 4 octets of the TM OCF."""

    name = "FSR"
    fields_desc = scapy_fields(FSR_LAYOUT)


def _sa(pkt: Packet) -> Any:
    return CONFIG.sa_layout(pkt.spi)


class SDLSHeader(Packet):
    """SDLS security header (355.0-B-2 §4.1.1.2) with the MAC trailer (§4.1.1.3).

    Lengths come from the SA registered for the SPI (:func:`register_sa`). A MAC left as
    None is built as zeros of the right length: sign the frame with :func:`sdls_protect`.
    """

    name = "SDLSHeader"
    fields_desc = [  # noqa: RUF012 - scapy's API is a class-level list
        XShortField("spi", 1),
        XStrLenField("iv", b"", length_from=lambda p: _sa(p).iv_len),
        VarIntField("sn", 0, lambda p: _sa(p).sn_len),
        VarIntField("pad_len", 0, lambda p: _sa(p).pl_len),
        TrailerPlaceholder("mac"),
    ]
    truncated: bool = False

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        size = _sa(self).mac_len
        mac = bytes(size) if self.mac is None else bytes(self.mac)
        return p + pay + self.payload.build_padding() + mac

    def build_padding(self) -> bytes:
        return b""  # folded in before the MAC by post_build

    def post_dissect(self, s: bytes) -> bytes:
        size = _sa(self).mac_len
        if size > len(s):
            self.truncated = True
            return s
        cut = len(s) - size
        self.mac = bytes(s[cut:])
        self.raw_packet_cache = None
        return s[:cut]

    def guess_payload_class(self, payload: bytes) -> Any:
        if _sa(self).encrypted:
            return Raw
        frame = self.underlayer
        if isinstance(frame, TMFrame) and frame.fhp != 0:
            return Raw
        return SpacePacket
