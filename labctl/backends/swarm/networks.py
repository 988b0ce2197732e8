"""An instance's networks on the swarm: overlay, attachable, on subnets of labctl's pool.

The lab networks (rf, ground, corp, the gateway's links) are ``internal`` overlays: no
gateway, no route out, and (unlike a bridge network) no interface of the machine on them
at all, since an overlay lives in a namespace of its own on each node: there is no host
address for a student to reach, so the host guard has nothing to add. They are
``attachable`` so that the grader's vantage and the adversary (plain containers on the
instance's node) can join them.

The access network (the gateway's only) is not internal: a task publishes ports only
through the node's ``docker_gwbridge``, which a task joins when one of its networks has a
way out. ``scripts/swarm-node.sh`` makes that bridge before an engine enters the swarm with
ports bound to 127.0.0.1, no masquerading and no traffic between containers.

``encrypted`` (IPsec between nodes) is asked for when ``LABCTL_SWARM_ENCRYPT`` is not
``off``; on a kernel without ESP (as on this project's CI machines) the engine creates the
network but cannot carry traffic between nodes on it, so the default is ``off`` there:
docs/swarm.md says how to tell.
"""

from __future__ import annotations

import os
import threading
from typing import Final

import docker
import docker.errors
import docker.types
from docker.models.networks import Network

from labctl.backends.base import InstancePlan, NetworkPlan, Progress
from labctl.backends.docker import subnets
from labctl.backends.docker.engine import explain, labels_of, resource_name
from labctl.backends.docker.networks import SUBNET_ATTEMPTS, Networks
from labctl.errors import BackendError

ENCRYPT_ENV: Final = "LABCTL_SWARM_ENCRYPT"


def encrypted() -> bool:
    """Whether lab networks ask for IPsec (``LABCTL_SWARM_ENCRYPT=on``; default off)."""
    return os.environ.get(ENCRYPT_ENV, "off").strip().lower() in {"on", "1", "true", "yes"}


class OverlayNetworks:
    """The swarm's networks as labctl uses them (the subnet choice is the docker backend's)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self._pool = Networks(client)  # its list of used subnets and lookups
        self._lock = threading.Lock()

    def create_all(
        self, plan: InstancePlan, made: list[Network], progress: Progress
    ) -> dict[str, Network]:
        networks = {}
        with self._lock:
            used = self._pool.used_subnets()
            for network in plan.networks:
                networks[network.name] = self.create(plan, network, used)
                made.append(networks[network.name])
                progress(network.name, "network created")
        return networks

    def create(
        self, plan: InstancePlan, network: NetworkPlan, used: list[subnets.Subnet]
    ) -> Network:
        name = resource_name(plan.instance_id, network.name)
        options = {"encrypted": ""} if encrypted() and not network.access else {}
        within = subnets.pool()
        for attempt in range(SUBNET_ATTEMPTS):
            if attempt:
                used[:] = self._pool.used_subnets()
            subnet = subnets.free_subnet(used, within, skip=attempt)
            ipam = docker.types.IPAMConfig(
                pool_configs=[
                    docker.types.IPAMPool(
                        subnet=str(subnet), gateway=str(subnet.network_address + 1)
                    )
                ]
            )
            try:
                made = self.client.networks.create(
                    name,
                    driver="overlay",
                    internal=not network.access,
                    attachable=True,
                    options=options,
                    labels=labels_of(plan),
                    ipam=ipam,
                    check_duplicate=True,
                )
                used.append(subnet)
                return made
            except docker.errors.APIError as exc:
                if "overlap" not in str(exc).lower() or attempt == SUBNET_ATTEMPTS - 1:
                    raise BackendError(f"create network {name}", explain(exc)) from exc
        raise BackendError(f"create network {name}", "no subnet could be allocated")

    def matching(self, instance_id: str) -> list[Network]:
        return self._pool.matching({"label": f"org.labctl.instance={instance_id}"})

    def find(self, instance_id: str, network: str) -> Network:
        return self._pool.find(instance_id, network)
