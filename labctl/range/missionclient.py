"""A small client of mission control's HTTP API, for scripts run on the student's workstation.

What a student does in the browser, a script can do through the same API and the same
account: log in, send a telecommand and wait for the spacecraft's verification, ask for
the on-board parameters. Reference remediations (``solution/``) use it, so ``labctl
selftest`` proves that a student's own mission-control account is enough. Standard
library only: it runs in every lab image.

    from labctl.range.missionclient import MissionControl
    mc = MissionControl.from_file()          # ~/mission-control.txt (URL, user, password)
    mc.send("SET_PARAMETER", parameter=1, value=1)
    mc.send("REBOOT")
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.protocols.sdls_ep import CHALLENGE_SIZE, OTAR_IV_SIZE, check_answer, seal_otar
from labctl.range import wiring

#: Where a lab puts the student's mission-control account on the workstation.
ACCOUNT_FILE: Final = Path.home() / "mission-control.txt"
TIMEOUT: Final = 10.0
#: How long an SDLS reply may follow its command's completion report to mission control.
REPLY_WAIT_S: Final = 15.0


def handout_fields(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of a handout file of the workstation's home (``#`` lines
    are comments): what a lab hands the student (keys, SPIs, accounts, tables)."""
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith("#"):
            fields[key.strip()] = value.strip()
    return fields


class MissionControlError(Exception):
    """A request mission control refused, or an answer that never came."""


