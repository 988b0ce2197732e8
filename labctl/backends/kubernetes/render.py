"""An :class:`InstancePlan` rendered as the Kubernetes objects one instance needs.

Nothing here talks to a cluster: the result is a list of plain objects, checked in the
tests against the Kubernetes schemas (kubernetes-validate, offline). The mapping from
each Docker concept is in docs/kubernetes.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

import yaml

from labctl.backends.base import GATEWAY_HOST, HostPlan, InstancePlan
from labctl.backends.kubernetes import policies
from labctl.backends.kubernetes.files import host_objects
from labctl.backends.kubernetes.images import ImageFacts
from labctl.backends.kubernetes.pods import host_security, name_service, pod
from labctl.backends.kubernetes.security import least_strict

#: The Kubernetes version the objects are written for: Pod Security Admission's
#: ``*-version`` labels pin it, and the tests validate against its schemas.
KUBERNETES_VERSION: Final = "1.29"
#: The order ``kubectl apply`` needs: the namespace and its fences before what runs in it.
KINDS: Final = (
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "Secret",
    "ConfigMap",
    "Service",
    "Pod",
)
#: What a rendered object's kind says about the file it goes to: Secrets stay private.
SECRET_KINDS: Final = frozenset({"Secret"})

Manifest = dict[str, Any]
#: Image tag → what its Dockerfile says (labctl.backends.kubernetes.images).
ImageLookup = Callable[[str], ImageFacts]


def render_instance(plan: InstancePlan, images: ImageLookup) -> list[Manifest]:
    """Every object of the instance, in the order they are applied."""
    gateway = _gateway(plan)
    hosts = rendered_hosts(plan)
    lab_networks = lab_networks_of(plan)
    pods = [pod(plan, h, images(h.image), lab_networks) for h in hosts]
    data = [o for h in hosts for o in host_objects(plan, h)]
    services = [name_service(plan, h) for h in hosts]
    fences = [policies.deny_all(plan), policies.dns(plan)]
    fences += [policies.network(plan, n) for n in sorted(lab_networks)]
    if gateway is not None:
        for item in policies.access(plan, gateway.forwards):
            (services if item["kind"] == "Service" else fences).append(item)
    counts = Counter(o["kind"] for o in [*data, *services])
    quota = {"secrets": counts["Secret"], "services": counts["Service"]}
    # Kubernetes itself adds one ConfigMap to every namespace (kube-root-ca.crt).
    quota["configmaps"] = counts["ConfigMap"] + 1
    levels = [host_security(h, images(h.image)).level for h in hosts]
    return [
        policies.namespace(plan, least_strict(levels), KUBERNETES_VERSION),
        policies.quota(plan, pods, quota),
        policies.limit_range(plan, pods),
        *fences,
        *sorted(data, key=lambda o: KINDS.index(o["kind"])),
        *services,
        *pods,
    ]


def lab_networks_of(plan: InstancePlan) -> frozenset[str]:
    """The lab's own networks: neither the access network nor the gateway's links."""
    gateway = _gateway(plan)
    relay = gateway.networks if gateway is not None else ()
    return frozenset(n.name for n in plan.networks if not n.access and n.name not in relay)


def rendered_hosts(plan: InstancePlan) -> list[HostPlan]:
    """The hosts that become pods (the gateway becomes Services and a policy)."""
    return [h for h in plan.hosts if h.name != GATEWAY_HOST]


def _gateway(plan: InstancePlan) -> HostPlan | None:
    return next((h for h in plan.hosts if h.name == GATEWAY_HOST), None)


class _Dumper(yaml.SafeDumper):
    """Block style for text of several lines (the init container's script); no anchors
    and aliases (a selector written twice is written out twice, as kubectl shows it)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(manifests: Iterable[Manifest]) -> str:
    """One multi-document YAML stream, keys in the order written."""
    return yaml.dump_all(list(manifests), Dumper=_Dumper, sort_keys=False, width=100)
