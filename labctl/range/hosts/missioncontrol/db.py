"""The mission archive: telemetry, events, sent commands, audit trail, in one SQLite file.

One connection, guarded by a lock, is the only writer (WAL mode lets readers of the file,
such as a grader or a student's forensics, look while it runs). Every statement is
parameterised; nothing from a request or a packet is ever formatted into SQL.

Anyone on the ground segment can make these tables grow (forged telemetry on a clear
downlink, a login brute force), so each keeps only its newest rows (:class:`Retention`):
every ``batch`` inserts, one statement deletes the rows that fell out of the window, and
SQLite reuses their pages, so the file stops growing at about ``keep + batch`` rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS telemetry (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    apid INTEGER NOT NULL,
    seq_count INTEGER NOT NULL,
    spacecraft_time TEXT,
    mode TEXT NOT NULL,
    battery_pct INTEGER NOT NULL,
    payload_on INTEGER NOT NULL,
    commands_executed INTEGER NOT NULL,
    commands_rejected INTEGER NOT NULL,
    frames_rejected INTEGER NOT NULL,
    ops_message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_time ON telemetry (received_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    severity INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    aux_hex TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    username TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    hazardous INTEGER NOT NULL,
    seq_count INTEGER NOT NULL,
    packet_id INTEGER NOT NULL,
    seq_control INTEGER NOT NULL,
    status TEXT NOT NULL,
    failure_code INTEGER
);
CREATE INDEX IF NOT EXISTS commands_match ON commands (packet_id, seq_control);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    remote TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_halts (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ground_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    received_at REAL NOT NULL,
    service INTEGER NOT NULL,
    subtype INTEGER NOT NULL,
    data_hex TEXT NOT NULL,
    fields TEXT NOT NULL
);
"""

#: Command states in the order they may advance; "failed" is final like "completed".
STATUS_RANK: Final = {"sent": 0, "accepted": 1, "completed": 2, "failed": 2}

Row = dict[str, Any]

