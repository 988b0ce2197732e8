"""An instance's containers and volumes: created with the plan's limits, started, found.

Every host runs with all capabilities dropped but the plan's, ``no-new-privileges``,
memory, CPU and PID limits, a rotated log, a small /dev/shm and (where the engine's
storage can bound it) a bounded writable layer; no engine health checks (labctl runs the
readiness test itself: :mod:`labctl.backends.docker.health`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, Final

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume
from docker.types import EndpointConfig

from labctl.backends.base import (
    FORWARDS_LABEL,
    HOST_LABEL,
    INSTANCE_LABEL,
    READY_LABEL,
    ROLE_LABEL,
    HostPlan,
    InstancePlan,
    Progress,
)
from labctl.backends.docker.engine import (
    ENGINE_ERRORS,
    LOG_CONFIG,
    LOOPBACK,
    Filters,
    engine_call,
    explain,
    host_of,
    is_host,
    labels_of,
    resource_name,
    volume_name,
)
from labctl.backends.docker.health import ready_test
from labctl.errors import BackendError, NotFoundError

#: Said once per process, when the engine refuses ``storage_opt size``.
UNBOUNDED_WARNING: Final = (
    "warning: this engine cannot bound writable root file systems (root on the ground "
    "station can fill its disk; docs/security.md)"
)
#: /dev/shm (the engine's default is 64 MiB of memory, not counted in any limit we set).
SHM_SIZE: Final = "16m"


class Containers:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        #: Whether the engine bounds writable root file systems (None: not asked yet).
        self.writable_bounded: bool | None = None

    def create_volumes(self, plan: InstancePlan, host: HostPlan) -> list[Volume]:
        volumes = []
        for path in host.volumes:
            name = volume_name(plan.instance_id, host.name, path)
            with engine_call(f"create volume {name}"):
                volumes.append(
                    self.client.volumes.create(
                        name, labels=labels_of(plan, **{HOST_LABEL: host.name})
                    )
                )
        return volumes

    def create(
        self, plan: InstancePlan, host: HostPlan, networks: Mapping[str, Network]
    ) -> Container:
        """Created (not started) on its first network, then attached to the others."""
        first, *others = _attach_order(plan, host)
        name = resource_name(plan.instance_id, host.name)
        ready = json.dumps(ready_test(self.client, host))
        labels = labels_of(plan, **host_labels(host), **{READY_LABEL: ready})
        options = {
            "name": name,
            "network": networks[first].name,
            "networking_config": {str(networks[first].name): self._endpoint(plan, host, first)},
            **_container_options(plan, host, labels),
        }
        with engine_call(f"create container {name}"):
            container = self._create_bounded(host, options)
            for network in others:
                networks[network].connect(container, aliases=[host.name])
        return container

    def _create_bounded(self, host: HostPlan, options: dict[str, Any]) -> Container:
        """Create with the host's writable layer bounded (``storage_opt size``) where the
        engine's storage can bound it (overlay2 on XFS with pquota, btrfs, zfs); once the
        engine says it cannot, without (``writable_bounded`` says which it was)."""
        size = host.limits.writable_mib
        if size is not None and self.writable_bounded is not False:
            try:
                made = self.client.containers.create(
                    host.image, storage_opt={"size": f"{size}m"}, **options
                )
            except docker.errors.APIError as exc:
                if "storage-opt" not in str(exc).lower():
                    raise
                self.writable_bounded = False
            else:
                self.writable_bounded = True
                return made
        return self.client.containers.create(host.image, **options)

    def _endpoint(self, plan: InstancePlan, host: HostPlan, network: str) -> EndpointConfig:
        aliases = [] if is_access(plan, network) else [host.name]
        return self.client.api.create_endpoint_config(aliases=aliases)

    def find(self, instance_id: str, host: str) -> Container:
        """The host's container: by its name (one inspect), if its labels say it is that
        host of that instance; else by label (a list over every container)."""
        try:
            named = self.client.containers.get(resource_name(instance_id, host))
        except docker.errors.NotFound:
            named = None
        except ENGINE_ERRORS as exc:
            raise BackendError(f"find host {host} of {instance_id}", explain(exc)) from exc
        if named is not None and is_host(named, instance_id, host):
            return named
        selector: Filters = {"label": [f"{INSTANCE_LABEL}={instance_id}", f"{HOST_LABEL}={host}"]}
        with engine_call(f"find host {host} of {instance_id}"):
            found = self.client.containers.list(all=True, filters=selector)
        if not found:
            raise NotFoundError("host", host, hint=f"not part of instance {instance_id!r}")
        return found[0]

    def matching(self, selector: Filters, *, sparse: bool = False) -> list[Container]:
        """Every container the selector matches, running or not. ``ignore_removed``: one
        removed between the list and its inspect (a concurrent ``down``) is not an error."""
        if sparse:
            return list(self.client.containers.list(all=True, filters=selector, sparse=True))
        return list(self.client.containers.list(all=True, filters=selector, ignore_removed=True))


def start_all(containers: Sequence[Container], progress: Progress) -> None:
    """Start every container at once (one thread each)."""

    def start(container: Container) -> None:
        with engine_call(f"start container {container.name}"):
            container.start()
        progress(host_of(container), "started")

    with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
        for future in [pool.submit(start, c) for c in containers]:
            future.result()


def remove(container: Container) -> None:
    """Remove it with its anonymous volumes; one already gone (a concurrent ``down``) is fine."""
    with suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)


def is_access(plan: InstancePlan, network: str) -> bool:
    return any(n.name == network and n.access for n in plan.networks)


def _attach_order(plan: InstancePlan, host: HostPlan) -> list[str]:
    """The access network first, so published ports are bound on it; then the lab ones."""
    order = sorted(host.networks, key=lambda n: (not is_access(plan, n), n))
    if not order:
        raise BackendError(f"plan host {host.name}", "it is attached to no network")
    return order


def host_labels(host: HostPlan) -> dict[str, str]:
    labels = {HOST_LABEL: host.name, ROLE_LABEL: host.role}
    if host.forwards:
        labels[FORWARDS_LABEL] = json.dumps({k: list(v) for k, v in host.forwards.items()})
    return labels


def _container_options(
    plan: InstancePlan, host: HostPlan, labels: dict[str, str]
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hostname": host.name,
        "labels": labels,
        "environment": dict(host.environment),
        "mem_limit": f"{host.limits.memory_mib}m",
        "memswap_limit": f"{host.limits.memory_mib}m",
        "nano_cpus": int(host.limits.cpus * 1e9),
        "pids_limit": host.limits.pids,
        "cap_drop": ["ALL"],
        "cap_add": list(host.capabilities),
        "security_opt": ["no-new-privileges:true"] if host.no_new_privileges else [],
        "privileged": False,
        "read_only": host.read_only,
        "tmpfs": dict(host.tmpfs),
        "shm_size": SHM_SIZE,
        "log_config": LOG_CONFIG,
        "restart_policy": {"Name": "unless-stopped"},
        # No periodic engine health checks: each is a process in the container (0.15
        # CPU-s); labctl runs the READY_LABEL test when it needs an answer.
        "healthcheck": {"test": ["NONE"]},
        "ports": dict.fromkeys(host.published, (LOOPBACK, None)),
        "volumes": {
            volume_name(plan.instance_id, host.name, path): {
                "bind": path,
                "mode": "ro" if path in host.read_only_volumes else "rw",
            }
            for path in host.volumes
        },
    }
    if host.command is not None:
        options["command"] = list(host.command)
    if host.user is not None:
        options["user"] = host.user
    return options
