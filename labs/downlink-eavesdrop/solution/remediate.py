"""Reference remediation for downlink-eavesdrop, run on the workstation as the student,
through the student's own access only.

1. The ground station (ssh ops@ground-station): accept only telemetry protected by the
   downlink security association (SPI 2, authenticated encryption, the key already in
   /etc/labctl/keys/downlink.key), with ``sudoedit``; ``sudo labctl-service restart``.
   From now on clear telemetry is dropped.
2. The spacecraft, by telecommand through mission control (the student's flight-director
   account): SDLS Start SA for SPI 2, which makes it the SA of the telemetry at once and
   for the next boot. Its own completion report is the first protected frame the station
   accepts.
"""

from __future__ import annotations

import sys

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

DOWNLINK_SPI = 2
STATION = {
    "downlink.sa": {
        "spi": DOWNLINK_SPI,
        "service": "authenticated_encryption",
        "key_file": "/etc/labctl/keys/downlink.key",
    }
}


def main() -> int:
    try:
        with OpsSession.from_file("ground-station") as ops:
            ops.edit("/etc/labctl/ground-station.yaml", STATION)
            print(ops.sudo("labctl-service", "restart").strip())
        mc = MissionControl.from_file()
        mc.wait_linked()
        row = mc.send("SA_START", spi=DOWNLINK_SPI, within=60)
        print(f"SA_START SPI {DOWNLINK_SPI}: {row['status']}")
        print(f"PING: {mc.send('PING')['status']}")
    except (OpsError, MissionControlError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0 if row["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
