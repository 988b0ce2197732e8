"""The adversary's timeline: which action runs when, and the events it reacts to.

A timeline file is JSON ``{"steps": [...]}``, each step a lab's ``adversary:`` entry with its
arguments already rendered (``action``, ``at`` or ``on``, ``repeat``, ``every``, ``args``).
It is checked again here with the spec's models, so a hand-written file fails with one line.

Scheduling: a step with ``at`` runs at that offset (seconds from the adversary's start),
then ``repeat - 1`` more times ``every`` seconds apart. A step with ``on`` does the same
from each occurrence of its event. Actions run one at a time in the order they fall due;
an action that falls due while another runs starts when that one ends (the log shows both
the planned and the actual offset), unless by then the next repeat of its series is due
too: then it is skipped and that one runs, so a busy adversary does not fall further and
further behind (the log's ``repeat`` numbers show the gap).

Events are what an adversary on the rf segment can observe for itself: ``pass_start`` when
the downlink air is heard after silence (the first frame heard counts, so an always-in-
contact link has one pass starting soon after the adversary does), ``pass_end`` when
nothing has been heard for ``silence`` seconds after that.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from pydantic import ValidationError

from labctl.errors import LabctlError
from labctl.range.adversary.action import action_registry
from labctl.spec.models import ADVERSARY_EVENTS, AdversaryStep
from labctl.spec.vocabulary import Args

#: Seconds without a downlink frame that end a pass.
DEFAULT_SILENCE: Final = 10.0
#: How often the scheduler looks for events while nothing is due.
POLL_S: Final = 0.25
MAX_TIMELINE_OCTETS: Final = 1 << 20


class TimelineError(LabctlError):
    """A timeline file that cannot be carried out."""


@dataclass(frozen=True)
class Step:
    """One validated step: ``index`` is its position in the lab's ``adversary:`` list."""

    index: int
    action: str
    args: Args
    at: float | None = None
    on: str | None = None
    repeat: int = 1
    every: float = 0.0


def parse_timeline(text: str) -> list[Step]:
    """The steps of a timeline document; TimelineError names the first bad step."""
    if len(text) > MAX_TIMELINE_OCTETS:
        raise TimelineError(f"timeline larger than {MAX_TIMELINE_OCTETS} octets")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TimelineError(f"timeline is not JSON: {exc}") from None
    raw_steps = document.get("steps") if isinstance(document, dict) else None
    if not isinstance(raw_steps, list):
        raise TimelineError('timeline must be a JSON object {"steps": [...]}')
    return [_step(i, raw) for i, raw in enumerate(raw_steps)]


def _step(index: int, raw: Any) -> Step:
    where = f"adversary[{index}]"
    try:
        spec = AdversaryStep.model_validate(raw)
    except ValidationError as exc:
        raise TimelineError(f"{where}: {_first_error(exc)}") from None
    actions = action_registry()
    entry = actions.get(spec.action)
    if entry is None:
        known = actions.names()
        raise TimelineError(f"{where}: unknown action {spec.action!r}; one of {known}")
    try:
        args = entry.args.model_validate(spec.args)
    except ValidationError as exc:
        raise TimelineError(f"{where} ({spec.action}): {_first_error(exc)}") from None
    at = None if spec.at is None else float(spec.at)
    every = float(spec.every or 0)
    return Step(index, spec.action, args, at, spec.on, spec.repeat, every)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


class EventSource(Protocol):
    def poll(self, now: float) -> list[tuple[str, float]]:
        """Events since the last call: (name, offset at which it happened)."""
        ...


class PassObserver:
    """Turns "a downlink frame was heard at t" into pass_start / pass_end events.

    ``feed`` is called from the listening thread, ``poll`` from the scheduler.
    """

    def __init__(self, silence: float = DEFAULT_SILENCE) -> None:
        self.silence = silence
        self._lock = threading.Lock()
        self._in_pass = False
        self._last: float | None = None
        self._events: list[tuple[str, float]] = []

    def feed(self, t: float) -> None:
        with self._lock:
            if self._in_pass and self._last is not None and t - self._last >= self.silence:
                self._events.append(("pass_end", self._last + self.silence))
                self._in_pass = False
            if not self._in_pass:
                self._events.append(("pass_start", t))
                self._in_pass = True
            self._last = t

    def poll(self, now: float) -> list[tuple[str, float]]:
        with self._lock:
            if self._in_pass and self._last is not None and now - self._last >= self.silence:
                self._events.append(("pass_end", self._last + self.silence))
                self._in_pass = False
            events, self._events = self._events, []
        return events


@dataclass(order=True, frozen=True)
class Due:
    """One execution of a step: planned offset, then step order, then repeat."""

    offset: float
    step: int
    repeat: int
    event: str | None = field(default=None, compare=False)
    event_offset: float | None = field(default=None, compare=False)


#: Runs one execution; gets the step, the execution and the actual offset it started at.
Execute = Callable[[Step, Due, float], None]


class Scheduler:
    """Runs the steps' executions in time order on an injectable clock (tests move it)."""

    def __init__(
        self,
        steps: list[Step],
        execute: Execute,
        *,
        events: EventSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        until: float | None = None,
    ) -> None:
        self.steps = steps
        self.execute = execute
        self.events = events
        self.clock = clock
        self.sleep = sleep
        self.until = until
        self._queue: list[Due] = []
        self._on: dict[str, list[Step]] = {name: [] for name in ADVERSARY_EVENTS}
        for step in steps:
            if step.at is not None:
                self._plan(step, step.at)
            elif step.on is not None:
                self._on[step.on].append(step)

    def _plan(self, step: Step, start: float, event: str | None = None) -> None:
        for k in range(step.repeat):
            due = Due(start + k * step.every, step.index, k, event, start if event else None)
            heapq.heappush(self._queue, due)

    @staticmethod
    def _overtaken(step: Step, due: Due, now: float) -> bool:
        """Whether the next repeat of the same series is already due too: the adversary
        was busy, and runs that one instead of falling further behind."""
        later = due.repeat + 1 < step.repeat and step.every > 0
        return later and due.offset + step.every <= now

    @property
    def waits_for_events(self) -> bool:
        return any(self._on.values())

    def run(self) -> None:
        """Until every planned execution has run and (with event steps) until ``until``."""
        start = self.clock()
        by_index = {step.index: step for step in self.steps}
        while True:
            now = self.clock() - start
            if self.events is not None and self.waits_for_events:
                for name, offset in self.events.poll(now):
                    for step in self._on.get(name, []):
                        self._plan(step, offset, name)
            if self._queue and self._queue[0].offset <= now:
                due = heapq.heappop(self._queue)
                step = by_index[due.step]
                if not self._overtaken(step, due, now):
                    self.execute(step, due, now)
                continue
            if self.until is not None and now >= self.until:
                return
            if not self._queue and not (self.waits_for_events and self.events is not None):
                return
            wait = self._queue[0].offset - now if self._queue else POLL_S
            if self.waits_for_events:
                wait = min(wait, POLL_S)
            if self.until is not None:
                wait = min(wait, self.until - now)
            self.sleep(max(wait, 0.0))
