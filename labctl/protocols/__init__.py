"""The CCSDS / ECSS protocol stack of the emulated space link.

One module per standard: :mod:`.spacepacket` (133.0-B-2), :mod:`.pus` (ECSS-E-ST-70-41C),
:mod:`.tc_frame` (232.0-B-4), :mod:`.tm_frame` (132.0-B-3), :mod:`.cop1` (232.1-B-2),
:mod:`.sdls` (355.0-B-2), plus :mod:`.crc`, :mod:`.fields` (the field tables) and
:mod:`.stream` (stream and datagram splitting).

Importing this package, or any of those modules, does not import scapy: they are the
struct codecs the emulators run. The scapy layers for students, graders and forensics
are in :mod:`labctl.protocols.layers`, rendered from the same field tables.
"""

from labctl.errors import ProtocolError

__all__ = ["ProtocolError"]
