"""Names, labels and annotations of an instance's Kubernetes objects.

The Docker backend labels everything ``org.labctl.<name>``. That is a valid Kubernetes
label key only as an unprefixed name (the part before a ``/`` must be a DNS subdomain,
and unprefixed keys are reserved for the cluster's users, not for tools), so each key
maps to ``labctl.org/<name>``: ``org.labctl.instance`` → ``labctl.org/instance``. Values
that a selector needs (managed, instance, lab, host, role) are labels; the plan's own
labels (the seed, the student's name as typed, which may hold spaces) are annotations,
whose values are free text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from labctl.backends.base import (
    HOST_LABEL,
    INSTANCE_LABEL,
    LAB_LABEL,
    MANAGED_LABEL,
    ROLE_LABEL,
    InstancePlan,
)

DOCKER_PREFIX: Final = "org.labctl."
PREFIX: Final = "labctl.org/"
#: A pod on lab network N carries ``network.labctl.org/N: "true"``; the network's policy
#: selects by it, so joining a network is a label (the grader's vantage joins this way).
NETWORK_PREFIX: Final = "network.labctl.org/"
#: The Pod Security level a pod meets, and why not a stricter one (docs/kubernetes.md).
POD_SECURITY_LABEL: Final = f"{PREFIX}pod-security"
POD_SECURITY_REASON: Final = f"{PREFIX}pod-security-reason"
#: What Kubernetes cannot bound per pod (a kubelet setting): kept for the record.
PIDS_ANNOTATION: Final = f"{PREFIX}pids-limit"
#: The namespace of ``labctl serve``, the single entry point; its pods carry this role.
PORTAL_NAMESPACE: Final = "labctl"
PORTAL_ROLE: Final = "portal"
_NOT_NAME: Final = re.compile(r"[^a-z0-9]+")
#: DNS-1123 labels (names of pods, volumes, services) are at most 63 characters.
MAX_NAME: Final = 63


def key(docker_key: str) -> str:
    """The Kubernetes key of a Docker label: ``org.labctl.host`` → ``labctl.org/host``."""
    if not docker_key.startswith(DOCKER_PREFIX):
        raise ValueError(f"not a labctl label: {docker_key!r}")
    return PREFIX + docker_key.removeprefix(DOCKER_PREFIX)


def network_label(network: str) -> str:
    return NETWORK_PREFIX + network


def namespace_of(plan: InstancePlan) -> str:
    """``labctl-<instance id>``, as the Docker backend names the instance's objects."""
    return f"labctl-{plan.instance_id}"


def dns_label(text: str) -> str:
    """``text`` as a DNS-1123 label: lower case, runs of other characters folded to '-'."""
    return _NOT_NAME.sub("-", text.lower()).strip("-")[:MAX_NAME].rstrip("-")


def instance_labels(plan: InstancePlan) -> dict[str, str]:
    """The labels on every object of the instance (the Docker backend's ``labels_of``)."""
    return {
        key(MANAGED_LABEL): "true",
        key(INSTANCE_LABEL): plan.instance_id,
        key(LAB_LABEL): plan.lab,
    }


def host_labels(plan: InstancePlan, host: str, role: str) -> dict[str, str]:
    """An instance's labels plus the host's and its role's: what a pod is selected by."""
    return {**instance_labels(plan), key(HOST_LABEL): host, key(ROLE_LABEL): role}


def metadata(
    plan: InstancePlan,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    namespaced: bool = True,
) -> dict[str, Any]:
    """An object's metadata: its name, the instance's namespace, labels and annotations
    (the plan's labels, e.g. the seed, on every object as Docker has them)."""
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = namespace_of(plan)
    meta["labels"] = dict(labels if labels is not None else instance_labels(plan))
    meta["annotations"] = {
        **{key(k): v for k, v in sorted(plan.labels.items())},
        **(annotations or {}),
    }
    return meta
