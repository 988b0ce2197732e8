"""The scripted adversary: a lab's ``adversary:`` timeline, carried out from inside an instance.

``labctl up`` starts a ``labctl-adversary`` container from the attacker image on the
instance's rf and corp networks; it runs ``python3 -m labctl.range.adversary run --timeline FILE
--log FILE``. Each step of the timeline runs at its offset from the start or on an event
the adversary observes itself (a pass starting or ending: the downlink heard after
silence, or no longer heard). Every execution of an action appends one JSON line to the
log; defence labs are scored on it (check ``adversary_contained``). docs/scenarios.md,
"The scripted adversary".

Layer: above the spec and the hosts' catalogue (it validates the timeline with the spec's
vocabulary and names commands from the catalogue), below the backends and graders, which
only need its constants.
"""

from __future__ import annotations

from typing import Final

from labctl.range import wiring

#: Host name of the adversary container in an instance.
ADVERSARY_HOST: Final = wiring.ADVERSARY
#: Where the container keeps its timeline and its log (tmpfs: the root is read-only).
TIMELINE_PATH: Final = "/tmp/adversary/timeline.json"
LOG_PATH: Final = "/tmp/adversary/log.jsonl"
#: The environment variable that carries the rendered timeline into the container.
TIMELINE_ENV: Final = "LABCTL_ADVERSARY_TIMELINE"

__all__ = ["ADVERSARY_HOST", "LOG_PATH", "TIMELINE_ENV", "TIMELINE_PATH"]
