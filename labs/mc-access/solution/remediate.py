"""Reference remediation for mc-access, run on the workstation as the student, through the
operations engineer's account on the mission-control server (ssh ops@mission-control;
~/mission-control-ops.txt).

1. `admin` gets a long random password, stored only as a scrypt hash (its plaintext
   `password` is removed); the new password is printed once, for the flight director,
   over a channel the team trusts.
2. Hazardous commands need the flight-director role again.
3. The audit trail is switched back on.
4. An account locks for 5 minutes after 10 failed logins in a row (slows a word-list
   attack down; the stock `operator` and `flight` accounts keep working).

/etc/labctl/mission-control.yaml is edited with sudoedit (owner and mode stay), checked,
and mission control restarted in place with `sudo labctl-service restart`.
"""

from __future__ import annotations

import secrets
import sys

from labctl.range.hosts.missioncontrol.passwords import hash_password
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/mission-control.yaml"
SETTINGS = {
    "policy.hazardous_requires": "flight-director",
    "audit_log.enabled": True,
    "policy.login_lockout.attempts": 10,
    "policy.login_lockout.seconds": 300,
}


def main() -> int:
    password = secrets.token_urlsafe(24)
    account = {"users.admin.password": None, "users.admin.password_hash": hash_password(password)}
    try:
        with OpsSession.from_file("mission-control-ops") as ops:
            ops.edit(CONFIG, {**account, **SETTINGS})
            print(ops.sudo("labctl-service", "check").strip())
            print(ops.sudo("labctl-service", "restart").strip())
    except OpsError as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    print(f"users.admin: new password (hand it to the flight director): {password}")
    print("admin password hashed, hazardous commands for flight directors, audit trail on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
