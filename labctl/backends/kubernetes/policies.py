"""The instance's namespace and what fences it: Pod Security labels, NetworkPolicies,
the access Services, ResourceQuota and LimitRange.

Networks: Docker's internal bridges become label-selected NetworkPolicies. A default
deny-all (ingress and egress) covers every pod of the namespace; each lab network N then
allows traffic between the pods labelled ``network.labctl.org/N`` and nothing else, so a
pod on rf only reaches rf's pods. The hosts find each other by name, so every pod may
also ask the cluster's DNS (port 53 of kube-dns, nothing else beyond the namespace).

Access: the gateway relays the student's SSH and mission control's web port on Docker.
Here a ClusterIP Service per relayed host does that job (reachable inside the cluster
only, never on a node's port or a load balancer: the quota allows none), and a policy
admits only the portal's pods (namespace ``labctl``) to the relayed port. The portal is
the single entry point (docs/kubernetes.md); no gateway pod is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from labctl.backends.base import ROLE_LABEL, InstancePlan, Limits
from labctl.backends.kubernetes.meta import (
    PORTAL_NAMESPACE,
    PORTAL_ROLE,
    dns_label,
    host_labels,
    instance_labels,
    key,
    metadata,
    namespace_of,
    network_label,
)
from labctl.backends.kubernetes.security import RESTRICTED, resources

NAMESPACE_LABEL: Final = "kubernetes.io/metadata.name"
PSA: Final = "pod-security.kubernetes.io/"
#: Headroom in the quota for labctl's own pods in the namespace at grading time: the
#: grader's vantage and the scripted adversary (256 MiB each on Docker).
VANTAGES: Final = 2
VANTAGE_LIMITS: Final = Limits(memory_mib=256, cpus=0.5, pids=64)
VANTAGE_STORAGE_MIB: Final = 16
_QUANTITY: Final = re.compile(r"^(?P<number>\d+)(?P<unit>m|Mi)?$")


def namespace(plan: InstancePlan, level: str, version: str) -> dict[str, Any]:
    """The instance's namespace: Pod Security Admission enforces ``level`` (what every
    pod meets) and warns and audits at restricted, so each exception stays visible."""
    labels = instance_labels(plan)
    for mode, mode_level in (("enforce", level), ("warn", RESTRICTED), ("audit", RESTRICTED)):
        labels[f"{PSA}{mode}"] = mode_level
        labels[f"{PSA}{mode}-version"] = f"v{version}"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(plan, namespace_of(plan), labels=labels, namespaced=False),
    }


def _policy(plan: InstancePlan, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(plan, name),
        "spec": spec,
    }


def deny_all(plan: InstancePlan) -> dict[str, Any]:
    return _policy(plan, "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def dns(plan: InstancePlan) -> dict[str, Any]:
    """Every pod may ask the cluster's DNS for its peers' names; that alone leaves the
    namespace (docs/kubernetes.md says what a cluster must do about forwarding)."""
    resolver = {
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    ports = [{"protocol": proto, "port": 53} for proto in ("UDP", "TCP")]
    spec = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [resolver], "ports": ports}],
    }
    return _policy(plan, "dns", spec)


def network(plan: InstancePlan, name: str) -> dict[str, Any]:
    """Lab network ``name``: its pods reach each other, on any port, and nothing else."""
    members = {"podSelector": {"matchLabels": {network_label(name): "true"}}}
    spec = {
        **members,
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [members]}],
        "egress": [{"to": [members]}],
    }
    return _policy(plan, dns_label(f"network-{name}"), spec)


def access(plan: InstancePlan, forwards: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The gateway's forwards (its port → a host's port): per relayed host, a ClusterIP
    Service on the gateway's ports and a policy admitting the portal to that host's port."""
    roles = {h.name: h.role for h in plan.hosts}
    by_host: dict[str, list[tuple[int, int]]] = {}
    for listen, (host, port) in forwards.items():
        by_host.setdefault(host, []).append((_port(listen), _port(port)))
    objects = []
    for host, ports in sorted(by_host.items()):
        selector = host_labels(plan, host, roles[host])
        objects.append(_access_service(plan, host, selector, ports))
        objects.append(_access_policy(plan, host, selector, [target for _, target in ports]))
    return objects


