"""Carry out a timeline and write the log: one JSON line per execution of an action.

Every line is ``{"t": ISO-8601 UTC when it started, "unix": the same in Unix seconds,
"offset": seconds from the adversary's start, "due": the planned offset, "step": index in
the lab's adversary list, "repeat": k (0-based), "action", "outcome": "done" | "failed",
"success": true | false | null, "detail", "duration": seconds}`` plus the action's facts
(``frames`` for frames sent: ``[{"spi", "sn", "frame_seq", "vcid"}]``; ``event`` and
``event_offset`` for steps run on an event).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labctl.range.adversary import air
from labctl.range.adversary.action import Context
from labctl.range.adversary.actions import run_action
from labctl.range.adversary.timeline import Due, PassObserver, Scheduler, Step


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


class AdversaryLog:
    """Appends one JSON line per entry; readable by anyone (graders read it as root
    without capabilities)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(fd)

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line)


class Runner:
    """Runs each due execution as an action and logs it."""

    def __init__(
        self,
        log: AdversaryLog,
        ctx: Context,
        wallclock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.ctx = ctx
        self.wallclock = wallclock
        self.monotonic = monotonic

    def __call__(self, step: Step, due: Due, offset: float) -> None:
        started, began = self.wallclock(), self.monotonic()
        result = run_action(step.action, step.args, self.ctx)
        entry: dict[str, Any] = {
            "t": iso(started),
            "unix": round(started, 3),
            "offset": round(offset, 3),
            "due": round(due.offset, 3),
            "step": step.index,
            "repeat": due.repeat,
            "action": step.action,
            "outcome": result.outcome,
            "success": result.success,
            "detail": result.detail,
            "duration": round(self.monotonic() - began, 3),
        }
        if due.event is not None:
            entry["event"] = due.event
            entry["event_offset"] = round(due.event_offset or 0.0, 3)
        for key, value in result.facts.items():
            entry.setdefault(key, value)
        self.log.append(entry)


def run(
    steps: list[Step],
    log: AdversaryLog,
    ctx: Context,
    *,
    silence: float,
    until: float | None = None,
) -> None:
    """The whole timeline; listens to the downlink air when a step waits for an event."""
    observer: PassObserver | None = None
    stop = threading.Event()
    start = time.monotonic()
    if any(step.on for step in steps):
        observer = PassObserver(silence)
        listener = threading.Thread(
            target=air.watch_downlink,
            args=(
                ctx.targets.downlink_air,
                observer.feed,
                stop.is_set,
                lambda: time.monotonic() - start,
                ctx.targets.listen,
            ),
            daemon=True,
            name="downlink-watch",
        )
        listener.start()
    scheduler = Scheduler(steps, Runner(log, ctx), events=observer, until=until)
    try:
        scheduler.run()
    finally:
        stop.set()
