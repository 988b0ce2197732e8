"""Reference remediation for insider, run on the workstation as the student, through the
operations engineer's account on the mission-control server (ssh ops@mission-control;
~/mission-control-ops.txt).

1. The two-person rule: a hazardous command waits until a second flight director
   approves it (policy.two_person.enabled), and lapses after 10 minutes.
2. The audit trail stays on, and every record also goes to the remote log collector
   (audit_log.remote: log-server, TCP 5140), which stores it append-only on a host
   nobody on the mission-control server can log in to.

/etc/labctl/mission-control.yaml is edited with sudoedit, checked, and mission control
restarted in place with `sudo labctl-service restart`; GET /api/health then shows the
shipping connected.
"""

from __future__ import annotations

import sys

from labctl.range import wiring
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/mission-control.yaml"
SETTINGS = {
    "policy.two_person.enabled": True,
    "policy.two_person.expiry_s": 600,
    "audit_log.enabled": True,
    "audit_log.remote.host": wiring.LOG_SERVER,
    "audit_log.remote.port": wiring.LOG_SERVER_PORT,
}


def main() -> int:
    try:
        with OpsSession.from_file("mission-control-ops") as ops:
            ops.edit(CONFIG, SETTINGS)
            print(ops.sudo("labctl-service", "check").strip())
            print(ops.sudo("labctl-service", "restart").strip())
            print(ops.sudo("labctl-service", "status").strip())
    except OpsError as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print("two-person rule on; audit trail on and shipped to the remote log collector")
    return 0


if __name__ == "__main__":
    sys.exit(main())
