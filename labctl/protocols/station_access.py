"""Customer access to a shared ground station: rolling passwords on the packet service.

A station shared by several missions (a ground-station-as-a-service network, or the
contested stations of the Hack-a-Sat finals) lets a customer's client use its packet
service only after an *access request*: the first packet of the connection, a PUS TC
(service 200, subtype 1) to the station's own APID whose application data is the
customer's name and a *rolling password*. The password is the first
:data:`CODE_SIZE` octets of HMAC-SHA256 over the customer's name and the number of the
current period (``floor(unix time / period)``), under a secret the station and the
customer share: it changes every period, so one heard on the ground network is worth
one period at most, and it proves the secret without sending it.

    code = rolling_code(secret, "mission", period_number(time.time(), 60))
    packet = PusTc(0x7F0, *ACCESS_REQUEST, encode_request("mission", code)).encode()

Application data: one octet, the name's length (1–32), the name (ASCII letters, digits,
``-``, ``_``), then the :data:`CODE_SIZE`-octet code. :func:`decode_request` reads
hostile octets: anything else is a :class:`ProtocolError`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from typing import Final

from labctl.errors import ProtocolError

#: PUS service and subtype of an access request (a private service of the station).
ACCESS_REQUEST: Final = (200, 1)
CODE_SIZE: Final = 8
MAX_NAME: Final = 32
NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_LABEL: Final = b"labctl station access\x00"


def period_number(unix_time: float, period: float) -> int:
    """The number of the rolling period ``unix_time`` falls in."""
    if not period > 0:
        raise ValueError("the period must be positive")
    return math.floor(unix_time / period)


def rolling_code(secret: bytes, customer: str, period: int) -> bytes:
    """The customer's password for one period."""
    _check_name(customer)
    message = _LABEL + customer.encode("ascii") + b"\x00" + period.to_bytes(8, "big", signed=True)
    return hmac.new(secret, message, hashlib.sha256).digest()[:CODE_SIZE]


def encode_request(customer: str, code: bytes) -> bytes:
    """The application data of an access request."""
    _check_name(customer)
    if len(code) != CODE_SIZE:
        raise ValueError(f"the code is {CODE_SIZE} octets")
    name = customer.encode("ascii")
    return bytes([len(name)]) + name + code


def decode_request(data: bytes) -> tuple[str, bytes]:
    """(customer, code) from an access request's application data."""
    if not data:
        raise ProtocolError("access request: empty")
    size = data[0]
    if not 1 <= size <= MAX_NAME or len(data) != 1 + size + CODE_SIZE:
        raise ProtocolError(f"access request: {len(data)} octets do not hold a name and a code")
    try:
        name = data[1 : 1 + size].decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("access request: the name is not ASCII") from None
    if not NAME.match(name):
        raise ProtocolError("access request: the name has characters other than A-Z a-z 0-9 - _")
    return name, bytes(data[1 + size :])


def code_matches(
    secret: bytes, customer: str, code: bytes, unix_time: float, period: float
) -> bool:
    """Whether ``code`` is the customer's password for this period or the one before (a
    request sent at the turn of a period), compared in constant time."""
    now = period_number(unix_time, period)
    return any(
        hmac.compare_digest(rolling_code(secret, customer, number), code)
        for number in (now, now - 1)
    )


def _check_name(customer: str) -> None:
    if not NAME.match(customer):
        raise ValueError(f"customer name {customer!r}: 1-32 of A-Z a-z 0-9 - _")
