"""A host's confinement as Kubernetes states it: user, security context, Pod Security
level, resources.

The plan's confinement maps one to one: every capability dropped and the role's added
back, ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation`` (the negation of
no-new-privileges), the seccomp profile Docker applies by default (``RuntimeDefault``),
never privileged. Pod Security Admission then judges each pod against the Pod Security
Standards; :func:`pod_security` says which level a host meets and, when it is not
"restricted", why: the level is decided by the plan, never claimed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from labctl.backends.base import HostPlan, Limits
from labctl.backends.profiles import SERVICE_UID, STUDENT_UID
from labctl.errors import LabctlError

RESTRICTED: Final = "restricted"
BASELINE: Final = "baseline"
PRIVILEGED: Final = "privileged"
#: From the strictest to the most lenient.
LEVELS: Final = (RESTRICTED, BASELINE, PRIVILEGED)
#: Pod Security Standards, baseline: the capabilities a container may add.
BASELINE_CAPABILITIES: Final = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
#: Pod Security Standards, restricted: the only capability a container may add.
RESTRICTED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
#: The users labctl's images know by name (containers/runtime, containers/attacker).
USER_IDS: Final = {"root": 0, "labctl": SERVICE_UID, "student": STUDENT_UID}
#: The scheduler reserves this share of a host's memory and disk limits: idle hosts use
#: under a quarter of theirs (docs/benchmarks.md: 2 to 40 MiB of 160 to 768 MiB).
REQUEST_SHARE: Final = 4
#: CPU reserved per container: the hosts idle at almost nothing, and a class of 35 must
#: still be placeable on a small node (the limits bound a busy host, as in Docker).
CPU_REQUEST: Final = "10m"


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int

    @property
    def root(self) -> bool:
        return self.uid == 0


def run_as(user: str | None) -> RunAs:
    """``user`` (a name the images know, ``UID`` or ``UID:GID``; None: root) as ids."""
    name, _, group = (user or "root").partition(":")
    uid = _user_id(name)
    return RunAs(uid, _user_id(group) if group else uid)


def _user_id(name: str) -> int:
    if name.isdigit():
        return int(name)
    if name not in USER_IDS:
        known = ", ".join(sorted(USER_IDS))
        raise LabctlError(f"user {name!r} has no known uid (known: {known}, or a number)")
    return USER_IDS[name]


@dataclass(frozen=True)
class PodSecurity:
    level: str
    #: Why not a stricter level ("" for restricted).
    reason: str


def pod_security(host: HostPlan, user: RunAs) -> PodSecurity:
    """The strictest Pod Security Standard ``host`` meets, as rendered."""
    beyond_baseline = sorted(set(host.capabilities) - BASELINE_CAPABILITIES)
    if beyond_baseline:
        return PodSecurity(PRIVILEGED, f"adds {', '.join(beyond_baseline)} (not in baseline)")
    reasons = []
    beyond_restricted = sorted(set(host.capabilities) - RESTRICTED_CAPABILITIES)
    if beyond_restricted:
        reasons.append(f"adds {', '.join(beyond_restricted)}")
    if user.root:
        reasons.append("runs as root")
    if not host.no_new_privileges:
        reasons.append("allows privilege escalation (setuid sudo)")
    return PodSecurity(BASELINE, "; ".join(reasons)) if reasons else PodSecurity(RESTRICTED, "")


def least_strict(levels: list[str]) -> str:
    """The level a namespace must allow for all of ``levels`` (restricted when none)."""
    return max(levels, key=LEVELS.index, default=RESTRICTED)


def container_security(host: HostPlan, user: RunAs) -> dict[str, Any]:
    """The container's securityContext: the plan's confinement, nothing more."""
    capabilities: dict[str, list[str]] = {"drop": ["ALL"]}
    if host.capabilities:
        capabilities["add"] = list(host.capabilities)
    return {
        "privileged": False,
        "allowPrivilegeEscalation": not host.no_new_privileges,
        "readOnlyRootFilesystem": host.read_only,
        "capabilities": capabilities,
        "runAsUser": user.uid,
        "runAsGroup": user.gid,
        "runAsNonRoot": not user.root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(user: RunAs) -> dict[str, Any]:
    """The pod's: the seccomp default, and for a non-root host the group that owns its
    volumes (root needs none; a non-root user could not write an emptyDir without)."""
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if not user.root:
        context |= {"fsGroup": user.gid, "fsGroupChangePolicy": "OnRootMismatch"}
    return context


def resources(limits: Limits, storage_mib: int) -> dict[str, dict[str, str]]:
    """Requests and limits: Docker's caps become limits (memory without swap, CPU, disk:
    the writable layer, volumes and logs); requests are what the scheduler reserves."""
    return {
        "limits": {
            "cpu": f"{round(limits.cpus * 1000)}m",
            "memory": f"{limits.memory_mib}Mi",
            "ephemeral-storage": f"{storage_mib}Mi",
        },
        "requests": {
            "cpu": CPU_REQUEST,
            "memory": f"{math.ceil(limits.memory_mib / REQUEST_SHARE)}Mi",
            "ephemeral-storage": f"{math.ceil(storage_mib / REQUEST_SHARE)}Mi",
        },
    }
