"""A log collector running on 127.0.0.1 for tests (its own event loop thread), and a
reader of its store. Imported by the log-server and mission-control tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labctl.range.hosts.logserver.config import LogServerConfig
from labctl.range.hosts.logserver.service import LogServer


class Running:
    """A LogServer on an ephemeral port, in its own event loop thread."""

    def __init__(self, config: LogServerConfig) -> None:
        self.server = LogServer(config)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.server.serve(self._stop))

    def start(self) -> Running:
        self._thread.start()
        wait_until(lambda: self.server.bound is not None)
        assert self.server.bound is not None
        self.port = self.server.bound[1]
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def wait_until(condition: Callable[[], Any], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stored(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
