"""The spacecraft's state model: mode, power, payload, counters and bounded logs.

Battery charge follows a simple, deterministic power budget so that tests (and students
watching housekeeping) can predict it: it drains while the payload is on, drops by a
fixed amount per second of thruster firing, and recharges otherwise. Time comes from an
injected monotonic clock, so a test can advance it by hand.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.range.hosts.catalog import Housekeeping, Mode

#: Percent per second: payload drain and solar recharge; percent per second of burn.
PAYLOAD_DRAIN: Final = 0.05
RECHARGE: Final = 0.02
THRUSTER_DRAIN: Final = 0.5
COMMAND_LOG_SIZE: Final = 500
#: Characters of one history line at most (an entry is about 250); a longer one is kept
#: in memory but not written, so the file's size is bounded by its line count.
MAX_HISTORY_LINE: Final = 1024
EVENT_LOG_SIZE: Final = 200
REJECTION_LOG_SIZE: Final = 100

Clock = Callable[[], float]


class CommandHistory(deque[dict[str, Any]]):
    """The executed-command log, kept across restarts in a JSON-lines file.

    Ground truth must not forget what happened before a reboot: a replay that succeeded
    before the student restarted the spacecraft is still a replay that succeeded, and a
    frame executed again after a reboot is a replay too. Entries loaded from the file
    carry ``"previous_boot": true``. The file is rewritten with the newest entries when
    it reaches twice the log's size (``command_history`` in the configuration), so it
    holds at most ``2 * maxlen`` lines of at most :data:`MAX_HISTORY_LINE` characters;
    unreadable lines are skipped.
    """

    def __init__(self, path: Path | None = None, maxlen: int = COMMAND_LOG_SIZE) -> None:
        super().__init__(maxlen=maxlen)
        self.path = path
        self._lines = 0
        if path is None:
            return
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines[-maxlen:]:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                super().append({**entry, "previous_boot": True})
        self._lines = len(lines)
        if self._lines >= 2 * maxlen:
            self._rewrite()

    def append(self, entry: dict[str, Any]) -> None:
        super().append(entry)
        if self.path is None:
            return
        if self._lines + 1 >= 2 * (self.maxlen or COMMAND_LOG_SIZE):
            self._rewrite()
            return
        line = json.dumps(entry, sort_keys=True)
        if len(line) > MAX_HISTORY_LINE:
            return
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self._lines += 1
        except OSError:
            pass  # a full disk must not stop the flight software; memory still holds it

    def _rewrite(self) -> None:
        assert self.path is not None
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            lines = (json.dumps({k: v for k, v in e.items() if k != "previous_boot"}) for e in self)
            partial.write_text(
                "".join(line + "\n" for line in lines if len(line) <= MAX_HISTORY_LINE),
                encoding="utf-8",
            )
            partial.replace(self.path)
            self._lines = len(self)
        except OSError:
            pass


@dataclass
class Counters:
    """What the spacecraft counts; commands and frames also appear in housekeeping."""

    frames_received: int = 0
    frames_accepted: int = 0
    frames_rejected: int = 0
    frames_foreign: int = 0  # other spacecraft's frames: dropped silently
    commands_executed: int = 0
    commands_rejected: int = 0
    tm_packets: int = 0
    tm_frames: int = 0
    tm_dropped: int = 0
    events_suppressed: int = 0
    state_write_errors: int = 0
    #: frames rejected per reason (fecf, scid, vcid, bad_sa, bad_mac, bad_sn, farm, ...)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        document = {k: v for k, v in self.__dict__.items() if k != "rejected_by_reason"}
        document["rejected_by_reason"] = dict(sorted(self.rejected_by_reason.items()))
        return document


@dataclass
class OnboardState:
    """Mutable spacecraft state; every log is bounded."""

    clock: Clock
    wallclock: Clock
    battery: float = 80.0
    mode: Mode = Mode.NOMINAL
    payload_on: bool = False
    hk_enabled: bool = True
    counters: Counters = field(default_factory=Counters)
    command_log: deque[dict[str, Any]] = field(default_factory=CommandHistory)
    event_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=EVENT_LOG_SIZE))
    rejection_log: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=REJECTION_LOG_SIZE)
    )
    _last_update: float | None = None

    def advance(self) -> None:
        """Bring the battery up to the clock's present."""
        now = self.clock()
        if self._last_update is None:
            self._last_update = now
            return
        elapsed = max(0.0, now - self._last_update)
        self._last_update = now
        rate = -PAYLOAD_DRAIN if self.payload_on else RECHARGE
        self.battery = min(100.0, max(0.0, self.battery + rate * elapsed))

    def fire_thruster(self, duration_ms: int) -> None:
        self.advance()
        self.battery = max(0.0, self.battery - THRUSTER_DRAIN * duration_ms / 1000)

    def reject_frame(self, reason: str, **details: Any) -> None:
        self.counters.frames_rejected += 1
        self.counters.rejected_by_reason[reason] += 1
        self.rejection_log.append({"time": self.wallclock(), "reason": reason, **details})

    def housekeeping(self, ops_message: str) -> Housekeeping:
        self.advance()
        c = self.counters
        return Housekeeping(
            mode=self.mode,
            battery_pct=round(self.battery),
            payload_on=self.payload_on,
            commands_executed=c.commands_executed,
            commands_rejected=c.commands_rejected,
            frames_rejected=c.frames_rejected,
            ops_message=ops_message,
        )

    def as_dict(self) -> dict[str, Any]:
        self.advance()
        return {
            "mode": self.mode.name,
            "battery_pct": round(self.battery, 3),
            "payload_on": self.payload_on,
            "housekeeping_enabled": self.hk_enabled,
            "counters": self.counters.as_dict(),
            "executed_commands": list(self.command_log),
            "events": list(self.event_log),
            "rejected_frames": list(self.rejection_log),
        }
