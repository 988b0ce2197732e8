"""How uvicorn serves mission control: its limits, and a deadline for each request head.

uvicorn waits for a request's head as long as the client likes, and counts a connection
that has sent nothing against ``limit_concurrency``: a few dozen idle sockets would turn
every operator away with 503 (slowloris). :class:`HeadDeadlineH11` is uvicorn's h11
protocol with a deadline: a connection that has not completed a head
:data:`~.limits.HEAD_TIMEOUT` seconds after it opened, or after its last answer, is
closed. :class:`RepeatedWarnings` keeps uvicorn's one-warning-per-bad-request from
flooding the log. Only :mod:`.__main__` imports this module (it imports uvicorn).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from uvicorn.protocols.http.h11_impl import H11Protocol

from labctl.range.hosts.missioncontrol.limits import HEAD_TIMEOUT, UVICORN_LIMITS


class HeadDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol; closes a connection whose head does not come in time."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a complete head arrived: a new request began
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(HEAD_TIMEOUT, self._head_late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        self._deadline = None
        waiting_for_head = self.cycle is None or self.cycle.response_complete
        if waiting_for_head and not self.transport.is_closing():
            self.transport.close()


@dataclass
class _Window:
    start: float
    logged: int = 0
    left_out: int = 0


class RepeatedWarnings(logging.Filter):
    """At most ``burst`` records per message template and ``period`` seconds; the next
    one after a quiet period says how many were left out. uvicorn warns once per bad
    request ("Invalid HTTP request received.", an unsupported upgrade): a flood of them
    would push everything else out of the container's rotated log. Templates come from
    uvicorn's code, never from the request, so the table stays small (and is capped)."""

    MAX_TEMPLATES: Final = 64

    def __init__(self, burst: int = 5, period: float = 60.0) -> None:
        super().__init__()
        self.burst, self.period = burst, period
        self._windows: dict[str, _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = str(record.msg)[:200]
        if key not in self._windows and len(self._windows) >= self.MAX_TEMPLATES:
            key = "other"
        now = time.monotonic()
        window = self._windows.setdefault(key, _Window(now))
        if now - window.start >= self.period:
            window.start, window.logged = now, 0
        if window.logged >= self.burst:
            window.left_out += 1
            return False
        window.logged += 1
        if window.left_out:
            record.msg = f"{record.msg} ({window.left_out} more like it left out)"
            window.left_out = 0
        return True


def quiet_repeated_warnings() -> None:
    """Install :class:`RepeatedWarnings` on uvicorn's error logger."""
    logging.getLogger("uvicorn.error").addFilter(RepeatedWarnings())


#: Keyword arguments for ``uvicorn.run``. ``ws="none"``: mission control serves no
#: websocket, so an upgrade request is refused whatever libraries are installed.
UVICORN_OPTIONS: Final[dict[str, Any]] = {
    **UVICORN_LIMITS,
    "http": HeadDeadlineH11,
    "ws": "none",
}
