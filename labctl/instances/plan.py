"""Plan an instance from a lab: which hosts, on which networks, from which images, how confined."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from labctl.backends.base import FileSpec, HostPlan, InstancePlan, NetworkPlan, access_network
from labctl.backends.profiles import image_tag, profile
from labctl.spec import LoadedLab

SEED_LABEL = "org.labctl.seed"
STUDENT_LABEL = "org.labctl.student"


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
    used = sorted({net for host in hosts for net in host.networks})
    access = {access_network(host.name) for host in hosts}
    networks = [NetworkPlan(name, access=name in access) for name in used]
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
        networks.append(access_network(name))
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
        tmpfs=dict(confined.tmpfs),
        published=confined.published,
    )
