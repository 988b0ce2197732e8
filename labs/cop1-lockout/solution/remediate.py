"""Reference remediation for cop1-lockout, run on the workstation as the student, through
the student's own access only.

1. The ground station (ssh ops@ground-station, the operations engineer's account): protect
   COP-1 control commands with the uplink SA (``uplink.sa.protect_control``) with
   ``sudoedit``, then ``sudo labctl-service restart``. First, so that the station's own
   Unlock and Set V(R) still reach a spacecraft that will refuse clear ones.
2. The spacecraft, by telecommand through mission control (the student's flight-director
   account): SET_PARAMETER CLEAR_CONTROL_COMMANDS 0; REBOOT puts it in use. The station's
   automatic COP-1 recovery (now with authenticated Unlock and Set V(R)) brings the
   uplink back in step after each restart.
"""

from __future__ import annotations

import sys

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

STATION = {"uplink.sa.protect_control": True}
SPACECRAFT = {"CLEAR_CONTROL_COMMANDS": 0}


def main() -> int:
    try:
        with OpsSession.from_file("ground-station") as ops:
            print(ops.edit("/etc/labctl/ground-station.yaml", STATION).strip())
            print(ops.sudo("labctl-service", "restart").strip())
        mc = MissionControl.from_file()
        mc.wait_linked()
        ids = {p["name"]: p["id"] for p in mc.parameters()}
        for name, value in SPACECRAFT.items():
            row = mc.send("SET_PARAMETER", parameter=ids[name], value=value)
            print(f"SET_PARAMETER {name} = {value}: {row['status']}")
            if row["status"] != "completed":
                return 1
        print(f"REBOOT: {mc.send('REBOOT')['status']}")
        in_use = mc.parameters_settled(SPACECRAFT)
    except (OpsError, MissionControlError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print("in use after the reset:", ", ".join(f"{k} = {in_use[k]}" for k in SPACECRAFT))
    return 0 if all(in_use[k] == v for k, v in SPACECRAFT.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
