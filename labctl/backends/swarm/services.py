"""An instance's hosts as swarm services: one replica each, pinned to one node, confined
like the docker backend's containers as far as the Swarm API lets a service be.

The container of each task carries the same labels as the docker backend's container
(instance, host, role, readiness test, forwards), so every operation on a running host
is the docker backend's own, on that node's engine (:mod:`labctl.backends.swarm.backend`).

What the Swarm API (1.41, Docker 20.10) cannot say, measured on this project's machines
(docs/swarm.md): ``no-new-privileges`` (``Privileges.NoNewPrivileges`` exists from API
1.46 only: the engine drops it), the owner of a tmpfs mount (only size and mode: a tmpfs
the plan gives to a user is mode 1777 instead), memory+swap (a service gets twice its
memory as memory+swap: no limit where the machine has no swap), the engine's restart
policy (swarm restarts tasks itself: a new container) and ``/dev/shm``'s size (a 16 MiB
tmpfs is mounted there instead). Capabilities, read-only roots, memory, CPU and pids
limits, tmpfs sizes, log rotation and labels all hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

import docker
import docker.errors
from docker.types import (
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Healthcheck,
    Mount,
    NetworkAttachmentConfig,
    Placement,
    Resources,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
)

from labctl.backends.base import READY_LABEL, HostPlan, InstancePlan
from labctl.backends.docker.containers import SHM_SIZE, host_labels, is_access
from labctl.backends.docker.engine import (
    LOG_CONFIG,
    engine_call,
    labels_of,
    resource_name,
    volume_name,
)
from labctl.backends.docker.health import ready_test
from labctl.backends.swarm import gate
from labctl.backends.swarm.nodes import NODE_LABEL, api_of
from labctl.errors import BackendError

#: What replaces the engine's own /dev/shm (64 MiB, outside every limit).
SHM_PATH: Final = "/dev/shm"
#: A tmpfs option the Swarm API has no field for (uid=, gid=): its mode becomes this.
SHARED_MODE: Final = 0o1777
#: Task states after which a task never runs (swarm's own names).
ENDED: Final = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
_SIZE: Final = re.compile(r"^(\d+)([kmg]?)$")
_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def service_spec(
    client: docker.DockerClient, plan: InstancePlan, host: HostPlan, node_id: str
) -> dict[str, Any]:
    """The arguments of ``create_service`` for ``host`` on ``node_id``."""
    ready = json.dumps(ready_test(client, host))
    labels = labels_of(plan, **host_labels(host), **{READY_LABEL: ready})
    container = ContainerSpec(
        host.image,
        command=list(gate.ENTRYPOINT),
        args=gate.gated_argv(client, host),
        hostname=host.name,
        env=[f"{k}={v}" for k, v in host.environment.items()],
        user=host.user,
        labels=labels,
        mounts=_mounts(plan, host),
        read_only=host.read_only,
        # No periodic engine health checks, as with the docker backend; and swarm holds a
        # task with a health check out of the network's DNS until it first passes.
        healthcheck=Healthcheck(test=["NONE"]),
        cap_drop=["ALL"],
        cap_add=list(host.capabilities) or None,
        stop_grace_period=10 * 10**9,
    )
    resources = Resources(
        cpu_limit=int(host.limits.cpus * 1e9), mem_limit=host.limits.memory_mib << 20
    )
    resources["Limits"]["Pids"] = host.limits.pids  # API 1.41; the SDK has no argument
    template = TaskTemplate(
        container,
        resources=resources,
        restart_policy=RestartPolicy(condition="none"),
        placement=Placement(constraints=[f"node.id=={node_id}"]),
        log_driver=DriverConfig(LOG_CONFIG["Type"], LOG_CONFIG["Config"]),
        networks=[
            NetworkAttachmentConfig(
                resource_name(plan.instance_id, network),
                aliases=[] if is_access(plan, network) else [host.name],
            )
            for network in sorted(host.networks)
        ],
    )
    return {
        "task_template": template,
        "name": resource_name(plan.instance_id, host.name),
        "labels": labels_of(plan, **host_labels(host), **{NODE_LABEL: node_id}),
        "endpoint_spec": _endpoint(host),
    }


def _endpoint(host: HostPlan) -> EndpointSpec:
    """DNS round robin (no virtual IP: that needs IPVS, and one replica needs none); the
    gateway's ports published on its node's engine (``mode=host``), not on every node
    through the ingress mesh."""
    ports = []
    for published in host.published:
        number, _, protocol = published.partition("/")
        ports.append(
            {"Protocol": protocol or "tcp", "TargetPort": int(number), "PublishMode": "host"}
        )
    spec = EndpointSpec(mode="dnsrr")
    if ports:
        spec["Ports"] = ports
    return spec


def _mounts(plan: InstancePlan, host: HostPlan) -> list[Mount]:
    volumes = [
        Mount(
            path,
            volume_name(plan.instance_id, host.name, path),
            type="volume",
            read_only=path in host.read_only_volumes,
            labels=labels_of(plan, **host_labels(host)),
        )
        for path in host.volumes
    ]
    tmpfs = {**dict(host.tmpfs), SHM_PATH: f"mode=1777,size={SHM_SIZE}"}
    return volumes + [_tmpfs(path, options) for path, options in sorted(tmpfs.items())]


def _tmpfs(path: str, options: str) -> Mount:
    """A tmpfs mount from the docker backend's options (``mode=0755,size=16m``)."""
    fields = dict(word.partition("=")[::2] for word in options.split(",") if word)
    size = _SIZE.match(fields.get("size", "").lower())
    if size is None:
        raise BackendError(f"mount a tmpfs at {path}", f"no size in {options!r}")
    mode = int(fields.get("mode", "1777"), 8)
    if "uid" in fields or "gid" in fields:
        mode = SHARED_MODE
    return Mount(
        path,
        None,
        type="tmpfs",
        tmpfs_size=int(size[1]) * _UNITS[size[2]],
        tmpfs_mode=mode,
    )