def _port(text: str) -> int:
    return int(text.split("/", maxsplit=1)[0])


def access_service_name(host: str) -> str:
    return dns_label(f"labctl-gateway-{host}")


def _access_service(
    plan: InstancePlan, host: str, selector: dict[str, str], ports: list[tuple[int, int]]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan, access_service_name(host), labels=instance_labels(plan)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": f"port-{target}", "protocol": "TCP", "port": listen, "targetPort": target}
                for listen, target in ports
            ],
        },
    }


def portal_peer() -> dict[str, Any]:
    """The portal's pods, in their own namespace: the one way in."""
    return {
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: PORTAL_NAMESPACE}},
        "podSelector": {"matchLabels": {key(ROLE_LABEL): PORTAL_ROLE}},
    }


def _access_policy(
    plan: InstancePlan, host: str, selector: dict[str, str], ports: list[int]
) -> dict[str, Any]:
    spec = {
        "podSelector": {"matchLabels": selector},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [portal_peer()], "ports": [{"protocol": "TCP", "port": p} for p in ports]}
        ],
    }
    return _policy(plan, dns_label(f"access-{host}"), spec)


# --- quota -----------------------------------------------------------------------------------


def quota(
    plan: InstancePlan, pods: list[dict[str, Any]], counts: Mapping[str, int]
) -> dict[str, Any]:
    """The namespace's ceiling: the pods' limits and requests, room for labctl's
    vantages, exactly the objects rendered, and no claim, node port or load balancer."""
    vantage = resources(VANTAGE_LIMITS, VANTAGE_STORAGE_MIB)
    hard: dict[str, str] = {}
    for kind in ("limits", "requests"):
        for resource in ("cpu", "memory", "ephemeral-storage"):
            amounts = [c["resources"][kind][resource] for c in _containers(pods)]
            amounts += [vantage[kind][resource]] * VANTAGES
            hard[f"{kind}.{resource}"] = _sum(amounts)
    hard["pods"] = str(len(pods) + VANTAGES)
    hard |= {kind: str(count) for kind, count in sorted(counts.items())}
    hard |= {"persistentvolumeclaims": "0", "services.nodeports": "0"}
    hard["services.loadbalancers"] = "0"
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(plan, "labctl-quota"),
        "spec": {"hard": hard},
    }


def limit_range(plan: InstancePlan, pods: list[dict[str, Any]]) -> dict[str, Any]:
    """Defaults for a container created without resources (a vantage), and no container
    above the largest one the plan has."""
    vantage = resources(VANTAGE_LIMITS, VANTAGE_STORAGE_MIB)
    containers = [*_containers(pods), {"resources": vantage}]
    largest = {
        resource: max((c["resources"]["limits"][resource] for c in containers), key=_amount)
        for resource in ("cpu", "memory", "ephemeral-storage")
    }
    item = {
        "type": "Container",
        "default": vantage["limits"],
        "defaultRequest": vantage["requests"],
        "max": largest,
    }
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata(plan, "labctl-limits"),
        "spec": {"limits": [item]},
    }


def _containers(pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The containers that run side by side (an init container runs before them, with
    the same resources, so it adds nothing to what the pod holds at once)."""
    return [c for p in pods for c in p["spec"]["containers"]]


def _parse(quantity: str) -> tuple[int, str]:
    """``500m`` or ``256Mi`` (the forms rendered here): the number and its unit."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"unexpected quantity {quantity!r}")
    return int(match["number"]), match["unit"] or ""


def _amount(quantity: str) -> int:
    return _parse(quantity)[0]


def _sum(quantities: list[str]) -> str:
    units = {_parse(q)[1] for q in quantities}
    if len(units) != 1:
        raise ValueError(f"quantities of different units: {quantities}")
    return f"{sum(_amount(q) for q in quantities)}{units.pop()}"
