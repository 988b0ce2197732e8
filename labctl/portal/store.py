"""The portal's state, in the installation's SQLite file beside the instances and sessions.

Tables (this module's schema, registered with the state file): portal accounts (students
of the served sessions and instructors, argon2 hashes only), report uploads (every one kept
with its time), quiz attempts, announcements, per-session switches (grades released,
resets allowed), objectives first seen holding (time to solve), and the audit log of every
change made through the portal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from labctl.instances.store import InstanceStore, Schema, register_schema

STUDENT: Final = "student"
INSTRUCTOR: Final = "instructor"

PORTAL_SCHEMA: Final = register_schema(
    Schema(
        "portal",
        (
            (
                """
CREATE TABLE IF NOT EXISTS portal_accounts (
    login TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session TEXT NOT NULL DEFAULT '',
    student TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    student TEXT NOT NULL,
    time TEXT NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_quiz (
    session TEXT NOT NULL,
    student TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    time TEXT NOT NULL,
    answers TEXT NOT NULL,
    right INTEGER NOT NULL,
    asked INTEGER NOT NULL,
    PRIMARY KEY (session, student, attempt)
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_announcements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    time TEXT NOT NULL,
    text TEXT NOT NULL
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_switches (
    session TEXT PRIMARY KEY,
    released INTEGER NOT NULL DEFAULT 0,
    resets INTEGER NOT NULL DEFAULT 1
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_solves (
    session TEXT NOT NULL,
    student TEXT NOT NULL,
    objective TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (session, student, objective)
)
""",
                """
CREATE TABLE IF NOT EXISTS portal_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
)
""",
            ),
            # 2: students' SSH public keys for the entry point.
            (
                """
CREATE TABLE IF NOT EXISTS portal_keys (
    login TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key TEXT NOT NULL,
    added TEXT NOT NULL,
    PRIMARY KEY (login, fingerprint)
)
""",
            ),
        ),
        first_file_version=5,
    )
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Account:
    login: str
    kind: str
    session: str
    student: str
    password_hash: str


@dataclass(frozen=True)
class Upload:
    id: int
    time: str
    filename: str
    sha256: str
    size: int


class PortalStore:
    """The portal's tables, through the installation's instance store (one transaction
    per call)."""

    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    # --- accounts --------------------------------------------------------------------

    def account(self, login: str) -> Account | None:
        with self.store.reading() as db:
            row = db.execute(
                "SELECT login, kind, session, student, password_hash FROM portal_accounts"
                " WHERE login = ?",
                (login,),
            ).fetchone()
        return None if row is None else Account(*row)

    def put_account(self, account: Account) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO portal_accounts (login, kind, session, student, password_hash,"
                " created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(login) DO UPDATE SET"
                " kind = excluded.kind, session = excluded.session,"
                " student = excluded.student, password_hash = excluded.password_hash",
                (
                    account.login,
                    account.kind,
                    account.session,
                    account.student,
                    account.password_hash,
                    now(),
                ),
            )

    def instructors(self) -> list[str]:
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT login FROM portal_accounts WHERE kind = ? ORDER BY login", (INSTRUCTOR,)
            ).fetchall()
        return [r[0] for r in rows]

    # --- uploads ---------------------------------------------------------------------

    def add_upload(self, session: str, student: str, filename: str, content: bytes) -> Upload:
        digest = hashlib.sha256(content).hexdigest()
        stamp = now()
        with self.store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO portal_uploads (session, student, time, filename, sha256, content)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session, student, stamp, filename, digest, content),
            )
            ident = int(cursor.lastrowid or 0)
        return Upload(ident, stamp, filename, digest, len(content))

    def uploads(self, session: str, student: str) -> list[Upload]:
        """Every upload of the student, newest first."""
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT id, time, filename, sha256, length(content) FROM portal_uploads"
                " WHERE session = ? AND student = ? ORDER BY id DESC",
                (session, student),
            ).fetchall()
        return [Upload(*row) for row in rows]

    def latest_report(self, session: str, student: str) -> bytes | None:
        with self.store.reading() as db:
            row = db.execute(
                "SELECT content FROM portal_uploads WHERE session = ? AND student = ?"
                " ORDER BY id DESC LIMIT 1",
                (session, student),
            ).fetchone()
        return None if row is None else bytes(row[0])

    # --- quiz ------------------------------------------------------------------------

    def quiz_attempts(self, session: str, student: str) -> list[dict[str, Any]]:
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT attempt, time, answers, right, asked FROM portal_quiz"
                " WHERE session = ? AND student = ? ORDER BY attempt",
                (session, student),
            ).fetchall()
        return [
            {"attempt": a, "time": t, "answers": json.loads(ans), "right": r, "asked": n}
            for a, t, ans, r, n in rows
        ]

    def add_quiz_attempt(
        self, session: str, student: str, answers: dict[str, int], right: int, asked: int
    ) -> int:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(attempt), 0) FROM portal_quiz WHERE session = ?"
                " AND student = ?",
                (session, student),
            ).fetchone()
            attempt = int(row[0]) + 1
            db.execute(
                "INSERT INTO portal_quiz (session, student, attempt, time, answers, right,"
                " asked) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session, student, attempt, now(), json.dumps(answers), right, asked),
            )
        return attempt

    # --- announcements, switches, solves -----------------------------------------------

    def announce(self, session: str, text: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO portal_announcements (session, time, text) VALUES (?, ?, ?)",
                (session, now(), text),
            )

    def announcements(self, session: str) -> list[tuple[str, str]]:
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT time, text FROM portal_announcements WHERE session = ?"
                " ORDER BY id DESC LIMIT 20",
                (session,),
            ).fetchall()
        return [(t, x) for t, x in rows]

    def switches(self, session: str) -> tuple[bool, bool]:
        """(grades released, resets allowed)."""
        with self.store.reading() as db:
            row = db.execute(
                "SELECT released, resets FROM portal_switches WHERE session = ?", (session,)
            ).fetchone()
        return (False, True) if row is None else (bool(row[0]), bool(row[1]))

    def set_switch(self, session: str, name: str, value: bool) -> None:
        if name not in {"released", "resets"}:
            raise ValueError(name)
        released, resets = self.switches(session)
        values = {"released": released, "resets": resets, name: value}
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO portal_switches (session, released, resets) VALUES (?, ?, ?)"
                " ON CONFLICT(session) DO UPDATE SET released = excluded.released,"
                " resets = excluded.resets",
                (session, int(values["released"]), int(values["resets"])),
            )

    def solved(self, session: str, student: str, objectives: list[str]) -> dict[str, str]:
        """Record the objectives holding now (first time only); every first time known."""
        stamp = now()
        opened = self.store.transaction() if objectives else self.store.reading()
        with opened as db:
            for objective in objectives:
                db.execute(
                    "INSERT OR IGNORE INTO portal_solves (session, student, objective, time)"
                    " VALUES (?, ?, ?, ?)",
                    (session, student, objective, stamp),
                )
            rows = db.execute(
                "SELECT objective, time FROM portal_solves WHERE session = ? AND student = ?",
                (session, student),
            ).fetchall()
        return {str(o): str(t) for o, t in rows}

    # --- SSH keys --------------------------------------------------------------------

    def add_key(self, login: str, fingerprint: str, key: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO portal_keys (login, fingerprint, key, added)"
                " VALUES (?, ?, ?, ?)",
                (login, fingerprint, key, now()),
            )

    def remove_key(self, login: str, fingerprint: str) -> bool:
        with self.store.transaction() as db:
            return (
                db.execute(
                    "DELETE FROM portal_keys WHERE login = ? AND fingerprint = ?",
                    (login, fingerprint),
                ).rowcount
                > 0
            )

    def keys(self, login: str) -> list[tuple[str, str, str]]:
        """(fingerprint, key, added) of the login's keys."""
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT fingerprint, key, added FROM portal_keys WHERE login = ? ORDER BY added",
                (login,),
            ).fetchall()
        return [(str(f), str(k), str(a)) for f, k, a in rows]

    # --- audit -----------------------------------------------------------------------

    def audit(self, actor: str, action: str, **detail: Any) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO portal_audit (time, actor, action, detail) VALUES (?, ?, ?, ?)",
                (now(), actor, action, json.dumps(detail, sort_keys=True, default=str)),
            )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.store.reading() as db:
            rows = db.execute(
                "SELECT time, actor, action, detail FROM portal_audit ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"time": t, "actor": a, "action": x, "detail": json.loads(d)} for t, a, x, d in rows
        ]


__all__ = ["INSTRUCTOR", "STUDENT", "Account", "PortalStore", "Upload"]
