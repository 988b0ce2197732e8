"""The audit trail: every security-relevant action, in the archive and as JSON lines.

The JSON-lines file is what a lab ships to a remote log collector (so an insider who
wipes the database still leaves a trace elsewhere). It is opened for each record in
append mode, so a deleted or rotated file is simply created again. A disabled trail
(``audit_log.enabled: false``) records nothing at all, in neither place.

With ``audit_log.remote.host`` set, every record also goes, as the same JSON line, to a
remote log collector over TCP (:class:`Shipper`; the ``log-server`` role stores it
append-only). It is sent from a thread with a bounded queue, so a slow or absent
collector never holds up commanding: while it cannot be reached, records wait (up to
:data:`SHIP_QUEUE`, then the newest are dropped and counted) and go out once it can.

Both places are bounded, since a login brute force writes one record per attempt: the
archive keeps the newest rows (``database.keep.audit``), and the file is moved to
``<path>.1`` (replacing the previous one) before a record would take it past
``audit_log.max_bytes``. One record is at most a few kilobytes: client-controlled
strings are clipped, huge integers become clipped text, and a detail whose JSON is
longer than :data:`MAX_DETAIL` is stored as ``{"clipped": <its first characters>}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from labctl.range.hosts.missioncontrol.db import Archive, Row

LOG: Final = logging.getLogger("labctl.missioncontrol.audit")
MAX_FIELD: Final = 200
#: Characters of one record's detail as JSON; a longer detail is stored clipped.
MAX_DETAIL: Final = 1024
#: Integers beyond 64 bits (a client's JSON may carry thousands of digits) become text.
MAX_INT: Final = 2**64
#: The JSON-lines file's default size, and the smallest one allowed.
DEFAULT_MAX_BYTES: Final = 8 * 1024 * 1024
MIN_MAX_BYTES: Final = 64 * 1024
#: Records that wait for the remote collector; beyond this the newest are dropped.
SHIP_QUEUE: Final = 10_000
#: Seconds to connect or send to the collector, and the longest wait between retries.
SHIP_TIMEOUT: Final = 3.0
SHIP_RETRY_MAX: Final = 10.0


def _clip(value: Any) -> Any:
    """Bound what a client controls (user names, arguments) before it is stored."""
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
        return _huge(value)
    if isinstance(value, dict):
        return {str(k)[:MAX_FIELD]: _clip(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_clip(v) for v in value[:20]]
    return value


def _huge(value: int) -> str:
    """A short text for an integer too large to keep (without printing all its digits)."""
    sign = "-" if value < 0 else ""
    return f"{sign}2**{abs(value).bit_length() - 1}+ (clipped)"


def _detail(detail: dict[str, Any]) -> tuple[Any, str]:
    """The clipped detail and its JSON, at most :data:`MAX_DETAIL` characters."""
    clipped = _clip(detail)
    text = json.dumps(clipped, sort_keys=True, ensure_ascii=True)
    if len(text) > MAX_DETAIL:
        # Escaping the JSON text again at most doubles it (every character is ASCII).
        clipped = {"clipped": text[: (MAX_DETAIL - 16) // 2]}
        text = json.dumps(clipped, sort_keys=True, ensure_ascii=True)
    return clipped, text


@dataclass
class ShipStats:
    sent: int = 0
    dropped: int = 0  # the queue was full while the collector could not be reached
    connected: bool = False
    last_error: str = ""


class Shipper:
    """Sends JSON lines to a remote collector (``host:port``, TCP) from its own thread."""

    def __init__(self, host: str, port: int, connect_timeout: float = SHIP_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.stats = ShipStats()
        self._timeout = connect_timeout
        self._queue: queue.Queue[bytes | None] = queue.Queue(SHIP_QUEUE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-shipper", daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def put(self, line: bytes) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.stats.dropped += 1

    def close(self, flush_s: float = 2.0) -> None:
        """Send what waits (for at most ``flush_s``), then stop the thread."""
        deadline = time.monotonic() + flush_s
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        # The thread may be waiting for a line or a connection: wake it.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=flush_s + SHIP_TIMEOUT)

    def _run(self) -> None:
        sock: socket.socket | None = None
        line: bytes | None = None
        retry = 0.5
        while not self._stop.is_set():
            if line is None:
                line = self._queue.get()
                if line is None:
                    continue
            try:
                if sock is None:
                    sock = socket.create_connection((self.host, self.port), self._timeout)
                    sock.settimeout(SHIP_TIMEOUT)
                    self.stats.connected = True
                    LOG.info("audit trail shipped to %s", self.target)
                sock.sendall(line)
            except OSError as exc:
                if sock is not None:
                    sock.close()
                    sock = None
                if self.stats.connected or not self.stats.last_error:
                    LOG.warning("cannot ship the audit trail to %s: %s", self.target, exc)
                self.stats.connected = False
                self.stats.last_error = str(exc)[:200]
                self._stop.wait(retry)
                retry = min(SHIP_RETRY_MAX, retry * 2)
                continue
            self.stats.sent += 1
            line, retry = None, 0.5
        if sock is not None:
            sock.close()


class AuditLog:
    """Records actions to the ``audit`` table and to a JSON-lines file (unless disabled),
    and ships each to a remote collector when one is set."""

    def __init__(
        self,
        archive: Archive,
        path: Path,
        enabled: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        remote: tuple[str, int] | None = None,
    ) -> None:
        self._archive = archive
        self.shipper = Shipper(*remote) if remote is not None and enabled else None
        self.path = path
        self.previous = path.with_name(path.name + ".1")
        self.enabled = enabled
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # one rotation at a time (UI routes run in threads)
        if enabled:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, actor: str, action: str, outcome: str, remote: str = "", **detail: Any) -> Row:
        """Store one action. ``outcome`` is ``ok``, ``refused`` or ``failed``. A disabled
        trail stores nothing and returns the row without an ``id``."""
        clipped, text = _detail(detail)
        row: Row = {
            "at": time.time(),
            "actor": _clip(actor),
            "action": action,
            "outcome": outcome,
            "remote": _clip(remote),
            "detail": text,
        }
        if not self.enabled:
            return row
        row["id"] = self._archive.add_audit(row)
        self._append({**row, "detail": clipped})
        return row

    def close(self) -> None:
        """Send what waits for the remote collector (briefly), then stop shipping."""
        if self.shipper is not None:
            self.shipper.close()

    def _append(self, row: Row) -> None:
        line = (json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
        if self.shipper is not None:
            self.shipper.put(line)
        try:
            with self._lock:
                fd = self._open(len(line))
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError as exc:
            # The database row exists; a broken log file must not stop operations.
            LOG.error("cannot append to audit log %s: %s", self.path, exc)

    def _open(self, size: int) -> int:
        """The file, opened for appending ``size`` octets; rotated first if they would take
        it past ``max_bytes`` (the old file replaces ``<path>.1``)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = os.open(self.path, flags, 0o640)
        if os.fstat(fd).st_size + size <= self.max_bytes:
            return fd
        os.close(fd)
        os.replace(self.path, self.previous)
        return os.open(self.path, flags, 0o640)
