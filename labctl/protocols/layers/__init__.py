"""Scapy layers for the CCSDS stack: ``from labctl.protocols.layers import *``.

Importing this package imports scapy (about 75 MiB per process); the emulators use the
struct codecs in :mod:`labctl.protocols` instead. Both are rendered from the same field
tables and the test suite proves them byte-identical.
"""

from __future__ import annotations

from labctl.protocols.layers.common import (
    CONFIG,
    ChannelConfig,
    SaLayout,
    configure_tc,
    configure_tm,
    register_sa,
)
from labctl.protocols.layers.frames import (
    CLCW,
    FSR,
    SDLSHeader,
    TCFrame,
    TCSegment,
    TCSetVR,
    TCUnlock,
    TMFrame,
)
from labctl.protocols.layers.helpers import dissect, sdls_protect, space_packets
from labctl.protocols.layers.packets import PusTc, PusTm, SpacePacket

__all__ = [
    "CLCW",
    "CONFIG",
    "FSR",
    "ChannelConfig",
    "PusTc",
    "PusTm",
    "SDLSHeader",
    "SaLayout",
    "SpacePacket",
    "TCFrame",
    "TCSegment",
    "TCSetVR",
    "TCUnlock",
    "TMFrame",
    "configure_tc",
    "configure_tm",
    "dissect",
    "register_sa",
    "sdls_protect",
    "space_packets",
]
