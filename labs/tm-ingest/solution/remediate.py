"""Reference remediation for tm-ingest, run on the workstation as the student, through the
operations engineer's account on the mission-control server (ssh ops@mission-control;
~/mission-control-ops.txt).

1. telemetry.on_bad_packet back to `drop`: a packet that does not decode is dropped and
   counted, and the processing goes on with the next one.
2. The configuration is checked, and mission control restarted in place, which also
   brings a halted processing back; the health report must then show it running.

Test the fix the way the attack worked (solution/README.md): a malformed packet on the
downlink must now show in the dropped count, with the processing running.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request

from labctl.range import wiring
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/mission-control.yaml"
HEALTH = f"{wiring.MISSION_CONTROL_URL}/api/health"


def ingest() -> dict[str, object]:
    with urllib.request.urlopen(HEALTH, timeout=10) as answer:
        return dict(json.loads(answer.read())["ingest"])


def wait_running(seconds: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = ingest()
            if not state.get("halted"):
                return state
        except OSError:
            pass  # mission control is restarting
        if time.monotonic() > deadline:
            raise OpsError("mission control did not come back with its processing running")
        time.sleep(1.0)


def main() -> int:
    try:
        with OpsSession.from_file("mission-control-ops") as ops:
            ops.edit(CONFIG, {"telemetry.on_bad_packet": "drop"})
            print(ops.sudo("labctl-service", "check").strip())
            print(ops.sudo("labctl-service", "restart").strip())
        before = wait_running()
        print(f"processing running after the restart: {json.dumps(before)}")
    except (OpsError, OSError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
