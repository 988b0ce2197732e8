"""Reference remediation for tm-redirect, run on the workstation as the student, through
the student's own access only: telecommands from mission control, as the flight director.

1. DOWNLINK_ROUTE vcid 0 clear 0, authenticated like every command from mission control:
   the telemetry goes back to the operators' channel, through the downlink SA. Its
   completion report is the first one mission control sees again.
2. SET_PARAMETER CLEAR_ROUTING_COMMANDS 0: routing commands need SDLS like any other.
3. REBOOT: the parameter comes into use (and the configured route with it).
"""

from __future__ import annotations

import sys

from labctl.range.missionclient import MissionControl, MissionControlError

SETTINGS = {"CLEAR_ROUTING_COMMANDS": 0}


def main() -> int:
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        row = mc.send("DOWNLINK_ROUTE", vcid=0, clear=0, within=90)
        print(f"DOWNLINK_ROUTE vcid 0 clear 0: {row['status']}")
        in_use = mc.set_parameters(SETTINGS)  # SET_PARAMETER each, then REBOOT
    except MissionControlError as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print("in use after the reset:", ", ".join(f"{k} = {in_use[k]}" for k in SETTINGS))
    return 0 if all(in_use[k] == v for k, v in SETTINGS.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
