"""The per-student secrets a report is graded against, derived as the instance derived them.

The one place report grading derives them: the student's own (a finding that quotes one
is evidence of the attack) and their classmates' (quoting one of those is a cheating
signal). Nothing secret is stored anywhere; the seed, the student's name and the roster
slot give them back.
"""

from __future__ import annotations

from collections.abc import Mapping

from labctl.spec.models import Lab
from labctl.spec.params import derive

#: A classmate as secrets derive: (seed, roster slot or None).
Peer = tuple[int | str, int | None]


def secrets_of(lab: Lab, student: str, seed: int | str, slot: int | None = None) -> dict[str, str]:
    """``student``'s secret parameters (name → value) for this lab and seed."""
    return derive(lab, student, str(seed), slot).secrets()


def peers_secrets(lab: Lab, peers: Mapping[str, Peer], but: str) -> dict[str, dict[str, str]]:
    """Every peer's secrets but ``but``'s own: student → name → value."""
    return {
        peer: secrets_of(lab, peer, seed, slot)
        for peer, (seed, slot) in peers.items()
        if peer != but
    }
