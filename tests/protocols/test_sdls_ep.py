"""SDLS extended-procedure PDUs: the tag and bit-length layout of 355.1-B-1, and hostile bytes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.errors import ProtocolError
from labctl.protocols.sdls_ep import (
    VERIFY_REPLY_SIZE,
    EpPdu,
    SaProcedure,
    ServiceGroup,
    answer_challenge,
    check_answer,
    decode,
)
from labctl.range.hosts.catalog import describe_reply


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


KEY = bytes(range(16))


def test_a_key_verification_answer_proves_that_key_that_id_and_that_challenge() -> None:
    challenge = bytes(range(100, 116))
    answer = answer_challenge(KEY, 7, challenge, bytes(12))
    assert len(answer) == VERIFY_REPLY_SIZE
    assert check_answer(answer, KEY, 7, challenge)
    assert not check_answer(answer, bytes(16), 7, challenge)
    assert not check_answer(answer, KEY, 8, challenge)
    assert not check_answer(answer, KEY, 7, bytes(16))
    assert not check_answer(answer[:-1], KEY, 7, challenge)
    assert challenge not in answer
    with pytest.raises(ProtocolError):
        answer_challenge(KEY, 7, challenge[:8], bytes(12))


@given(st.binary(max_size=80))
def test_any_reply_octets_are_checked_without_raising(raw: bytes) -> None:
    assert check_answer(raw, KEY, int.from_bytes(raw[:2] or b"\0", "big"), bytes(16)) is False


@given(st.binary(max_size=300))
def test_any_reply_on_129_2_is_described_or_a_protocol_error(raw: bytes) -> None:
    try:
        fields = describe_reply(raw)
    except ProtocolError:
        return
    assert isinstance(fields["procedure"], str)
