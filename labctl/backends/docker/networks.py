"""An instance's networks: created on free subnets of labctl's pool, guarded, found, removed.

The lab networks are internal with ``inhibit_ipv4`` (the bridge holds no host address);
the access network is not internal, because the engine publishes ports only from a
network with a gateway, so it has inter-container traffic and masquerading off and binds
published ports to 127.0.0.1 (docs/backends.md). Every bridge goes into the host guard
(:mod:`labctl.backends.docker.hostguard`) before a host starts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

import docker
import docker.errors
import docker.types
from docker.models.networks import Network

from labctl.backends.base import InstancePlan, NetworkPlan, Progress
from labctl.backends.docker import hostguard, subnets
from labctl.backends.docker.engine import (
    Filters,
    engine_call,
    explain,
    labels_of,
    resource_name,
)
from labctl.errors import BackendError, NotFoundError

LAB_NETWORK_OPTIONS: Final = {"com.docker.network.bridge.inhibit_ipv4": "true"}
#: Tries at a free subnet when other labctl processes create networks at the same time.
SUBNET_ATTEMPTS: Final = 8
ACCESS_NETWORK_OPTIONS: Final = {
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1",
}


class Networks:
    """The engine's networks as labctl uses them; one per backend (it holds the lock that
    keeps this process's threads from picking the same free subnet)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self._lock = threading.Lock()

    def create_all(
        self, plan: InstancePlan, made: list[Network], progress: Progress
    ) -> dict[str, Network]:
        """Every network of the plan, appended to ``made`` as it is created (what a
        rollback removes). One list of the engine's subnets per instance, not per network
        (at class size the list is every network's details)."""
        networks = {}
        with self._lock:
            used = self.used_subnets()
            for network in plan.networks:
                networks[network.name] = self.create(plan, network, used)
                made.append(networks[network.name])
                progress(network.name, "network created")
        return networks

    def create(
        self, plan: InstancePlan, network: NetworkPlan, used: list[subnets.Subnet]
    ) -> Network:
        """A bridge network on a /27 of labctl's pool (see labctl.backends.docker.subnets)
        that ``used`` does not hold (and then does); when another process took the same
        block meanwhile, the engine is asked again and the next free one taken."""
        name = resource_name(plan.instance_id, network.name)
        options = ACCESS_NETWORK_OPTIONS if network.access else LAB_NETWORK_OPTIONS
        within = subnets.pool()
        for attempt in range(SUBNET_ATTEMPTS):
            if attempt:
                used[:] = self.used_subnets()
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
                    driver="bridge",
                    internal=not network.access,
                    options=dict(options),
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

    def used_subnets(self) -> list[subnets.Subnet]:
        with engine_call("list networks"):
            found = self.client.api.networks()
        texts = [
            str(config.get("Subnet", ""))
            for network in found
            for config in ((network.get("IPAM") or {}).get("Config") or [])
        ]
        return subnets.parse_used(texts)

    def matching(self, selector: Filters) -> list[Network]:
        return list(self.client.networks.list(filters=selector))

    def find(self, instance_id: str, network: str) -> Network:
        """The instance's network by its lab name (``rf``, ``ground``...)."""
        name = resource_name(instance_id, network)
        with engine_call(f"find network {name}"):
            found = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        if not found:
            raise NotFoundError("network", network, hint=f"instance {instance_id} does not use it")
        return found[0]

    def guard(self, networks: Sequence[Network], *, protect: bool) -> None:
        """Add these networks' bridges to the host guard, or remove them from it
        (labctl.backends.docker.hostguard; off with LABCTL_HOST_GUARD=off)."""
        if not networks or not hostguard.enabled():
            return
        lab: list[str] = []
        access: list[str] = []
        for network in networks:
            internal = bool(network.attrs.get("Internal"))
            (lab if internal else access).append(hostguard.bridge_of(network.attrs))
        guard = hostguard.HostGuard(self.client)
        if protect:
            guard.protect(lab, access)
        else:
            guard.release(lab, access)
