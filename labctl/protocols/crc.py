"""CRC-16-CCITT as used by CCSDS frames and ECSS packets.

One algorithm serves three standards: the TC frame FECF (CCSDS 232.0-B-4 §4.1.4.2),
the TM frame FECF (CCSDS 132.0-B-3 §4.1.6) and the PUS packet error control
(ECSS-E-ST-70-41C §7.4.3.1, annex B). Polynomial x^16 + x^12 + x^5 + 1 (0x1021),
initial value 0xFFFF, no reflection, no final XOR ("CRC-16/IBM-3740", also
called CRC-16/CCITT-FALSE). :func:`binascii.crc_hqx` computes exactly this in C.
"""

from __future__ import annotations

import binascii
from typing import Final

from labctl.errors import ProtocolError

CRC16_INIT: Final = 0xFFFF
CRC16_SIZE: Final = 2
#: CRC of b"123456789", the catalogue check value for CRC-16/IBM-3740.
CRC16_CHECK_VALUE: Final = 0x29B1


def crc16_ccitt(data: bytes | bytearray | memoryview, init: int = CRC16_INIT) -> int:
    """CRC-16-CCITT of ``data`` (CCSDS 232.0-B-4 §4.1.4.2)."""
    return binascii.crc_hqx(data, init)


def append_crc16(data: bytes) -> bytes:
    """``data`` followed by its big-endian CRC-16-CCITT."""
    return data + binascii.crc_hqx(data, CRC16_INIT).to_bytes(2, "big")


def crc16_ok(data: bytes | bytearray | memoryview) -> bool:
    """True when the last two octets of ``data`` are the CRC of the octets before.

    Running the CRC over data *and* its CRC gives zero: the cheap way to check.
    """
    return len(data) >= CRC16_SIZE and binascii.crc_hqx(data, CRC16_INIT) == 0


class CrcError(ProtocolError):
    """A frame or packet whose CRC does not match its contents."""


def check_crc16(data: bytes | bytearray | memoryview, what: str) -> None:
    """Raise :class:`CrcError` unless ``data`` ends with its own CRC."""
    if not crc16_ok(data):
        raise CrcError(f"{what}: CRC-16 mismatch")
