"""Reference remediation for mc-access: run on mission control as its `labctl` user (the
owner of its configuration), then restart mission control (it reads the file at start).

1. `admin` gets a long random password, stored only as a scrypt hash (password_hash
   replaces the plaintext password line); the new password is printed once, for the
   flight director, over a channel the team trusts.
2. Hazardous commands need the flight-director role again.
3. The audit trail is switched back on.
4. An account locks for 5 minutes after 10 failed logins in a row (slows a word-list
   attack down; the stock `operator` and `flight` accounts keep working).

/etc/labctl/mission-control.yaml is edited in place: comments, owner and mode stay.
"""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path

from labctl.range.hosts.missioncontrol.passwords import hash_password
from labctl.range.yamledit import get_dotted, load_mapping, set_dotted

CONFIG = Path("/etc/labctl/mission-control.yaml")
SETTINGS = {
    "policy.hazardous_requires": "flight-director",
    "audit_log.enabled": True,
    "policy.login_lockout.attempts": 10,
    "policy.login_lockout.seconds": 300,
}


def with_hashed_password(text: str, user: str, hashed: str) -> str:
    """``user``'s `password:` line replaced by a `password_hash:` line (same indent)."""
    lines = text.splitlines(keepends=True)
    inside, indent = False, -1
    for number, line in enumerate(lines):
        depth = len(line) - len(line.lstrip(" "))
        if re.match(rf"^ +{re.escape(user)}:\s*(#.*)?$", line):
            inside, indent = True, depth
            continue
        if inside and line.strip() and depth <= indent:
            break
        found = re.match(r"^( +)password(_hash)?:.*$", line.rstrip("\n"))
        if inside and found:
            lines[number] = f'{found[1]}password_hash: "{hashed}"  # scrypt; set by the fix\n'
    edited = "".join(lines)
    users = load_mapping(edited).get("users", {})
    entry = users.get(user, {}) if isinstance(users, dict) else {}
    if entry.get("password_hash") != hashed or "password" in entry:
        raise SystemExit(f"{CONFIG}: could not replace users.{user}.password")
    return edited


def main() -> int:
    text = CONFIG.read_text()
    password = secrets.token_urlsafe(24)
    text = with_hashed_password(text, "admin", hash_password(password))
    print(f"users.admin: new password (hand it to the flight director): {password}")
    for key, value in SETTINGS.items():
        text, changed = set_dotted(text, key, value)
        print(f"{key}: {value} ({'changed' if changed else 'already set'})")
    assert get_dotted(load_mapping(text), "users.operator.role") == (True, "operator")
    with CONFIG.open("w") as handle:  # in place: owner and mode stay
        handle.write(text)
    print("admin password hashed, hazardous commands for flight directors, audit trail on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
