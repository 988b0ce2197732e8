"""Reference remediation for pass-replay, run on the workstation as the student.

The spacecraft is in orbit and in contact only during passes: it is hardened by
telecommand, through mission control, with the student's own flight-director account
(~/mission-control.txt), in one pass long enough for the whole change (the pass plan is
mission control's ``GET /api/passes``). SET_PARAMETER stores the uplink SA's anti-replay
and sequence-number persistence in the spacecraft's non-volatile memory; REBOOT (an
on-board reset) puts them in use; REPORT_PARAMETERS shows both values in use.
"""

from __future__ import annotations

import sys

from labctl.range.missionclient import MissionControl, MissionControlError

SETTINGS = {"UPLINK_ANTI_REPLAY": 1, "UPLINK_PERSIST_SN": 1}
#: Contact the whole change needs: two parameters, the reset, the link's recovery and
#: the parameter report that shows them in use.
PASS_NEEDED_S = 150.0


def main() -> int:
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        left = mc.wait_for_pass(PASS_NEEDED_S)
        print(f"in a pass, {left:.0f} s of contact left")
        ids = {p["name"]: p["id"] for p in mc.parameters()}
        for name, value in SETTINGS.items():
            row = mc.send("SET_PARAMETER", parameter=ids[name], value=value)
            print(f"SET_PARAMETER {name} = {value}: {row['status']}")
            if row["status"] != "completed":
                return 1
        print(f"REBOOT: {mc.send('REBOOT')['status']}")
        in_use = mc.parameters_settled(SETTINGS)
    except MissionControlError as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print("in use after the reset:", ", ".join(f"{k} = {in_use[k]}" for k in SETTINGS))
    return 0 if all(in_use[k] == v for k, v in SETTINGS.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
