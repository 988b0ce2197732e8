"""SDLS extended-procedure PDUs: the tag and bit-length layout of 355.1-B-1, and hostile bytes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.errors import ProtocolError
from labctl.protocols.sdls_ep import EpPdu, SaProcedure, ServiceGroup, decode


def test_start_sa_layout() -> None:
    """Start SA for SPI 5: tag 0b0_0_01_1011 = 0x1B, length 16 bits, the SPI."""
    pdu = EpPdu(ServiceGroup.SA_MANAGEMENT, SaProcedure.START, b"\x00\x05")
    assert pdu.encode() == b"\x1b\x00\x10\x00\x05"
    assert decode(pdu.encode()) == pdu


def test_reply_flag_and_user_flag() -> None:
    raw = EpPdu(1, SaProcedure.READ_ARSN, b"\x00\x05\x00\x00\x00\x07", reply=True).encode()
    assert raw[0] == 0x90
    assert decode(raw).reply
    assert decode(bytes([0x40 | 0x1B]) + b"\x00\x00").user


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x1b\x00", b"\x1b\x00\x0f\x00\x05", b"\x1b\x00\x18\x00\x05", b"\x1b\x00\x08"],
)
def test_malformed_pdus_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(raw)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_protocol_error(raw: bytes) -> None:
    try:
        pdu = decode(raw)
    except ProtocolError:
        return
    assert pdu.encode() == raw
