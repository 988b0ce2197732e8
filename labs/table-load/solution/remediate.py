"""Reference remediation for table-load, run on the workstation as the student, through the
student's own access only: telecommands from mission control, as the flight director.

1. SET_PARAMETER TABLE_VERIFY 1 (loads must carry flight dynamics' signature, and the kept
   table is verified at every reset) and TABLE_ANTI_ROLLBACK 1 (a load must be newer than
   the table in use).
2. REBOOT: the parameters come into use; the tampered table kept in non-volatile memory
   fails verification and is discarded, so the spacecraft boots with its own table.
3. TABLE_LOAD flight dynamics' table exactly as they signed it (~/limits-table.txt).
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.missionclient import MissionControl, MissionControlError, handout_fields

TABLE_FILE = Path.home() / "limits-table.txt"
SETTINGS = {"TABLE_VERIFY": 1, "TABLE_ANTI_ROLLBACK": 1}


def main() -> int:
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        in_use = mc.set_parameters(SETTINGS)  # SET_PARAMETER each, then REBOOT
        print("in use after the reset:", ", ".join(f"{k} = {in_use[k]}" for k in SETTINGS))
        table = handout_fields(TABLE_FILE)
        row = mc.send(
            "TABLE_LOAD",
            table=int(table["table"]),
            version=int(table["version"]),
            max_burn_ms=int(table["max_burn_ms"]),
            thruster_enabled=int(table["thruster_enabled"]),
            signature=table["signature"],
        )
        print(f"TABLE_LOAD flight dynamics' v{table['version']} as signed: {row['status']}")
    except (MissionControlError, KeyError, ValueError, OSError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return (
        0
        if row["status"] == "completed" and all(in_use[k] == v for k, v in SETTINGS.items())
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
