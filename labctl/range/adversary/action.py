"""What every adversary action is and shares: the generic :class:`Action`, its context,
its result, and the one registry of actions by name.

An action is one class carrying its argument model and its behaviour:
``class JamAction(Action[Jam])`` with ``name = "jam"``, ``Args = Jam`` and
``run(self, args: Jam, ctx) -> Result``. labctl's own are listed in
:data:`labctl.range.adversary.actions.BUILTIN_ACTIONS`, published as the
``labctl.actions`` entry point; the spec loader validates timelines against the classes
of that group and the adversary, in the attacker container (from labctl's installed
wheel, entry points and all), runs them from the same group. It reads only that group,
so the container never imports the graders or the scenario engine.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Final, Generic

from labctl.range import wiring
from labctl.spec.vocabulary import (
    ACTION_PLUGIN_GROUP,
    ArgsT,
    Registry,
    register_group,
)

#: Noise datagrams per second when jamming: four times the rf-link's default threshold.
JAM_RATE: Final = 2000
#: Datagrams remembered as the adversary's own (a flood burst is a few thousand).
OWN_FRAMES: Final = 20_000


@dataclass(frozen=True)
class Targets:
    """Where the instance's hosts are, by their names on the instance's networks."""

    uplink_in: tuple[str, int] = (wiring.RF_LINK, wiring.UPLINK_IN)
    uplink_air: int = wiring.UPLINK_AIR
    downlink_air: int = wiring.DOWNLINK_AIR
    listen: str = "0.0.0.0"
    mission_control: str = wiring.MISSION_CONTROL_URL
    ssh: tuple[str, int] = (wiring.GROUND_STATION, wiring.SSH_PORT)


class OwnFrames:
    """Digests of the last ``size`` datagrams sent (a bounded set, oldest forgotten)."""

    def __init__(self, size: int = OWN_FRAMES) -> None:
        self.size = size
        self._order: deque[bytes] = deque()
        self._set: set[bytes] = set()

    @staticmethod
    def _digest(datagram: bytes) -> bytes:
        return hashlib.blake2b(datagram, digest_size=12).digest()

    def add(self, datagram: bytes) -> None:
        digest = self._digest(datagram)
        if digest in self._set:
            return
        self._order.append(digest)
        self._set.add(digest)
        if len(self._order) > self.size:
            self._set.discard(self._order.popleft())

    def __contains__(self, datagram: object) -> bool:
        return isinstance(datagram, bytes) and self._digest(datagram) in self._set


@dataclass
class Context:
    """What actions share: targets, bounds, clocks and the link facts learnt so far."""

    targets: Targets = field(default_factory=Targets)
    #: Longest wait for uplink frames to replay, or for any frame to learn the SCID.
    listen_timeout: float = 120.0
    #: Gap between frames of one replay or injection (lets FARM-1 take them in order).
    gap: float = 0.3
    http_timeout: float = 10.0
    ssh_timeout: float = 10.0
    jam_rate: int = JAM_RATE
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    #: (SCID, VCID) learnt from the air, kept for later actions.
    link: tuple[int, int] | None = None
    #: What this adversary transmitted: the rf-link relays it back onto the air, and a
    #: replay must not pick up the adversary's own flood.
    own: OwnFrames = field(default_factory=OwnFrames)


@dataclass
class Result:
    outcome: str
    success: bool | None
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


def done(detail: str, success: bool | None = None, **facts: Any) -> Result:
    return Result("done", success, detail, facts)


def failed(detail: str, **facts: Any) -> Result:
    return Result("failed", None, detail, facts)


class Action(Generic[ArgsT]):
    """An adversary action: ``name`` (what a timeline writes in ``action:``), ``Args``
    (its model, named again as the type argument) and :meth:`run`, which receives the
    validated model. ``summary`` defaults to the model's docstring."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Not a ClassVar: a class variable may not mention the type variable.
    Args: type[ArgsT]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "summary" not in cls.__dict__ and "Args" in cls.__dict__:
            cls.summary = (cls.Args.__doc__ or "").strip()

    def run(self, args: ArgsT, ctx: Context) -> Result:
        raise NotImplementedError


@cache
def action_registry() -> Registry:
    """The actions of the ``labctl.actions`` group (that group only, see above)."""
    registry = Registry("adversary action")
    register_group(registry, ACTION_PLUGIN_GROUP)
    return registry


def action_of(name: str) -> Action[Any] | None:
    """An instance of the action registered as ``name``; None when there is none."""
    entry = action_registry().get(name)
    target = None if entry is None else entry.target
    if isinstance(target, type) and issubclass(target, Action):
        return target()
    return None
