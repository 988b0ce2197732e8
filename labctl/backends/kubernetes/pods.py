"""One Pod per host, and the headless Service that gives it its name on the lab networks.

A bare Pod, not a Deployment: labctl is the instance's controller, as it is on Docker
(restart policy ``unless-stopped`` ≈ ``restartPolicy: Always`` for a crashed program).
A Deployment would replace a lost pod behind labctl's back with a fresh one, without the
lab's injects that labctl applies to running hosts, and under a generated name; labctl
must see the host missing and re-create it (``labctl restart``, a session's reset).

Hosts reach each other by name (``mission-control``, ``rf-link``: labctl.range.wiring),
as Docker's network aliases give them: a headless Service per host, named after it,
resolves to the pod's address whether or not it is ready (Docker's names do too).
"""

from __future__ import annotations

from typing import Any, Final

from labctl.backends.base import HostPlan, InstancePlan
from labctl.backends.kubernetes.files import (
    FILES,
    FILES_VOLUME,
    PREPARE,
    Mount,
    environment,
    files_volume,
    host_mounts,
    pod_volumes,
    prepare_script,
    volume_mounts,
)
from labctl.backends.kubernetes.images import ImageFacts
from labctl.backends.kubernetes.meta import (
    PIDS_ANNOTATION,
    POD_SECURITY_LABEL,
    POD_SECURITY_REASON,
    host_labels,
    metadata,
    network_label,
)
from labctl.backends.kubernetes.security import (
    PodSecurity,
    RunAs,
    container_security,
    pod_security,
    pod_security_context,
    resources,
    run_as,
)

#: Kubernetes counts container logs against the pod's disk; the kubelet rotates them
#: (``containerLogMaxSize``, 10 MiB by default), as Docker's json-file driver does at 3 MiB.
LOG_MIB: Final = 16
#: Docker's ``stop`` timeout.
GRACE_S: Final = 10
#: The Dockerfiles' health check: every 30 s, 5 s to answer, three misses.
PROBE: Final = {"periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3}


def host_user(host: HostPlan, facts: ImageFacts) -> RunAs:
    """Whom the host runs as: the plan's user, else the image's."""
    return run_as(host.user if host.user is not None else facts.user)


def host_security(host: HostPlan, facts: ImageFacts) -> PodSecurity:
    return pod_security(host, host_user(host, facts))


def pod(
    plan: InstancePlan, host: HostPlan, facts: ImageFacts, lab_networks: frozenset[str]
) -> dict[str, Any]:
    """The host's Pod: its confinement, mounts, files, readiness and network labels."""
    user = host_user(host, facts)
    security = pod_security(host, user)
    mounts = host_mounts(host)
    labels = host_labels(plan, host.name, host.role)
    labels |= {network_label(n): "true" for n in host.networks if n in lab_networks}
    labels[POD_SECURITY_LABEL] = security.level
    annotations = {PIDS_ANNOTATION: str(host.limits.pids)}
    if security.reason:
        annotations[POD_SECURITY_REASON] = security.reason
    spec: dict[str, Any] = {
        "hostname": host.name,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": GRACE_S,
        # Students have root on some hosts: no API token, no other Services' variables.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(user),
    }
    prepare = _prepare(host, user, mounts)
    if prepare is not None:
        spec["initContainers"] = [prepare]
    spec["containers"] = [_container(plan, host, facts, user, mounts)]
    volumes = pod_volumes(mounts)
    if (files := files_volume(host)) is not None:
        volumes.append(files)
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(plan, host.name, labels=labels, annotations=annotations),
        "spec": spec,
    }


def _container(
    plan: InstancePlan, host: HostPlan, facts: ImageFacts, user: RunAs, mounts: list[Mount]
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": host.name,
        "image": host.image,
        "imagePullPolicy": "IfNotPresent",
    }
    if host.command is not None:  # Docker's command replaces CMD: Kubernetes' args
        container["args"] = list(host.command)
    if host.environment:
        container["env"] = environment(plan, host)
    container["securityContext"] = container_security(host, user)
    container["resources"] = resources(host.limits, _storage_mib(host, mounts))
    readiness = host.healthcheck if host.healthcheck is not None else facts.readiness
    if readiness:
        container["readinessProbe"] = {"exec": {"command": list(readiness)}, **PROBE}
    if mounts:
        container["volumeMounts"] = volume_mounts(mounts)
    return container


def _storage_mib(host: HostPlan, mounts: list[Mount]) -> int:
    """Disk the host may use: its writable root, its disk-backed volumes, its log."""
    volumes = sum(m.size_mib for m in mounts if not m.memory)
    return (host.limits.writable_mib or 0) + volumes + LOG_MIB


def _prepare(host: HostPlan, user: RunAs, mounts: list[Mount]) -> dict[str, Any] | None:
    """The init container (labctl.backends.kubernetes.files), when there is work for it."""
    script = prepare_script(host, user, mounts)
    if not script:
        return None
    staged: list[dict[str, Any]] = [{"name": m.volume, "mountPath": m.stage} for m in mounts]
    if files_volume(host) is not None:
        staged.append({"name": FILES_VOLUME, "mountPath": FILES, "readOnly": True})
    security = container_security(host, user)
    security["readOnlyRootFilesystem"] = True  # it writes to its mounts only
    return {
        "name": PREPARE,
        "image": host.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", "\n".join(["set -eu", *script]) + "\n"],
        "securityContext": security,
        "resources": resources(host.limits, _storage_mib(host, mounts)),
        "volumeMounts": staged,
    }


def name_service(plan: InstancePlan, host: HostPlan) -> dict[str, Any]:
    """The headless Service that makes ``host``'s name resolve to its pod."""
    selector = host_labels(plan, host.name, host.role)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan, host.name, labels=selector),
        "spec": {
            "clusterIP": "None",
            "selector": selector,
            "publishNotReadyAddresses": True,
        },
    }
