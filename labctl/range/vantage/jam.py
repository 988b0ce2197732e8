"""Jam a radio path from a grader vantage: noise on an rf-link's uplink input.

Runs inside the vantage container (``python3 -m labctl.range.vantage.jam``), on the
instance's rf network, with a plain UDP socket: it sends ``--rate`` random bursts a second
for ``--duration`` seconds to ``--host`` (an rf-link) on its uplink-in port. A burst is
never a frame (its FECF does not check), so above the link's noise threshold the link
carries nothing while the noise lasts, as a receiver drowned by a transmitter on its
frequency. It prints ``jamming`` once the noise has started, then a JSON line:
``{"sent": N, "seconds": S}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Final

from labctl.protocols.crc import crc16_ok
from labctl.range import wiring

#: Noise burst sizes, octets (as the scripted adversary's).
BURST: Final = (16, 64)
TICK_S: Final = 0.01


def burst() -> bytes:
    """Random octets that are not a frame: their last two octets are no CRC-16 of the rest."""
    while True:
        size = BURST[0] + os.urandom(1)[0] % (BURST[1] - BURST[0] + 1)
        data = os.urandom(size)
        if not crc16_ok(data):
            return data


def jam(target: tuple[str, int], rate: int, duration: float) -> int:
    """Send ``rate`` bursts a second for ``duration`` seconds; the number sent."""
    sent = 0
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while (elapsed := time.monotonic() - start) < duration:
            owed = int(elapsed * rate) + 1 - sent
            for _ in range(max(owed, 0)):
                sock.sendto(burst(), target)
                sent += 1
                if sent == 1:
                    print("jamming", flush=True)
            time.sleep(TICK_S)
    return sent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vantage_jam", description=__doc__)
    parser.add_argument("--host", default=wiring.RF_LINK, help="the rf-link to jam")
    parser.add_argument("--port", type=int, default=wiring.UPLINK_IN)
    parser.add_argument("--rate", type=int, default=1000, help="noise bursts a second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not (1 <= args.rate <= 20000 and 0 < args.duration <= 300):
        print(json.dumps({"error": "rate 1..20000 a second, duration 0..300 s"}))
        return 2
    try:
        sent = jam((args.host, args.port), args.rate, args.duration)
    except OSError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps({"sent": sent, "seconds": args.duration}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
