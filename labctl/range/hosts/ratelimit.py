"""Rate-limited logging of hostile input, shared by every emulated host.

Anyone on the radio segment or the ground network can send the hosts garbage as fast as
the network carries it. A log line per bad frame turns that into a disk-filling attack
(forged TM frames once made the ground station write 33 MB of warnings in 38 s), so every
warning about hostile or garbled input goes through a :class:`RateLimitedLog`:

* per *kind* (a fixed description such as ``"downlink: frames rejected by SDLS
  (BAD_MAC)"``), the first ``burst`` events of each ``period`` are logged in full;
* the rest are counted, and when the period is over one summary line says how many were
  left out: ``downlink: frames rejected by SDLS (BAD_MAC): 12,345 more in the last 60 s,
  not logged one by one``;
* so a kind writes at most ``burst + 1`` lines per period, however fast it is hit.

Summaries are written when the next event of the kind arrives after the period, or by
:meth:`RateLimitedLog.flush`, which the hosts call from a timer they already run. Kinds
come from the code, never from the octets; still, at most ``max_kinds`` are tracked and
any further kind shares one overflow entry, so memory stays bounded. The clock is a
parameter so tests can move time by hand. Not thread-safe: each host runs one event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

DEFAULT_BURST: Final = 5
DEFAULT_PERIOD: Final = 60.0
DEFAULT_MAX_KINDS: Final = 64
OVERFLOW_KIND: Final = "other hostile input"


@dataclass
class _Window:
    """One kind's current period: when it began, lines logged, events left out."""

    start: float
    logged: int = 0
    suppressed: int = 0


class RateLimitedLog:
    """Logs the first ``burst`` events of a kind per ``period``, then counts and summarises."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = DEFAULT_BURST,
        period: float = DEFAULT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = DEFAULT_MAX_KINDS,
    ) -> None:
        if burst < 0 or period <= 0 or max_kinds < 1:
            raise ValueError("burst >= 0, period > 0 and max_kinds >= 1 are required")
        self.logger = logger
        self.burst = burst
        self.period = period
        self.max_kinds = max_kinds
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        #: Every event ever reported, per kind (logged or not): for status documents.
        self.totals: dict[str, int] = {}

    def event(
        self,
        kind: str,
        message: str,
        *args: object,
        level: int = logging.WARNING,
        exc_info: bool = False,
    ) -> bool:
        """Report one event of ``kind``; ``message % args`` is logged if within the burst.

        Returns True when the line was written. The message is formatted only then, so a
        flood costs a dictionary lookup and two additions per event."""
        now = self._clock()
        kind = self._tracked(kind)
        self.totals[kind] = self.totals.get(kind, 0) + 1
        window = self._windows.get(kind)
        if window is None or now - window.start >= self.period:
            if window is not None:
                self._summarise(kind, window, now, level)
            window = self._windows[kind] = _Window(now)
        if window.logged < self.burst:
            window.logged += 1
            self.logger.log(level, message, *args, exc_info=exc_info)
            return True
        window.suppressed += 1
        return False

    def flush(self, *, force: bool = False, level: int = logging.WARNING) -> int:
        """Write the summary of every period that is over (every period with ``force``);
        returns how many summary lines were written. Call it about once a period."""
        now = self._clock()
        written = 0
        for kind, window in list(self._windows.items()):
            if force or now - window.start >= self.period:
                written += self._summarise(kind, window, now, level)
                del self._windows[kind]
        return written

    def suppressed(self, kind: str) -> int:
        """Events of ``kind`` counted but not yet logged or summarised."""
        window = self._windows.get(kind)
        return 0 if window is None else window.suppressed

    def _tracked(self, kind: str) -> str:
        if kind in self.totals or len(self.totals) < self.max_kinds - 1:
            return kind
        return OVERFLOW_KIND

    def _summarise(self, kind: str, window: _Window, now: float, level: int) -> int:
        if not window.suppressed:
            return 0
        seconds = max(now - window.start, 0.0)
        self.logger.log(
            level,
            "%s: %s more in the last %.0f s, not logged one by one",
            kind,
            f"{window.suppressed:,}",
            seconds,
        )
        return 1