@dataclass
class MissionControl:
    """One logged-in session of mission control's API."""

    username: str
    password: str
    url: str = wiring.MISSION_CONTROL_URL
    token: str = field(default="", repr=False)

    @classmethod
    def from_file(cls, path: Path = ACCOUNT_FILE) -> MissionControl:
        """Read ``url:``, ``user:`` and ``password:`` lines (the lab's handout file)."""
        fields: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in {"url", "user", "password"}:
                fields[key.strip().lower()] = value.strip()
        if "user" not in fields or "password" not in fields:
            raise MissionControlError(f"{path}: needs 'user:' and 'password:' lines")
        client = cls(
            fields["user"], fields["password"], fields.get("url", wiring.MISSION_CONTROL_URL)
        )
        client.login()
        return client

    def login(self) -> None:
        body = self.request(
            "POST", "/api/login", {"username": self.username, "password": self.password}
        )
        self.token = str(body["token"])

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; the decoded JSON answer. Raises MissionControlError on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:200]
            raise MissionControlError(f"{method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise MissionControlError(f"{method} {path}: {exc}") from None

    def send(self, name: str, within: float = 45.0, **args: int | str) -> dict[str, Any]:
        """Send a telecommand and wait for its completion (or failure) report. Octet
        arguments (``KEY_OTAR``'s) are hex text. Under the two-person rule a hazardous
        command is held instead: the answer (status ``pending``, with ``pending_id``) comes
        back at once, and a second person's :meth:`approve` sends it."""
        return self._send(name, args, within)

    def _send(self, name: str, args: dict[str, int | str], within: float) -> dict[str, Any]:
        sent = self.request("POST", "/api/commands", {"name": name, "args": args})
        if sent.get("status") == "pending":
            return dict(sent)
        return self._verified(name, sent, within)

    def completed(self, name: str, **args: int | str) -> str:
        """:meth:`send`; MissionControlError unless the spacecraft reports the command
        completed (failed, or held by the two-person rule). One line saying what ran."""
        row = self._send(name, args, 45.0)
        if row["status"] != "completed":
            raise MissionControlError(f"{name} was not completed: {row.get('detail') or row}")
        return f"{name} {args}: completed"

    def pending(self) -> list[dict[str, Any]]:
        """Hazardous commands waiting for a second person (``GET /api/commands/pending``)."""
        return list(self.request("GET", "/api/commands/pending")["pending"])

    def approve(self, pending_id: int, within: float = 45.0) -> dict[str, Any]:
        """Approve another user's held command (two-person rule) and wait for its report."""
        sent = self.request("POST", f"/api/commands/pending/{int(pending_id)}/approve")
        return self._verified(f"command {pending_id}", sent, within)

    def reject(self, pending_id: int) -> dict[str, Any]:
        """Reject a held command (or withdraw one's own): it is never sent."""
        return dict(self.request("POST", f"/api/commands/pending/{int(pending_id)}/reject"))

    def _verified(self, name: str, sent: dict[str, Any], within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            row: dict[str, Any] = self.request("GET", f"/api/commands/sent/{sent['id']}")
            if row["status"] in {"completed", "failed"}:
                return row
            if time.monotonic() > deadline:
                raise MissionControlError(f"{name}: no verification within {within:.0f} s")
            time.sleep(0.5)

    def otar(self, master_key: bytes, master_key_id: int, key_id: int, key: bytes) -> None:
        """Deliver ``key`` (AES-128) as key ``key_id`` of the spacecraft's key store, sealed
        under its master key with a fresh IV (``KEY_OTAR``), and activate it
        (``KEY_ACTIVATE``); MissionControlError when the spacecraft refuses either."""
        sealed = seal_otar(master_key, master_key_id, key_id, key, os.urandom(OTAR_IV_SIZE))
        for name, args in (
            (
                "KEY_OTAR",
                {
                    "master_key_id": master_key_id,
                    "iv": sealed.iv.hex(),
                    "encrypted_key": sealed.ciphertext.hex(),
                    "mac": sealed.tag.hex(),
                },
            ),
            ("KEY_ACTIVATE", {"key_id": key_id}),
        ):
            row = self.send(name, **args)
            if row["status"] != "completed":
                raise MissionControlError(f"{name}: the spacecraft answered {row['status']}")

    def deliver_key(self, master_key: bytes, master_key_id: int, key_id: int, key: bytes) -> str:
        """:meth:`otar`, then :meth:`verify_key`: before anything depends on the new key,
        the spacecraft proves it holds this very key. MissionControlError otherwise; one
        line saying what was done."""
        self.otar(master_key, master_key_id, key_id, key)
        if not self.verify_key(key_id, key):
            raise MissionControlError(f"KEY_VERIFY: key {key_id} on board is another")
        return f"KEY_OTAR, KEY_ACTIVATE, KEY_VERIFY: the spacecraft holds key {key_id}, active"

    def sdls_replies(self) -> list[dict[str, Any]]:
        """The spacecraft's latest SDLS extended-procedure replies, newest first
        (``GET /api/sdls/replies``)."""
        return list(self.request("GET", "/api/sdls/replies")["replies"])

    def verify_key(self, key_id: int, key: bytes, within: float = 45.0) -> bool:
        """SDLS Key Verification: is the spacecraft's active key ``key_id`` equal to ``key``?
        Sends a fresh random challenge (``KEY_VERIFY``) and checks the spacecraft's answer
        (the challenge encrypted under its key); MissionControlError when the spacecraft
        refuses or its answer never reaches mission control."""

        def answers() -> set[str]:
            return {
                str(r["data"])
                for r in self.sdls_replies()
                if r.get("procedure") == "KEY_VERIFY" and r.get("key_id") == key_id
            }

        before = answers()
        challenge = os.urandom(CHALLENGE_SIZE)
        row = self.send("KEY_VERIFY", within, key_id=key_id, challenge=challenge.hex())
        if row["status"] != "completed":
            raise MissionControlError(f"KEY_VERIFY: the spacecraft answered {row['status']}")
        deadline = time.monotonic() + REPLY_WAIT_S
        while not (new := answers() - before):
            if time.monotonic() > deadline:
                raise MissionControlError("KEY_VERIFY: the answer never reached mission control")
            time.sleep(0.5)
        return any(check_answer(bytes.fromhex(a), key, key_id, challenge) for a in new)

    def passes(self) -> list[dict[str, Any]]:
        """The pass under way and the next ones (``GET /api/passes``): empty on a link
        that is always up."""
        return list(self.request("GET", "/api/passes")["passes"])

    def wait_for_pass(self, needed: float, settle: float = 6.0, longest: float = 1800.0) -> float:
        """Wait (sleeping) until a pass is under way with ``needed`` seconds of it left,
        ``settle`` seconds after its start (the link comes back); return the seconds left.
        At once on a link without passes (returns infinity)."""
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            plan = self.passes()
            if not plan:
                return float("inf")
            for entry in plan:
                wait = max(0.0, float(entry["in_s"])) + (settle if not entry["now"] else 0.0)
                if entry["now"]:
                    since = float(entry["duration_s"]) - float(entry["until_los_s"])
                    wait = max(0.0, settle - since)
                if float(entry["until_los_s"]) - wait >= needed:
                    time.sleep(wait)
                    return float(entry["until_los_s"]) - wait
            time.sleep(min(30.0, max(1.0, float(plan[-1]["in_s"]))))
        raise MissionControlError(f"no pass with {needed:.0f} s of contact within {longest:.0f} s")

    def parameters(self, within: float = 30.0) -> list[dict[str, Any]]:
        """Ask the spacecraft for its parameter report (REPORT_PARAMETERS) and return it."""
        before = self.request("GET", "/api/parameters").get("received_at")
        self.send("REPORT_PARAMETERS", within)
        deadline = time.monotonic() + within
        while True:
            report: dict[str, Any] = self.request("GET", "/api/parameters")
            if report.get("received_at") and report["received_at"] != before:
                return list(report["parameters"])
            if time.monotonic() > deadline:
                raise MissionControlError(f"no parameter report within {within:.0f} s")
            time.sleep(0.5)

    def parameters_settled(self, wanted: dict[str, int], tries: int = 6) -> dict[str, int]:
        """The parameters in use (name → value) once they are ``wanted``, asking again up
        to ``tries`` times: the first report after a REBOOT may predate the reset."""
        in_use: dict[str, int] = {}
        for _ in range(tries):
            in_use = {p["name"]: p["in_use"] for p in self.parameters(within=60)}
            if all(in_use.get(k) == v for k, v in wanted.items()):
                break
        return in_use

    def set_parameters(self, wanted: dict[str, int]) -> dict[str, int]:
        """Store on-board parameters by name (SET_PARAMETER), REBOOT to put them in use,
        and return the values in use afterwards (:meth:`parameters_settled`). Raises
        MissionControlError when a value is not stored."""
        ids = {p["name"]: p["id"] for p in self.parameters()}
        for name, value in wanted.items():
            if name not in ids:
                raise MissionControlError(f"the spacecraft reports no parameter {name}")
            row = self.send("SET_PARAMETER", parameter=ids[name], value=value)
            if row["status"] != "completed":
                raise MissionControlError(f"SET_PARAMETER {name} = {value}: {row['status']}")
        self.send("REBOOT")
        return self.parameters_settled(wanted)

    def wait_linked(self, within: float = 60.0) -> None:
        """Wait until mission control is linked to the ground station."""
        deadline = time.monotonic() + within
        while not self.request("GET", "/api/health").get("ground_link"):
            if time.monotonic() > deadline:
                raise MissionControlError(f"ground link not up within {within:.0f} s")
            time.sleep(1.0)

    def last_event_id(self) -> int:
        """The newest event's id in mission control's log (0 when it is empty)."""
        events = self.request("GET", "/api/events?limit=1")["events"]
        return int(events[0]["id"]) if events else 0

    def event_text(self, name: str, after: int, within: float = 30.0) -> str | None:
        """The printable auxiliary data of the first event called ``name`` newer than
        event ``after`` (the spacecraft's PUS 5 reports), waiting up to ``within``."""
        deadline = time.monotonic() + within
        while True:
            for event in reversed(self.request("GET", "/api/events?limit=50")["events"]):
                if int(event["id"]) > after and event["name"] == name:
                    return str(event.get("aux_text") or "")
            if time.monotonic() > deadline:
                return None
            time.sleep(1.0)
