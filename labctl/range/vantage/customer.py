"""A customer of a shared ground station, from a grader vantage: ``python3 -m
labctl.range.vantage.customer HOST PORT [--customer NAME --secret HEX --period S]``.

Connects to the station's packet service, sends an access request with the customer's
rolling password for now (none without ``--customer``: a stranger), then a PING (17,1)
marked with the grader source id :data:`SOURCE_ID`, and reads until the station closes
the connection or ``--wait`` seconds pass. The last output line is JSON: ``{"connected":
bool, "closed": bool, "detail": str}``; ``closed`` is whether the station ended the
connection (what it does when it refuses access). Whether the PING executed is for the
caller to find out from ground truth.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any, Final

from labctl.protocols.pus import PusTc
from labctl.protocols.station_access import (
    ACCESS_REQUEST,
    encode_request,
    period_number,
    rolling_code,
)
from labctl.range.hosts.catalog import GROUND_STATION_APID, PLATFORM_APID

#: PUS source id of this probe's PING (in graders.checks.forgery.GRADER_SOURCE_IDS).
SOURCE_ID: Final = 0xFE4C
SEQ_COUNT: Final = 0x3FFE


def first_packets(customer: str | None, secret: bytes, period: float, now: float) -> bytes:
    """The access request (when a customer is given), then the PING."""
    out = b""
    if customer is not None:
        code = rolling_code(secret, customer, period_number(now, period))
        request = encode_request(customer, code)
        out += PusTc(GROUND_STATION_APID, *ACCESS_REQUEST, request, ack_flags=0).encode()
    return out + PusTc(PLATFORM_APID, 17, 1, seq_count=SEQ_COUNT, source_id=SOURCE_ID).encode()


def probe(host: str, port: int, packets: bytes, wait: float) -> dict[str, Any]:
    try:
        sock = socket.create_connection((host, port), timeout=5.0)
    except OSError as exc:
        return {"connected": False, "closed": False, "detail": f"{type(exc).__name__}: {exc}"}
    with sock:
        try:
            sock.sendall(packets)
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    return {"connected": True, "closed": True, "detail": "closed by the station"}
        except TimeoutError:
            pass
        except OSError as exc:  # a reset: the station aborted the connection
            return {"connected": True, "closed": True, "detail": f"{type(exc).__name__}: {exc}"}
    return {"connected": True, "closed": False, "detail": f"still connected after {wait:g} s"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vantage_customer", description=__doc__)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--customer")
    parser.add_argument("--secret", default="", help="the customer's secret, hex")
    parser.add_argument("--period", type=float, default=60.0)
    parser.add_argument("--wait", type=float, default=4.0)
    args = parser.parse_args(argv)
    try:
        secret = bytes.fromhex(args.secret.strip())
        packets = first_packets(args.customer, secret, args.period, time.time())
    except ValueError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(probe(args.host, args.port, packets, args.wait)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
