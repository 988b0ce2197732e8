"""Class sessions in the instances' SQLite file, and the lock that keeps two labctl
commands from working on one session at once.

The tables ``sessions`` and ``session_members`` are this module's: it registers their
schema with the state file (:func:`labctl.instances.store.register_schema`), which brings
them up to date on every connection as it does the instances' own.

Every write is one transaction of the instance store. The lock is ``fcntl.flock`` on
``<db>.session-<name>.lock`` beside the database (:mod:`labctl.instances.locks`): the
kernel drops it when its process ends, even on ``kill -9``, so a crashed labctl never
leaves a session locked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from labctl.errors import LabctlError
from labctl.instances.locks import hold, holder, lock_path
from labctl.instances.store import InstanceStore, Schema, register_schema

#: A member's status: pending (never started), queued (waiting for room under the caps),
#: starting (an `up` is or was under way), running, failed (after its retry).
PENDING: Final = "pending"
QUEUED: Final = "queued"
STARTING: Final = "starting"
RUNNING: Final = "running"
FAILED: Final = "failed"
SESSIONS_SCHEMA: Final = register_schema(
    Schema(
        "sessions",
        (
            (
                """
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    lab TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created TEXT NOT NULL,
    teams INTEGER NOT NULL DEFAULT 0,
    roster TEXT NOT NULL DEFAULT ''
)
""",
                """
CREATE TABLE IF NOT EXISTS session_members (
    session TEXT NOT NULL REFERENCES sessions(name),
    student TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    slot INTEGER NOT NULL,
    instance TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session, student)
)
""",
            ),
            # 2: the lease every member's instance gets (seconds; 0: none).
            (
                "ALTER TABLE sessions ADD COLUMN lifetime INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE sessions ADD COLUMN idle INTEGER NOT NULL DEFAULT 0",
            ),
        ),
        # Files of the old layout gained these tables at their version 3.
        first_file_version=3,
    )
)
_SESSION_COLUMNS: Final = "name, lab, seed, created, teams, roster, lifetime, idle"
_MEMBER_COLUMNS: Final = (
    "session, student, name, email, team, slot, instance, status, error, attempts, updated"
)


class SessionBusyError(LabctlError):
    """Another labctl process holds the session's lock."""

    def __init__(self, name: str, holder: str) -> None:
        who = f"labctl (pid {holder})" if holder else "another labctl command"
        super().__init__(
            f"session {name!r} is busy: {who} is working on it; run this again when it ends"
        )


@dataclass(frozen=True)
class SessionRecord:
    name: str
    lab: str
    seed: int
    created: str
    #: --teams N, or 0 (one instance per student, or the roster's team column)
    teams: int
    roster: str
    #: Each member instance's lifetime and idle period (seconds; 0: none).
    lifetime: int = 0
    idle: int = 0


@dataclass(frozen=True)
class MemberRecord:
    session: str
    student: str
    name: str
    email: str
    team: str
    slot: int
    instance: str
    status: str
    error: str = ""
    attempts: int = 0
    updated: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SessionStore:
    """Sessions and their members, in the same file as the instances."""

    def __init__(self, instances: InstanceStore) -> None:
        self.instances = instances

    @property
    def path(self) -> Path:
        return self.instances.path

    def create(self, session: SessionRecord, members: Iterable[MemberRecord]) -> None:
        """Record a new session and its members in one transaction."""
        with self.instances.transaction() as db:
            if db.execute("SELECT 1 FROM sessions WHERE name = ?", (session.name,)).fetchone():
                raise LabctlError(f"session {session.name!r} already exists")
            db.execute(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.name,
                    session.lab,
                    session.seed,
                    session.created,
                    session.teams,
                    session.roster,
                    session.lifetime,
                    session.idle,
                ),
            )
            db.executemany(
                f"INSERT INTO session_members ({_MEMBER_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.session,
                        m.student,
                        m.name,
                        m.email,
                        m.team,
                        m.slot,
                        m.instance,
                        m.status,
                        m.error,
                        m.attempts,
                        m.updated or _now(),
                    )
                    for m in members
                ],
            )

    def get(self, name: str) -> SessionRecord | None:
        with self.instances.reading() as db:
            row = db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else SessionRecord(**dict(row))

    def all(self) -> list[SessionRecord]:
        with self.instances.reading() as db:
            rows = db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY created, name"
            ).fetchall()
        return [SessionRecord(**dict(row)) for row in rows]

    def members(self, name: str) -> list[MemberRecord]:
        """The session's members in roster order (slot, then student)."""
        with self.instances.reading() as db:
            rows = db.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM session_members WHERE session = ?"
                " ORDER BY slot, rowid",
                (name,),
            ).fetchall()
        return [MemberRecord(**dict(row)) for row in rows]

    def set_status(
        self, name: str, instance: str, status: str, error: str = "", *, attempt: bool = False
    ) -> None:
        """The status of every member on ``instance`` (a team shares one)."""
        with self.instances.transaction() as db:
            db.execute(
                "UPDATE session_members SET status = ?, error = ?, updated = ?,"
                " attempts = attempts + ? WHERE session = ? AND instance = ?",
                (status, error, _now(), int(attempt), name, instance),
            )

    def set_lease(self, name: str, lifetime: int, idle: int) -> None:
        """The lease the session's instances get from their next start on."""
        with self.instances.transaction() as db:
            db.execute(
                "UPDATE sessions SET lifetime = ?, idle = ? WHERE name = ?", (lifetime, idle, name)
            )

    def delete(self, name: str) -> bool:
        with self.instances.transaction() as db:
            db.execute("DELETE FROM session_members WHERE session = ?", (name,))
            return db.execute("DELETE FROM sessions WHERE name = ?", (name,)).rowcount > 0

    def lock_path(self, name: str) -> Path:
        return lock_path(self.path, "session", name)

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the session's exclusive lock, or SessionBusyError at once."""
        with hold(self.lock_path(name), lambda pid: SessionBusyError(name, pid)):
            yield

    def holder(self, name: str) -> str | None:
        """The pid (as text, maybe empty) of the process holding the lock, None if free."""
        return holder(self.lock_path(name))
