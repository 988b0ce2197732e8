"""Vantages: an extra container inside one instance, from a lab image.

Graders run one for the length of a grading run; the scripted adversary
(:mod:`labctl.instances.adversary`) runs one for the life of the instance.

A vantage is created at grading time from a lab image, attached to one of the instance's
networks (more with :meth:`Backend.connect`), reached with :meth:`Backend.exec` under its
``host`` name or through a :class:`Channel` to one long-running program in it (one exec
for a whole grading run: :mod:`labctl.range.vantage.agent`), and removed afterwards. It
carries the instance label, so ``down`` removes a vantage that a crash left behind.
Engine-neutral: each backend offers these operations through ``Backend.vantages()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

#: Label on every vantage: the grading run that made it.
RUN_LABEL: Final = "org.labctl.grading-run"
#: Role label of a grader vantage; the scripted adversary's container says "adversary".
VANTAGE_ROLE: Final = "grader"


class Channel(Protocol):
    """The stdin and the output (stdout and stderr, merged) of a program in a container."""

    def send(self, data: bytes) -> None:
        """Write ``data`` to the program's stdin."""
        ...

    def receive(self, timeout: float) -> bytes | None:
        """What the program wrote since the last call, waiting up to ``timeout`` seconds for
        something: None if nothing came, ``b""`` once the program's output has ended."""
        ...

    def close(self) -> None:
        """Close the program's stdin and the stream (the program sees its input end)."""
        ...


class Vantages(Protocol):
    def run_vantage(
        self,
        instance_id: str,
        host: str,
        *,
        image: str,
        network: str,
        labels: Mapping[str, str],
        command: Sequence[str] = ("sleep", "infinity"),
        environment: Mapping[str, str] | None = None,
        role: str = VANTAGE_ROLE,
    ) -> None:
        """Create and start ``host`` from ``image`` on the instance's ``network``, confined
        (no capabilities or privileges, read-only root, bounded memory and processes)."""
        ...

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        """Remove the vantage ``host``; False if there was none."""
        ...

    def open_channel(
        self, instance_id: str, host: str, argv: Sequence[str], *, user: str
    ) -> Channel:
        """Start ``argv`` in the container ``host`` as ``user``, its stdin kept open."""
        ...
