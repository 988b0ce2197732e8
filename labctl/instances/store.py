"""Instance state in SQLite (stdlib): one file per installation, $LABCTL_HOME/labctl.db.

A row is written (status ``starting``) before anything is created on the engine and
becomes ``running`` once every host is healthy, so an interrupted ``up`` leaves a row
that ``labctl down`` can clean up. Every write is one transaction (``BEGIN IMMEDIATE``:
concurrent labctl processes queue rather than interleave). The file holds the students'
access passwords, so it is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.errors import LabctlError

#: The layout of the file: 3 had one migration list for everything; 4 records each store's
#: own version in the table ``labctl_schema``.
SCHEMA_VERSION: Final = 4
SCHEMA_TABLE: Final = "labctl_schema"


@dataclass(frozen=True)
class Schema:
    """The tables one store owns in the shared state file, as the statements that bring
    them from each version to the next. A store registers its schema once (at import,
    :func:`register_schema`); every connection brings every registered schema up to date,
    in one transaction, recording each owner's version in ``labctl_schema``."""

    owner: str
    #: ``versions[k]``: the statements from version k to k + 1.
    versions: tuple[tuple[str, ...], ...]
    #: The file version (PRAGMA user_version, before ``labctl_schema``) at which the owner's
    #: first version appeared: how a file of the old layout says which steps it holds.
    first_file_version: int = 1

    @property
    def version(self) -> int:
        return len(self.versions)

    def legacy_version(self, file_version: int) -> int:
        """The owner's version in a file of the old layout at ``file_version``."""
        held = file_version - self.first_file_version + 1
        return max(0, min(self.version, held))


_SCHEMAS: dict[str, Schema] = {}


def register_schema(schema: Schema) -> Schema:
    """Make ``schema`` part of every state file this process opens."""
    _SCHEMAS[schema.owner] = schema
    return schema


def unregister_schema(owner: str) -> None:
    """Forget ``owner``'s schema (its tables stay in the files that have them)."""
    _SCHEMAS.pop(owner, None)


INSTANCES_SCHEMA: Final = register_schema(
    Schema(
        "instances",
        (
            (
                """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    lab TEXT NOT NULL,
    student TEXT NOT NULL,
    seed INTEGER NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    backend TEXT NOT NULL DEFAULT 'docker',
    ports TEXT NOT NULL DEFAULT '{}',
    access TEXT NOT NULL DEFAULT '{}'
)
""",
            ),
            # 2: what the scenario engine did to each instance.
            (
                """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    summary TEXT NOT NULL,
    changed INTEGER NOT NULL
)
""",
            ),
            # 3: each instance's roster slot (class sessions).
            ("ALTER TABLE instances ADD COLUMN slot INTEGER",),
        ),
    )
)
_COLUMNS: Final = "id, lab, student, seed, created, status, backend, ports, access, slot"
#: What SQLite says when the file or its folder (the journal goes there) is not writable.
_READ_ONLY: Final = re.compile(r"readonly|read-only|unable to open database file")

#: host → container port ("22/tcp") → port on 127.0.0.1
Ports = dict[str, dict[str, int]]


class InstanceExistsError(LabctlError):
    """``up`` of an instance that is already recorded."""

    def __init__(self, ident: str, status: str) -> None:
        self.ident = ident
        self.status = status
        super().__init__(
            f"instance {ident!r} already exists ({status}); "
            f"remove it first with: labctl down {ident}"
        )


class StateError(LabctlError):
    """The state file cannot be written, or is not a labctl database."""

    @classmethod
    def read_only(cls, path: Path, detail: str) -> StateError:
        return cls(
            f"the state file {path} is read-only ({detail}); nothing was changed: make it and "
            "its folder writable by you, or set LABCTL_HOME to a folder you can write"
        )

    @classmethod
    def unusable(cls, path: Path, detail: str) -> StateError:
        return cls(
            f"the state file {path} is not a usable labctl database ({detail}); nothing was "
            "changed: move it aside (labctl starts a new one; `labctl status` then lists "
            "the instances still on the engine) or set LABCTL_HOME to another folder"
        )


@dataclass(frozen=True)
class Event:
    """One thing the scenario engine did to an instance (an inject, a restart)."""

    instance: str
    time: str
    kind: str
    host: str
    summary: str
    changed: bool


@dataclass(frozen=True)
class InstanceRecord:
    id: str
    lab: str
    student: str
    seed: int
    created: str
    status: str
    backend: str = "docker"
    ports: Ports = field(default_factory=dict)
    #: what a student needs to log in (e.g. the attacker's SSH password)
    access: Mapping[str, str] = field(default_factory=dict)
    #: the roster slot of a class session's instance (keeps weak passwords unique)
    slot: int | None = None


def default_db() -> Path:
    """$LABCTL_HOME/labctl.db; LABCTL_HOME defaults to ~/.local/share/labctl."""
    home = os.environ.get("LABCTL_HOME") or str(Path.home() / ".local" / "share" / "labctl")
    return Path(home) / "labctl.db"


class InstanceStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_db()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One connection, one immediate transaction: committed on success, else rolled back.
        An SQLite failure is a :class:`StateError` naming the file."""
        with closing(self._connect()) as db, self._explained():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One connection, one deferred transaction, for reads only: many readers at once
        (a write transaction waits for them), where :meth:`transaction` takes the write
        lock at once."""
        with closing(self._connect()) as db, self._explained():
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.rollback()

    def check_writable(self) -> None:
        """StateError unless the state file is a sound labctl database this process can
        write. Commands that change state call it before they act, so a read-only or
        damaged file stops them before anything on the engine changes. A file not made
        yet is not made here (a folder that cannot hold it fails the first write)."""
        if not self.path.exists():
            return
        with closing(self._connect()) as db, self._explained():
            if db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
                raise StateError.unusable(self.path, "database disk image is malformed")
            db.execute("BEGIN IMMEDIATE")
            try:  # the same value back: a real write (of the header page), never committed
                version = db.execute("PRAGMA user_version").fetchone()[0]
                db.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                db.rollback()

    @contextmanager
    def _explained(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _READ_ONLY.search(str(exc)):
                raise StateError.read_only(self.path, str(exc)) from exc
            raise StateError(f"the state file {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # a constraint, a bug: not the file
                raise
            raise StateError.unusable(self.path, str(exc)) from exc

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch(mode=0o600)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise LabctlError(f"cannot open the state database {self.path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        try:
            with self._explained():
                if self._stale(db):
                    _migrate(db, list(_SCHEMAS.values()))
                    _CURRENT.add((self.path, frozenset(_SCHEMAS)))
        except BaseException:
            db.close()
            raise
        return db

    def _stale(self, db: sqlite3.Connection) -> bool:
        """Whether a registered schema may be behind: the file's layout is older, or this
        process has not brought it up to date with every schema registered now."""
        if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            return True
        return (self.path, frozenset(_SCHEMAS)) not in _CURRENT

    def reserve(self, record: InstanceRecord) -> None:
        """Record a new instance; InstanceExistsError if its id is taken."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM instances WHERE id = ?", (record.id,)).fetchone()
            if row is not None:
                raise InstanceExistsError(record.id, row["status"])
            db.execute(
                f"INSERT INTO instances ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(record),
            )

    def update(self, ident: str, *, status: str, ports: Ports | None = None) -> None:
        with self.transaction() as db:
            if ports is None:
                db.execute("UPDATE instances SET status = ? WHERE id = ?", (status, ident))
            else:
                db.execute(
                    "UPDATE instances SET status = ?, ports = ? WHERE id = ?",
                    (status, json.dumps(ports, sort_keys=True), ident),
                )

    def get(self, ident: str) -> InstanceRecord | None:
        with self.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM instances WHERE id = ?", (ident,)).fetchone()
        return None if row is None else _record(row)

    def all(self) -> list[InstanceRecord]:
        with self.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM instances ORDER BY id").fetchall()
        return [_record(row) for row in rows]

    def delete(self, ident: str) -> bool:
        """Forget an instance and its events; False when there was no such row."""
        with self.transaction() as db:
            db.execute("DELETE FROM events WHERE instance = ?", (ident,))
            return db.execute("DELETE FROM instances WHERE id = ?", (ident,)).rowcount > 0

    def add_event(self, event: Event) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (instance, time, kind, host, summary, changed)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (event.instance, event.time, event.kind, event.host, event.summary, event.changed),
            )

    def events(self, ident: str) -> list[Event]:
        """The instance's events, oldest first."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT instance, time, kind, host, summary, changed FROM events"
                " WHERE instance = ? ORDER BY seq",
                (ident,),
            ).fetchall()
        return [Event(**{**dict(row), "changed": bool(row["changed"])}) for row in rows]


#: (file, owners) this process brought up to date: later connections skip the check.
_CURRENT: set[tuple[Path, frozenset[str]]] = set()


def _migrate(db: sqlite3.Connection, schemas: list[Schema]) -> None:
    """Bring every schema up to date in one transaction (another process may race us)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        file_version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE}"
            " (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        for schema in schemas:
            row = db.execute(
                f"SELECT version FROM {SCHEMA_TABLE} WHERE owner = ?", (schema.owner,)
            ).fetchone()
            if row is not None:
                have = row[0]
            elif file_version < SCHEMA_VERSION:  # the old layout: its version says
                have = schema.legacy_version(file_version)
            else:  # a store this file has not seen yet
                have = 0
            for statements in schema.versions[have:]:
                for statement in statements:
                    db.execute(statement)
            db.execute(
                f"INSERT OR REPLACE INTO {SCHEMA_TABLE} (owner, version) VALUES (?, ?)",
                (schema.owner, max(have, schema.version)),
            )
        db.execute(f"PRAGMA user_version = {max(file_version, SCHEMA_VERSION)}")
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _row(record: InstanceRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.lab,
        record.student,
        record.seed,
        record.created,
        record.status,
        record.backend,
        json.dumps(record.ports, sort_keys=True),
        json.dumps(dict(record.access), sort_keys=True),
        record.slot,
    )


def _record(row: sqlite3.Row) -> InstanceRecord:
    return InstanceRecord(
        id=row["id"],
        lab=row["lab"],
        student=row["student"],
        seed=int(row["seed"]),
        created=row["created"],
        status=row["status"],
        backend=row["backend"],
        ports=json.loads(row["ports"]),
        access=json.loads(row["access"]),
        slot=row["slot"],
    )
