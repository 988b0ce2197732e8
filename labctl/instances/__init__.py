"""Lab instances: plan one from a lab, run it on a backend, remember it in SQLite.

This layer sits above :mod:`labctl.backends` and :mod:`labctl.spec` and below the CLI
(and the class sessions, which launch many instances).
"""

from labctl.instances.ids import instance_id, slug
from labctl.instances.lifecycle import InstanceKept, Instances, InstanceView, connection_lines
from labctl.instances.plan import plan_instance
from labctl.instances.store import (
    InstanceExistsError,
    InstanceRecord,
    InstanceStore,
    StateError,
    default_db,
)

__all__ = [
    "InstanceExistsError",
    "InstanceKept",
    "InstanceRecord",
    "InstanceStore",
    "InstanceView",
    "Instances",
    "StateError",
    "connection_lines",
    "default_db",
    "instance_id",
    "plan_instance",
    "slug",
]
