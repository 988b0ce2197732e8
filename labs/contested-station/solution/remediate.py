"""Reference remediation for contested-station, run on the workstation as the student,
through the administrator accounts the briefing hands out.

1. Shared station (``ssh ops@ground-station``): the former partner revoked
   (``packet_service.access.customers.partner.revoked: true``) and a new secret for the
   mission written over its key file (``/etc/labctl/keys/mission.access``).
2. Mission control (``ssh ops@mission-control``): the same new secret over its copy
   (``/etc/labctl/keys/station-access.key``).
3. Both restarted (``sudo labctl-service restart``), the station first: mission control's
   link, refused for the few seconds in between, connects again with the new secret.
"""

from __future__ import annotations

import os
import sys

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

STATION_CONFIG = "/etc/labctl/ground-station.yaml"
STATION_SECRET = "/etc/labctl/keys/mission.access"
MC_SECRET = "/etc/labctl/keys/station-access.key"


def main() -> int:
    secret = os.urandom(16).hex() + "\n"
    try:
        mc = MissionControl.from_file()
        with (
            OpsSession.from_file("ground-station") as station,
            OpsSession.from_file("mission-control-ops") as server,
        ):
            print(
                station.edit(
                    STATION_CONFIG, {"packet_service.access.customers.partner.revoked": True}
                )
            )
            print(station.write(STATION_SECRET, secret).strip() or f"{STATION_SECRET} written")
            print(server.write(MC_SECRET, secret).strip() or f"{MC_SECRET} written")
            print(station.sudo("labctl-service", "check").strip())
            print(station.sudo("labctl-service", "restart").strip())
            print(server.sudo("labctl-service", "restart").strip())
        mc.wait_linked(90.0)
        mc.login()  # a restarted mission control forgets its sessions
        print(mc.completed("PING"))
    except (OpsError, MissionControlError, OSError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
