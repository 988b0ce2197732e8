"""Shared machinery for the scapy layers: field-table rendering, trailers and channel config.

The frame formats leave some things to "managed parameters" that the octets do not
reveal: whether a TC virtual channel uses segment headers or a FECF, whether SDLS is
applied, and the IV/SN/MAC lengths behind an SPI. :data:`CONFIG` holds them for
dissection; the defaults match the labs (segment header, FECF, no SDLS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scapy.fields import BitEnumField, BitField, Field, XBitField
from scapy.packet import Packet

from labctl.protocols.fields import Layout
from labctl.protocols.sdls import SecurityAssociation, ServiceType


def scapy_fields(layout: Layout, **defaults: int | None) -> list[Any]:
    """Render a field table as scapy bit fields (same names, widths and order)."""
    out: list[Any] = []
    for f in layout.fields:
        default = defaults.get(f.name, f.default)
        if f.enum is not None:
            names = {member.value: member.name for member in f.enum}
            out.append(BitEnumField(f.name, default, f.width, names))
        elif f.hex:
            out.append(XBitField(f.name, default, f.width))
        else:
            out.append(BitField(f.name, default, f.width))
    return out


class TrailerPlaceholder(Field[Any, Any]):
    """A field that takes no room where it is declared: the layer's ``post_build`` appends it
    after the payload and ``post_dissect`` fills it from the end of the layer."""

    def __init__(self, name: str, default: Any = None) -> None:
        super().__init__(name, default, fmt="s")

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        return s, None

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        if isinstance(x, bytes):
            return x.hex()
        return "computed" if x is None else hex(x)


class VarIntField(Field[int, bytes]):
    """Unsigned big-endian integer whose size comes from ``length_from(pkt)`` (0..8 octets)."""

    __slots__ = ["length_from"]

    def __init__(self, name: str, default: int, length_from: Any) -> None:
        self.length_from = length_from
        super().__init__(name, default, fmt="s")

    def addfield(self, pkt: Packet, s: bytes, val: int | None) -> bytes:
        size = self.length_from(pkt)
        return s + (val or 0).to_bytes(size, "big") if size else s

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        size = self.length_from(pkt)
        return s[size:], int.from_bytes(s[:size], "big")


@dataclass(frozen=True)
class ChannelConfig:
    """Per virtual channel managed parameters the dissector needs."""

    fecf: bool = True
    segment_header: bool = True  # TC only
    sdls: bool = False


@dataclass(frozen=True)
class SaLayout:
    """What the dissector needs to know about an SPI (lengths and whether data is encrypted)."""

    iv_len: int = 12
    sn_len: int = 0
    pl_len: int = 0
    mac_len: int = 16
    encrypted: bool = True


@dataclass
class LayerConfig:
    """Dissection parameters: TC/TM channels by VCID (None = default) and SAs by SPI."""

    tc: dict[int | None, ChannelConfig] = field(default_factory=lambda: {None: ChannelConfig()})
    tm: dict[int | None, ChannelConfig] = field(default_factory=lambda: {None: ChannelConfig()})
    sa: dict[int | None, SaLayout] = field(default_factory=lambda: {None: SaLayout()})

    def tc_channel(self, vcid: int) -> ChannelConfig:
        return self.tc.get(vcid) or self.tc[None]

    def tm_channel(self, vcid: int) -> ChannelConfig:
        return self.tm.get(vcid) or self.tm[None]

    def sa_layout(self, spi: int) -> SaLayout:
        return self.sa.get(spi) or self.sa[None]

    def reset(self) -> None:
        """Back to the defaults (tests and notebooks start from a clean slate)."""
        fresh = LayerConfig()
        self.tc, self.tm, self.sa = fresh.tc, fresh.tm, fresh.sa


CONFIG = LayerConfig()


def configure_tc(
    vcid: int | None = None, *, fecf: bool = True, segment_header: bool = True, sdls: bool = False
) -> None:
    """Tell the TC dissector how virtual channel ``vcid`` (None: all others) is set up."""
    CONFIG.tc[vcid] = ChannelConfig(fecf, segment_header, sdls)


def configure_tm(vcid: int | None = None, *, fecf: bool = True, sdls: bool = False) -> None:
    """Tell the TM dissector how virtual channel ``vcid`` (None: all others) is set up."""
    CONFIG.tm[vcid] = ChannelConfig(fecf, False, sdls)


def register_sa(sa: SecurityAssociation) -> None:
    """Make the dissector read security headers with SPI ``sa.spi`` with this SA's lengths."""
    encrypted = sa.service is ServiceType.AUTHENTICATED_ENCRYPTION
    CONFIG.sa[sa.spi] = SaLayout(sa.iv_len, sa.sn_len, sa.pl_len, sa.mac_len, encrypted)
