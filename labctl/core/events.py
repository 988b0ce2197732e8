"""Progress events: how long work (bringing up a class, grading it) tells an edge how it goes.

The core never prints. An operation that takes long accepts an ``on_event`` callable and
calls it with an :class:`Event` per step; the CLI draws them with Rich, the portal pushes
them to the browser. An edge that does not care passes nothing (:func:`ignore`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from labctl.backends.base import Progress


class Kind(StrEnum):
    """What an event says. ``STEP`` moves a subject on (a host created, started,
    healthy); ``NOTE`` is a sentence for the user (building missing images); ``RESULT``
    carries one finished item (an objective's verdict, a student graded)."""

    STEP = "step"
    NOTE = "note"
    RESULT = "result"


@dataclass(frozen=True)
class Event:
    """One step of long work: ``subject`` (a host, a network, a student, an objective) and
    what happened to it. ``data`` holds the typed result for a ``RESULT`` event."""

    subject: str
    message: str
    kind: Kind = Kind.STEP
    data: object = None


OnEvent = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink for an edge that shows no progress."""


def progress_of(on_event: OnEvent) -> Progress:
    """The backends' and instances' ``(subject, message)`` callback, as events."""

    def progress(subject: str, message: str) -> None:
        on_event(Event(subject, message))

    return progress


def note(on_event: OnEvent, message: str, subject: str = "") -> None:
    on_event(Event(subject, message, Kind.NOTE))
