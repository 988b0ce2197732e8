import fastcrc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.protocols.crc import (
    CRC16_CHECK_VALUE,
    CrcError,
    append_crc16,
    check_crc16,
    crc16_ccitt,
    crc16_ok,
)


def test_catalogue_check_value() -> None:
    assert crc16_ccitt(b"123456789") == CRC16_CHECK_VALUE == 0x29B1


def test_known_pus_tc_crc_from_spacepackets_doc() -> None:
    # PusTc(service=17, subtype=1, seq_count=22, apid=1) in spacepackets' docstring
    packet = bytes.fromhex("1801c01600062f11010000ab62")
    assert crc16_ccitt(packet[:-2]) == 0xAB62
    assert crc16_ok(packet)


@given(st.binary(max_size=512))
def test_matches_independent_implementation(data: bytes) -> None:
    assert crc16_ccitt(data) == fastcrc.crc16.ibm_3740(data)


def test_empty_and_zero_values() -> None:
    assert crc16_ccitt(b"") == 0xFFFF
    assert crc16_ccitt(bytes(2)) == 0x1D0F


def test_append_then_check_and_detect_single_bit_flip() -> None:
    framed = append_crc16(b"hello ccsds")
    assert crc16_ok(framed)
    for bit in range(len(framed) * 8):
        corrupted = bytearray(framed)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        assert not crc16_ok(corrupted)


def test_check_raises_typed_error() -> None:
    with pytest.raises(CrcError, match="test: CRC-16 mismatch") as caught:
        check_crc16(b"\x00\x01\x02", "test")
    assert isinstance(caught.value, ValueError)
    assert not crc16_ok(b"\x01")
