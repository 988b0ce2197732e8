"""The swarm's nodes: where each one's engine answers, what runs there, which one is next.

An instance's hosts are services pinned to one node (``node.id==<id>``); per-container
work (exec, files, logs, readiness) goes to that node's own engine, whose address is the
node label ``org.labctl.engine`` (``unix:///run/labctl-node2.sock``,
``ssh://labctl@node2``; never plain ``tcp://``). The node labctl's own engine runs on
needs none. Placement is by load: among nodes that are ready and active and run the
images' architecture natively, the one holding the fewest labctl instances, then the one
with the most memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Final

import docker

from labctl.backends.base import GATEWAY_HOST, HOST_LABEL, INSTANCE_LABEL, NodeInfo
from labctl.backends.docker.arch import arch_named
from labctl.backends.docker.baseimage import without_proxy_lookups
from labctl.backends.docker.engine import engine_call
from labctl.errors import BackendError

#: The node label naming the node's Docker engine (a DOCKER_HOST value).
ENGINE_LABEL: Final = "org.labctl.engine"
#: The engine addresses labctl uses: a local socket, or SSH (the SDK's transport, through
#: paramiko). Plain tcp:// is refused: labctl passes no TLS settings.
SAFE_ENGINE_SCHEMES: Final = ("unix://", "ssh://")
#: On every service of an instance: the node it is pinned to.
NODE_LABEL: Final = "org.labctl.node"


def api_of(client: docker.DockerClient) -> Any:
    """The SDK's low-level client, whose swarm calls (services, tasks, nodes, configs)
    carry no type hints."""
    return client.api


def manager_node_id(client: docker.DockerClient) -> str:
    """The id of the node ``client``'s engine is, when that engine is a swarm manager;
    a one-line error otherwise (every swarm operation needs a manager)."""
    with engine_call("ask the engine about its swarm"):
        swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active":
        raise BackendError(
            "use the swarm backend",
            "this Docker engine is not part of a swarm",
            hint="docker swarm init --advertise-addr 127.0.0.1 (one machine), or "
            "bash scripts/swarm-node.sh up (a second engine here; docs/swarm.md)",
        )
    if not swarm.get("ControlAvailable"):
        raise BackendError(
            "use the swarm backend",
            "this Docker engine is a swarm worker; labctl needs a manager",
            hint="run labctl where a manager's engine answers (DOCKER_HOST)",
        )
    return str(swarm.get("NodeID", ""))


def list_nodes(client: docker.DockerClient, manager_id: str) -> list[NodeInfo]:
    """Every node with the instances pinned to it (from the services' labels)."""
    with engine_call("list swarm nodes"):
        nodes = api_of(client).nodes()
        services = api_of(client).services(filters={"label": INSTANCE_LABEL})
    placed: dict[str, set[str]] = {}
    for service in services:
        labels = (service.get("Spec") or {}).get("Labels") or {}
        # An instance is where its hosts are; its gateway runs on labctl's own node.
        if NODE_LABEL in labels and labels.get(HOST_LABEL) != GATEWAY_HOST:
            placed.setdefault(labels[NODE_LABEL], set()).add(labels[INSTANCE_LABEL])
    found = [_node(attrs, manager_id, placed.get(str(attrs["ID"]), set())) for attrs in nodes]
    return sorted(found, key=lambda n: (n.role != "manager", n.hostname, n.id))


def _node(attrs: dict[str, Any], manager_id: str, instances: Iterable[str]) -> NodeInfo:
    spec = attrs.get("Spec") or {}
    description = attrs.get("Description") or {}
    resources = description.get("Resources") or {}
    engine = (spec.get("Labels") or {}).get(ENGINE_LABEL)
    machine = str((description.get("Platform") or {}).get("Architecture") or "")
    return NodeInfo(
        id=str(attrs["ID"]),
        hostname=str(description.get("Hostname", "")),
        role=str(spec.get("Role", "worker")),
        state=str((attrs.get("Status") or {}).get("State", "unknown")),
        availability=str(spec.get("Availability", "active")),
        engine=engine if engine or attrs["ID"] != manager_id else None,
        memory_bytes=int(resources.get("MemoryBytes") or 0),
        cpus=int(resources.get("NanoCPUs") or 0) / 1e9,
        instances=tuple(sorted(instances)),
        arch=_arch_name(machine),
    )


def _arch_name(machine: str) -> str:
    """Docker's platform name for a node's ``uname -m`` (x86_64 → amd64); an
    architecture labctl builds no images for keeps its own name."""
    try:
        return arch_named(machine).name if machine else ""
    except BackendError:
        return machine


def runs(node: NodeInfo, arch: str | None) -> bool:
    """Whether ``node`` runs images of ``arch`` natively (an unknown one on either side:
    it is not ruled out)."""
    return not arch or not node.arch or node.arch == arch


def choose_node(nodes: Iterable[NodeInfo], arch: str | None = None) -> NodeInfo:
    """The usable node with the fewest instances (then the most memory, then by id, so
    the choice is stable) among those that run images of ``arch`` (the instance's images'
    architecture; None: any); a one-line error when no node can take one."""
    usable = [n for n in nodes if n.usable]
    if not usable:
        raise BackendError(
            "place an instance", "no swarm node is ready and active", hint="docker node ls"
        )
    fitting = [n for n in usable if runs(n, arch)]
    if not fitting:
        others = ", ".join(sorted({f"{n.hostname} ({n.arch})" for n in usable}))
        raise BackendError(
            "place an instance",
            f"the images are for {arch}, and no ready and active swarm node runs {arch}"
            f" programs ({others})",
            hint=f"build images for the nodes with labctl images build --arch"
            f" {usable[0].arch}, or add a {arch} node (docs/swarm.md)",
        )
    return min(fitting, key=lambda n: (len(n.instances), -n.memory_bytes, n.id))


class Engines:
    """A client per node's engine, made once; labctl's own node uses its own client."""

    def __init__(self, client: docker.DockerClient, manager_id: str) -> None:
        self.client = client
        self.manager_id = manager_id
        self._clients: dict[str, docker.DockerClient] = {manager_id: client}
        #: Node id → its ENGINE_LABEL (labctl's own node: None, its client is ours).
        self.addresses: dict[str, str | None] = {manager_id: None}
        self._lock = threading.Lock()

    def of(self, node_id: str) -> docker.DockerClient:
        """The engine of ``node_id`` (a one-line error when it has no address label)."""
        with self._lock:
            if node_id in self._clients:
                return self._clients[node_id]
        with engine_call(f"inspect swarm node {node_id}"):
            spec = api_of(self.client).inspect_node(node_id).get("Spec") or {}
        address = (spec.get("Labels") or {}).get(ENGINE_LABEL)
        if not address:
            raise BackendError(
                f"reach the engine of swarm node {node_id}",
                f"the node has no {ENGINE_LABEL} label",
                hint=f"docker node update --label-add {ENGINE_LABEL}=ssh://USER@HOST {node_id}",
            )
        if not address.startswith(SAFE_ENGINE_SCHEMES):
            raise BackendError(
                f"reach the engine of swarm node {node_id}",
                f"{ENGINE_LABEL}={address!r} is not a unix:// socket or an ssh:// address"
                " (a tcp:// engine without TLS is root on that node for anyone who reaches it)",
                hint=f"docker node update --label-add {ENGINE_LABEL}=ssh://USER@HOST {node_id}",
            )
        made = without_proxy_lookups(docker.DockerClient(base_url=address, timeout=120))
        with self._lock:
            self.addresses[node_id] = address
            return self._clients.setdefault(node_id, made)
