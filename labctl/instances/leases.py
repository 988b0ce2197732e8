"""Instance leases: how long an instance may run, when it last saw its student, and
whether labctl stopped it.

A lease is one row of ``leases`` beside the instance's record (the table is this module's,
registered with the state file as the sessions' tables are). An instance without a lease
runs until someone removes it (``labctl up`` without ``--lifetime``); a class session's
instances get one at every start (docs/instructor-guide.md, "Lifetimes, idle stops and
caps"):

- ``expires``: the end of its lifetime. ``labctl gc`` (and the portal, every minute)
  removes an instance past it, keeping what the lab says survives (the workstation's
  home, the uploads); renewing sets it to ``lifetime`` from now.
- ``active``: the last time its student did something labctl sees (the portal's pages,
  its terminal, mission control through the portal, a self-check). An instance idle for
  ``idle`` seconds is stopped (its containers, not removed) until the student or the
  instructor starts it again.
- ``state``: ``""`` (live), ``idle`` (stopped for idleness) or ``expired`` (removed at
  the end of its lifetime; the record is kept, so the next start brings the home back).

Times are UTC, ISO 8601 to the second; durations whole seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from labctl.errors import InputError
from labctl.instances.store import InstanceStore, Schema, register_schema

LIVE: Final = ""
IDLE: Final = "idle"
EXPIRED: Final = "expired"
#: A class session's defaults: a half-day's class, and a long lunch.
SESSION_LIFETIME_S: Final = 4 * 3600
SESSION_IDLE_S: Final = 3600
#: Activity is written at most this often per instance (a terminal types many times a
#: second; the idle clock needs minutes).
TOUCH_EVERY_S: Final = 60.0
#: The longest lifetime or idle period labctl accepts: a week's course.
MAX_DURATION_S: Final = 7 * 24 * 3600

LEASES_SCHEMA: Final = register_schema(
    Schema(
        "leases",
        (
            (
                """
CREATE TABLE IF NOT EXISTS leases (
    instance TEXT PRIMARY KEY,
    lifetime INTEGER NOT NULL,
    idle INTEGER NOT NULL,
    expires TEXT NOT NULL,
    active TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',
    renewals INTEGER NOT NULL DEFAULT 0
)
""",
            ),
        ),
        first_file_version=5,  # no file of the old layout has it
    )
)
_COLUMNS: Final = "instance, lifetime, idle, expires, active, state, renewals"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Lease:
    instance: str
    #: seconds; 0: no end
    lifetime: int
    #: seconds without activity before the instance is stopped; 0: never
    idle: int
    #: "" when lifetime is 0
    expires: str
    active: str
    state: str = LIVE
    renewals: int = 0

    def expired(self, now: datetime) -> bool:
        return bool(self.expires) and datetime.fromisoformat(self.expires) <= now

    def idle_since(self, now: datetime) -> bool:
        """Idle for its whole idle period (never when it has none)."""
        if not self.idle or not self.active:
            return False
        return datetime.fromisoformat(self.active) + timedelta(seconds=self.idle) <= now

    def left(self, now: datetime) -> float | None:
        """Seconds until it expires (None: no end)."""
        if not self.expires:
            return None
        return (datetime.fromisoformat(self.expires) - now).total_seconds()


_DURATION: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str, what: str) -> int:
    """Seconds of "4h", "90m", "1h30m", "2d", "45s" or "0"/"none" (no limit); InputError
    naming ``what`` otherwise."""
    value = text.strip().lower()
    if value in {"0", "none", "off", "never"}:
        return 0
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise InputError(
            f"{what} {text!r} is not a duration: write e.g. 4h, 90m, 1h30m, 2d, or 0 for none"
        )
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION_S:
        raise InputError(f"{what} {text!r} is longer than a week (7d): give a shorter one")
    return total


def describe(seconds: float) -> str:
    """``2 h 05 min``, ``12 min``, ``40 s``: a duration for people."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def summary(lease: Lease | None, now: datetime | None = None) -> str:
    """``ends in 3 h 10 min (18:40 UTC); stops after 1 h 00 min idle`` ("" without a
    lease): for the CLI and the portal alike."""
    if lease is None:
        return ""
    parts = []
    left = lease.left(now or utcnow())
    if left is not None:
        when = lease.expires[11:16]
        parts.append(f"ends in {describe(left)} ({when} UTC)" if left > 0 else "lifetime ended")
    if lease.idle:
        parts.append(f"stops after {describe(lease.idle)} idle")
    return "; ".join(parts)


class Leases:
    """The ``leases`` table of a state file."""

    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    def put(self, instance: str, lifetime: int, idle: int, now: datetime | None = None) -> Lease:
        """A fresh lease (an instance that just started): its lifetime from now."""
        moment = now or utcnow()
        lease = Lease(
            instance,
            lifetime,
            idle,
            stamp(moment + timedelta(seconds=lifetime)) if lifetime else "",
            stamp(moment),
        )
        with self.store.transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (instance, lifetime, idle, lease.expires, lease.active, LIVE, 0),
            )
        return lease

    def get(self, instance: str) -> Lease | None:
        with self.store.reading() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE instance = ?", (instance,)
            ).fetchone()
        return None if row is None else Lease(**dict(row))

    def all(self) -> list[Lease]:
        with self.store.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM leases ORDER BY instance").fetchall()
        return [Lease(**dict(row)) for row in rows]

    def renew(self, instance: str, seconds: int, now: datetime | None = None) -> Lease:
        """Its end set to ``seconds`` from now (never earlier than it was), and its idle
        clock restarted: renewing is activity."""
        moment = now or utcnow()
        with self.store.transaction() as db:
            row = db.execute("SELECT expires FROM leases WHERE instance = ?", (instance,))
            found = row.fetchone()
            wanted = stamp(moment + timedelta(seconds=seconds))
            expires = max(found["expires"], wanted) if found and found["expires"] else wanted
            db.execute(
                "UPDATE leases SET expires = ?, active = ?, renewals = renewals + 1"
                " WHERE instance = ?",
                (expires, stamp(moment), instance),
            )
        lease = self.get(instance)
        assert lease is not None  # the caller checked that it has one
        return lease

    def touch(self, instance: str, now: datetime | None = None) -> None:
        """The student did something: the idle clock starts again."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE leases SET active = ? WHERE instance = ?",
                (stamp(now or utcnow()), instance),
            )

    def set_state(self, instance: str, state: str, now: datetime | None = None) -> None:
        """``idle``, ``expired`` or live again (which restarts the idle clock)."""
        with self.store.transaction() as db:
            if state == LIVE:
                db.execute(
                    "UPDATE leases SET state = ?, active = ? WHERE instance = ?",
                    (state, stamp(now or utcnow()), instance),
                )
            else:
                db.execute("UPDATE leases SET state = ? WHERE instance = ?", (state, instance))

    def forget(self, instance: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM leases WHERE instance = ?", (instance,))
