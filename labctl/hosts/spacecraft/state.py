"""The spacecraft's state model: mode, power, payload, counters and bounded logs.

Battery charge follows a simple, deterministic power budget so that tests (and students
watching housekeeping) can predict it: it drains while the payload is on, drops by a
fixed amount per second of thruster firing, and recharges otherwise. Time comes from an
injected monotonic clock, so a test can advance it by hand.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from labctl.hosts.catalog import Housekeeping, Mode

#: Percent per second: payload drain and solar recharge; percent per second of burn.
PAYLOAD_DRAIN: Final = 0.05
RECHARGE: Final = 0.02
THRUSTER_DRAIN: Final = 0.5
COMMAND_LOG_SIZE: Final = 500
EVENT_LOG_SIZE: Final = 200
REJECTION_LOG_SIZE: Final = 100

Clock = Callable[[], float]


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
    command_log: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=COMMAND_LOG_SIZE)
    )
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
