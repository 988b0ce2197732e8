"""The log collector's service: JSON lines in over TCP, appended to one file, never changed.

Each line a client sends must be one JSON object, at most ``max_line`` octets. It is
stored wrapped, with what the collector itself saw: ``{"received": <unix time>, "from":
<the sender's address>, "record": <the object>}``. A line that is not a JSON object is
counted and dropped; a longer line ends the connection (a sender that cannot frame its
records is not one to trust). Nothing here rewrites, rotates or deletes what is stored:
once the store reaches ``max_bytes`` further records are counted as dropped, and the
status file says so. The bytes come from the network: they are parsed, never executed,
and stored as the collector re-encodes them (ASCII JSON, so a record cannot forge a
second line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Final

from labctl.range.hosts.config import write_json_atomic
from labctl.range.hosts.logserver.config import LogServerConfig

LOG: Final = logging.getLogger("labctl.logserver")
#: Nesting a record may have (json.loads would recurse far deeper on a hostile line).
MAX_DEPTH: Final = 16


@dataclass
class Counters:
    connections: int = 0
    stored: int = 0
    rejected: int = 0  # not a JSON object (or nested too deep)
    oversized: int = 0  # a line longer than max_line: the connection was closed
    dropped_full: int = 0  # the store had reached max_bytes
    refused_clients: int = 0  # beyond max_clients


def _depth_ok(text: bytes) -> bool:
    """Whether brackets nest at most :data:`MAX_DEPTH` deep (a cheap bound, strings
    included: a record that needs more is rejected, not parsed)."""
    depth = 0
    for octet in text:
        if octet in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif octet in b"]}":
            depth -= 1
    return True


def parse_record(line: bytes) -> dict[str, Any] | None:
    """The JSON object on one received line, or None."""
    if not _depth_ok(line):
        return None
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class Store:
    """The append-only file: opened for each record with O_APPEND, never truncated."""

    def __init__(self, config: LogServerConfig, counters: Counters) -> None:
        self.path = config.path
        self.max_bytes = config.max_bytes
        self.counters = counters
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.size = os.fstat(fd).st_size
        os.close(fd)

    def append(self, sender: str, record: dict[str, Any]) -> bool:
        wrapped = {"received": round(time.time(), 6), "from": sender, "record": record}
        line = (json.dumps(wrapped, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
        if self.size + len(line) > self.max_bytes:
            self.counters.dropped_full += 1
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            self.size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        self.counters.stored += 1
        return True


class LogServer:
    def __init__(self, config: LogServerConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.store = Store(config, self.counters)
        self._clients = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: The address it listens on, once it does (port 0 in the settings: the one given).
        self.bound: tuple[str, int] | None = None

    async def serve(self, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(
            self._client, self.config.host, self.config.port, limit=self.config.max_line + 1
        )
        host, port = server.sockets[0].getsockname()[:2]
        self.bound = (str(host), int(port))
        LOG.info(
            "collecting on %s:%d into %s (%d octets stored)",
            self.config.host,
            self.config.port,
            self.config.path,
            self.store.size,
        )
        status = asyncio.create_task(self._status(), name="status")
        try:
            async with server:
                await stop.wait()
            for task in list(self._tasks):  # the senders still connected
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            self._write_status()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        sender = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if self._clients >= self.config.max_clients:
            self.counters.refused_clients += 1
            writer.close()
            return
        self._clients += 1
        self.counters.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._read(reader, sender)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._clients -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader, sender: str) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                self.counters.oversized += 1
                LOG.warning(
                    "%s sent a line over %d octets: disconnected", sender, self.config.max_line
                )
                return
            except asyncio.IncompleteReadError:
                return  # the sender closed (a partial last line is not a record)
            record = parse_record(line.strip())
            if record is None:
                self.counters.rejected += 1
                continue
            self.store.append(sender, record)

    async def _status(self) -> None:
        while True:
            self._write_status()
            await asyncio.sleep(1.0)

    def _write_status(self) -> None:
        if self.config.status_file is None:
            return
        document = {**asdict(self.counters), "store_bytes": self.store.size, "time": time.time()}
        with contextlib.suppress(OSError):
            write_json_atomic(self.config.status_file, document)
