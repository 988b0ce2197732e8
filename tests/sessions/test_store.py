"""The sessions' tables (schema version 3, migrated from version 2) and the session lock."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labctl.errors import LabctlError
from labctl.instances import InstanceStore
from labctl.instances.store import (
    SCHEMA_TABLE,
    SCHEMA_VERSION,
    Schema,
    register_schema,
    unregister_schema,
)
from labctl.sessions.store import (
    PENDING,
    RUNNING,
    MemberRecord,
    SessionBusyError,
    SessionRecord,
    SessionStore,
)

V2 = (
    "CREATE TABLE instances (id TEXT PRIMARY KEY, lab TEXT NOT NULL, student TEXT NOT NULL,"
    " seed INTEGER NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL,"
    " backend TEXT NOT NULL DEFAULT 'docker', ports TEXT NOT NULL DEFAULT '{}',"
    " access TEXT NOT NULL DEFAULT '{}')",
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL,"
    " time TEXT NOT NULL, kind TEXT NOT NULL, host TEXT NOT NULL, summary TEXT NOT NULL,"
    " changed INTEGER NOT NULL)",
    "INSERT INTO instances (id, lab, student, seed, created, status)"
    " VALUES ('old', 'tc-replay', 'ana', 7, 'c', 'running')",
    "PRAGMA user_version = 2",
)


def session(name: str = "cls") -> SessionRecord:
    return SessionRecord(name, "tc-replay", 42, "2026-01-01T00:00:00+00:00", 0, "class.csv")


def member(student: str, instance: str, slot: int, team: str = "") -> MemberRecord:
    return MemberRecord(
        "cls", student, student.upper(), f"{student}@x.org", team, slot, instance, PENDING
    )


def test_a_version_2_database_gains_the_session_tables(tmp_path: Path) -> None:
    path = tmp_path / "labctl.db"
    with sqlite3.connect(path) as db:
        for statement in V2:
            db.execute(statement)
    store = SessionStore(InstanceStore(path))
    assert store.all() == []
    record = store.instances.get("old")
    assert record is not None
    assert (record.seed, record.slot) == (7, None)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"instances", "events", "sessions", "session_members"} <= tables


def test_sessions_and_members_round_trip(tmp_path: Path) -> None:
    store = SessionStore(InstanceStore(tmp_path / "labctl.db"))
    rows = [
        member("a", "i-red", 0, "red"),
        member("b", "i-blue", 1, "blue"),
        member("c", "i-red", 0, "red"),
    ]
    store.create(session(), rows)
    assert store.get("cls") == session()
    with pytest.raises(LabctlError, match="already exists"):
        store.create(session(), [])
    assert [m.student for m in store.members("cls")] == ["a", "c", "b"]
    store.set_status("cls", "i-red", RUNNING, attempt=True)
    states = {m.student: (m.status, m.attempts) for m in store.members("cls")}
    assert states == {"a": (RUNNING, 1), "c": (RUNNING, 1), "b": (PENDING, 0)}
    assert store.delete("cls")
    assert store.members("cls") == []
    assert store.get("cls") is None
    assert not store.delete("cls")


def test_a_failed_create_leaves_nothing(tmp_path: Path) -> None:
    store = SessionStore(InstanceStore(tmp_path / "labctl.db"))
    with pytest.raises(sqlite3.IntegrityError):
        store.create(session(), [member("a", "i-a", 0), member("a", "i-a", 0)])
    assert store.get("cls") is None


def test_the_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    store = SessionStore(InstanceStore(tmp_path / "labctl.db"))
    assert store.holder("cls") is None
    with store.lock("cls"):
        assert store.holder("cls") == str(os.getpid())
        busy = rf"pid {os.getpid()}\) is working on it"
        with pytest.raises(SessionBusyError, match=busy), store.lock("cls"):
            pass
        with store.lock("other"):
            pass
    assert store.holder("cls") is None
    with store.lock("cls"):
        pass


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("locked", flush=True)
time.sleep(60)
"""


def test_another_process_holds_the_lock_until_it_is_killed(tmp_path: Path) -> None:
    store = SessionStore(InstanceStore(tmp_path / "labctl.db"))
    path = store.lock_path("cls")
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(SessionBusyError, match=rf"pid {child.pid}"), store.lock("cls"):
            pass
        assert store.holder("cls") == str(child.pid)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 5
    while store.holder("cls") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with store.lock("cls"):  # kill -9 dropped it
        pass


V3_TABLES = (
    "CREATE TABLE sessions (name TEXT PRIMARY KEY, lab TEXT NOT NULL, seed INTEGER NOT NULL,"
    " created TEXT NOT NULL, teams INTEGER NOT NULL DEFAULT 0, roster TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE session_members (session TEXT NOT NULL REFERENCES sessions(name),"
    " student TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,"
    " team TEXT NOT NULL DEFAULT '', slot INTEGER NOT NULL, instance TEXT NOT NULL,"
    " status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
    " updated TEXT NOT NULL DEFAULT '', PRIMARY KEY (session, student))",
    "ALTER TABLE instances ADD COLUMN slot INTEGER",
    "INSERT INTO sessions VALUES ('cls', 'tc-replay', 42, 'c', 0, 'class.csv')",
    "PRAGMA user_version = 3",
)


def test_a_file_of_the_single_migration_list_opens_as_it_is(tmp_path: Path) -> None:
    """Version 3 (one list of migrations for every table) already holds each store's
    tables: nothing runs again (the slot column would be added twice), each owner's
    version is recorded, the session is still there; the sessions' later step (the lease
    columns) runs, and the old session has no lease."""
    path = tmp_path / "labctl.db"
    with sqlite3.connect(path) as db:
        for statement in (*V2[:-1], *V3_TABLES):
            db.execute(statement)
    store = SessionStore(InstanceStore(path))
    assert [(s.name, s.lifetime, s.idle) for s in store.all()] == [("cls", 0, 0)]
    assert store.instances.get("old") is not None
    with sqlite3.connect(path) as db:
        owners = dict(db.execute(f"SELECT owner, version FROM {SCHEMA_TABLE}").fetchall())
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # other stores registered in this process (the portal's) get theirs too
    assert {k: owners[k] for k in ("instances", "sessions")} == {"instances": 3, "sessions": 2}


def test_a_store_registered_later_gets_its_tables_in_a_file_already_current(
    tmp_path: Path,
) -> None:
    """Each store owns its tables: one that registers after the file was brought up to
    date by the others still gets its own, and its version recorded."""
    path = tmp_path / "labctl.db"
    InstanceStore(path).all()  # the file made and current for the stores registered so far
    later = register_schema(
        Schema("test-notes", (("CREATE TABLE IF NOT EXISTS test_notes (text TEXT)",),))
    )
    try:
        with InstanceStore(path).transaction() as db:
            db.execute("INSERT INTO test_notes VALUES ('kept')")
        with sqlite3.connect(path) as db:
            version = db.execute(
                f"SELECT version FROM {SCHEMA_TABLE} WHERE owner = ?", (later.owner,)
            ).fetchone()[0]
        assert version == 1
    finally:
        unregister_schema(later.owner)
