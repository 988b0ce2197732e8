"""Scapy layers for Space Packets (CCSDS 133.0-B-2) and PUS-C TC/TM (ECSS-E-ST-70-41C).

Rendered from the field tables in :mod:`labctl.protocols.spacepacket` and
:mod:`labctl.protocols.pus`. The PUS packet error control is a trailer: computed on build
when left unset (``pec=None``), checked on dissect (``pkt[PusTc].pec_ok``).
"""

from __future__ import annotations

from typing import Any

from scapy.packet import Packet, Raw, bind_layers

from labctl.protocols.crc import append_crc16, crc16_ok
from labctl.protocols.layers.common import TrailerPlaceholder, scapy_fields
from labctl.protocols.pus import CDS_SHORT, TC_SECONDARY_HEADER, TM_SECONDARY_HEADER
from labctl.protocols.spacepacket import IDLE_APID, PRIMARY_HEADER, PacketType

PEC_SIZE = 2


class SpacePacket(Packet):
    """Space Packet primary header (133.0-B-2 §4.1.3); ``data_length`` computed when None."""

    name = "SpacePacket"
    fields_desc = scapy_fields(PRIMARY_HEADER)

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.data_length is None:
            p = p[:4] + (len(pay) - 1 & 0xFFFF).to_bytes(2, "big") + p[6:]
        if isinstance(self.payload, _PusLayer) and self.payload.pec is None:
            p_and_pay = p + pay
            return append_crc16(p_and_pay[:-PEC_SIZE])
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        size = self.data_length + 1
        return s[:size], s[size:]

    def guess_payload_class(self, payload: bytes) -> Any:
        if self.apid == IDLE_APID:
            return Raw
        return super().guess_payload_class(payload)

    def mysummary(self) -> str:
        return str(self.sprintf("SpacePacket apid=%apid% seq=%seq_count% len=%data_length%"))


class _PusLayer(Packet):
    """Secondary header + data + PEC trailer. ``pec_ok`` is set on dissect."""

    pec_ok: bool | None = None

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        pec = b"\x00\x00" if self.pec is None else (self.pec & 0xFFFF).to_bytes(2, "big")
        return p + pay + pec  # a None PEC is filled in by the SpacePacket underlayer

    def post_dissect(self, s: bytes) -> bytes:
        header = self.underlayer.raw_packet_cache if self.underlayer is not None else None
        if len(s) < PEC_SIZE or not header:
            self.pec_ok = False
            return s
        self.pec_ok = crc16_ok(header + (self.raw_packet_cache or b"") + s)
        self.pec = int.from_bytes(s[-PEC_SIZE:], "big")
        # Drop the caches so that post_build runs again on rebuild: this layer appends the
        # PEC, the SpacePacket underlayer recomputes it when it was deleted.
        self.raw_packet_cache = None
        if self.underlayer is not None:
            self.underlayer.raw_packet_cache = None
        return s[:-PEC_SIZE]


class PusTc(_PusLayer):
    """PUS-C TC secondary header (ECSS-E-ST-70-41C §7.4.3.1); application data is the payload."""

    name = "PusTc"
    fields_desc = [*scapy_fields(TC_SECONDARY_HEADER), TrailerPlaceholder("pec")]  # noqa: RUF012

    def mysummary(self) -> str:
        return str(self.sprintf("PUS TC(%service%,%subtype%)"))


class PusTm(_PusLayer):
    """PUS-C TM secondary header with CDS short time (ECSS-E-ST-70-41C §7.4.3.2)."""

    name = "PusTm"
    fields_desc = [  # noqa: RUF012 - scapy's API is a class-level list
        *scapy_fields(TM_SECONDARY_HEADER),
        *scapy_fields(CDS_SHORT),
        TrailerPlaceholder("pec"),
    ]

    def mysummary(self) -> str:
        return str(self.sprintf("PUS TM(%service%,%subtype%)"))


bind_layers(SpacePacket, PusTc, packet_type=PacketType.TC, sec_header_flag=1)
bind_layers(SpacePacket, PusTm, packet_type=PacketType.TM, sec_header_flag=1)