def create(client: docker.DockerClient, spec: Mapping[str, Any]) -> str:
    """The new service's id."""
    with engine_call(f"create service {spec['name']}"):
        made = api_of(client).create_service(**spec)
    return str(made["ID"])


def replicas(service: Mapping[str, Any]) -> int:
    """How many tasks the service asks for: 1, or 0 while its instance is stopped."""
    mode = (service.get("Spec") or {}).get("Mode") or {}
    return int((mode.get("Replicated") or {}).get("Replicas", 1))


def scale(client: docker.DockerClient, service: Mapping[str, Any], count: int) -> None:
    """Ask for ``count`` tasks of the service (its spec otherwise unchanged)."""
    name = str(service["Spec"]["Name"])
    with engine_call(f"scale service {name} to {count}"):
        api_of(client).update_service(
            str(service["ID"]),
            int(service["Version"]["Index"]),
            mode=ServiceMode("replicated", replicas=count),
            fetch_current_spec=True,
        )


def running_tasks(client: docker.DockerClient, service: str) -> int:
    """The service's tasks not yet ended (a stopped one's container is then gone)."""
    with engine_call(f"list the tasks of {service}"):
        tasks: list[dict[str, Any]] = api_of(client).tasks(filters={"service": service})
    return sum(str((t.get("Status") or {}).get("State", "")) not in ENDED for t in tasks)


def current_task(client: docker.DockerClient, service: str) -> dict[str, Any] | None:
    """The service's task swarm wants running (the newest), or None."""
    with engine_call(f"list the tasks of {service}"):
        tasks: list[dict[str, Any]] = api_of(client).tasks(
            filters={"service": service, "desired-state": "running"}
        )
    if not tasks:
        return None
    return max(tasks, key=lambda t: int((t.get("Version") or {}).get("Index", 0)))


def container_id(task: Mapping[str, Any]) -> str:
    return str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or "")


def task_error(task: Mapping[str, Any]) -> str:
    status = task.get("Status") or {}
    return str(status.get("Err") or status.get("Message") or status.get("State") or "")
