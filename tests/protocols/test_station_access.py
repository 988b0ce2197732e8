"""Rolling passwords for a shared station's customers: the code, the request, hostile octets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.errors import ProtocolError
from labctl.protocols.station_access import (
    CODE_SIZE,
    code_matches,
    decode_request,
    encode_request,
    period_number,
    rolling_code,
)

SECRET = bytes(range(16))


def test_the_code_rolls_with_the_period_and_depends_on_secret_and_name() -> None:
    codes = {rolling_code(SECRET, "mission", n) for n in range(50)}
    assert len(codes) == 50
    assert all(len(c) == CODE_SIZE for c in codes)
    assert rolling_code(SECRET, "mission", 7) != rolling_code(SECRET, "partner", 7)
    assert rolling_code(SECRET, "mission", 7) != rolling_code(bytes(16), "mission", 7)
    assert rolling_code(SECRET, "mission", 7) == rolling_code(SECRET, "mission", 7)


def test_this_period_and_the_one_before_are_accepted_no_other() -> None:
    now, period = 1_800_000_030.0, 60.0
    number = period_number(now, period)
    assert code_matches(SECRET, "m", rolling_code(SECRET, "m", number), now, period)
    assert code_matches(SECRET, "m", rolling_code(SECRET, "m", number - 1), now, period)
    assert not code_matches(SECRET, "m", rolling_code(SECRET, "m", number - 2), now, period)
    assert not code_matches(SECRET, "m", rolling_code(SECRET, "m", number + 1), now, period)
    assert not code_matches(SECRET, "other", rolling_code(SECRET, "m", number), now, period)


def test_a_request_round_trips() -> None:
    code = rolling_code(SECRET, "mission-2", 1)
    data = encode_request("mission-2", code)
    assert data[0] == len("mission-2")
    assert decode_request(data) == ("mission-2", code)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"\x00" + b"x" * CODE_SIZE, "do not hold"),
        (b"\x21" + b"a" * 33 + b"x" * CODE_SIZE, "do not hold"),
        (b"\x03abc" + b"x" * (CODE_SIZE - 1), "do not hold"),
        (b"\x03a\xffc" + b"x" * CODE_SIZE, "not ASCII"),
        (b"\x03a c" + b"x" * CODE_SIZE, "characters other than"),
    ],
)
def test_hostile_requests_are_protocol_errors(data: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        decode_request(data)


@given(st.binary(max_size=64))
def test_any_octets_decode_or_raise_a_protocol_error(data: bytes) -> None:
    try:
        name, code = decode_request(data)
    except ProtocolError:
        return
    assert encode_request(name, code) == data


def test_bad_names_and_periods_are_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="customer name"):
        rolling_code(SECRET, "", 1)
    with pytest.raises(ValueError, match="customer name"):
        encode_request("a b", bytes(CODE_SIZE))
    with pytest.raises(ValueError, match="octets"):
        encode_request("a", b"short")
    with pytest.raises(ValueError, match="positive"):
        period_number(1.0, 0)
