"""Reference remediation for rogue-station, run on the workstation as the student.

The spacecraft is in orbit: its security associations are managed by telecommand, with
SDLS extended procedures (CCSDS 355.1) sent through mission control by the student's own
flight-director account (~/mission-control.txt). The plaintext SA from the commissioning
review (~/sa-table.txt) is stopped (it no longer carries frames, at once) and expired (its
state becomes unkeyed: it cannot be started again); an on-board reset then shows that the
change is kept, and SA status confirms it. The authenticated SA is left alone, so
operators keep commanding; `uplink.sdls` stays on (UPLINK_SDLS = 1).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from labctl.range.missionclient import MissionControl, MissionControlError

SA_TABLE = Path.home() / "sa-table.txt"


def plaintext_spis() -> list[int]:
    """SPIs of the plaintext SAs in the commissioning review's SA table."""
    rows = (
        re.match(r"^\s*(\d+)\s+plaintext\b", line) for line in SA_TABLE.read_text().splitlines()
    )
    return [int(row.group(1)) for row in rows if row]


def main() -> int:
    try:
        mc = MissionControl.from_file()
        mc.wait_linked()
        for spi in plaintext_spis():
            for command in ("SA_STOP", "SA_EXPIRE"):
                row = mc.send(command, spi=spi)
                print(f"{command} SPI {spi}: {row['status']}")
                if row["status"] != "completed":
                    return 1
        in_use = {p["name"]: p["in_use"] for p in mc.parameters()}
        if in_use.get("UPLINK_SDLS") != 1:
            mc.send("SET_PARAMETER", parameter=5, value=1)
        print(f"REBOOT: {mc.send('REBOOT')['status']}")
        mc.wait_linked()
        for spi in plaintext_spis():
            print(f"SA_STATUS SPI {spi}: {mc.send('SA_STATUS', spi=spi)['status']}")
    except MissionControlError as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
