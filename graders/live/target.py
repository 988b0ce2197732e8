"""What a grading run aims at: one running instance, as grading reaches it.

Grading is a client of the instances layer: the target is built here from the
instance's record (mission control's published address, the template variables its
checks are rendered with, the seed and roster slot its secrets derive with); the
instances layer knows nothing of grading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labctl.instances import InstanceRecord
from labctl.instances.lifecycle import mission_control_url, variables_of
from labctl.spec import LoadedLab


@dataclass(frozen=True)
class GradeTarget:
    """A running instance as grading reaches it."""

    instance_id: str
    student: str
    seed: int
    #: Mission control's address from this machine (the gateway's published port).
    mission_control: str
    #: Template variables of the instance (params, student, instance) for check arguments.
    variables: Mapping[str, Any] = field(default_factory=dict)
    #: The roster slot of a class session's instance: its parameters derive with it.
    slot: int | None = None


def target_of(loaded: LoadedLab, record: InstanceRecord) -> GradeTarget:
    """The running instance of ``record`` as grading reaches it."""
    return GradeTarget(
        record.id,
        record.student,
        record.seed,
        mission_control_url(record),
        variables_of(loaded, record),
        record.slot,
    )