#: Halts of the telemetry processing kept on record (the newest).
MAX_INGEST_HALTS: Final = 100
#: The largest batch of rows one prune deletes (a few milliseconds of the writer's lock).
MAX_BATCH: Final = 1000
#: The write-ahead log is cut back to this after each checkpoint.
WAL_LIMIT: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class Retention:
    """How many rows each growing table keeps: the newest (``database.keep`` in the file)."""

    telemetry: int = 100_000
    events: int = 20_000
    commands: int = 20_000
    audit: int = 20_000

    @staticmethod
    def batch(keep: int) -> int:
        """Inserts between two prunes of a table that keeps ``keep`` rows; the table holds
        at most ``keep + batch(keep)`` rows."""
        return max(1, min(MAX_BATCH, keep // 10))


class Archive:
    """The SQLite archive. Methods are small, bounded queries; all are thread-safe."""

    def __init__(self, path: Path, retention: Retention = Retention()) -> None:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._keep: dict[str, int] = asdict(retention)
        #: Per table, the id of the newest row when it was last pruned.
        self._pruned_at: dict[str, int] = {}
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._db.executescript(SCHEMA)
        with self._tx() as db:
            for table in self._keep:
                newest = db.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
                self._prune(db, table, int(newest or 0))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _prune(self, db: sqlite3.Connection, table: str, newest: int) -> None:
        """Delete the rows of ``table`` older than its newest ``keep`` (ids only grow)."""
        db.execute(f"DELETE FROM {table} WHERE id <= ?", (newest - self._keep[table],))
        self._pruned_at[table] = newest

    def _inserted(self, db: sqlite3.Connection, table: str, row_id: int) -> int:
        """After an insert into ``table``: prune it once every batch. Returns ``row_id``."""
        if row_id - self._pruned_at.get(table, 0) >= Retention.batch(self._keep[table]):
            self._prune(db, table, row_id)
        return row_id

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, params).fetchall()]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    # --- telemetry ------------------------------------------------------------------------

    def add_housekeeping(self, row: Row) -> int:
        columns = [
            "received_at", "apid", "seq_count", "spacecraft_time", "mode", "battery_pct",
            "payload_on", "commands_executed", "commands_rejected", "frames_rejected",
            "ops_message",
        ]  # fmt: skip
        sql = f"INSERT INTO telemetry ({', '.join(columns)}) VALUES ({', '.join('?' * 11)})"
        with self._tx() as db:
            row_id = int(db.execute(sql, [row[c] for c in columns]).lastrowid or 0)
            return self._inserted(db, "telemetry", row_id)

    def latest_housekeeping(self) -> Row | None:
        return self._one("SELECT * FROM telemetry ORDER BY id DESC LIMIT 1")

    def telemetry(
        self, since: float | None, until: float | None, before_id: int | None, limit: int
    ) -> list[Row]:
        """Newest first; ``before_id`` pages back through older rows."""
        return self._rows(
            "SELECT * FROM telemetry WHERE received_at >= ? AND received_at <= ? AND id < ?"
            " ORDER BY id DESC LIMIT ?",
            (
                since if since is not None else 0.0,
                until if until is not None else float("inf"),
                before_id if before_id is not None else 2**62,
                limit,
            ),
        )

    # --- events ---------------------------------------------------------------------------

    def add_event(self, severity: int, event_id: int, name: str, aux: bytes) -> None:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO events (received_at, severity, event_id, name, aux_hex)"
                " VALUES (?, ?, ?, ?, ?)",
                (time.time(), severity, event_id, name, aux.hex()),
            )
            self._inserted(db, "events", int(cursor.lastrowid or 0))

    def events(self, before_id: int | None, limit: int) -> list[Row]:
        """Newest first; ``aux_text`` is the auxiliary data's printable text, if any (a
        reference an event quotes), for people who do not read hex."""
        rows = self._rows(
            "SELECT * FROM events WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before_id if before_id is not None else 2**62, limit),
        )
        for row in rows:
            row["aux_text"] = printable(str(row.get("aux_hex") or ""))
        return rows

    # --- commands -------------------------------------------------------------------------

    def add_command(self, row: Row) -> int:
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO commands (created_at, updated_at, username, name, args, hazardous,"
                " seq_count, packet_id, seq_control, status) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    now, now, row["username"], row["name"], row["args"], int(row["hazardous"]),
                    row["seq_count"], row["packet_id"], row["seq_control"], row["status"],
                ),
            )  # fmt: skip
            return self._inserted(db, "commands", int(cursor.lastrowid or 0))

    def command(self, command_id: int) -> Row | None:
        return self._one("SELECT * FROM commands WHERE id = ?", (command_id,))

    def commands(self, limit: int) -> list[Row]:
        return self._rows("SELECT * FROM commands ORDER BY id DESC LIMIT ?", (limit,))

    def last_seq_count(self) -> int | None:
        row = self._one("SELECT seq_count FROM commands ORDER BY id DESC LIMIT 1")
        return None if row is None else int(row["seq_count"])

    def advance_command(
        self, packet_id: int, seq_control: int, status: str, code: int | None = None
    ) -> int | None:
        """Move the newest command with this packet id and sequence control forward to
        ``status`` (never backwards). Return its id, or None if no command matches."""
        with self._tx() as db:
            row = db.execute(
                "SELECT id, status FROM commands WHERE packet_id = ? AND seq_control = ?"
                " ORDER BY id DESC LIMIT 1",
                (packet_id, seq_control),
            ).fetchone()
            if row is None:
                return None
            if STATUS_RANK[status] > STATUS_RANK.get(row["status"], 0):
                db.execute(
                    "UPDATE commands SET status = ?, failure_code = ?, updated_at = ? WHERE id = ?",
                    (status, code, time.time(), row["id"]),
                )
            return int(row["id"])

    def set_command_status(self, command_id: int, status: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE commands SET status = ?, updated_at = ? WHERE id = ?",
                (status, time.time(), command_id),
            )

    # --- audit and ground-station status ----------------------------------------------------

    def add_audit(self, row: Row) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO audit (at, actor, action, outcome, remote, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row["at"], row["actor"], row["action"], row["outcome"], row["remote"],
                 row["detail"]),
            )  # fmt: skip
            return self._inserted(db, "audit", int(cursor.lastrowid or 0))

    def audit(self, before_id: int | None, limit: int) -> list[Row]:
        return self._rows(
            "SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before_id if before_id is not None else 2**62, limit),
        )

    def set_ground_status(self, data: bytes, fields: dict[str, Any]) -> None:
        """Replace the latest ground-station status (3,25 on APID 0x7F0)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO ground_status (id, received_at, service, subtype,"
                " data_hex, fields) VALUES (1, ?, 3, 25, ?, ?)",
                (time.time(), data.hex(), json.dumps(fields, sort_keys=True)),
            )

    def record_ingest_halt(self, reason: str) -> None:
        """Record one halt of the telemetry processing (kept across restarts; the newest
        MAX_INGEST_HALTS)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO ingest_halts (at, reason) VALUES (?, ?)", (time.time(), reason[:200])
            )
            newest = int(cursor.lastrowid or 0)
            db.execute("DELETE FROM ingest_halts WHERE id <= ?", (newest - MAX_INGEST_HALTS,))

    def ingest_halts(self) -> list[Row]:
        """The recorded halts of the telemetry processing, newest first."""
        return self._rows("SELECT at, reason FROM ingest_halts ORDER BY id DESC")

    def ground_status(self) -> Row | None:
        row = self._one("SELECT * FROM ground_status WHERE id = 1")
        if row is not None:
            row["fields"] = json.loads(row["fields"])
        return row


def printable(aux_hex: str, shortest: int = 4) -> str:
    """Runs of printable ASCII of at least ``shortest`` characters in hex data, joined."""
    try:
        data = bytes.fromhex(aux_hex)
    except ValueError:
        return ""
    runs = re.findall(rb"[\x20-\x7e]{%d,}" % shortest, data)
    return " ".join(run.decode("ascii") for run in runs)
