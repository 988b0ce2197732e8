"""Plan an instance from a lab: which hosts, on which networks, from which images, how confined.

Hosts whose role offers ports to the student's machine (the attacker's SSH, mission
control's web server) do not publish them themselves: a ``gateway`` (labctl-forward, in
the runtime image) sits alone on the instance's ``access`` network, publishes one port per
offered port on 127.0.0.1, and reaches each such host over an internal ``link-<host>``
network. So every host the lab knows has internal networks only: no route to the host
machine or beyond (an access network is not internal, and its bridge address is the
host's: see docs/backends.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Final

from labctl.backends.base import (
    ACCESS_NETWORK,
    GATEWAY_HOST,
    FileSpec,
    HostPlan,
    InstancePlan,
    NetworkPlan,
    link_network,
)
from labctl.backends.profiles import image_tag, profile
from labctl.errors import LabctlError
from labctl.spec import LoadedLab

SEED_LABEL: Final = "org.labctl.seed"
STUDENT_LABEL: Final = "org.labctl.student"
GATEWAY_ROLE: Final = "gateway"
GATEWAY_IMAGE_ROLE: Final = "runtime"
#: The gateway's ports are 10001, 10002, ... in host order.
FIRST_GATEWAY_PORT: Final = 10001


def host_roles(loaded: LoadedLab) -> dict[str, str]:
    """Host name → role (the image it runs), after the lab's topology changes."""
    extra = {h.name: h.role.value for h in loaded.spec.topology.add_hosts}
    return {name: extra.get(name, name) for name in loaded.spec.hosts()}


def plan_instance(
    loaded: LoadedLab,
    ident: str,
    *,
    student: str,
    seed: int,
    environment: Mapping[str, Mapping[str, str]] | None = None,
    files: Mapping[str, Mapping[str, FileSpec]] | None = None,
    images: Callable[[str], str] = image_tag,
) -> InstancePlan:
    """The plan of instance ``ident``; ``environment`` and ``files`` are per host name."""
    hosts = [
        replace(
            _host(name, role, loaded, images),
            environment={"LABCTL_INSTANCE": ident, **(environment or {}).get(name, {})},
            files=dict((files or {}).get(name, {})),
        )
        for name, role in sorted(host_roles(loaded).items())
    ]
    if GATEWAY_HOST in {h.name for h in hosts}:
        raise LabctlError(f"lab {loaded.id}: the host name {GATEWAY_HOST!r} is labctl's own")
    gateway = _gateway(hosts, images)
    if gateway is not None:
        hosts.append(gateway)
    used = sorted({net for host in hosts for net in host.networks})
    networks = [NetworkPlan(name, access=name == ACCESS_NETWORK) for name in used]
    return InstancePlan(
        instance_id=ident,
        lab=loaded.id,
        hosts=tuple(hosts),
        networks=tuple(networks),
        labels={SEED_LABEL: str(seed), STUDENT_LABEL: student},
    )


def _host(
    name: str,
    role: str,
    loaded: LoadedLab,
    images: Callable[[str], str],
) -> HostPlan:
    confined = profile(role)
    networks = sorted(n.value for n in loaded.spec.hosts()[name])
    if confined.published:
        networks.append(link_network(name))
    return HostPlan(
        name=name,
        role=role,
        image=images(role),
        networks=tuple(networks),
        limits=confined.limits,
        capabilities=confined.capabilities,
        read_only=confined.read_only,
        no_new_privileges=confined.no_new_privileges,
        volumes=confined.volumes,
        read_only_volumes=confined.read_only_volumes,
        tmpfs=dict(confined.tmpfs),
    )


def _gateway(hosts: list[HostPlan], images: Callable[[str], str]) -> HostPlan | None:
    """The relay for every port the hosts offer, or None when none offers any."""
    offered = [(h.name, port) for h in hosts for port in profile(h.role).published]
    if not offered:
        return None
    forwards = {
        f"{FIRST_GATEWAY_PORT + i}/tcp": (host, port) for i, (host, port) in enumerate(offered)
    }
    rules = [
        f"{listen.split('/')[0]}={host}:{port.split('/')[0]}"
        for listen, (host, port) in forwards.items()
    ]
    confined = profile(GATEWAY_ROLE)
    return HostPlan(
        name=GATEWAY_HOST,
        role=GATEWAY_ROLE,
        image=images(GATEWAY_IMAGE_ROLE),
        networks=(ACCESS_NETWORK, *sorted({link_network(host) for host, _ in offered})),
        limits=confined.limits,
        read_only=True,
        tmpfs=dict(confined.tmpfs),
        published=tuple(forwards),
        forwards=forwards,
        user="labctl",
        command=("labctl-forward", *rules),
        healthcheck=("labctl-listening", *_listening(forwards)),
    )


def _listening(forwards: Mapping[str, tuple[str, str]]) -> list[str]:
    return [word for listen in forwards for word in ("tcp", listen.split("/")[0])]
