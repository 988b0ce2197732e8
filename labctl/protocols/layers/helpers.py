"""Helpers around the scapy layers: strict dissection, SDLS signing, packet extraction."""

from __future__ import annotations

from typing import Any

from scapy.packet import Packet

from labctl.errors import ProtocolError
from labctl.protocols.crc import CrcError
from labctl.protocols.layers.common import CONFIG
from labctl.protocols.layers.frames import TCFrame, TMFrame
from labctl.protocols.layers.packets import SpacePacket
from labctl.protocols.sdls import SdlsEngine
from labctl.protocols.spacepacket import packet_length_at
from labctl.protocols.tc_frame import TcFrame
from labctl.protocols.tm_frame import TmFrame

MAX_PACKETS_PER_FIELD = 4096


def dissect(cls: Any, raw: bytes) -> Packet:
    """``cls(raw)``, but hostile input only ever raises :class:`ProtocolError`:
    dissector failures, truncation and bad FECF/PEC all become one typed error."""
    try:
        pkt: Packet = cls(bytes(raw))
    except Exception as exc:  # scapy raises many types on odd input; normalise them
        raise ProtocolError(f"{getattr(cls, '__name__', cls)}: cannot dissect: {exc}") from exc
    layer: Any = pkt
    while layer:
        if getattr(layer, "truncated", False):
            raise ProtocolError(f"{layer.name}: truncated")
        if getattr(layer, "trailing", b""):
            raise ProtocolError(f"{layer.name}: {len(layer.trailing)} trailing octets")
        if getattr(layer, "fecf_ok", None) is False:
            raise CrcError(f"{layer.name}: FECF mismatch")
        if getattr(layer, "pec_ok", None) is False:
            raise CrcError(f"{layer.name}: packet error control mismatch")
        layer = layer.payload
    return pkt


def sdls_protect(frame: Packet, engine: SdlsEngine, spi: int) -> Packet:
    """Apply SDLS (ApplySecurity) to a clear TCFrame/TMFrame built with scapy.

    The frame is built, handed to the struct codec and the SDLS engine, and the protected
    octets are dissected again; configure the channel with ``sdls=True`` and
    :func:`register_sa` to see the security header in the result.
    """
    raw = bytes(frame)
    if isinstance(frame, TCFrame):
        channel = CONFIG.tc_channel(frame.vcid)
        clear = TcFrame.decode(raw, channel.fecf)
        protected = engine.protect_tc(clear, spi, channel.segment_header, channel.fecf)
        return TCFrame(protected.encode(channel.fecf))
    if isinstance(frame, TMFrame):
        fecf = CONFIG.tm_channel(frame.vcid).fecf
        tm = engine.protect_tm(TmFrame.decode(raw, fecf), spi)
        return TMFrame(tm.encode(fecf))
    raise ProtocolError(f"SDLS applies to TCFrame or TMFrame, not {type(frame).__name__}")


def space_packets(data: bytes) -> list[Packet]:
    """Every complete Space Packet at the start of a data field (stops at the first cut one)."""
    out: list[Packet] = []
    offset = 0
    while len(out) < MAX_PACKETS_PER_FIELD:
        size = packet_length_at(data, offset)
        if size is None or offset + size > len(data):
            break
        out.append(SpacePacket(bytes(data[offset : offset + size])))
        offset += size
    return out
