"""Reference remediation for backup-station, run on the workstation as the student.

1. The backup station on its authenticated SA: ``ssh ops@backup-station``, its
   configuration's ``uplink.sa`` set to the provisioned SA (SPI, AES-GCM, the key file),
   checked, the station restarted (~/stations.txt).
2. On board, by telecommand as flight director (~/mission-control.txt): ``SA_START`` of
   the backup's authenticated SA, ``SA_STOP`` and ``SA_EXPIRE`` of the plaintext SA, so
   that no frame behind a clear header executes any more.
3. Failover: ``ssh ops@mission-control``, ``ground_station.host`` set to backup-station,
   checked, mission control restarted; it commands through the backup's radio path.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

NOTES = Path("/home/student/stations.txt")
STATION_CONFIG = "/etc/labctl/ground-station.yaml"
MC_CONFIG = "/etc/labctl/mission-control.yaml"


def main() -> int:
    notes = NOTES.read_text()
    plain = int(re.search(r"plaintext SA, SPI (\d+)", notes)[1])  # type: ignore[index]
    backup = int(re.search(r"authenticated SA, SPI (\d+)", notes)[1])  # type: ignore[index]
    key_file = "/etc/labctl/keys/backup.key"
    sa = {"spi": backup, "service": "authenticated_encryption", "key_file": key_file}
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        print(mc.completed("SA_START", spi=backup))
        with OpsSession.from_file("backup-station") as ops:
            print(ops.edit(STATION_CONFIG, {"uplink.sa": sa}) or "backup station: uplink.sa")
            print(ops.sudo("labctl-service", "check").strip())
            print(ops.sudo("labctl-service", "restart").strip())
        with OpsSession.from_file("mission-control-ops") as ops:
            print(ops.edit(MC_CONFIG, {"ground_station.host": "backup-station"}) or "failover")
            print(ops.sudo("labctl-service", "check").strip())
            print(ops.sudo("labctl-service", "restart").strip())
        mc.wait_linked()
        mc.login()  # a restarted mission control forgets its sessions
        print(mc.completed("SA_STOP", spi=plain))
        print(mc.completed("SA_EXPIRE", spi=plain))
    except (OpsError, MissionControlError, OSError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print("backup station on its authenticated SA, plaintext SA retired, failed over to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
