"""Bringing an instance up on the engine: refuse one that exists, create everything the
plan names (remembering it), and remove it all again when anything fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

from labctl.backends.base import InstancePlan, Progress
from labctl.backends.docker import files as file_ops
from labctl.backends.docker.containers import UNBOUNDED_WARNING
from labctl.backends.docker.engine import by_instance, engine_call, host_of, quietly
from labctl.errors import BackendError

if TYPE_CHECKING:
    from labctl.backends.docker.backend import DockerBackend


@dataclass
class Created:
    """What one ``up`` made so far, in creation order: exactly what a rollback removes."""

    networks: list[Network] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)


def refuse_existing(backend: DockerBackend, instance_id: str) -> None:
    """BackendError if the engine already holds anything of the instance."""
    selector = by_instance(instance_id)
    with engine_call(f"look for instance {instance_id}"):
        exists = bool(backend.containers.matching(selector, sparse=True))
        exists = exists or bool(backend.networks.matching(selector))
    if exists:
        raise BackendError(
            f"bring up instance {instance_id}",
            "the engine already holds containers or networks of this instance",
            hint=f"remove them first: labctl down {instance_id}",
        )


def create_all(
    backend: DockerBackend, plan: InstancePlan, created: Created, progress: Progress
) -> None:
    """Networks, then each host's volumes and container (created, its plan files written)."""
    networks = backend.networks.create_all(plan, created.networks, progress)
    for host in plan.hosts:
        created.volumes += backend.containers.create_volumes(plan, host)
        asked = backend.writable_bounded
        container = backend.containers.create(plan, host, networks)
        created.containers.append(container)
        if host.files:
            file_ops.put_files(container, host.files)
        backend.files.written(container, host.files)
        progress(host.name, "container created")
        if asked is None and backend.writable_bounded is False:
            progress("engine", UNBOUNDED_WARNING)


def rollback(backend: DockerBackend, created: Created, progress: Progress) -> None:
    """Remove what ``up`` created, newest first; carry on past individual failures."""
    for container in reversed(created.containers):
        backend.files.forget(container)
        quietly(lambda c=container: c.remove(force=True, v=True))
        progress(host_of(container), "removed (rollback)")
    for volume in reversed(created.volumes):
        quietly(lambda v=volume: v.remove(force=True))
    quietly(lambda: backend.networks.guard(created.networks, protect=False))
    for network in reversed(created.networks):
        quietly(network.remove)
        progress(str(network.name), "network removed (rollback)")
